/* Finite-difference gradient checks of every op (double build), and checks
 * of the harness itself: a deliberately wrong gradient must fail. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"

#define REPEATS 3 /* random shapes per case */

/* One stream per test, named by the test function, so that editing one
 * test does not change the random draws of another. */
#define SEED(rng) ag_rng_seed((rng), 20240611u, gc_hash(__func__))

typedef ag_tensor *(*binary_fn)(ag_ctx *, ag_tensor *, ag_tensor *);
typedef ag_tensor *(*unary_fn)(ag_ctx *, ag_tensor *);

typedef struct binary_op {
    const char *name;
    binary_fn fn;
} binary_op;

typedef struct unary_op {
    const char *name;
    unary_fn fn;
} unary_op;

static ag_tensor *build_binary(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const binary_op *op = user;
    return op->fn(ctx, in[0], in[1]);
}

static ag_tensor *build_unary(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const unary_op *op = user;
    return op->fn(ctx, in[0]);
}

/* A random shape of ndim dimensions, each in 1..max_dim. */
static void rand_shape(ag_rng *rng, int ndim, int *shape, int max_dim) {
    for (int i = 0; i < ndim; i++) shape[i] = gc_rand_int(rng, 1, max_dim);
}

static void check(const char *what, gc_build_fn fn, void *user, const gc_input *inputs, int n, ag_rng *rng) {
    char name[160], s0[48], s1[48] = "", s2[48] = "";
    gc_shape_str(&inputs[0], s0, sizeof s0);
    if (n > 1) gc_shape_str(&inputs[1], s1, sizeof s1);
    if (n > 2) gc_shape_str(&inputs[2], s2, sizeof s2);
    snprintf(name, sizeof name, "%s %s%s%s%s%s", what, s0, n > 1 ? " " : "", s1, n > 2 ? " " : "", s2);
    GRADCHECK(name, fn, user, inputs, n, rng);
}

/* ------------------------------------------------------- harness itself */

/* x*x with gradients on (the analytic pass), x*x*x with them off (the
 * numeric passes): the harness must see the difference. */
static ag_tensor *build_wrong_cube(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    ag_tensor *square = ag_mul(ctx, in[0], in[0]);
    return ag_grad_enabled(ctx) ? square : ag_mul(ctx, square, in[0]);
}

/* 2x in the analytic pass, 2.00002x in the numeric: a 1e-5 relative error
 * is at the edge of the tolerance, 1e-3 must fail. */
typedef struct scaled_user {
    double numeric_factor;
} scaled_user;
static ag_tensor *build_scaled(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const scaled_user *u = user;
    return ag_scale(ctx, in[0], ag_grad_enabled(ctx) ? 2.0 : (ag_real)(2.0 * u->numeric_factor));
}

START_TEST(test_harness_detects_wrong_gradient) {
    ag_rng rng;
    SEED(&rng);
    int shape[2] = {3, 4};
    gc_input in = gc_in(2, shape, 1.0, 2.0); /* 2x != 3x^2 there */
    gc_result r = gc_run_simple("wrong x*x vs x*x*x", build_wrong_cube, NULL, &in, 1, &rng);
    ck_assert_msg(!r.ok, "the harness passed a wrong gradient: %s", r.message);
    ck_assert_int_eq(r.failed, 12);
    ck_assert_int_eq(r.worst_input, 0);
    ck_assert(r.worst_element >= 0 && r.worst_element < 12);
    ck_assert_msg(strstr(r.message, "input 0 element") != NULL, "%s", r.message);
    ck_assert_msg(strstr(r.message, "rel err") != NULL, "%s", r.message);

    /* A factor of 1.001 (relative error 1e-3) fails, 1 + 1e-7 passes. */
    scaled_user off = {1.001}, close = {1.0 + 1e-7};
    r = gc_run_simple("2x vs 2.002x", build_scaled, &off, &in, 1, &rng);
    ck_assert_msg(!r.ok, "%s", r.message);
    r = gc_run_simple("2x vs 2.0000002x", build_scaled, &close, &in, 1, &rng);
    ck_assert_msg(r.ok, "%s", r.message);
}
END_TEST

