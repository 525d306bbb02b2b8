/* ag_blas_kernels_to_fit: a weaker OpenBLAS family than the CPU's (stood
 * in for by AG_TEST_BLAS_KERNELS, since this machine's OpenBLAS knows its
 * CPU) gets the CPU's; a value of OPENBLAS_CORETYPE is never overridden;
 * an equal, stronger or unknown family is left alone. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Sets or (value NULL) unsets an environment variable. */
static void set(const char *name, const char *value) {
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

START_TEST(test_blas_kernels_to_fit) {
    const char *saved_type = getenv("OPENBLAS_CORETYPE"), *saved_test = getenv("AG_TEST_BLAS_KERNELS");
    char *type = saved_type ? strdup(saved_type) : NULL, *test = saved_test ? strdup(saved_test) : NULL;
    const char *cpu = ag_cpu_kernels();
    ck_assert_ptr_nonnull(ag_blas_kernels());
    set("OPENBLAS_CORETYPE", NULL);
    set("AG_TEST_BLAS_KERNELS", "Prescott");
    const char *fit = ag_blas_kernels_to_fit();
    if (cpu && strcmp(cpu, "Sandybridge") != 0) {
        ck_assert_ptr_nonnull(fit);
        ck_assert_str_eq(fit, cpu); /* SSE3 kernels on an AVX2 or AVX-512 CPU: the CPU's family */
    }
    set("AG_TEST_BLAS_KERNELS", "prescott"); /* OpenBLAS's names, any case */
    ck_assert(ag_blas_kernels_to_fit() == fit);
    set("OPENBLAS_CORETYPE", "Prescott"); /* the user's, or the system's: kept */
    ck_assert_ptr_null(ag_blas_kernels_to_fit());
    set("OPENBLAS_CORETYPE", NULL);
    set("AG_TEST_BLAS_KERNELS", "SkylakeX"); /* nothing stronger exists */
    ck_assert_ptr_null(ag_blas_kernels_to_fit());
    set("AG_TEST_BLAS_KERNELS", "Armv8"); /* a family not known here: left alone */
    ck_assert_ptr_null(ag_blas_kernels_to_fit());
    if (cpu) {
        set("AG_TEST_BLAS_KERNELS", cpu); /* already the CPU's own */
        ck_assert_ptr_null(ag_blas_kernels_to_fit());
    }
    set("OPENBLAS_CORETYPE", type);
    set("AG_TEST_BLAS_KERNELS", test);
    free(type);
    free(test);
}
END_TEST

AG_TEST_SUITE(blas_kernels_suite)
static Suite *blas_kernels_suite(void) {
    Suite *s = suite_create("blas_kernels");
    TCase *tc = tcase_create("fit");
    tcase_add_test(tc, test_blas_kernels_to_fit);
    suite_add_tcase(s, tc);
    return s;
}
