/* Runs every suite that a test file registered with AG_TEST_SUITE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define MAX_SUITES 64
static ag_test_suite_fn suites[MAX_SUITES];
static int n_suites;

void ag_test_register(ag_test_suite_fn fn) {
    if (n_suites == MAX_SUITES) {
        fprintf(stderr, "check_main: more than %d suites; raise MAX_SUITES\n", MAX_SUITES);
        abort();
    }
    suites[n_suites++] = fn;
}

static uint64_t allocations;
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size) { allocations++; return __real_malloc(size); }
void *__wrap_calloc(size_t n, size_t size) { allocations++; return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t size) { allocations++; return __real_realloc(p, size); }
uint64_t ag_test_allocations(void) { return allocations; }

void ag_test_fixture_path(const char *name, char *path, size_t size) {
    snprintf(path, size, "tests/fixtures/%s", name);
    if (access(path, R_OK) == 0) return;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(path, size, "%s/../tests/fixtures/%s", exe, name);
}

int main(void) {
    if (n_suites == 0) {
        fprintf(stderr, "check_main: no suites registered\n");
        return 1;
    }
    SRunner *runner = srunner_create(suites[0]());
    for (int i = 1; i < n_suites; i++) srunner_add_suite(runner, suites[i]());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