START_TEST(test_harness_compare) {
    double numeric[4] = {1.0, -2.0, 0.5, 0.0};
    double sign[4] = {1.0, 2.0, 0.5, 0.0};          /* wrong sign */
    double twice[4] = {2.0, -4.0, 1.0, 0.0};        /* factor 2 */
    double missing[4] = {1.0, -2.0, 0.5 - 1e-4, 0.0}; /* a small missing term */
    double tiny[4] = {1.0 + 1e-6, -2.0, 0.5, 5e-7};  /* within tolerance */
    double nan_grad[4] = {1.0, -2.0, NAN, 0.0};
    gc_result r;

    gc_result_init(&r, "sign");
    ck_assert_int_eq(gc_compare(&r, 2, sign, numeric, 4), 1);
    gc_result_finish(&r);
    ck_assert(!r.ok);
    ck_assert_int_eq(r.worst_input, 2);
    ck_assert_int_eq(r.worst_element, 1);
    ck_assert_msg(strstr(r.message, "input 2 element 1") != NULL, "%s", r.message);

    gc_result_init(&r, "twice");
    ck_assert_int_eq(gc_compare(&r, 0, twice, numeric, 4), 3);
    gc_result_finish(&r);
    ck_assert(!r.ok);
    AG_ASSERT_CLOSE(r.worst_rel, 0.5, 1e-12, 0);

    gc_result_init(&r, "missing");
    ck_assert_int_eq(gc_compare(&r, 0, missing, numeric, 4), 1);
    gc_result_finish(&r);
    ck_assert(!r.ok);
    ck_assert_int_eq(r.worst_element, 2);

    gc_result_init(&r, "nan");
    ck_assert_int_eq(gc_compare(&r, 0, nan_grad, numeric, 4), 1);
    gc_result_finish(&r);
    ck_assert(!r.ok);

    gc_result_init(&r, "tiny");
    ck_assert_int_eq(gc_compare(&r, 0, tiny, numeric, 4), 0);
    gc_result_finish(&r);
    ck_assert_msg(r.ok, "%s", r.message);
}
END_TEST

/* --------------------------------------------------------- binary ops */

static const binary_op binary_ops[] = {
    {"ag_add", ag_add},
    {"ag_sub", ag_sub},
    {"ag_mul", ag_mul},
    {"ag_div", ag_div},
    {"ag_maximum", ag_maximum},
    {"ag_minimum", ag_minimum},
};

/* Inputs of a binary op; the second one (the denominator of div) is kept
 * away from 0. */
static void binary_inputs(gc_input in[2], int nd_a, const int *sa, int nd_b, const int *sb) {
    in[0] = gc_in(nd_a, sa, -2.0, 2.0);
    in[1] = gc_in_avoid(nd_b, sb, -2.0, 2.0, 0.0, 0.5);
}

static void check_binary_case(int op_index, ag_rng *rng) {
    const binary_op *op = &binary_ops[op_index];
    gc_input in[2];
    for (int rep = 0; rep < REPEATS; rep++) {
        int b = gc_rand_int(rng, 1, 4), h = gc_rand_int(rng, 1, 5);
        int shape[AG_MAX_DIMS];

        /* same shape, 1 to 4 dimensions */
        int nd = 1 + rep % 4;
        rand_shape(rng, nd, shape, nd >= 3 ? 3 : 5);
        binary_inputs(in, nd, shape, nd, shape);
        check(op->name, build_binary, (void *)op, in, 2, rng);

        /* [B, H] with [H] */
        binary_inputs(in, 2, (int[]){b, h}, 1, (int[]){h});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        /* [B, H] with [B, 1] */
        binary_inputs(in, 2, (int[]){b, h}, 2, (int[]){b, 1});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        /* [H] with [B, H]: the broadcast input first */
        binary_inputs(in, 1, (int[]){h}, 2, (int[]){b, h});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        /* [B, 1] with [B, H] */
        binary_inputs(in, 2, (int[]){b, 1}, 2, (int[]){b, h});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        /* scalar [1] on either side */
        binary_inputs(in, 2, (int[]){b, h}, 1, (int[]){1});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        binary_inputs(in, 1, (int[]){1}, 2, (int[]){b, h});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        /* both stretch: [B, 1, H] with [T, 1] -> [B, T, H] */
        int t = gc_rand_int(rng, 1, 3);
        binary_inputs(in, 3, (int[]){b, 1, h}, 2, (int[]){t, 1});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        /* [B, T, H] with [T, H], and [1, H] with [B, T, 1] */
        binary_inputs(in, 3, (int[]){b, t, h}, 2, (int[]){t, h});
        check(op->name, build_binary, (void *)op, in, 2, rng);
        binary_inputs(in, 2, (int[]){1, h}, 3, (int[]){b, t, 1});
        check(op->name, build_binary, (void *)op, in, 2, rng);
    }
}

