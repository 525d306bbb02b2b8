/* Shared by the test files: suite registration and numeric helpers.
 * Each test file registers its suites with AG_TEST_SUITE; check_main.c runs
 * them all, so adding a test file touches nothing else. */
#ifndef AG_TEST_UTIL_H
#define AG_TEST_UTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>

#include "ag.h"

typedef Suite *(*ag_test_suite_fn)(void);
void ag_test_register(ag_test_suite_fn fn);

#define AG_TEST_SUITE(fn)                                              \
    static Suite *fn(void);                                            \
    __attribute__((constructor)) static void register_##fn(void) {     \
        ag_test_register(fn);                                          \
    }

/* Calls to malloc, calloc and realloc made by anything linked into the test
 * binary (the library included), counted through -Wl,--wrap. */
uint64_t ag_test_allocations(void);

/* |a - b| <= abs_tol + rel_tol * max(|a|, |b|) */
static inline int ag_test_close(double a, double b, double rel_tol, double abs_tol) {
    double diff = fabs(a - b);
    double scale = fmax(fabs(a), fabs(b));
    return diff <= abs_tol + rel_tol * scale;
}

#define AG_ASSERT_CLOSE(a, b, rel_tol, abs_tol)                                            \
    do {                                                                                   \
        double ag_a_ = (a), ag_b_ = (b);                                                   \
        ck_assert_msg(ag_test_close(ag_a_, ag_b_, (rel_tol), (abs_tol)),                    \
                      "%s = %.9g, expected %s = %.9g", #a, ag_a_, #b, ag_b_);              \
    } while (0)

#endif
