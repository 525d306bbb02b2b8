/* Misuse gives an error value, not a crash: NULL or a negative status, the
 * right ag_status, and a one-line message naming the function and the
 * offending shapes or values.
 *
 * Codes expected (ag.h): shapes that do not fit an operation ->
 * AG_ERROR_SHAPE; an index, axis or value out of range -> AG_ERROR_ARGUMENT;
 * a call not valid now (backward twice) -> AG_ERROR_STATE. */
#include <stdarg.h>
#include <string.h>

#include "test_util.h"

/* Checks the last error: `code` (or `alt_code` when that is not AG_OK),
 * and that the message is one line containing every string of the
 * NULL-terminated list. */
static void expect_error_impl(const char *what, int line, ag_status code, ag_status alt_code, ...) {
    ag_status got = ag_error_code();
    const char *message = ag_error_message();
    ck_assert_msg(got == code || (alt_code != AG_OK && got == alt_code),
                  "line %d, %s: error code %d, expected %d%s (message: \"%s\")", line, what, (int)got, (int)code,
                  alt_code != AG_OK ? " or another accepted one" : "", message);
    ck_assert_msg(message[0] != '\0', "line %d, %s: empty error message", line, what);
    ck_assert_msg(strchr(message, '\n') == NULL, "line %d, %s: message is not one line: \"%s\"", line, what, message);
    va_list args;
    va_start(args, alt_code);
    for (const char *needle = va_arg(args, const char *); needle; needle = va_arg(args, const char *))
        ck_assert_msg(strstr(message, needle) != NULL, "line %d, %s: message \"%s\" does not mention \"%s\"", line,
                      what, message, needle);
    va_end(args);
}
#define EXPECT_ERROR(what, code, ...) expect_error_impl((what), __LINE__, (code), AG_OK, __VA_ARGS__, (const char *)NULL)
#define EXPECT_ERROR2(what, code, alt, ...) \
    expect_error_impl((what), __LINE__, (code), (alt), __VA_ARGS__, (const char *)NULL)

/* A tensor of the given shape filled with 0.5 (so ag_log accepts it). */
static ag_tensor *make(ag_ctx *ctx, int ndim, const int *shape) {
    ag_tensor *t = ag_full(ctx, ndim, shape, 0.5f);
    ck_assert_msg(t != NULL, "ag_full failed: %s", ag_error_message());
    return t;
}
#define T(ctx, ...) make((ctx), (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})

static ag_ctx *ctx;
static void setup(void) {
    ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_error_clear();
}
static void teardown(void) { ag_ctx_free(ctx); }

/* ------------------------------------------------------------ binary ops */

typedef struct binary_case {
    const char *name;
    ag_tensor *(*fn)(ag_ctx *, ag_tensor *, ag_tensor *);
} binary_case;
static const binary_case binary_ops[] = {
    {"ag_add", ag_add}, {"ag_sub", ag_sub}, {"ag_mul", ag_mul},
    {"ag_div", ag_div}, {"ag_lt", ag_lt},   {"ag_gt", ag_gt},
    {"ag_maximum", ag_maximum}, {"ag_minimum", ag_minimum},
};
enum { N_BINARY = sizeof binary_ops / sizeof binary_ops[0] };

START_TEST(test_binary_shape_mismatch) {
    const binary_case *op = &binary_ops[_i];
    ag_tensor *a = T(ctx, 2, 3), *b = T(ctx, 4);
    ag_error_clear();
    ck_assert_ptr_null(op->fn(ctx, a, b));
    EXPECT_ERROR(op->name, AG_ERROR_SHAPE, op->name, "[2, 3]", "[4]");

    /* the other order */
    ag_error_clear();
    ck_assert_ptr_null(op->fn(ctx, b, a));
    EXPECT_ERROR(op->name, AG_ERROR_SHAPE, op->name, "[2, 3]", "[4]");

    /* [2, 3] and [3, 2]: same size, not broadcastable */
    ag_tensor *c = T(ctx, 3, 2);
    ag_error_clear();
    ck_assert_ptr_null(op->fn(ctx, a, c));
    EXPECT_ERROR(op->name, AG_ERROR_SHAPE, op->name, "[2, 3]", "[3, 2]");

    /* a leading dimension that is neither equal nor 1 */
    ag_tensor *d = T(ctx, 2, 4, 3), *e = T(ctx, 3, 4, 3);
    ag_error_clear();
    ck_assert_ptr_null(op->fn(ctx, d, e));
    EXPECT_ERROR(op->name, AG_ERROR_SHAPE, op->name, "[2, 4, 3]", "[3, 4, 3]");

    /* and broadcastable shapes still work afterwards */
    ag_error_clear();
    ag_tensor *ok = op->fn(ctx, a, T(ctx, 3));
    ck_assert_msg(ok != NULL, "%s: %s", op->name, ag_error_message());
    ck_assert_int_eq(ag_error_code(), AG_OK);
}
END_TEST

/* ---------------------------------------------------------------- matmul */

START_TEST(test_matmul_errors) {
    ag_error_clear();
    ck_assert_ptr_null(ag_matmul(ctx, T(ctx, 2, 3), T(ctx, 4, 5)));
    EXPECT_ERROR("matmul inner", AG_ERROR_SHAPE, "ag_matmul", "[2, 3]", "[4, 5]");

    ag_error_clear();
    ck_assert_ptr_null(ag_matmul(ctx, T(ctx, 3), T(ctx, 3, 2)));
    EXPECT_ERROR("matmul 1-D", AG_ERROR_SHAPE, "ag_matmul", "[3]", "[3, 2]");

    ag_error_clear();
    ck_assert_ptr_null(ag_matmul(ctx, T(ctx, 2, 3, 4), T(ctx, 4, 2)));
    EXPECT_ERROR("matmul 3-D", AG_ERROR_SHAPE, "ag_matmul", "[2, 3, 4]", "[4, 2]");

    ag_error_clear();
    ck_assert_ptr_null(ag_matmul(ctx, T(ctx, 2, 3), T(ctx, 3)));
    EXPECT_ERROR("matmul 1-D b", AG_ERROR_SHAPE, "ag_matmul", "[2, 3]", "[3]");

    /* [2, 3] x [5, 4]^T: inner 3 vs 4 (though [2, 3] x [3, ...] would fit matmul) */
    ag_error_clear();
    ck_assert_ptr_null(ag_matmul_transpose_b(ctx, T(ctx, 2, 3), T(ctx, 3, 4)));
    EXPECT_ERROR("matmul_transpose_b inner", AG_ERROR_SHAPE, "ag_matmul_transpose_b", "[2, 3]", "[3, 4]");

    ag_error_clear();
    ck_assert_ptr_null(ag_matmul_transpose_b(ctx, T(ctx, 3), T(ctx, 2, 3)));
    EXPECT_ERROR("matmul_transpose_b 1-D", AG_ERROR_SHAPE, "ag_matmul_transpose_b", "[3]", "[2, 3]");

    ag_error_clear();
    ck_assert_ptr_null(ag_matmul_transpose_b(ctx, T(ctx, 2, 3), T(ctx, 1, 2, 3)));
    EXPECT_ERROR("matmul_transpose_b 3-D", AG_ERROR_SHAPE, "ag_matmul_transpose_b", "[2, 3]", "[1, 2, 3]");

    ag_error_clear();
    ck_assert_ptr_null(ag_transpose(ctx, T(ctx, 2, 3, 4)));
    EXPECT_ERROR("transpose 3-D", AG_ERROR_SHAPE, "ag_transpose", "[2, 3, 4]");
    ag_error_clear();
    ck_assert_ptr_null(ag_transpose(ctx, T(ctx, 5)));
    EXPECT_ERROR("transpose 1-D", AG_ERROR_SHAPE, "ag_transpose", "[5]");
}
END_TEST