START_TEST(test_grad_add) {
    ag_rng rng;
    SEED(&rng);
    check_binary_case(0, &rng);
}
END_TEST

START_TEST(test_grad_sub) {
    ag_rng rng;
    SEED(&rng);
    check_binary_case(1, &rng);
}
END_TEST

START_TEST(test_grad_mul) {
    ag_rng rng;
    SEED(&rng);
    check_binary_case(2, &rng);
}
END_TEST

START_TEST(test_grad_div) {
    ag_rng rng;
    SEED(&rng);
    check_binary_case(3, &rng);
}
END_TEST

START_TEST(test_grad_maximum) {
    ag_rng rng;
    SEED(&rng);
    check_binary_case(4, &rng);
}
END_TEST

START_TEST(test_grad_minimum) {
    ag_rng rng;
    SEED(&rng);
    check_binary_case(5, &rng);
}
END_TEST

/* ---------------------------------------------------------- unary ops */

static void check_unary(const unary_op *op, ag_rng *rng, double low, double high, double avoid, double margin) {
    for (int rep = 0; rep < REPEATS + 1; rep++) {
        int nd = 1 + rep % 4, shape[AG_MAX_DIMS];
        rand_shape(rng, nd, shape, nd >= 3 ? 3 : 5);
        gc_input in = gc_in_avoid(nd, shape, low, high, avoid, margin);
        check(op->name, build_unary, (void *)op, &in, 1, rng);
    }
}

START_TEST(test_grad_neg) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_neg", ag_neg};
    check_unary(&op, &rng, -2.0, 2.0, 0, 0);
}
END_TEST

typedef struct scale_user {
    ag_real factor;
} scale_user;
static ag_tensor *build_scale(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return ag_scale(ctx, in[0], ((const scale_user *)user)->factor);
}

START_TEST(test_grad_scale) {
    ag_rng rng;
    SEED(&rng);
    const ag_real factors[] = {-1.75, 0.3, 3.0};
    for (int f = 0; f < 3; f++) {
        scale_user u = {factors[f]};
        int shape[3];
        rand_shape(&rng, 1 + f, shape, 4);
        gc_input in = gc_in(1 + f, shape, -2.0, 2.0);
        char what[48];
        snprintf(what, sizeof what, "ag_scale(%g)", (double)factors[f]);
        check(what, build_scale, &u, &in, 1, &rng);
    }
}
END_TEST

START_TEST(test_grad_relu) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_relu", ag_relu};
    check_unary(&op, &rng, -2.0, 2.0, 0.0, 0.1);
}
END_TEST

START_TEST(test_grad_tanh) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_tanh", ag_tanh};
    check_unary(&op, &rng, -2.5, 2.5, 0, 0);
}
END_TEST

START_TEST(test_grad_sigmoid) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_sigmoid", ag_sigmoid};
    check_unary(&op, &rng, -4.0, 4.0, 0, 0);
}
END_TEST

START_TEST(test_grad_exp) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_exp", ag_exp};
    check_unary(&op, &rng, -2.0, 2.0, 0, 0);
}
END_TEST

START_TEST(test_grad_log) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_log", ag_log};
    check_unary(&op, &rng, 0.2, 3.0, 0, 0);
}
END_TEST

START_TEST(test_grad_abs) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_abs", ag_abs};
    check_unary(&op, &rng, -2.0, 2.0, 0.0, 0.1);
}
END_TEST

START_TEST(test_grad_sqrt) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_sqrt", ag_sqrt};
    check_unary(&op, &rng, 0.2, 3.0, 0, 0);
}
END_TEST

typedef struct pow_user {
    double exponent;
} pow_user;
static ag_tensor *build_pow(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return ag_pow(ctx, in[0], ((const pow_user *)user)->exponent);
}

