/* Shared by the test files: suite registration and numeric helpers.
 * Each test file registers its suites with AG_TEST_SUITE; check_main.c runs
 * them all, so adding a test file touches nothing else. */
#ifndef AG_TEST_UTIL_H
#define AG_TEST_UTIL_H

#include <check.h>
#include <math.h>
#include <stddef.h>
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

/* tests/fixtures/NAME into path: from the working directory (the repository
 * root, as make check runs the tests) or else relative to the test binary
 * (build/test_ag). */
void ag_test_fixture_path(const char *name, char *path, size_t size);

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

/* Parameter `index` of `params` is named `name` and has this shape. */
static inline void ag_test_check_param(const ag_params *params, int index, const char *name, int ndim,
                                       const int *shape) {
    ck_assert_str_eq(ag_params_name(params, index), name);
    ag_tensor *t = ag_params_get(params, index);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(ag_params_find(params, name), t);
    ck_assert_msg(t->ndim == ndim, "%s has %d dimensions, expected %d", name, t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        ck_assert_msg(t->shape[i] == shape[i], "%s: shape[%d] = %d, expected %d", name, i, t->shape[i], shape[i]);
}

/* PyTorch's uniform init: every value within [-bound, bound], and, for a
 * tensor of at least `spread_size` values, not all tiny. */
static inline void ag_test_check_uniform(const ag_tensor *t, const char *name, double bound, int64_t spread_size) {
    double largest = 0;
    for (int64_t i = 0; i < t->size; i++) {
        double v = t->data[i];
        ck_assert_msg(v >= -bound && v <= bound, "%s[%lld] = %.9g is outside [-%g, %g]", name, (long long)i, v, bound,
                      bound);
        largest = fmax(largest, fabs(v));
    }
    if (t->size >= spread_size)
        ck_assert_msg(largest > bound / 2, "%s: largest |value| %.9g of %g", name, largest, bound);
}

#endif