/* --------------------------------------------------------- other ops */

START_TEST(test_where_shapes) {
    /* shapes that do not broadcast, in each place */
    ag_tensor *m = T(ctx, 2, 3), *a = T(ctx, 2, 3);
    ag_error_clear();
    ck_assert_ptr_null(ag_where(ctx, m, a, T(ctx, 4)));
    EXPECT_ERROR("where b", AG_ERROR_SHAPE, "ag_where", "[2, 3]", "[4]", "broadcast");
    ag_error_clear();
    ck_assert_ptr_null(ag_where(ctx, m, T(ctx, 3, 2), a));
    EXPECT_ERROR("where a", AG_ERROR_SHAPE, "ag_where", "[3, 2]");
    ag_error_clear();
    ck_assert_ptr_null(ag_where(ctx, T(ctx, 3, 1), a, a));
    EXPECT_ERROR("where mask", AG_ERROR_SHAPE, "ag_where", "[3, 1]");
    /* two inputs that broadcast with each other, not with the third */
    ag_error_clear();
    ck_assert_ptr_null(ag_where(ctx, T(ctx, 2, 1), T(ctx, 1, 3), T(ctx, 5, 1)));
    EXPECT_ERROR("where three", AG_ERROR_SHAPE, "ag_where", "[2, 1]", "[1, 3]", "[5, 1]");
    /* and shapes that broadcast give the broadcast shape */
    ag_error_clear();
    ag_tensor *ok = ag_where(ctx, T(ctx, 2, 1), T(ctx, 3), T(ctx, 4, 1, 1));
    ck_assert_msg(ok != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ok->ndim, 3);
    ck_assert_int_eq(ok->shape[0], 4);
    ck_assert_int_eq(ok->shape[1], 2);
    ck_assert_int_eq(ok->shape[2], 3);
}
END_TEST

START_TEST(test_slice_out_of_range) {
    ag_tensor *a = T(ctx, 3, 4);
    const int cases[][3] = {
        {1, 2, 5},  /* end past the size */
        {0, -1, 2}, /* negative start */
        {0, 2, 2},  /* empty */
        {0, 2, 1},  /* start after end */
        {0, 3, 4},  /* start past the size */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ag_error_clear();
        ck_assert_msg(ag_slice(ctx, a, cases[i][0], cases[i][1], cases[i][2]) == NULL, "slice case %zu succeeded", i);
        EXPECT_ERROR("slice", AG_ERROR_ARGUMENT, "ag_slice", "[3, 4]");
    }
    /* axis out of range */
    ag_error_clear();
    ck_assert_ptr_null(ag_slice(ctx, a, 2, 0, 1));
    EXPECT_ERROR("slice axis 2", AG_ERROR_ARGUMENT, "ag_slice", "[3, 4]");
    ag_error_clear();
    ck_assert_ptr_null(ag_slice(ctx, a, -1, 0, 1));
    EXPECT_ERROR("slice axis -1", AG_ERROR_ARGUMENT, "ag_slice", "[3, 4]");
}
END_TEST