START_TEST(test_grad_pow) {
    ag_rng rng;
    SEED(&rng);
    /* Integer exponents over negative inputs too; others over positive ones. */
    const double integer[] = {2.0, 3.0, 1.0, 0.0, -2.0};
    const double real[] = {0.5, -0.5, 1.7, -1.25};
    for (int e = 0; e < 5; e++) {
        pow_user u = {integer[e]};
        int nd = 1 + e % 3, shape[AG_MAX_DIMS];
        rand_shape(&rng, nd, shape, 4);
        gc_input in = gc_in_avoid(nd, shape, -2.0, 2.0, 0.0, 0.3);
        char what[48];
        snprintf(what, sizeof what, "ag_pow(%g)", integer[e]);
        check(what, build_pow, &u, &in, 1, &rng);
    }
    for (int e = 0; e < 4; e++) {
        pow_user u = {real[e]};
        int nd = 1 + e % 3, shape[AG_MAX_DIMS];
        rand_shape(&rng, nd, shape, 4);
        gc_input in = gc_in(nd, shape, 0.3, 3.0);
        char what[48];
        snprintf(what, sizeof what, "ag_pow(%g)", real[e]);
        check(what, build_pow, &u, &in, 1, &rng);
    }
}
END_TEST

typedef struct clamp_user {
    double min, max;
} clamp_user;
static ag_tensor *build_clamp(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const clamp_user *u = user;
    return ag_clamp(ctx, in[0], u->min, u->max);
}

START_TEST(test_grad_clamp) {
    ag_rng rng;
    SEED(&rng);
    /* One bound at a time, inputs kept away from it; then both, on fixed values on either side of
     * and between them. */
    for (int rep = 0; rep < REPEATS; rep++) {
        int nd = 1 + rep % 3, shape[AG_MAX_DIMS];
        rand_shape(&rng, nd, shape, 4);
        clamp_user upper = {-INFINITY, 0.5}, lower = {-0.25, INFINITY}, wide = {-10.0, 10.0};
        gc_input in = gc_in_avoid(nd, shape, -2.0, 2.0, 0.5, 0.05);
        check("ag_clamp(-inf, 0.5)", build_clamp, &upper, &in, 1, &rng);
        in = gc_in_avoid(nd, shape, -2.0, 2.0, -0.25, 0.05);
        check("ag_clamp(-0.25, inf)", build_clamp, &lower, &in, 1, &rng);
        in = gc_in(nd, shape, -2.0, 2.0);
        check("ag_clamp(-10, 10)", build_clamp, &wide, &in, 1, &rng);
    }
    const ag_real values[8] = {-2.0, -0.6, -0.4, 0.0, 0.3, 0.7, 0.8, 1.9};
    clamp_user both = {-0.5, 0.75};
    gc_input in = gc_in(2, (int[]){2, 4}, 0, 0);
    in.values = values;
    check("ag_clamp(-0.5, 0.75)", build_clamp, &both, &in, 1, &rng);
}
END_TEST

/* ------------------------------------------------------------- matmul */

START_TEST(test_grad_matmul) {
    ag_rng rng;
    SEED(&rng);
    binary_op op = {"ag_matmul", ag_matmul};
    for (int rep = 0; rep < REPEATS + 1; rep++) {
        int m = gc_rand_int(&rng, 1, 5), k = gc_rand_int(&rng, 1, 5), n = gc_rand_int(&rng, 1, 5);
        gc_input in[2] = {gc_in(2, (int[]){m, k}, -1.5, 1.5), gc_in(2, (int[]){k, n}, -1.5, 1.5)};
        check(op.name, build_binary, &op, in, 2, &rng);
    }
}
END_TEST

START_TEST(test_grad_matmul_transpose_b) {
    ag_rng rng;
    SEED(&rng);
    binary_op op = {"ag_matmul_transpose_b", ag_matmul_transpose_b};
    for (int rep = 0; rep < REPEATS + 1; rep++) {
        int m = gc_rand_int(&rng, 1, 5), k = gc_rand_int(&rng, 1, 5), n = gc_rand_int(&rng, 1, 5);
        gc_input in[2] = {gc_in(2, (int[]){m, k}, -1.5, 1.5), gc_in(2, (int[]){n, k}, -1.5, 1.5)};
        check(op.name, build_binary, &op, in, 2, &rng);
    }
}
END_TEST

/* One row or one column past the direct loop (70 x 70 = 4,900 multiply-adds):
 * ag_gemm's matrix-vector path, forward and in both gradients (the split
 * over blocks of outputs is checked against double in test_matmul_vector.c). */
START_TEST(test_grad_matmul_vector) {
    ag_rng rng;
    SEED(&rng);
    binary_op ops[2] = {{"ag_matmul", ag_matmul}, {"ag_matmul_transpose_b", ag_matmul_transpose_b}};
    for (int o = 0; o < 2; o++)
        for (int row = 0; row < 2; row++) {
            int m = row ? 1 : 70, k = 70, n = row ? 70 : 1;
            int b_shape[2] = {o ? n : k, o ? k : n};
            gc_input in[2] = {gc_in(2, (int[]){m, k}, -1.5, 1.5), gc_in(2, b_shape, -1.5, 1.5)};
            check(ops[o].name, build_binary, &ops[o], in, 2, &rng);
        }
}
END_TEST

