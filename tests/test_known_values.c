/* Known-value tests: the modules, losses and optimizers give the same numbers
 * as PyTorch. The expected values are in fixtures/golden.h, written by
 * fixtures/make_golden.py (see there to regenerate); every output and every
 * gradient element is compared to 1e-5 relative, 1e-6 absolute. */
#include <stdlib.h>
#include <string.h>

#include "fixtures/golden.h"
#include "test_util.h"

#define KV_REL 1e-5
#define KV_ABS 1e-6
/* Largest golden array, for the conversion buffer of from_golden. */
#define KV_MAX_VALUES 256

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* Every element of got (n values) against want, naming the first mismatch. */
static void check_values(const char *what, const ag_real *got, const float *want, int64_t n) {
    ck_assert_msg(got != NULL, "%s: no values (NULL)", what);
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(ag_test_close((double)got[i], (double)want[i], KV_REL, KV_ABS),
                      "%s[%lld] = %.9g, expected %.9g (PyTorch)", what, (long long)i,
                      (double)got[i], (double)want[i]);
    }
}

/* A tensor's values (shape checked by size) against a golden array. */
#define CHECK_DATA(t, golden)                                                               \
    do {                                                                                    \
        ck_assert_msg((t) != NULL, "%s is NULL: %s", #t, ag_error_message());               \
        ck_assert_msg((t)->size == N_OF(golden), "%s has %lld values, %s has %lld", #t,     \
                      (long long)(t)->size, #golden, (long long)N_OF(golden));              \
        check_values(#t, (t)->data, (golden), N_OF(golden));                                \
    } while (0)

/* A tensor's gradient against a golden array. */
#define CHECK_GRAD(t, golden)                                                               \
    do {                                                                                    \
        ck_assert_msg((t) != NULL, "%s is NULL", #t);                                       \
        ck_assert_msg((t)->grad != NULL, "%s has no gradient after backward", #t);          \
        ck_assert_msg((t)->size == N_OF(golden), "%s has %lld values, %s has %lld", #t,     \
                      (long long)(t)->size, #golden, (long long)N_OF(golden));              \
        check_values(#t "->grad", (t)->grad, (golden), N_OF(golden));                       \
    } while (0)

/* A result must not be NULL; reports the library's message if it is. */
#define CHECK_OK(t) ck_assert_msg((t) != NULL, "%s failed: %s", #t, ag_error_message())

/* Sets a parameter's values from a golden array (sizes must agree). */
static void set_param(ag_tensor *p, const float *values, int64_t n, const char *what) {
    ck_assert_msg(p != NULL, "parameter %s missing", what);
    ck_assert_msg(p->size == n, "parameter %s has %lld values, golden %lld", what, (long long)p->size,
                  (long long)n);
    for (int64_t i = 0; i < n; i++) p->data[i] = (ag_real)values[i];
}
#define SET_PARAM(p, golden) set_param((p), (golden), N_OF(golden), #p)

/* A step tensor of `shape` holding the golden values. */
static ag_tensor *from_golden(ag_ctx *ctx, int rows, int cols, const float *values, int64_t n) {
    ck_assert_msg((int64_t)rows * cols == n, "golden array has %lld values, shape [%d, %d]",
                  (long long)n, rows, cols);
    ck_assert(n <= KV_MAX_VALUES);
    ag_real buf[KV_MAX_VALUES];
    for (int64_t i = 0; i < n; i++) buf[i] = (ag_real)values[i];
    int shape[2] = {rows, cols};
    ag_tensor *t = ag_from_array(ctx, 2, shape, buf);
    ck_assert_msg(t != NULL, "ag_from_array failed: %s", ag_error_message());
    return t;
}
#define FROM_GOLDEN(ctx, rows, cols, golden) from_golden((ctx), (rows), (cols), (golden), N_OF(golden))

/* loss = sum(out * r) */
static ag_tensor *weighted_sum(ag_ctx *ctx, ag_tensor *out, ag_tensor *r) {
    return ag_sum(ctx, ag_mul(ctx, out, r));
}

static void backward_ok(ag_ctx *ctx, ag_tensor *loss) {
    CHECK_OK(loss);
    ck_assert_msg(loss->size == 1, "loss has %lld values", (long long)loss->size);
    ag_status st = ag_backward(ctx, loss);
    ck_assert_msg(st == AG_OK, "ag_backward returned %d: %s", (int)st, ag_error_message());
}

/* ------------------------------------------------------------------ RNNCell */

typedef struct rnn_golden {
    ag_nonlinearity nonlinearity;
    bool bias;
    const float *x, *h, *w_ih, *w_hh, *b_ih, *b_hh, *r, *out, *loss;
    const float *gx, *gh, *gw_ih, *gw_hh, *gb_ih, *gb_hh;
} rnn_golden;

#define RNN_GOLDEN_BIAS(nl, P)                                                              \
    {nl, true, P##_X, P##_H, P##_W_IH, P##_W_HH, P##_B_IH, P##_B_HH, P##_R, P##_OUT,        \
     P##_LOSS, P##_GX, P##_GH, P##_GW_IH, P##_GW_HH, P##_GB_IH, P##_GB_HH}
#define RNN_GOLDEN_NOBIAS(nl, P)                                                            \
    {nl, false, P##_X, P##_H, P##_W_IH, P##_W_HH, NULL, NULL, P##_R, P##_OUT,               \
     P##_LOSS, P##_GX, P##_GH, P##_GW_IH, P##_GW_HH, NULL, NULL}

static const rnn_golden rnn_cases[] = {
    RNN_GOLDEN_BIAS(AG_NONLINEARITY_RELU, RNN_RELU_BIAS),
    RNN_GOLDEN_NOBIAS(AG_NONLINEARITY_RELU, RNN_RELU_NOBIAS),
    RNN_GOLDEN_BIAS(AG_NONLINEARITY_TANH, RNN_TANH_BIAS),
    RNN_GOLDEN_NOBIAS(AG_NONLINEARITY_TANH, RNN_TANH_NOBIAS),
};

START_TEST(test_rnn_cell_known_values) {
    const rnn_golden *g = &rnn_cases[_i];
    enum { B = RNN_BATCH, I = RNN_INPUT, H = RNN_HIDDEN };
    ag_rng rng;
    ag_rng_seed(&rng, 1, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    ag_rnn_cell cell;
    ag_status st = ag_rnn_cell_init(&cell, params, "rnn", I, H, g->nonlinearity, g->bias, &rng);
    ck_assert_msg(st == AG_OK, "ag_rnn_cell_init: %s", ag_error_message());
    ck_assert_int_eq(ag_params_count(params), g->bias ? 4 : 2);
    set_param(cell.weight_ih, g->w_ih, H * I, "weight_ih");
    set_param(cell.weight_hh, g->w_hh, H * H, "weight_hh");
    if (g->bias) {
        set_param(cell.bias_ih, g->b_ih, H, "bias_ih");
        set_param(cell.bias_hh, g->b_hh, H, "bias_hh");
    } else {
        ck_assert_ptr_null(cell.bias_ih);
        ck_assert_ptr_null(cell.bias_hh);
    }

    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *x = from_golden(ctx, B, I, g->x, B * I);
    ag_tensor *h = from_golden(ctx, B, H, g->h, B * H);
    ag_tensor *r = from_golden(ctx, B, H, g->r, B * H);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(h, true);
    ag_params_zero_grad(params);

    ag_tensor *out = ag_rnn_cell_forward(ctx, &cell, x, h);
    CHECK_OK(out);
    ck_assert_int_eq(out->ndim, 2);
    ck_assert_int_eq(out->shape[0], B);
    ck_assert_int_eq(out->shape[1], H);
    check_values("h'", out->data, g->out, B * H);
    ag_tensor *loss = weighted_sum(ctx, out, r);
    backward_ok(ctx, loss);
    check_values("loss", loss->data, g->loss, 1);

    ck_assert_ptr_nonnull(x->grad);
    ck_assert_ptr_nonnull(h->grad);
    check_values("x->grad", x->grad, g->gx, B * I);
    check_values("h->grad", h->grad, g->gh, B * H);
    check_values("weight_ih->grad", cell.weight_ih->grad, g->gw_ih, H * I);
    check_values("weight_hh->grad", cell.weight_hh->grad, g->gw_hh, H * H);
    if (g->bias) {
        check_values("bias_ih->grad", cell.bias_ih->grad, g->gb_ih, H);
        check_values("bias_hh->grad", cell.bias_hh->grad, g->gb_hh, H);
    }

    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* ----------------------------------------------------------------- LSTMCell */

typedef struct lstm_golden {
    bool bias;
    const float *x, *h, *c, *w_ih, *w_hh, *b_ih, *b_hh, *r1, *r2, *h_out, *c_out, *loss;
    const float *gx, *gh, *gc, *gw_ih, *gw_hh, *gb_ih, *gb_hh;
} lstm_golden;

static const lstm_golden lstm_cases[] = {
    {true, LSTM_BIAS_X, LSTM_BIAS_H, LSTM_BIAS_C, LSTM_BIAS_W_IH, LSTM_BIAS_W_HH, LSTM_BIAS_B_IH,
     LSTM_BIAS_B_HH, LSTM_BIAS_R1, LSTM_BIAS_R2, LSTM_BIAS_H_OUT, LSTM_BIAS_C_OUT, LSTM_BIAS_LOSS,
     LSTM_BIAS_GX, LSTM_BIAS_GH, LSTM_BIAS_GC, LSTM_BIAS_GW_IH, LSTM_BIAS_GW_HH, LSTM_BIAS_GB_IH,
     LSTM_BIAS_GB_HH},
    {false, LSTM_NOBIAS_X, LSTM_NOBIAS_H, LSTM_NOBIAS_C, LSTM_NOBIAS_W_IH, LSTM_NOBIAS_W_HH, NULL,
     NULL, LSTM_NOBIAS_R1, LSTM_NOBIAS_R2, LSTM_NOBIAS_H_OUT, LSTM_NOBIAS_C_OUT, LSTM_NOBIAS_LOSS,
     LSTM_NOBIAS_GX, LSTM_NOBIAS_GH, LSTM_NOBIAS_GC, LSTM_NOBIAS_GW_IH, LSTM_NOBIAS_GW_HH, NULL,
     NULL},
};

START_TEST(test_lstm_cell_known_values) {
    const lstm_golden *g = &lstm_cases[_i];
    enum { B = RNN_BATCH, I = RNN_INPUT, H = RNN_HIDDEN };
    ag_rng rng;
    ag_rng_seed(&rng, 2, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    ag_lstm_cell cell;
    ag_status st = ag_lstm_cell_init(&cell, params, "lstm", I, H, g->bias, &rng);
    ck_assert_msg(st == AG_OK, "ag_lstm_cell_init: %s", ag_error_message());
    ck_assert_int_eq(ag_params_count(params), g->bias ? 4 : 2);
    set_param(cell.weight_ih, g->w_ih, 4 * H * I, "weight_ih");
    set_param(cell.weight_hh, g->w_hh, 4 * H * H, "weight_hh");
    if (g->bias) {
        set_param(cell.bias_ih, g->b_ih, 4 * H, "bias_ih");
        set_param(cell.bias_hh, g->b_hh, 4 * H, "bias_hh");
    } else {
        ck_assert_ptr_null(cell.bias_ih);
        ck_assert_ptr_null(cell.bias_hh);
    }

    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *x = from_golden(ctx, B, I, g->x, B * I);
    ag_tensor *h = from_golden(ctx, B, H, g->h, B * H);
    ag_tensor *c = from_golden(ctx, B, H, g->c, B * H);
    ag_tensor *r1 = from_golden(ctx, B, H, g->r1, B * H);
    ag_tensor *r2 = from_golden(ctx, B, H, g->r2, B * H);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(h, true);
    ag_set_requires_grad(c, true);
    ag_params_zero_grad(params);

    ag_lstm_state in = {h, c};
    ag_lstm_state out = ag_lstm_cell_forward(ctx, &cell, x, in);
    ck_assert_msg(out.h != NULL && out.c != NULL, "ag_lstm_cell_forward: %s", ag_error_message());
    ck_assert_int_eq(out.h->ndim, 2);
    ck_assert_int_eq(out.h->shape[0], B);
    ck_assert_int_eq(out.h->shape[1], H);
    ck_assert_int_eq(out.c->shape[0], B);
    ck_assert_int_eq(out.c->shape[1], H);
    check_values("h'", out.h->data, g->h_out, B * H);
    check_values("c'", out.c->data, g->c_out, B * H);
    ag_tensor *loss = ag_add(ctx, weighted_sum(ctx, out.h, r1), weighted_sum(ctx, out.c, r2));
    backward_ok(ctx, loss);
    check_values("loss", loss->data, g->loss, 1);

    ck_assert_ptr_nonnull(x->grad);
    ck_assert_ptr_nonnull(h->grad);
    ck_assert_ptr_nonnull(c->grad);
    check_values("x->grad", x->grad, g->gx, B * I);
    check_values("h->grad", h->grad, g->gh, B * H);
    check_values("c->grad", c->grad, g->gc, B * H);
    check_values("weight_ih->grad", cell.weight_ih->grad, g->gw_ih, 4 * H * I);
    check_values("weight_hh->grad", cell.weight_hh->grad, g->gw_hh, 4 * H * H);
    if (g->bias) {
        check_values("bias_ih->grad", cell.bias_ih->grad, g->gb_ih, 4 * H);
        check_values("bias_hh->grad", cell.bias_hh->grad, g->gb_hh, 4 * H);
    }

    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* ------------------------------------------------------------------- Linear */

START_TEST(test_linear_known_values) {
    bool bias = _i == 0;
    enum { B = LIN_BATCH, IN = LIN_IN, OUT = LIN_OUT };
    ag_rng rng;
    ag_rng_seed(&rng, 3, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    ag_linear lin;
    ag_status st = ag_linear_init(&lin, params, "linear", IN, OUT, bias, &rng);
    ck_assert_msg(st == AG_OK, "ag_linear_init: %s", ag_error_message());
    ck_assert_int_eq(ag_params_count(params), bias ? 2 : 1);
    if (bias) {
        SET_PARAM(lin.weight, LIN_BIAS_W);
        SET_PARAM(lin.bias, LIN_BIAS_B);
    } else {
        SET_PARAM(lin.weight, LIN_NOBIAS_W);
        ck_assert_ptr_null(lin.bias);
    }

    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *x = bias ? FROM_GOLDEN(ctx, B, IN, LIN_BIAS_X) : FROM_GOLDEN(ctx, B, IN, LIN_NOBIAS_X);
    ag_tensor *r = bias ? FROM_GOLDEN(ctx, B, OUT, LIN_BIAS_R) : FROM_GOLDEN(ctx, B, OUT, LIN_NOBIAS_R);
    ag_set_requires_grad(x, true);
    ag_params_zero_grad(params);

    ag_tensor *y = ag_linear_forward(ctx, &lin, x);
    CHECK_OK(y);
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], B);
    ck_assert_int_eq(y->shape[1], OUT);
    ag_tensor *loss = weighted_sum(ctx, y, r);
    backward_ok(ctx, loss);
    if (bias) {
        CHECK_DATA(y, LIN_BIAS_OUT);
        CHECK_DATA(loss, LIN_BIAS_LOSS);
        CHECK_GRAD(x, LIN_BIAS_GX);
        CHECK_GRAD(lin.weight, LIN_BIAS_GW);
        CHECK_GRAD(lin.bias, LIN_BIAS_GB);
    } else {
        CHECK_DATA(y, LIN_NOBIAS_OUT);
        CHECK_DATA(loss, LIN_NOBIAS_LOSS);
        CHECK_GRAD(x, LIN_NOBIAS_GX);
        CHECK_GRAD(lin.weight, LIN_NOBIAS_GW);
    }

    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* ------------------------------------------------------------------- losses */

START_TEST(test_mse_loss_known_values) {
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *pred = FROM_GOLDEN(ctx, MSE_ROWS, MSE_COLS, MSE_PRED);
    ag_tensor *target = FROM_GOLDEN(ctx, MSE_ROWS, MSE_COLS, MSE_TARGET);
    ag_set_requires_grad(pred, true);
    ag_tensor *loss = ag_mse_loss(ctx, pred, target);
    backward_ok(ctx, loss);
    CHECK_DATA(loss, MSE_LOSS);
    CHECK_GRAD(pred, MSE_GPRED);
    ag_ctx_free(ctx);
}
END_TEST

START_TEST(test_cross_entropy_known_values) {
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *logits = FROM_GOLDEN(ctx, CE_N, CE_CLASSES, CE_LOGITS);
    ag_set_requires_grad(logits, true);
    ag_tensor *loss = ag_cross_entropy_loss(ctx, logits, CE_TARGETS, NULL);
    backward_ok(ctx, loss);
    CHECK_DATA(loss, CE_LOSS);
    CHECK_GRAD(logits, CE_GLOGITS);
    ag_ctx_free(ctx);
}
END_TEST

START_TEST(test_cross_entropy_masked_known_values) {
    ag_real mask[CE_N];
    for (int i = 0; i < CE_N; i++) mask[i] = (ag_real)CE_MASK[i];
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *logits = FROM_GOLDEN(ctx, CE_N, CE_CLASSES, CE_LOGITS);
    ag_set_requires_grad(logits, true);
    ag_tensor *loss = ag_cross_entropy_loss(ctx, logits, CE_TARGETS, mask);
    backward_ok(ctx, loss);
    CHECK_DATA(loss, CE_MASKED_LOSS);
    CHECK_GRAD(logits, CE_MASKED_GLOGITS);
    /* masked-out rows get exactly no gradient */
    for (int i = 0; i < CE_N; i++) {
        if (CE_MASK[i] != 0.0f) continue;
        for (int j = 0; j < CE_CLASSES; j++)
            ck_assert_msg(logits->grad[i * CE_CLASSES + j] == 0,
                          "masked row %d has gradient %.9g", i, (double)logits->grad[i * CE_CLASSES + j]);
    }
    ag_ctx_free(ctx);
}
END_TEST

/* A logit of -inf away from the target (a class masked out, in a counted or
 * a masked-out row) or logits at the edge of the float range: PyTorch's
 * finite loss and gradient, not NaN. Targets of -100 are PyTorch's
 * ignore_index: ag's mask 0. */
typedef struct infinite_case {
    const char *name;
    int rows, classes;
    const float *logits, *loss, *grad;
    const int *targets;
} infinite_case;

static const infinite_case infinite_cases[] = {
    {"[[-inf, 2, 1]]", 1, 3, CE_NEG_INF_LOGITS, CE_NEG_INF_LOSS, CE_NEG_INF_GLOGITS, CE_NEG_INF_TARGETS},
    {"[[-inf, 0], [0, 1]], row 0 masked", 2, 2, CE_NEG_INF_MASKED_LOGITS, CE_NEG_INF_MASKED_LOSS,
     CE_NEG_INF_MASKED_GLOGITS, CE_NEG_INF_MASKED_TARGETS},
    {"[[-3e38, 3e38]]", 1, 2, CE_HUGE_LOGITS, CE_HUGE_LOSS, CE_HUGE_GLOGITS, CE_HUGE_TARGETS},
};

START_TEST(test_cross_entropy_infinite_logits) {
    const infinite_case *c = &infinite_cases[_i];
    int targets[2];
    ag_real mask[2];
    for (int r = 0; r < c->rows; r++) {
        mask[r] = c->targets[r] == -100 ? 0 : 1;
        targets[r] = c->targets[r] == -100 ? 0 : c->targets[r];
    }
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *logits = from_golden(ctx, c->rows, c->classes, c->logits, c->rows * c->classes);
    ag_set_requires_grad(logits, true);
    ag_tensor *loss = ag_cross_entropy_loss(ctx, logits, targets, mask);
    backward_ok(ctx, loss);
    ck_assert_msg(isfinite(loss->data[0]), "%s: loss %.9g", c->name, (double)loss->data[0]);
    check_values(c->name, loss->data, c->loss, 1);
    check_values(c->name, logits->grad, c->grad, c->rows * c->classes);
    ag_ctx_free(ctx);
}
END_TEST

/* --------------------------------------------------------------- optimizers */

typedef enum { OPT_ADAM, OPT_SGD } opt_kind;

typedef struct opt_golden {
    const char *name;
    opt_kind kind;
    double lr, momentum, weight_decay;
    const float *weights; /* [OPT_STEPS][OPT_OUT * OPT_IN] */
    const float *biases;  /* [OPT_STEPS][OPT_OUT] */
} opt_golden;

static const opt_golden opt_cases[] = {
    {"Adam(lr=0.01)", OPT_ADAM, 0.01, 0.0, 0.0, ADAM_WEIGHT, ADAM_BIAS},
    {"Adam(lr=0.01, weight_decay=0.1)", OPT_ADAM, 0.01, 0.0, 0.1, ADAM_WD_WEIGHT, ADAM_WD_BIAS},
    {"SGD(lr=0.1)", OPT_SGD, 0.1, 0.0, 0.0, SGD_WEIGHT, SGD_BIAS},
    {"SGD(lr=0.1, momentum=0.9)", OPT_SGD, 0.1, 0.9, 0.0, SGD_MOM_WEIGHT, SGD_MOM_BIAS},
    {"SGD(lr=0.1, weight_decay=0.1)", OPT_SGD, 0.1, 0.0, 0.1, SGD_WD_WEIGHT, SGD_WD_BIAS},
    {"SGD(lr=0.1, momentum=0.9, weight_decay=0.1)", OPT_SGD, 0.1, 0.9, 0.1, SGD_MOM_WD_WEIGHT,
     SGD_MOM_WD_BIAS},
};

START_TEST(test_optimizer_known_values) {
    const opt_golden *g = &opt_cases[_i];
    ag_rng rng;
    ag_rng_seed(&rng, 4, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    ag_linear lin;
    ag_status st = ag_linear_init(&lin, params, "linear", OPT_IN, OPT_OUT, true, &rng);
    ck_assert_msg(st == AG_OK, "ag_linear_init: %s", ag_error_message());
    SET_PARAM(lin.weight, OPT_W0);
    SET_PARAM(lin.bias, OPT_B0);

    ag_adam adam;
    ag_sgd sgd;
    if (g->kind == OPT_ADAM) {
        st = ag_adam_init(&adam, params, g->lr);
        ck_assert_msg(st == AG_OK, "ag_adam_init: %s", ag_error_message());
        adam.weight_decay = g->weight_decay;
    } else {
        st = ag_sgd_init(&sgd, params, g->lr, g->momentum);
        ck_assert_msg(st == AG_OK, "ag_sgd_init: %s", ag_error_message());
        sgd.weight_decay = g->weight_decay;
    }

    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    for (int step = 0; step < OPT_STEPS; step++) {
        ag_ctx_reset(ctx);
        ag_params_zero_grad(params);
        ag_tensor *x = FROM_GOLDEN(ctx, OPT_N, OPT_IN, OPT_X);
        ag_tensor *y = FROM_GOLDEN(ctx, OPT_N, OPT_OUT, OPT_Y);
        ag_tensor *loss = ag_mse_loss(ctx, ag_linear_forward(ctx, &lin, x), y);
        backward_ok(ctx, loss);
        if (g->kind == OPT_ADAM)
            ck_assert_int_eq(ag_adam_step(&adam, params), AG_OK);
        else
            ck_assert_int_eq(ag_sgd_step(&sgd, params), AG_OK);
        char what[96];
        snprintf(what, sizeof what, "%s step %d weight", g->name, step + 1);
        check_values(what, lin.weight->data, g->weights + step * OPT_OUT * OPT_IN, OPT_OUT * OPT_IN);
        snprintf(what, sizeof what, "%s step %d bias", g->name, step + 1);
        check_values(what, lin.bias->data, g->biases + step * OPT_OUT, OPT_OUT);
    }

    if (g->kind == OPT_ADAM)
        ag_adam_free(&adam);
    else
        ag_sgd_free(&sgd);
    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* ---------------------------------------------------------------- composite */

/* Two steps of one LSTMCell (weights used twice), a Linear readout and
 * cross-entropy: the loss and every parameter gradient. */
START_TEST(test_composite_known_values) {
    enum { B = COMP_BATCH, I = COMP_INPUT, H = COMP_HIDDEN, C = COMP_CLASSES };
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    ag_lstm_cell cell;
    ag_linear lin;
    ag_status st = ag_lstm_cell_init(&cell, params, "lstm", I, H, true, &rng);
    ck_assert_msg(st == AG_OK, "ag_lstm_cell_init: %s", ag_error_message());
    st = ag_linear_init(&lin, params, "readout", H, C, true, &rng);
    ck_assert_msg(st == AG_OK, "ag_linear_init: %s", ag_error_message());
    ck_assert_int_eq(ag_params_count(params), 6);
    SET_PARAM(cell.weight_ih, COMP_W_IH);
    SET_PARAM(cell.weight_hh, COMP_W_HH);
    SET_PARAM(cell.bias_ih, COMP_B_IH);
    SET_PARAM(cell.bias_hh, COMP_B_HH);
    SET_PARAM(lin.weight, COMP_LIN_W);
    SET_PARAM(lin.bias, COMP_LIN_B);

    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_params_zero_grad(params);
    int state_shape[2] = {B, H};
    ag_lstm_state state = {ag_zeros(ctx, 2, state_shape), ag_zeros(ctx, 2, state_shape)};
    CHECK_OK(state.h);
    CHECK_OK(state.c);
    state = ag_lstm_cell_forward(ctx, &cell, FROM_GOLDEN(ctx, B, I, COMP_X1), state);
    state = ag_lstm_cell_forward(ctx, &cell, FROM_GOLDEN(ctx, B, I, COMP_X2), state);
    CHECK_OK(state.h);
    ag_tensor *logits = ag_linear_forward(ctx, &lin, state.h);
    CHECK_OK(logits);
    ag_tensor *loss = ag_cross_entropy_loss(ctx, logits, COMP_TARGETS, NULL);
    backward_ok(ctx, loss);
    CHECK_DATA(logits, COMP_LOGITS);
    CHECK_DATA(loss, COMP_LOSS);
    CHECK_GRAD(cell.weight_ih, COMP_GW_IH);
    CHECK_GRAD(cell.weight_hh, COMP_GW_HH);
    CHECK_GRAD(cell.bias_ih, COMP_GB_IH);
    CHECK_GRAD(cell.bias_hh, COMP_GB_HH);
    CHECK_GRAD(lin.weight, COMP_GLIN_W);
    CHECK_GRAD(lin.bias, COMP_GLIN_B);

    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* ---------------------------------------------------------------- math ops */

/* A step tensor of any shape holding golden values. */
static ag_tensor *golden_tensor(ag_ctx *ctx, int ndim, const int *shape, const float *values, int64_t n) {
    int64_t size = 1;
    for (int d = 0; d < ndim; d++) size *= shape[d];
    ck_assert_msg(size == n, "golden array has %lld values, shape has %lld", (long long)n, (long long)size);
    ck_assert(n <= KV_MAX_VALUES);
    ag_real buf[KV_MAX_VALUES];
    for (int64_t i = 0; i < n; i++) buf[i] = (ag_real)values[i];
    ag_tensor *t = ag_from_array(ctx, ndim, shape, buf);
    ck_assert_msg(t != NULL, "ag_from_array failed: %s", ag_error_message());
    return t;
}
#define GOLDEN_TENSOR(ctx, golden, ...)                                                            \
    golden_tensor((ctx), (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__}, (golden), \
                  N_OF(golden))

typedef struct unary_math_golden {
    const char *name;
    int op; /* 0 sqrt, 1 pow, 2 clamp */
    double exponent;
    bool positive; /* MATH_POS as input, else MATH_X */
    const float *out, *gx;
} unary_math_golden;
static const unary_math_golden unary_math_cases[] = {
    {"sqrt", 0, 0, true, MATH_SQRT_OUT, MATH_SQRT_GX},
    {"pow 2", 1, 2.0, false, MATH_POW2_OUT, MATH_POW2_GX},
    {"pow 3", 1, 3.0, false, MATH_POW3_OUT, MATH_POW3_GX},
    {"pow 0", 1, 0.0, false, MATH_POW0_OUT, MATH_POW0_GX},
    {"pow 0.5", 1, 0.5, true, MATH_POW_HALF_OUT, MATH_POW_HALF_GX},
    {"pow -1.5", 1, -1.5, true, MATH_POW_M1_5_OUT, MATH_POW_M1_5_GX},
    {"clamp -0.5, 0.75", 2, 0, false, MATH_CLAMP_OUT, MATH_CLAMP_GX},
};

START_TEST(test_unary_math_known_values) {
    const unary_math_golden *c = &unary_math_cases[_i];
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *x = c->positive ? GOLDEN_TENSOR(ctx, MATH_POS, MATH_ROWS, MATH_COLS)
                               : GOLDEN_TENSOR(ctx, MATH_X, MATH_ROWS, MATH_COLS);
    ag_set_requires_grad(x, true);
    ag_tensor *y = c->op == 0   ? ag_sqrt(ctx, x)
                   : c->op == 1 ? ag_pow(ctx, x, c->exponent)
                                : ag_clamp(ctx, x, -0.5, 0.75);
    backward_ok(ctx, weighted_sum(ctx, y, GOLDEN_TENSOR(ctx, MATH_R, MATH_ROWS, MATH_COLS)));
    ck_assert_msg(y->size == MATH_ROWS * MATH_COLS, "%s", c->name);
    check_values(c->name, y->data, c->out, MATH_ROWS * MATH_COLS);
    check_values(c->name, x->grad, c->gx, MATH_ROWS * MATH_COLS);
    ag_ctx_free(ctx);
}
END_TEST

typedef struct binary_math_golden {
    const char *name;
    ag_tensor *(*fn)(ag_ctx *, ag_tensor *, ag_tensor *);
    bool broadcast; /* MM_B [cols], else MM_C [rows, cols] */
    const float *out, *ga, *gb;
} binary_math_golden;
static const binary_math_golden binary_math_cases[] = {
    {"maximum [3, 4] [4]", ag_maximum, true, MM_MAX_B_OUT, MM_MAX_B_GA, MM_MAX_B_GB},
    {"maximum [3, 4] [3, 4]", ag_maximum, false, MM_MAX_C_OUT, MM_MAX_C_GA, MM_MAX_C_GC},
    {"minimum [3, 4] [4]", ag_minimum, true, MM_MIN_B_OUT, MM_MIN_B_GA, MM_MIN_B_GB},
    {"minimum [3, 4] [3, 4]", ag_minimum, false, MM_MIN_C_OUT, MM_MIN_C_GA, MM_MIN_C_GC},
};

/* With ties, whose gradient PyTorch splits half and half. */
START_TEST(test_maximum_minimum_known_values) {
    const binary_math_golden *c = &binary_math_cases[_i];
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *a = GOLDEN_TENSOR(ctx, MM_A, MATH_ROWS, MATH_COLS);
    ag_tensor *b = c->broadcast ? GOLDEN_TENSOR(ctx, MM_B, MATH_COLS) : GOLDEN_TENSOR(ctx, MM_C, MATH_ROWS, MATH_COLS);
    ag_set_requires_grad(a, true);
    ag_set_requires_grad(b, true);
    ag_tensor *y = c->fn(ctx, a, b);
    backward_ok(ctx, weighted_sum(ctx, y, GOLDEN_TENSOR(ctx, MM_R, MATH_ROWS, MATH_COLS)));
    check_values(c->name, y->data, c->out, MATH_ROWS * MATH_COLS);
    check_values(c->name, a->grad, c->ga, MATH_ROWS * MATH_COLS);
    check_values(c->name, b->grad, c->gb, b->size);
    ag_ctx_free(ctx);
}
END_TEST

/* x * reduce(x, dim, keepdim): the kept dimension broadcasts back. */
START_TEST(test_keepdim_known_values) {
    static const float *const out[2][3] = {{KEEP_SUM0_OUT, KEEP_SUM1_OUT, KEEP_SUM2_OUT},
                                           {KEEP_MEAN0_OUT, KEEP_MEAN1_OUT, KEEP_MEAN2_OUT}};
    static const float *const gx[2][3] = {{KEEP_SUM0_GX, KEEP_SUM1_GX, KEEP_SUM2_GX},
                                          {KEEP_MEAN0_GX, KEEP_MEAN1_GX, KEEP_MEAN2_GX}};
    const int dims[3] = {KEEP_D0, KEEP_D1, KEEP_D2};
    for (int mean = 0; mean <= 1; mean++)
        for (int axis = 0; axis < 3; axis++) {
            ag_ctx *ctx = ag_ctx_create();
            ck_assert_ptr_nonnull(ctx);
            ag_tensor *x = GOLDEN_TENSOR(ctx, KEEP_X, KEEP_D0, KEEP_D1, KEEP_D2);
            ag_set_requires_grad(x, true);
            ag_tensor *red = mean ? ag_mean_axis_keepdim(ctx, x, axis) : ag_sum_axis_keepdim(ctx, x, axis);
            CHECK_OK(red);
            ck_assert_int_eq(red->ndim, 3);
            for (int d = 0; d < 3; d++) ck_assert_int_eq(red->shape[d], d == axis ? 1 : dims[d]);
            ag_tensor *y = ag_mul(ctx, x, red);
            backward_ok(ctx, weighted_sum(ctx, y, GOLDEN_TENSOR(ctx, KEEP_R, KEEP_D0, KEEP_D1, KEEP_D2)));
            char what[48];
            snprintf(what, sizeof what, "%s axis %d", mean ? "mean" : "sum", axis);
            check_values(what, red->data, out[mean][axis], red->size);
            check_values(what, x->grad, gx[mean][axis], x->size);
            ag_ctx_free(ctx);
        }
}
END_TEST

START_TEST(test_where_broadcast_known_values) {
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *m = GOLDEN_TENSOR(ctx, WHERE_M, MATH_ROWS, 1);
    ag_tensor *a = GOLDEN_TENSOR(ctx, WHERE_A, MATH_ROWS, MATH_COLS);
    ag_tensor *b = GOLDEN_TENSOR(ctx, WHERE_B, MATH_COLS);
    ag_set_requires_grad(a, true);
    ag_set_requires_grad(b, true);
    ag_tensor *y = ag_where(ctx, m, a, b);
    backward_ok(ctx, weighted_sum(ctx, y, GOLDEN_TENSOR(ctx, WHERE_R, MATH_ROWS, MATH_COLS)));
    CHECK_DATA(y, WHERE_OUT);
    CHECK_GRAD(a, WHERE_GA);
    CHECK_GRAD(b, WHERE_GB);
    ag_ctx_free(ctx);
}
END_TEST

START_TEST(test_layer_norm_known_values) {
    bool affine = _i == 1;
    ag_params *params = ag_params_create();
    ag_layer_norm ln;
    ck_assert_int_eq(ag_layer_norm_init(&ln, params, "ln", LN_SIZE, affine, AG_LAYER_NORM_EPS), AG_OK);
    if (affine) {
        SET_PARAM(ln.weight, LN_AFFINE_W);
        SET_PARAM(ln.bias, LN_AFFINE_B);
    }
    ag_params_zero_grad(params);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *x = affine ? GOLDEN_TENSOR(ctx, LN_AFFINE_X, LN_BATCH, LN_TIME, LN_SIZE)
                          : GOLDEN_TENSOR(ctx, LN_PLAIN_X, LN_BATCH, LN_TIME, LN_SIZE);
    ag_set_requires_grad(x, true);
    ag_tensor *y = ag_layer_norm_forward(ctx, &ln, x);
    ag_tensor *r = affine ? GOLDEN_TENSOR(ctx, LN_AFFINE_R, LN_BATCH, LN_TIME, LN_SIZE)
                          : GOLDEN_TENSOR(ctx, LN_PLAIN_R, LN_BATCH, LN_TIME, LN_SIZE);
    backward_ok(ctx, weighted_sum(ctx, y, r));
    if (affine) {
        CHECK_DATA(y, LN_AFFINE_OUT);
        CHECK_GRAD(x, LN_AFFINE_GX);
        CHECK_GRAD(ln.weight, LN_AFFINE_GW);
        CHECK_GRAD(ln.bias, LN_AFFINE_GB);
    } else {
        CHECK_DATA(y, LN_PLAIN_OUT);
        CHECK_GRAD(x, LN_PLAIN_GX);
    }
    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

AG_TEST_SUITE(known_values_suite)
static Suite *known_values_suite(void) {
    Suite *s = suite_create("known_values");
    TCase *tc = tcase_create("pytorch");
    tcase_add_loop_test(tc, test_rnn_cell_known_values, 0, (int)(sizeof rnn_cases / sizeof rnn_cases[0]));
    tcase_add_loop_test(tc, test_lstm_cell_known_values, 0, (int)(sizeof lstm_cases / sizeof lstm_cases[0]));
    tcase_add_loop_test(tc, test_linear_known_values, 0, 2);
    tcase_add_test(tc, test_mse_loss_known_values);
    tcase_add_test(tc, test_cross_entropy_known_values);
    tcase_add_test(tc, test_cross_entropy_masked_known_values);
    tcase_add_loop_test(tc, test_cross_entropy_infinite_logits, 0, 3);
    tcase_add_loop_test(tc, test_optimizer_known_values, 0, (int)(sizeof opt_cases / sizeof opt_cases[0]));
    tcase_add_test(tc, test_composite_known_values);
    tcase_add_loop_test(tc, test_unary_math_known_values, 0,
                        (int)(sizeof unary_math_cases / sizeof unary_math_cases[0]));
    tcase_add_loop_test(tc, test_maximum_minimum_known_values, 0,
                        (int)(sizeof binary_math_cases / sizeof binary_math_cases[0]));
    tcase_add_test(tc, test_keepdim_known_values);
    tcase_add_test(tc, test_where_broadcast_known_values);
    tcase_add_loop_test(tc, test_layer_norm_known_values, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