START_TEST(test_concat_mismatch) {
    ag_error_clear();
    ck_assert_ptr_null(ag_concat(ctx, T(ctx, 2, 3), T(ctx, 2, 4), 0));
    EXPECT_ERROR("concat axis 0", AG_ERROR_SHAPE, "ag_concat", "[2, 3]", "[2, 4]");
    ag_error_clear();
    ck_assert_ptr_null(ag_concat(ctx, T(ctx, 2, 3), T(ctx, 3, 3), 1));
    EXPECT_ERROR("concat axis 1", AG_ERROR_SHAPE, "ag_concat", "[2, 3]", "[3, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_concat(ctx, T(ctx, 2, 3), T(ctx, 2, 3, 1), 0));
    EXPECT_ERROR("concat ndim", AG_ERROR_SHAPE, "ag_concat", "[2, 3]", "[2, 3, 1]");
}
END_TEST

/* An axis that does not exist is "a value out of range" (AG_ERROR_ARGUMENT),
 * as for ag_sum_axis and ag_slice. */
START_TEST(test_concat_axis_out_of_range) {
    ag_error_clear();
    ck_assert_ptr_null(ag_concat(ctx, T(ctx, 2, 3), T(ctx, 2, 3), 2));
    EXPECT_ERROR("concat axis 2", AG_ERROR_ARGUMENT, "ag_concat", "2");
    ag_error_clear();
    ck_assert_ptr_null(ag_concat(ctx, T(ctx, 2, 3), T(ctx, 2, 3), -1));
    EXPECT_ERROR("concat axis -1", AG_ERROR_ARGUMENT, "ag_concat", "-1");
}
END_TEST

START_TEST(test_reshape_size) {
    ag_error_clear();
    ck_assert_ptr_null(ag_reshape(ctx, T(ctx, 2, 3), 2, (int[]){4, 2}));
    EXPECT_ERROR("reshape", AG_ERROR_SHAPE, "ag_reshape", "[2, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_reshape(ctx, T(ctx, 2, 3), 1, (int[]){5}));
    EXPECT_ERROR("reshape 1-D", AG_ERROR_SHAPE, "ag_reshape", "[2, 3]");
    /* an invalid target shape */
    ag_error_clear();
    ck_assert_ptr_null(ag_reshape(ctx, T(ctx, 2, 3), 5, (int[]){1, 1, 2, 3, 1}));
    ck_assert_int_lt(ag_error_code(), 0);
    ag_error_clear();
    ck_assert_ptr_null(ag_reshape(ctx, T(ctx, 2, 3), 2, (int[]){-2, -3}));
    ck_assert_int_lt(ag_error_code(), 0);
}
END_TEST

START_TEST(test_gather_rows_range) {
    ag_tensor *table = T(ctx, 4, 3);
    ag_error_clear();
    ck_assert_ptr_null(ag_gather_rows(ctx, table, (int[]){0, 4, 1}, 3));
    EXPECT_ERROR("gather index 4", AG_ERROR_ARGUMENT, "ag_gather_rows", "4", "[4, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_gather_rows(ctx, table, (int[]){-1}, 1));
    EXPECT_ERROR("gather index -1", AG_ERROR_ARGUMENT, "ag_gather_rows", "-1", "[4, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_gather_rows(ctx, T(ctx, 4), (int[]){0}, 1));
    EXPECT_ERROR("gather 1-D table", AG_ERROR_SHAPE, "ag_gather_rows", "[4]");
    ag_error_clear();
    ck_assert_ptr_null(ag_gather_rows(ctx, table, NULL, 0));
    ck_assert_int_lt(ag_error_code(), 0);
}
END_TEST

START_TEST(test_axis_out_of_range) {
    ag_tensor *a = T(ctx, 2, 3);
    ag_error_clear();
    ck_assert_ptr_null(ag_sum_axis(ctx, a, 2));
    EXPECT_ERROR("sum_axis 2", AG_ERROR_ARGUMENT, "ag_sum_axis", "[2, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_sum_axis(ctx, a, -1));
    EXPECT_ERROR("sum_axis -1", AG_ERROR_ARGUMENT, "ag_sum_axis", "[2, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_mean_axis(ctx, a, 5));
    EXPECT_ERROR("mean_axis 5", AG_ERROR_ARGUMENT, "ag_mean_axis", "[2, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_sum_axis_keepdim(ctx, a, 2));
    EXPECT_ERROR("sum_axis_keepdim 2", AG_ERROR_ARGUMENT, "ag_sum_axis_keepdim", "[2, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_mean_axis_keepdim(ctx, a, -1));
    EXPECT_ERROR("mean_axis_keepdim -1", AG_ERROR_ARGUMENT, "ag_mean_axis_keepdim", "[2, 3]");
}
END_TEST

START_TEST(test_sqrt_negative) {
    ag_tensor *a = ag_from_array(ctx, 1, (int[]){3}, (ag_real[]){1.0f, -0.5f, 2.0f});
    ag_error_clear();
    ck_assert_ptr_null(ag_sqrt(ctx, a));
    EXPECT_ERROR("sqrt -0.5", AG_ERROR_ARGUMENT, "ag_sqrt", "-0.5");
    ag_tensor *c = ag_from_array(ctx, 1, (int[]){1}, (ag_real[]){NAN});
    ag_error_clear();
    ck_assert_ptr_null(ag_sqrt(ctx, c));
    EXPECT_ERROR("sqrt NaN", AG_ERROR_ARGUMENT, "ag_sqrt");
    /* 0 is allowed */
    ag_error_clear();
    ck_assert_ptr_nonnull(ag_sqrt(ctx, ag_zeros(ctx, 1, (int[]){2})));
}
END_TEST

START_TEST(test_clamp_bounds) {
    ag_tensor *a = T(ctx, 2, 3);
    ag_error_clear();
    ck_assert_ptr_null(ag_clamp(ctx, a, 1.0, -1.0));
    EXPECT_ERROR("clamp min > max", AG_ERROR_ARGUMENT, "ag_clamp");
    ag_error_clear();
    ck_assert_ptr_null(ag_clamp(ctx, a, NAN, 1.0));
    EXPECT_ERROR("clamp NaN min", AG_ERROR_ARGUMENT, "ag_clamp");
    ag_error_clear();
    ck_assert_ptr_null(ag_clamp(ctx, a, 0.0, NAN));
    EXPECT_ERROR("clamp NaN max", AG_ERROR_ARGUMENT, "ag_clamp");
    /* infinite bounds and min == max are fine */
    ag_error_clear();
    ck_assert_ptr_nonnull(ag_clamp(ctx, a, -INFINITY, INFINITY));
    ck_assert_ptr_nonnull(ag_clamp(ctx, a, 0.25, 0.25));
}
END_TEST

START_TEST(test_log_non_positive) {
    ag_tensor *a = ag_from_array(ctx, 1, (int[]){3}, (ag_real[]){1.0f, 0.0f, 2.0f});
    ag_error_clear();
    ck_assert_ptr_null(ag_log(ctx, a));
    EXPECT_ERROR("log 0", AG_ERROR_ARGUMENT, "ag_log");
    ag_tensor *b = ag_from_array(ctx, 2, (int[]){1, 2}, (ag_real[]){0.5f, -3.0f});
    ag_error_clear();
    ck_assert_ptr_null(ag_log(ctx, b));
    EXPECT_ERROR("log -3", AG_ERROR_ARGUMENT, "ag_log");
    ag_tensor *c = ag_from_array(ctx, 1, (int[]){1}, (ag_real[]){NAN});
    ag_error_clear();
    ck_assert_ptr_null(ag_log(ctx, c));
    EXPECT_ERROR("log NaN", AG_ERROR_ARGUMENT, "ag_log");
}
END_TEST

/* -------------------------------------------------------------- backward */

START_TEST(test_backward_non_scalar) {
    ag_tensor *x = T(ctx, 2, 3);
    ag_set_requires_grad(x, true);
    ag_tensor *y = ag_tanh(ctx, x);
    ck_assert_ptr_nonnull(y);
    ag_error_clear();
    ag_status status = ag_backward(ctx, y);
    ck_assert_int_lt(status, 0);
    ck_assert_int_eq(status, ag_error_code());
    EXPECT_ERROR2("backward non-scalar", AG_ERROR_SHAPE, AG_ERROR_ARGUMENT, "ag_backward", "[2, 3]");
}
END_TEST

START_TEST(test_backward_twice) {
    ag_tensor *x = T(ctx, 2, 3);
    ag_set_requires_grad(x, true);
    ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, x, x));
    ck_assert_ptr_nonnull(loss);
    ag_error_clear();
    ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
    ag_real first = x->grad[0];
    ag_error_clear();
    ck_assert_int_eq(ag_backward(ctx, loss), AG_ERROR_STATE);
    EXPECT_ERROR("backward twice", AG_ERROR_STATE, "ag_backward");
    /* the failed call left the gradients alone */
    ck_assert(x->grad[0] == first);
    /* after a reset a new graph can be backpropagated */
    ag_ctx_reset(ctx);
    x = T(ctx, 2);
    ag_set_requires_grad(x, true);
    ag_error_clear();
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, x)), AG_OK);
}
END_TEST

START_TEST(test_backward_misuse) {
    /* a loss that needs no gradient */
    ag_tensor *loss = ag_sum(ctx, T(ctx, 2, 3));
    ag_error_clear();
    ck_assert_int_lt(ag_backward(ctx, loss), 0);
    ck_assert_int_lt(ag_error_code(), 0);
    ck_assert_str_ne(ag_error_message(), "");
    /* a NULL loss */
    ag_error_clear();
    ck_assert_int_eq(ag_backward(ctx, NULL), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("backward NULL", AG_ERROR_ARGUMENT, "ag_backward");
}
END_TEST

/* ------------------------------------------------------- NULL propagation */

START_TEST(test_null_propagates) {
    ag_tensor *a = T(ctx, 2, 3);
    ag_error_clear();
    ck_assert_ptr_null(ag_add(ctx, NULL, a));
    ck_assert_ptr_null(ag_add(ctx, a, NULL));
    ck_assert_ptr_null(ag_sub(ctx, NULL, a));
    ck_assert_ptr_null(ag_mul(ctx, a, NULL));
    ck_assert_ptr_null(ag_div(ctx, NULL, NULL));
    ck_assert_ptr_null(ag_lt(ctx, NULL, a));
    ck_assert_ptr_null(ag_gt(ctx, a, NULL));
    ck_assert_ptr_null(ag_where(ctx, NULL, a, a));
    ck_assert_ptr_null(ag_where(ctx, a, NULL, a));
    ck_assert_ptr_null(ag_where(ctx, a, a, NULL));
    ck_assert_ptr_null(ag_neg(ctx, NULL));
    ck_assert_ptr_null(ag_scale(ctx, NULL, 2.0f));
    ck_assert_ptr_null(ag_relu(ctx, NULL));
    ck_assert_ptr_null(ag_tanh(ctx, NULL));
    ck_assert_ptr_null(ag_sigmoid(ctx, NULL));
    ck_assert_ptr_null(ag_exp(ctx, NULL));
    ck_assert_ptr_null(ag_log(ctx, NULL));
    ck_assert_ptr_null(ag_abs(ctx, NULL));
    ck_assert_ptr_null(ag_sqrt(ctx, NULL));
    ck_assert_ptr_null(ag_pow(ctx, NULL, 2.0));
    ck_assert_ptr_null(ag_clamp(ctx, NULL, 0.0, 1.0));
    ck_assert_ptr_null(ag_maximum(ctx, NULL, a));
    ck_assert_ptr_null(ag_minimum(ctx, a, NULL));
    ck_assert_ptr_null(ag_matmul(ctx, NULL, a));
    ck_assert_ptr_null(ag_matmul_transpose_b(ctx, a, NULL));
    ck_assert_ptr_null(ag_transpose(ctx, NULL));
    ck_assert_ptr_null(ag_sum(ctx, NULL));
    ck_assert_ptr_null(ag_mean(ctx, NULL));
    ck_assert_ptr_null(ag_sum_axis(ctx, NULL, 0));
    ck_assert_ptr_null(ag_mean_axis(ctx, NULL, 0));
    ck_assert_ptr_null(ag_sum_axis_keepdim(ctx, NULL, 0));
    ck_assert_ptr_null(ag_mean_axis_keepdim(ctx, NULL, 0));
    ck_assert_ptr_null(ag_softmax(ctx, NULL));
    ck_assert_ptr_null(ag_log_softmax(ctx, NULL));
    ck_assert_ptr_null(ag_concat(ctx, NULL, a, 0));
    ck_assert_ptr_null(ag_concat(ctx, a, NULL, 0));
    ck_assert_ptr_null(ag_slice(ctx, NULL, 0, 0, 1));
    ck_assert_ptr_null(ag_gather_rows(ctx, NULL, (int[]){0}, 1));
    ck_assert_ptr_null(ag_reshape(ctx, NULL, 1, (int[]){6}));
    ck_assert_ptr_null(ag_copy(ctx, NULL));
    ck_assert_ptr_null(ag_mse_loss(ctx, NULL, a));
    ck_assert_ptr_null(ag_mse_loss(ctx, a, NULL));
    ck_assert_ptr_null(ag_cross_entropy_loss(ctx, NULL, (int[]){0, 0}, NULL));
    /* "without touching the message" */
    ck_assert_int_eq(ag_error_code(), AG_OK);
    ck_assert_str_eq(ag_error_message(), "");

    /* a whole expression checked once at its end keeps the first message */
    ag_error_clear();
    ag_tensor *bad = ag_tanh(ctx, ag_add(ctx, ag_mul(ctx, a, T(ctx, 4)), a));
    ck_assert_ptr_null(bad);
    EXPECT_ERROR("expression", AG_ERROR_SHAPE, "ag_mul", "[2, 3]", "[4]");
}
END_TEST

START_TEST(test_null_propagates_modules) {
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    ag_params *p = ag_params_create();
    ag_linear lin;
    ag_rnn_cell rnn;
    ag_lstm_cell lstm;
    ck_assert_int_eq(ag_linear_init(&lin, p, "fc", 3, 2, true, &rng), AG_OK);
    ck_assert_int_eq(ag_rnn_cell_init(&rnn, p, "rnn", 3, 2, AG_NONLINEARITY_TANH, true, &rng), AG_OK);
    ck_assert_int_eq(ag_lstm_cell_init(&lstm, p, "lstm", 3, 2, true, &rng), AG_OK);
    ag_tensor *x = T(ctx, 4, 3), *h = T(ctx, 4, 2);
    ag_error_clear();
    ck_assert_ptr_null(ag_linear_forward(ctx, &lin, NULL));
    ck_assert_ptr_null(ag_rnn_cell_forward(ctx, &rnn, NULL, h));
    ck_assert_ptr_null(ag_rnn_cell_forward(ctx, &rnn, x, NULL));
    ag_lstm_state s = ag_lstm_cell_forward(ctx, &lstm, NULL, (ag_lstm_state){h, h});
    ck_assert_ptr_null(s.h);
    ck_assert_ptr_null(s.c);
    s = ag_lstm_cell_forward(ctx, &lstm, x, (ag_lstm_state){NULL, h});
    ck_assert_ptr_null(s.h);
    ck_assert_ptr_null(s.c);
    ck_assert_int_eq(ag_error_code(), AG_OK);
    ag_params_free(p);
}
END_TEST

/* ------------------------------------------------------ tensor creation */

START_TEST(test_bad_shapes) {
    int shape5[5] = {1, 2, 3, 4, 5};
    ag_error_clear();
    ck_assert_ptr_null(ag_zeros(ctx, 0, shape5));
    EXPECT_ERROR("zeros ndim 0", AG_ERROR_SHAPE, "ag_zeros");
    ag_error_clear();
    ck_assert_ptr_null(ag_zeros(ctx, 5, shape5));
    EXPECT_ERROR("zeros ndim 5", AG_ERROR_SHAPE, "ag_zeros", "5");
    ag_error_clear();
    ck_assert_ptr_null(ag_zeros(ctx, 2, (int[]){3, 0}));
    EXPECT_ERROR("zeros size 0", AG_ERROR_SHAPE, "ag_zeros");
    ag_error_clear();
    ck_assert_ptr_null(ag_zeros(ctx, 1, (int[]){-4}));
    EXPECT_ERROR("zeros size -4", AG_ERROR_SHAPE, "ag_zeros", "-4");
    ag_error_clear();
    ck_assert_ptr_null(ag_ones(ctx, 0, shape5));
    EXPECT_ERROR("ones ndim 0", AG_ERROR_SHAPE, "ag_ones");
    ag_error_clear();
    ck_assert_ptr_null(ag_full(ctx, 3, (int[]){2, 0, 2}, 1.0f));
    EXPECT_ERROR("full size 0", AG_ERROR_SHAPE, "ag_full");
    ag_error_clear();
    ck_assert_ptr_null(ag_from_array(ctx, 5, shape5, (ag_real[1]){0}));
    EXPECT_ERROR("from_array ndim 5", AG_ERROR_SHAPE, "ag_from_array");
    ag_error_clear();
    ck_assert_ptr_null(ag_from_array(ctx, 1, (int[]){2}, NULL));
    EXPECT_ERROR("from_array NULL", AG_ERROR_ARGUMENT, "ag_from_array");
    ag_error_clear();
    ck_assert_ptr_null(ag_tensor_new(0, shape5));
    EXPECT_ERROR("tensor_new ndim 0", AG_ERROR_SHAPE, "ag_tensor_new");
    ag_error_clear();
    ck_assert_ptr_null(ag_tensor_new(2, (int[]){0, 1}));
    EXPECT_ERROR("tensor_new size 0", AG_ERROR_SHAPE, "ag_tensor_new");
    ag_params *p = ag_params_create();
    ag_error_clear();
    ck_assert_ptr_null(ag_params_add(p, "w", 5, shape5));
    EXPECT_ERROR("params_add ndim 5", AG_ERROR_SHAPE, "ag_params_add");
    ck_assert_ptr_nonnull(ag_params_add(p, "w", 1, (int[]){3}));
    ag_error_clear();
    ck_assert_ptr_null(ag_params_add(p, "w", 1, (int[]){3}));
    EXPECT_ERROR("params_add duplicate", AG_ERROR_ARGUMENT, "ag_params_add", "w");
    ag_params_free(p);
}
END_TEST

START_TEST(test_init_identity_non_square) {
    ag_params *p = ag_params_create();
    ag_tensor *rect = ag_params_add(p, "rect", 2, (int[]){2, 3});
    ag_tensor *flat = ag_params_add(p, "flat", 1, (int[]){4});
    ag_tensor *square = ag_params_add(p, "square", 2, (int[]){3, 3});
    ag_error_clear();
    ck_assert_int_eq(ag_init_identity(rect, 1.0), AG_ERROR_SHAPE);
    EXPECT_ERROR("identity [2, 3]", AG_ERROR_SHAPE, "ag_init_identity", "[2, 3]");
    ag_error_clear();
    ck_assert_int_eq(ag_init_identity(flat, 1.0), AG_ERROR_SHAPE);
    EXPECT_ERROR("identity [4]", AG_ERROR_SHAPE, "ag_init_identity", "[4]");
    ag_error_clear();
    ck_assert_int_eq(ag_init_identity(square, 0.5), AG_OK);
    ck_assert(square->data[0] == 0.5f && square->data[1] == 0.0f && square->data[4] == 0.5f);
    ag_params_free(p);
}
END_TEST

/* ---------------------------------------------------------------- modules */

START_TEST(test_layer_norm_errors) {
    ag_params *p = ag_params_create();
    ag_layer_norm ln;
    ag_error_clear();
    ck_assert_int_eq(ag_layer_norm_init(&ln, p, "ln", 0, true, AG_LAYER_NORM_EPS), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("layer_norm size 0", AG_ERROR_ARGUMENT, "ag_layer_norm_init", "0");
    ag_error_clear();
    ck_assert_int_eq(ag_layer_norm_init(&ln, p, "ln", 3, true, -1e-5), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("layer_norm eps", AG_ERROR_ARGUMENT, "ag_layer_norm_init", "eps");
    ag_error_clear();
    ck_assert_int_eq(ag_layer_norm_init(&ln, p, "ln", 3, true, NAN), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("layer_norm eps NaN", AG_ERROR_ARGUMENT, "ag_layer_norm_init", "eps");
    ag_error_clear();
    ck_assert_int_eq(ag_layer_norm_init(&ln, NULL, "ln", 3, true, AG_LAYER_NORM_EPS), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("layer_norm NULL params", AG_ERROR_ARGUMENT, "ag_layer_norm_init");
    ck_assert_int_eq(ag_params_count(p), 0); /* nothing added by a refusal */

    ag_error_clear();
    ck_assert_int_eq(ag_layer_norm_init(&ln, p, "ln", 3, true, AG_LAYER_NORM_EPS), AG_OK);
    ck_assert_int_eq(ag_params_count(p), 2);
    ag_error_clear();
    ck_assert_ptr_null(ag_layer_norm_forward(ctx, &ln, T(ctx, 2, 4)));
    EXPECT_ERROR("layer_norm width", AG_ERROR_SHAPE, "ag_layer_norm_forward", "[2, 4]", "3");
    ag_error_clear();
    ck_assert_ptr_null(ag_layer_norm_forward(ctx, &ln, T(ctx, 3, 1)));
    EXPECT_ERROR("layer_norm last dim", AG_ERROR_SHAPE, "ag_layer_norm_forward", "[3, 1]");
    ag_error_clear();
    ck_assert_ptr_null(ag_layer_norm_forward(ctx, &ln, NULL));
    ck_assert_int_eq(ag_error_code(), AG_OK);
    ck_assert_ptr_nonnull(ag_layer_norm_forward(ctx, &ln, T(ctx, 2, 5, 3)));
    /* a second init under the same prefix is the params' refusal */
    ag_error_clear();
    ck_assert_int_lt(ag_layer_norm_init(&ln, p, "ln", 3, true, AG_LAYER_NORM_EPS), 0);
    ag_params_free(p);
}
END_TEST

START_TEST(test_module_wrong_width) {
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    ag_params *p = ag_params_create();
    ag_linear lin;
    ag_rnn_cell rnn;
    ag_lstm_cell lstm;
    ck_assert_int_eq(ag_linear_init(&lin, p, "fc", 3, 2, true, &rng), AG_OK);
    ck_assert_int_eq(ag_rnn_cell_init(&rnn, p, "rnn", 3, 2, AG_NONLINEARITY_RELU, true, &rng), AG_OK);
    ck_assert_int_eq(ag_lstm_cell_init(&lstm, p, "lstm", 3, 2, false, &rng), AG_OK);

    ag_error_clear();
    ck_assert_ptr_null(ag_linear_forward(ctx, &lin, T(ctx, 4, 5)));
    EXPECT_ERROR("linear width", AG_ERROR_SHAPE, "[4, 5]");
    ag_error_clear();
    ck_assert_ptr_null(ag_linear_forward(ctx, &lin, T(ctx, 2, 4, 3)));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_SHAPE);

    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_forward(ctx, &rnn, T(ctx, 4, 2), T(ctx, 4, 2)));
    EXPECT_ERROR("rnn x width", AG_ERROR_SHAPE, "[4, 2]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_forward(ctx, &rnn, T(ctx, 4, 3), T(ctx, 4, 3)));
    EXPECT_ERROR("rnn h width", AG_ERROR_SHAPE, "[4, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_forward(ctx, &rnn, T(ctx, 4, 3), T(ctx, 5, 2)));
    EXPECT_ERROR("rnn h batch", AG_ERROR_SHAPE, "[5, 2]");

    ag_error_clear();
    ag_lstm_state s = ag_lstm_cell_forward(ctx, &lstm, T(ctx, 4, 1), (ag_lstm_state){T(ctx, 4, 2), T(ctx, 4, 2)});
    ck_assert_ptr_null(s.h);
    ck_assert_ptr_null(s.c);
    EXPECT_ERROR("lstm x width", AG_ERROR_SHAPE, "[4, 1]");
    ag_error_clear();
    s = ag_lstm_cell_forward(ctx, &lstm, T(ctx, 4, 3), (ag_lstm_state){T(ctx, 4, 2), T(ctx, 4, 7)});
    ck_assert_ptr_null(s.h);
    ck_assert_ptr_null(s.c);
    EXPECT_ERROR("lstm c width", AG_ERROR_SHAPE, "[4, 7]");

    /* a batch whose values would wrap a 64-bit size (2^22 x 2^21 x 2^21 =
     * 2^64: it once gave a 1-byte buffer), or pass the tensor limit (2^41) */
    ag_sequence_batch seq;
    ag_error_clear();
    ck_assert_int_eq(ag_sequence_batch_init(&seq, 1 << 22, 1 << 21, 1 << 21), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("sequence batch 2^64", AG_ERROR_ARGUMENT, "ag_sequence_batch_init", "2^40");
    ck_assert_ptr_null(seq.values);
    ag_error_clear();
    ck_assert_int_eq(ag_sequence_batch_init(&seq, 1 << 20, 1 << 20, 2), AG_ERROR_ARGUMENT);
    ck_assert_ptr_null(seq.values);

    /* a cell run over a batch of the wrong width or with a wrong h0 */
    ck_assert_int_eq(ag_sequence_batch_init(&seq, 2, 3, 4), AG_OK);
    for (int b = 0; b < 2; b++) seq.lengths[b] = 1 + b;
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_run(ctx, &rnn, &seq, T(ctx, 2, 2)));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_SHAPE);
    ag_sequence_batch_free(&seq);
    ck_assert_int_eq(ag_sequence_batch_init(&seq, 2, 3, 3), AG_OK);
    for (int b = 0; b < 2; b++) seq.lengths[b] = 1 + b;
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_run(ctx, &rnn, &seq, T(ctx, 3, 2)));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_SHAPE);
    seq.lengths[0] = 0; /* lengths must be in 1..max_length */
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_run(ctx, &rnn, &seq, T(ctx, 2, 2)));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
    ag_sequence_batch_free(&seq);
    ag_params_free(p);
}
END_TEST

/* ----------------------------------------------------------------- losses */

START_TEST(test_loss_errors) {
    ag_error_clear();
    ck_assert_ptr_null(ag_mse_loss(ctx, T(ctx, 2, 3), T(ctx, 3, 2)));
    EXPECT_ERROR("mse shapes", AG_ERROR_SHAPE, "ag_mse_loss", "[2, 3]", "[3, 2]");
    ag_error_clear();
    ck_assert_ptr_null(ag_cross_entropy_loss(ctx, T(ctx, 2, 3), (int[]){0, 3}, NULL));
    EXPECT_ERROR("cross entropy target 3", AG_ERROR_ARGUMENT, "ag_cross_entropy_loss", "3");
    ag_error_clear();
    ck_assert_ptr_null(ag_cross_entropy_loss(ctx, T(ctx, 2, 3), (int[]){-1, 0}, NULL));
    EXPECT_ERROR("cross entropy target -1", AG_ERROR_ARGUMENT, "ag_cross_entropy_loss", "-1");
    ag_error_clear();
    ck_assert_ptr_null(ag_cross_entropy_loss(ctx, T(ctx, 2, 3), NULL, NULL));
    EXPECT_ERROR("cross entropy NULL targets", AG_ERROR_ARGUMENT, "ag_cross_entropy_loss");
    ag_error_clear();
    ck_assert_ptr_null(ag_cross_entropy_loss(ctx, T(ctx, 2, 3, 4), (int[]){0, 0, 0, 0, 0, 0}, NULL));
    EXPECT_ERROR("cross entropy 3-D", AG_ERROR_SHAPE, "ag_cross_entropy_loss", "[2, 3, 4]");
    ag_error_clear();
    ck_assert_ptr_null(ag_nll_loss(ctx, T(ctx, 2, 3), (int[]){0, 3}, NULL));
    EXPECT_ERROR("nll target 3", AG_ERROR_ARGUMENT, "ag_nll_loss", "3");
    ag_error_clear();
    ck_assert_ptr_null(ag_nll_loss(ctx, T(ctx, 2, 3), (int[]){0, 1}, (ag_real[]){0, 0}));
    EXPECT_ERROR("nll all masked", AG_ERROR_ARGUMENT, "ag_nll_loss", "masked out");
    /* every row masked out: an error, not a NaN */
    ag_error_clear();
    ag_tensor *loss = ag_cross_entropy_loss(ctx, T(ctx, 2, 3), (int[]){0, 1}, (ag_real[]){0, 0});
    ck_assert_msg(loss == NULL || isfinite(loss->data[0]), "all-masked cross-entropy is %g", (double)loss->data[0]);
    if (!loss) ck_assert_int_lt(ag_error_code(), 0);
}
END_TEST

/* An optimizer's state that is not finite is named: the moment (or
 * momentum buffer), the parameter and the element; a finite one passes. */
START_TEST(test_optimizer_state_not_finite) {
    ag_params *params = ag_params_create();
    ag_rng rng;
    ag_rng_seed(&rng, 3, 0);
    ag_linear a, b;
    ck_assert_int_eq(ag_linear_init(&a, params, "a", 2, 3, true, &rng), AG_OK);
    ck_assert_int_eq(ag_linear_init(&b, params, "b", 3, 1, false, &rng), AG_OK);
    ag_adam adam;
    ag_sgd sgd, plain;
    ck_assert_int_eq(ag_adam_init(&adam, params, 0.1), AG_OK);
    ck_assert_int_eq(ag_sgd_init(&sgd, params, 0.1, 0.9), AG_OK);
    ck_assert_int_eq(ag_sgd_init(&plain, params, 0.1, 0), AG_OK);
    ck_assert_int_eq(ag_adam_check_finite(&adam, params), AG_OK);
    ck_assert_int_eq(ag_sgd_check_finite(&sgd, params), AG_OK);
    /* b.weight [1, 3] follows a.weight (6) and a.bias (3): element 9 is b.weight[0]. */
    adam.v[10] = INFINITY;
    ck_assert_int_eq(ag_adam_check_finite(&adam, params), AG_ERROR_STATE);
    EXPECT_ERROR("adam v", AG_ERROR_STATE, "Adam's second moment", "b.weight[1]", "inf");
    adam.v[10] = 0;
    adam.m[4] = NAN;
    ck_assert_int_eq(ag_adam_check_finite(&adam, params), AG_ERROR_STATE);
    EXPECT_ERROR("adam m", AG_ERROR_STATE, "Adam's first moment", "a.weight[4]", "nan");
    sgd.velocity[7] = -INFINITY;
    ck_assert_int_eq(ag_sgd_check_finite(&sgd, params), AG_ERROR_STATE);
    EXPECT_ERROR("sgd momentum", AG_ERROR_STATE, "momentum", "a.bias[1]", "-inf");
    ck_assert_int_eq(ag_sgd_check_finite(&plain, params), AG_OK); /* no buffer without momentum */
    ag_adam_free(&adam);
    ag_sgd_free(&sgd);
    ag_sgd_free(&plain);
    ag_params_free(params);
}
END_TEST

/* ----------------------------------------------- optimizers and params */

/* A model of a.weight [3, 2], a.bias [3]: 9 values, gradients all 0.5. */
static ag_params *small_params(ag_linear *a) {
    ag_params *params = ag_params_create();
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    ck_assert_int_eq(ag_linear_init(a, params, "a", 2, 3, true, &rng), AG_OK);
    for (int64_t i = 0; i < ag_params_size(params); i++) ag_params_grad(params)[i] = 0.5f;
    return params;
}

static bool same_values(const ag_real *a, const ag_real *b, int64_t n) {
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* The user added a parameter after ag_adam_init, and every step
 * did nothing. Now the add itself is refused, naming the parameter, and
 * the model goes on stepping as it was. */
START_TEST(test_param_added_after_optimizer_is_refused) {
    ag_linear a, late;
    ag_params *params = small_params(&a), *for_sgd = small_params(&a);
    ag_adam adam;
    ag_sgd sgd;
    ck_assert_int_eq(ag_adam_init(&adam, params, 0.1), AG_OK);
    ck_assert_int_eq(ag_sgd_init(&sgd, for_sgd, 0.1, 0.9), AG_OK);
    ag_params *both[] = {params, for_sgd};
    for (int k = 0; k < 2; k++) {
        ag_error_clear();
        ck_assert_ptr_null(ag_params_add(both[k], "extra", 1, (int[]){4}));
        EXPECT_ERROR("add after init", AG_ERROR_STATE, "ag_params_add: extra: params is held by an optimizer",
                     "(made for 9 values)", "add every parameter before ag_adam_init");
        ag_rng rng;
        ag_rng_seed(&rng, 1, 0);
        ag_error_clear();
        ck_assert_int_eq(ag_linear_init(&late, both[k], "late", 3, 1, true, &rng), AG_ERROR_STATE);
        EXPECT_ERROR("module after init", AG_ERROR_STATE, "ag_params_add: late.", "held by an optimizer");
        ck_assert_int_eq(ag_params_count(both[k]), 2);
        ck_assert_int_eq(ag_params_size(both[k]), 9);
        ck_assert_ptr_null(ag_params_find(both[k], "extra"));
    }
    /* The model still steps, and every step moves the weights. */
    ag_real before[9];
    for (int step = 0; step < 3; step++) {
        memcpy(before, ag_params_data(params), sizeof before);
        ck_assert_int_eq(ag_adam_step(&adam, params), AG_OK);
        ck_assert(!same_values(before, ag_params_data(params), 9));
        memcpy(before, ag_params_data(for_sgd), sizeof before);
        ck_assert_int_eq(ag_sgd_step(&sgd, for_sgd), AG_OK);
        ck_assert(!same_values(before, ag_params_data(for_sgd), 9));
    }
    ck_assert_int_eq(adam.step, 3);
    ck_assert_int_eq(sgd.step, 3);
    /* The mark stays after the optimizer is freed (it keeps no pointer to
     * params), as ag.h says. */
    ag_adam_free(&adam);
    ck_assert_ptr_null(ag_params_add(params, "extra", 1, (int[]){4}));
    EXPECT_ERROR("add after free", AG_ERROR_STATE, "held by an optimizer");
    ag_sgd_free(&sgd);
    ag_params_free(params);
    ag_params_free(for_sgd);

    /* An optimizer that failed to start holds nothing. */
    params = small_params(&a);
    ck_assert_int_eq(ag_adam_init(&adam, params, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_sgd_init(&sgd, params, 0.1, 1.5), AG_ERROR_ARGUMENT);
    ck_assert_ptr_nonnull(ag_params_add(params, "extra", 1, (int[]){4}));
    ag_params_free(params);
}
END_TEST

/* A step that cannot be taken says so and changes nothing: params of
 * another size, an optimizer freed or never set up, NULL. */
START_TEST(test_optimizer_step_refused) {
    ag_linear a, b;
    ag_params *params = small_params(&a);
    ag_params *other = ag_params_create();
    ag_rng rng;
    ag_rng_seed(&rng, 2, 0);
    ck_assert_int_eq(ag_linear_init(&b, other, "b", 4, 4, true, &rng), AG_OK);
    ag_adam adam;
    ag_sgd sgd, plain;
    ck_assert_int_eq(ag_adam_init(&adam, params, 0.1), AG_OK);
    ck_assert_int_eq(ag_sgd_init(&sgd, params, 0.1, 0.9), AG_OK);
    ck_assert_int_eq(ag_sgd_init(&plain, params, 0.1, 0), AG_OK);
    ag_real before[20];
    memcpy(before, ag_params_data(other), sizeof before);

    ag_error_clear();
    ck_assert_int_eq(ag_adam_step(&adam, other), AG_ERROR_STATE);
    EXPECT_ERROR("adam, other params", AG_ERROR_STATE, "ag_adam_step", "made for 9 parameter values, params has 20");
    ck_assert_int_eq(ag_sgd_step(&sgd, other), AG_ERROR_STATE);
    EXPECT_ERROR("sgd, other params", AG_ERROR_STATE, "ag_sgd_step", "made for 9 parameter values, params has 20");
    ck_assert_int_eq(ag_sgd_step(&plain, other), AG_ERROR_STATE);
    ck_assert(same_values(before, ag_params_data(other), 20));
    ck_assert_int_eq(adam.step, 0);
    ck_assert_int_eq(sgd.step, 0);
    ck_assert_int_eq(plain.step, 0);

    ck_assert_int_eq(ag_adam_step(NULL, params), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("adam NULL", AG_ERROR_ARGUMENT, "ag_adam_step");
    ck_assert_int_eq(ag_adam_step(&adam, NULL), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_sgd_step(NULL, params), AG_ERROR_ARGUMENT);
    EXPECT_ERROR("sgd NULL", AG_ERROR_ARGUMENT, "ag_sgd_step");
    ck_assert_int_eq(ag_sgd_step(&sgd, NULL), AG_ERROR_ARGUMENT);

    ag_adam_free(&adam);
    ag_sgd_free(&sgd);
    ag_sgd_free(&plain);
    ag_real values[9];
    memcpy(values, ag_params_data(params), sizeof values);
    ck_assert_int_eq(ag_adam_step(&adam, params), AG_ERROR_STATE);
    EXPECT_ERROR("adam freed", AG_ERROR_STATE, "ag_adam_step", "not set up");
    ck_assert_int_eq(ag_sgd_step(&sgd, params), AG_ERROR_STATE);
    EXPECT_ERROR("sgd freed", AG_ERROR_STATE, "ag_sgd_step", "not set up");
    ck_assert_int_eq(ag_sgd_step(&plain, params), AG_ERROR_STATE);
    ck_assert(same_values(values, ag_params_data(params), 9));
    ag_params_free(params);
    ag_params_free(other);
}
END_TEST

/* ag.h's rule: the return value is the status; the message and the code
 * describe the most recent failure, and no success clears them. */
START_TEST(test_success_keeps_the_last_failure) {
    ag_linear a;
    ag_params *params = small_params(&a);
    ag_adam adam;
    ck_assert_int_eq(ag_adam_init(&adam, params, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_adam_init(&adam, params, 0.1), AG_OK);
    ck_assert_int_eq(ag_adam_step(&adam, params), AG_OK);
    ck_assert_ptr_nonnull(ag_zeros(ctx, 1, (int[]){2}));
    ck_assert_int_eq(ag_params_check_finite(params, true), AG_OK);
    EXPECT_ERROR("after successes", AG_ERROR_ARGUMENT, "ag_adam_init: learning rate 0");
    /* What lets one check at the end of an expression name its failure:
     * ag_scalar's success after ag_log's failure keeps ag_log's message. */
    ag_tensor *negative = ag_full(ctx, 1, (int[]){2}, -1.0f);
    ck_assert_ptr_null(ag_add(ctx, ag_log(ctx, negative), ag_scalar(ctx, 1)));
    EXPECT_ERROR("expression", AG_ERROR_ARGUMENT, "ag_log");
    /* ag_error_clear, then successes only: nothing failed. */
    ag_error_clear();
    ck_assert_int_eq(ag_adam_step(&adam, params), AG_OK);
    ck_assert_ptr_nonnull(ag_add(ctx, negative, ag_scalar(ctx, 1)));
    ck_assert_int_eq(ag_error_code(), AG_OK);
    ck_assert_str_eq(ag_error_message(), "");
    ag_adam_free(&adam);
    ag_params_free(params);
}
END_TEST

/* A max_norm that is not > 0 would zero or flip every gradient: refused. */
START_TEST(test_clip_grad_norm_refuses_bad_max_norm) {
    ag_linear a;
    ag_params *params = small_params(&a);
    const double bad[] = {0, -1, NAN};
    for (int k = 0; k < 3; k++) {
        ag_error_clear();
        ck_assert(isnan(ag_params_clip_grad_norm(params, bad[k])));
        EXPECT_ERROR("clip", AG_ERROR_ARGUMENT, "ag_params_clip_grad_norm: max_norm", "must be > 0");
        for (int64_t i = 0; i < ag_params_size(params); i++) ck_assert(ag_params_grad(params)[i] == 0.5f);
    }
    ck_assert(isnan(ag_params_clip_grad_norm(NULL, 1)));
    EXPECT_ERROR("clip NULL", AG_ERROR_ARGUMENT, "params is NULL");
    ck_assert_double_eq_tol(ag_params_clip_grad_norm(params, 1), 1.5, 1e-6);
    ag_params_free(params);
}
END_TEST

/* A message quotes paths and text from files: whatever bytes they hold
 * (a high byte of a file name, an escape, a newline), it stays one line of
 * printable ASCII, each other byte shown as '?' as ag_printable does. */
START_TEST(test_error_message_is_printable) {
    ck_assert_int_eq(ag_error_set(AG_ERROR_IO, "%s: cannot open", "runs/r\xe9sum\xc3\xa9\n\x1b[31m\x7f/x"),
                     AG_ERROR_IO);
    ck_assert_str_eq(ag_error_message(), "runs/r?sum????[31m?/x: cannot open");
    ck_assert_int_eq(ag_error_code(), AG_ERROR_IO);
    ag_params *params = ag_params_create();
    ck_assert_int_eq(ag_params_load(params, "/no/such/dir\xff/model.safetensors"), AG_ERROR_IO);
    ck_assert_msg(strstr(ag_error_message(), "/no/such/dir?/model.safetensors: cannot open") != NULL, "%s",
                  ag_error_message());
    ag_params_free(params);
}
END_TEST

AG_TEST_SUITE(errors_suite)
static Suite *errors_suite(void) {
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("misuse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_binary_shape_mismatch, 0, N_BINARY);
    tcase_add_test(tc, test_matmul_errors);
    tcase_add_test(tc, test_where_shapes);
    tcase_add_test(tc, test_slice_out_of_range);
    tcase_add_test(tc, test_concat_mismatch);
    tcase_add_test(tc, test_concat_axis_out_of_range);
    tcase_add_test(tc, test_reshape_size);
    tcase_add_test(tc, test_gather_rows_range);
    tcase_add_test(tc, test_axis_out_of_range);
    tcase_add_test(tc, test_log_non_positive);
    tcase_add_test(tc, test_sqrt_negative);
    tcase_add_test(tc, test_clamp_bounds);
    tcase_add_test(tc, test_layer_norm_errors);
    tcase_add_test(tc, test_backward_non_scalar);
    tcase_add_test(tc, test_backward_twice);
    tcase_add_test(tc, test_backward_misuse);
    tcase_add_test(tc, test_null_propagates);
    tcase_add_test(tc, test_null_propagates_modules);
    tcase_add_test(tc, test_bad_shapes);
    tcase_add_test(tc, test_optimizer_state_not_finite);
    tcase_add_test(tc, test_init_identity_non_square);
    tcase_add_test(tc, test_module_wrong_width);
    tcase_add_test(tc, test_loss_errors);
    tcase_add_test(tc, test_error_message_is_printable);
    tcase_add_test(tc, test_param_added_after_optimizer_is_refused);
    tcase_add_test(tc, test_optimizer_step_refused);
    tcase_add_test(tc, test_success_keeps_the_last_failure);
    tcase_add_test(tc, test_clip_grad_norm_refuses_bad_max_norm);
    suite_add_tcase(s, tc);
    return s;
}