START_TEST(test_grad_transpose) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_transpose", ag_transpose};
    for (int rep = 0; rep < REPEATS + 1; rep++) {
        int m = gc_rand_int(&rng, 1, 5), n = gc_rand_int(&rng, 1, 5);
        gc_input in = gc_in(2, (int[]){m, n}, -2.0, 2.0);
        check(op.name, build_unary, &op, &in, 1, &rng);
    }
}
END_TEST

/* -------------------------------------------------------------- where */

/* where(c < 0.25 (or c > 0.25), a, b); c is differentiated too: the mask
 * must pass no gradient to it. */
#define WHERE_THRESHOLD 0.25
static ag_tensor *build_where_lt(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    ag_tensor *mask = ag_lt(ctx, in[0], ag_scalar(ctx, WHERE_THRESHOLD));
    return ag_where(ctx, mask, in[1], in[2]);
}
static ag_tensor *build_where_gt(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    ag_tensor *mask = ag_gt(ctx, in[0], ag_scalar(ctx, WHERE_THRESHOLD));
    return ag_where(ctx, mask, in[1], in[2]);
}
/* The same tensor on both sides and in the mask: where(x < 0.25, x*x, -x). */
static ag_tensor *build_where_shared(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    ag_tensor *mask = ag_lt(ctx, in[0], ag_scalar(ctx, WHERE_THRESHOLD));
    return ag_where(ctx, mask, ag_mul(ctx, in[0], in[0]), ag_neg(ctx, in[0]));
}

START_TEST(test_grad_where) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < REPEATS + 1; rep++) {
        int nd = 1 + rep % 3, shape[AG_MAX_DIMS];
        rand_shape(&rng, nd, shape, nd == 3 ? 3 : 5);
        gc_input in[3] = {gc_in_avoid(nd, shape, -1.0, 1.0, WHERE_THRESHOLD, 1e-3), gc_in(nd, shape, -2.0, 2.0),
                          gc_in(nd, shape, -2.0, 2.0)};
        check("ag_where(ag_lt)", build_where_lt, NULL, in, 3, &rng);
        check("ag_where(ag_gt)", build_where_gt, NULL, in, 3, &rng);
        check("ag_where(x<t, x*x, -x)", build_where_shared, NULL, in, 1, &rng);
    }
    /* A mask of constant values, given explicitly. */
    const ag_real mask_values[6] = {1, 0, 0, 1, 1, 0};
    gc_input in[3] = {gc_in(2, (int[]){2, 3}, 0, 0), gc_in(2, (int[]){2, 3}, -2.0, 2.0),
                      gc_in(2, (int[]){2, 3}, -2.0, 2.0)};
    in[0].values = mask_values;
    in[0].constant = true;
    check("ag_where(fixed mask)", build_where_lt, NULL, in, 3, &rng); /* 1 < 0.25 is false, 0 < 0.25 true */
}
END_TEST

/* Broadcasting: each of mask, a and b stretched in turn, and all three. */
START_TEST(test_grad_where_broadcast) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < REPEATS; rep++) {
        int b = gc_rand_int(&rng, 1, 4), h = gc_rand_int(&rng, 2, 5), t = gc_rand_int(&rng, 1, 3);
        const int shapes[][3][4] = {
            /* {ndim, dims...} for mask, a, b */
            {{2, b, 1}, {2, b, h}, {2, b, h}},
            {{2, b, h}, {1, h}, {2, b, h}},
            {{2, b, h}, {2, b, h}, {1, 1}},
            {{2, b, 1}, {1, h}, {2, b, h}},
            {{3, b, 1, h}, {2, t, 1}, {1, h}},
            {{1, h}, {2, b, 1}, {3, t, 1, 1}},
        };
        for (int c = 0; c < 6; c++) {
            gc_input in[3];
            for (int k = 0; k < 3; k++) {
                const int *s = shapes[c][k];
                in[k] = k == 0 ? gc_in_avoid(s[0], s + 1, -1.0, 1.0, WHERE_THRESHOLD, 1e-3)
                               : gc_in(s[0], s + 1, -2.0, 2.0);
            }
            check("ag_where(ag_lt) broadcast", build_where_lt, NULL, in, 3, &rng);
        }
    }
}
END_TEST

