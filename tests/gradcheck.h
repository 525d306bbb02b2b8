/* Finite-difference gradient checks for the double-precision build.
 *
 * gc_run() takes a function that builds one or more output tensors from N
 * input tensors in an ag_ctx, and
 *   (a) creates the inputs from random values (seeded ag_rng) and marks them
 *       requires_grad;
 *   (b) reduces the outputs to a scalar loss = sum_k sum(out_k * W_k), W_k a
 *       fixed random tensor of out_k's shape (|W| in [0.5, 1.5], random sign),
 *       so that every output element gets its own upstream gradient;
 *   (c) runs ag_backward and reads the analytic gradients (inputs: the step
 *       tensor's grad, NULL meaning zero; parameters: tensor->grad after
 *       ag_params_zero_grad);
 *   (d) for every element of every input and parameter, computes the central
 *       difference (L(x+h) - L(x-h)) / 2h, h = 1e-6, rebuilding the graph in
 *       the reset context with gradients disabled, the loss summed in the
 *       harness in long double;
 *   (e) requires |analytic - numeric| <= 1e-6 + 1e-5 * max(|a|, |n|) for
 *       every element, and reports the worst element (input index, element
 *       index, both values, relative error) otherwise.
 * GC_VERBOSE=1 in the environment prints every check's result to stderr.
 */
#ifndef AG_GRADCHECK_H
#define AG_GRADCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "test_util.h"

#ifndef AG_DOUBLE
#error "gradcheck.h is for the double-precision build (-DAG_DOUBLE)"
#endif

#define GC_MAX_INPUTS 8
#define GC_MAX_OUTPUTS 4
#define GC_MAX_PARAMS 16
#define GC_STEP 1e-6
#define GC_ABS_TOL 1e-6
#define GC_REL_TOL 1e-5

/* One input of the function under test. */
typedef struct gc_input {
    int ndim;
    int shape[AG_MAX_DIMS];
    /* Values uniform in [low, high), resampled while within `margin` of
     * `avoid` (margin 0: no constraint), e.g. avoid 0 margin 0.1 for relu. */
    double low, high;
    double avoid, margin;
    /* Fixed values (size elements) instead of random ones; NULL: random. */
    const ag_real *values;
    /* A constant: neither marked requires_grad nor perturbed. */
    bool constant;
} gc_input;

/* Builds the output(s) from the inputs (in the order of the gc_input array).
 * Return NULL / 0 on failure (the harness reports ag_error_message()).
 * Both are called with gradients enabled (analytic pass) and disabled
 * (numeric passes); ag_grad_enabled(ctx) tells which. */
typedef ag_tensor *(*gc_build_fn)(ag_ctx *ctx, ag_tensor *const *inputs, void *user);
/* Writes up to GC_MAX_OUTPUTS outputs, returns how many (0 on failure). */
typedef int (*gc_build_multi_fn)(ag_ctx *ctx, ag_tensor *const *inputs, void *user, ag_tensor **outputs);

typedef struct gc_config {
    const char *name; /* shown in failure messages, e.g. "add [3, 4] + [4]" */
    gc_build_fn build; /* one of build / build_multi */
    gc_build_multi_fn build_multi;
    void *user;
    const gc_input *inputs;
    int n_inputs;
    /* Persistent tensors (module parameters) checked as well: their data is
     * perturbed in place (and restored), their gradient read from ->grad. */
    ag_params *params; /* zeroed with ag_params_zero_grad before backward */
    ag_tensor *const *param_tensors;
    const char *const *param_names; /* optional, for messages */
    int n_params;
    ag_rng *rng; /* input values and W */
} gc_config;

typedef struct gc_result {
    bool ok;
    int64_t checked, failed;
    /* The element furthest outside the tolerance (largest
     * |a - n| / (abs_tol + rel_tol * max(|a|, |n|))). Input indices >=
     * n_inputs denote parameter (index - n_inputs). */
    double worst_ratio, worst_rel, worst_analytic, worst_numeric;
    int worst_input;
    int64_t worst_element;
    char name[160];
    char message[1024];
} gc_result;

void gc_result_init(gc_result *r, const char *name);
/* Compares n analytic and numeric gradient values of input `input`, updates
 * r; returns the number of elements outside the tolerance. */
int64_t gc_compare(gc_result *r, int input, const double *analytic, const double *numeric, int64_t n);
/* Sets r->ok and r->message from what gc_compare collected. */
void gc_result_finish(gc_result *r);
/* Marks r failed with a message (a build or backward error). */
void gc_result_fail(gc_result *r, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

gc_result gc_run(const gc_config *config);

/* Shorthand for the common case: one output, inputs only. */
gc_result gc_run_simple(const char *name, gc_build_fn build, void *user, const gc_input *inputs, int n_inputs,
                        ag_rng *rng);

/* Checks a module: re-initialises every parameter of p (may be NULL) in
 * [-param_scale, param_scale] so that gradients are not all tiny, then
 * asserts that the gradients of the inputs and of every parameter pass.
 * build or build_multi (the other NULL) makes the outputs. */
void gc_check_module(const char *name, gc_build_fn build, gc_build_multi_fn build_multi, void *user,
                     const gc_input *inputs, int n_inputs, ag_params *p, ag_rng *rng, double param_scale);

/* A batch of `batch` sequences of the given lengths, values uniform in
 * [-1, 1), padded past each length with `padding` (a large value shows
 * whether padding leaks into a result). Free with ag_sequence_batch_free. */
void gc_padded_batch(ag_sequence_batch *s, ag_rng *rng, int batch, int max_length, int features, const int *lengths,
                     double padding);

/* Asserts (check framework) that a configuration passes. */
#define GC_ASSERT(config_ptr)                                   \
    do {                                                        \
        gc_result gc_r_ = gc_run(config_ptr);                   \
        ck_assert_msg(gc_r_.ok, "%s", gc_r_.message);           \
    } while (0)

#define GRADCHECK(name, build, user, inputs, n_inputs, rng)                          \
    do {                                                                             \
        gc_result gc_r_ = gc_run_simple((name), (build), (user), (inputs), (n_inputs), (rng)); \
        ck_assert_msg(gc_r_.ok, "%s", gc_r_.message);                                \
    } while (0)

/* ------------------------------------------------------------- helpers */

/* A gc_input of shape (ndim, shape...) uniform in [low, high). */
gc_input gc_in(int ndim, const int *shape, double low, double high);
/* Same, values resampled while within margin of avoid. */
gc_input gc_in_avoid(int ndim, const int *shape, double low, double high, double avoid, double margin);
/* Uniform integer in [lo, hi]. */
int gc_rand_int(ag_rng *rng, int lo, int hi);
/* FNV-1a hash of a string, e.g. a stream number per test from __func__. */
uint64_t gc_hash(const char *text);
/* Writes "[2, 3]" for an input description. */
const char *gc_shape_str(const gc_input *in, char *buf, size_t size);

#endif