/* --------------------------------------------------------- reductions */

typedef struct axis_user {
    ag_tensor *(*fn)(ag_ctx *, ag_tensor *, int);
    int axis;
} axis_user;
static ag_tensor *build_axis(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const axis_user *u = user;
    return u->fn(ctx, in[0], u->axis);
}

START_TEST(test_grad_sum) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_sum", ag_sum};
    check_unary(&op, &rng, -2.0, 2.0, 0, 0);
}
END_TEST

START_TEST(test_grad_mean) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_mean", ag_mean};
    check_unary(&op, &rng, -2.0, 2.0, 0, 0);
}
END_TEST

static void check_axis_reduction(const char *name, ag_tensor *(*fn)(ag_ctx *, ag_tensor *, int), ag_rng *rng) {
    for (int rep = 0; rep < 2; rep++) {
        for (int nd = 1; nd <= 3; nd++) {
            int shape[AG_MAX_DIMS];
            rand_shape(rng, nd, shape, nd == 3 ? 4 : 5);
            for (int axis = 0; axis < nd; axis++) {
                axis_user u = {fn, axis};
                char what[64];
                snprintf(what, sizeof what, "%s(axis %d)", name, axis);
                gc_input in = gc_in(nd, shape, -2.0, 2.0);
                check(what, build_axis, &u, &in, 1, rng);
            }
        }
    }
    /* Fixed shapes with no size-1 dimension, and a 4-D one. */
    int shape4[4] = {2, 3, 2, 3};
    for (int axis = 0; axis < 4; axis++) {
        axis_user u = {fn, axis};
        char what[64];
        snprintf(what, sizeof what, "%s(axis %d)", name, axis);
        gc_input in = gc_in(4, shape4, -2.0, 2.0);
        check(what, build_axis, &u, &in, 1, rng);
        if (axis < 3) {
            in = gc_in(3, (int[]){2, 3, 4}, -2.0, 2.0);
            check(what, build_axis, &u, &in, 1, rng);
        }
    }
}

START_TEST(test_grad_sum_axis) {
    ag_rng rng;
    SEED(&rng);
    check_axis_reduction("ag_sum_axis", ag_sum_axis, &rng);
}
END_TEST

START_TEST(test_grad_mean_axis) {
    ag_rng rng;
    SEED(&rng);
    check_axis_reduction("ag_mean_axis", ag_mean_axis, &rng);
}
END_TEST

START_TEST(test_grad_sum_axis_keepdim) {
    ag_rng rng;
    SEED(&rng);
    check_axis_reduction("ag_sum_axis_keepdim", ag_sum_axis_keepdim, &rng);
}
END_TEST

START_TEST(test_grad_mean_axis_keepdim) {
    ag_rng rng;
    SEED(&rng);
    check_axis_reduction("ag_mean_axis_keepdim", ag_mean_axis_keepdim, &rng);
}
END_TEST

START_TEST(test_grad_softmax) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_softmax", ag_softmax};
    check_unary(&op, &rng, -3.0, 3.0, 0, 0);
    /* Large logits: the max must be subtracted, the gradient still right. */
    gc_input in = gc_in(2, (int[]){3, 4}, 300.0, 305.0);
    check("ag_softmax(large)", build_unary, &op, &in, 1, &rng);
}
END_TEST

START_TEST(test_grad_log_softmax) {
    ag_rng rng;
    SEED(&rng);
    unary_op op = {"ag_log_softmax", ag_log_softmax};
    check_unary(&op, &rng, -3.0, 3.0, 0, 0);
    gc_input in = gc_in(2, (int[]){3, 4}, 300.0, 305.0);
    check("ag_log_softmax(large)", build_unary, &op, &in, 1, &rng);
}
END_TEST

/* -------------------------------------------------------- shape ops */

typedef struct concat_user {
    int axis;
} concat_user;
static ag_tensor *build_concat(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return ag_concat(ctx, in[0], in[1], ((const concat_user *)user)->axis);
}

START_TEST(test_grad_concat) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < REPEATS; rep++) {
        for (int nd = 1; nd <= 3; nd++) {
            int sa[AG_MAX_DIMS], sb[AG_MAX_DIMS];
            rand_shape(&rng, nd, sa, 4);
            for (int axis = 0; axis < nd; axis++) {
                memcpy(sb, sa, sizeof sa);
                sb[axis] = gc_rand_int(&rng, 1, 4);
                concat_user u = {axis};
                char what[48];
                snprintf(what, sizeof what, "ag_concat(axis %d)", axis);
                gc_input in[2] = {gc_in(nd, sa, -2.0, 2.0), gc_in(nd, sb, -2.0, 2.0)};
                check(what, build_concat, &u, in, 2, &rng);
            }
        }
    }
}
END_TEST

typedef struct slice_user {
    int axis, start, end;
} slice_user;
static ag_tensor *build_slice(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const slice_user *u = user;
    return ag_slice(ctx, in[0], u->axis, u->start, u->end);
}

START_TEST(test_grad_slice) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < REPEATS; rep++) {
        for (int nd = 1; nd <= 3; nd++) {
            int shape[AG_MAX_DIMS];
            rand_shape(&rng, nd, shape, 4);
            for (int axis = 0; axis < nd; axis++) {
                shape[axis] = gc_rand_int(&rng, 3, 6);
                /* a slice in the middle: start >= 1, end <= size - 1 */
                int start = gc_rand_int(&rng, 1, shape[axis] - 2);
                int end = gc_rand_int(&rng, start + 1, shape[axis] - 1);
                slice_user u = {axis, start, end};
                char what[64];
                snprintf(what, sizeof what, "ag_slice(axis %d, %d:%d)", axis, start, end);
                gc_input in = gc_in(nd, shape, -2.0, 2.0);
                check(what, build_slice, &u, &in, 1, &rng);
            }
        }
    }
    /* The whole range, and one element at either end. */
    int shape[2] = {3, 4};
    gc_input in = gc_in(2, shape, -2.0, 2.0);
    slice_user cases[] = {{1, 0, 4}, {0, 0, 1}, {0, 2, 3}, {1, 3, 4}};
    for (int i = 0; i < 4; i++) check("ag_slice(edge)", build_slice, &cases[i], &in, 1, &rng);
}
END_TEST

typedef struct gather_user {
    const int *indices;
    int n;
} gather_user;
static ag_tensor *build_gather(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const gather_user *u = user;
    return ag_gather_rows(ctx, in[0], u->indices, u->n);
}

START_TEST(test_grad_gather_rows) {
    ag_rng rng;
    SEED(&rng);
    /* repeated indices: scatter-add must accumulate */
    const int fixed[7] = {2, 0, 2, 2, 1, 0, 2};
    gather_user u = {fixed, 7};
    gc_input in = gc_in(2, (int[]){4, 3}, -2.0, 2.0);
    check("ag_gather_rows(2,0,2,2,1,0,2)", build_gather, &u, &in, 1, &rng);
    for (int rep = 0; rep < REPEATS; rep++) {
        int rows = gc_rand_int(&rng, 1, 4), cols = gc_rand_int(&rng, 1, 5), n = gc_rand_int(&rng, 2, 8);
        int indices[8];
        for (int i = 0; i < n; i++) indices[i] = gc_rand_int(&rng, 0, rows - 1);
        indices[n - 1] = indices[0]; /* at least one repeat */
        gather_user r = {indices, n};
        gc_input t = gc_in(2, (int[]){rows, cols}, -2.0, 2.0);
        check("ag_gather_rows(random)", build_gather, &r, &t, 1, &rng);
    }
}
END_TEST

typedef struct reshape_user {
    int ndim;
    int shape[AG_MAX_DIMS];
} reshape_user;
static ag_tensor *build_reshape(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const reshape_user *u = user;
    return ag_reshape(ctx, in[0], u->ndim, u->shape);
}

START_TEST(test_grad_reshape) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < REPEATS; rep++) {
        int a = gc_rand_int(&rng, 1, 4), b = gc_rand_int(&rng, 1, 4), c = gc_rand_int(&rng, 1, 4);
        gc_input in = gc_in(3, (int[]){a, b, c}, -2.0, 2.0);
        reshape_user cases[] = {{2, {a * b, c}}, {1, {a * b * c}}, {2, {a, b * c}}, {4, {c, 1, b, a}}};
        for (int i = 0; i < 4; i++) check("ag_reshape", build_reshape, &cases[i], &in, 1, &rng);
    }
}
END_TEST

/* ------------------------------------------------- gradient accumulation */

static ag_tensor *build_x_times_x(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    return ag_mul(ctx, in[0], in[0]);
}
static ag_tensor *build_x_plus_tanh_x(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    return ag_add(ctx, in[0], ag_tanh(ctx, in[0]));
}
static ag_tensor *build_x_minus_x(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    return ag_add(ctx, ag_sub(ctx, in[0], in[0]), ag_scale(ctx, in[0], 0.5));
}
static ag_tensor *build_x_over_exp_x(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    return ag_div(ctx, ag_mul(ctx, in[0], in[1]), ag_exp(ctx, in[0]));
}
/* x x^T through matmul_transpose_b(x, x) and matmul(x, transpose(x)) */
static ag_tensor *build_gram(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    return ag_add(ctx, ag_matmul_transpose_b(ctx, in[0], in[0]), ag_matmul(ctx, in[0], ag_transpose(ctx, in[0])));
}
/* A chain in which an intermediate is used three times. */
static ag_tensor *build_diamond(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    ag_tensor *y = ag_sigmoid(ctx, ag_mul(ctx, in[0], in[1]));
    ag_tensor *z = ag_add(ctx, ag_mul(ctx, y, y), ag_sum_axis(ctx, y, 0));
    return ag_concat(ctx, z, ag_softmax(ctx, y), 0);
}

START_TEST(test_grad_reused_tensor) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < REPEATS; rep++) {
        int b = gc_rand_int(&rng, 1, 4), h = gc_rand_int(&rng, 1, 5);
        gc_input in[2] = {gc_in(2, (int[]){b, h}, -2.0, 2.0), gc_in(1, (int[]){h}, -2.0, 2.0)};
        check("mul(x, x)", build_x_times_x, NULL, in, 1, &rng);
        check("add(x, tanh(x))", build_x_plus_tanh_x, NULL, in, 1, &rng);
        check("sub(x, x) + x/2", build_x_minus_x, NULL, in, 1, &rng);
        check("x*w / exp(x)", build_x_over_exp_x, NULL, in, 2, &rng);
        check("x x^T twice", build_gram, NULL, in, 1, &rng);
        check("diamond", build_diamond, NULL, in, 2, &rng);
    }
}
END_TEST

AG_TEST_SUITE(gradcheck_ops_suite)
static Suite *gradcheck_ops_suite(void) {
    Suite *s = suite_create("gradcheck_ops");
    TCase *harness = tcase_create("harness");
    tcase_add_test(harness, test_harness_detects_wrong_gradient);
    tcase_add_test(harness, test_harness_compare);
    suite_add_tcase(s, harness);

    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_grad_add);
    tcase_add_test(tc, test_grad_sub);
    tcase_add_test(tc, test_grad_mul);
    tcase_add_test(tc, test_grad_div);
    tcase_add_test(tc, test_grad_maximum);
    tcase_add_test(tc, test_grad_minimum);
    tcase_add_test(tc, test_grad_sqrt);
    tcase_add_test(tc, test_grad_pow);
    tcase_add_test(tc, test_grad_clamp);
    tcase_add_test(tc, test_grad_where_broadcast);
    tcase_add_test(tc, test_grad_sum_axis_keepdim);
    tcase_add_test(tc, test_grad_mean_axis_keepdim);
    tcase_add_test(tc, test_grad_neg);
    tcase_add_test(tc, test_grad_scale);
    tcase_add_test(tc, test_grad_matmul);
    tcase_add_test(tc, test_grad_matmul_transpose_b);
    tcase_add_test(tc, test_grad_matmul_vector);
    tcase_add_test(tc, test_grad_transpose);
    tcase_add_test(tc, test_grad_relu);
    tcase_add_test(tc, test_grad_tanh);
    tcase_add_test(tc, test_grad_sigmoid);
    tcase_add_test(tc, test_grad_exp);
    tcase_add_test(tc, test_grad_log);
    tcase_add_test(tc, test_grad_abs);
    tcase_add_test(tc, test_grad_where);
    tcase_add_test(tc, test_grad_sum);
    tcase_add_test(tc, test_grad_mean);
    tcase_add_test(tc, test_grad_sum_axis);
    tcase_add_test(tc, test_grad_mean_axis);
    tcase_add_test(tc, test_grad_softmax);
    tcase_add_test(tc, test_grad_log_softmax);
    tcase_add_test(tc, test_grad_concat);
    tcase_add_test(tc, test_grad_slice);
    tcase_add_test(tc, test_grad_gather_rows);
    tcase_add_test(tc, test_grad_reshape);
    tcase_add_test(tc, test_grad_reused_tensor);
    suite_add_tcase(s, tc);
    return s;
}
