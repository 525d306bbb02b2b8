/* The GRU cell of models/gru.h, and the library's ag_gru_cell (its one
 * step, ag_gru_cell_forward, and the fused ag_gru_cell_sequence over a
 * sequence of one step), against torch.nn.GRUCell: with PyTorch's
 * weights and inputs loaded (fixtures/gru_golden.h, written by
 * fixtures/make_gru_golden.py), one step's output, the loss sum(h' * R) and
 * its gradients with respect to x, h and every parameter match PyTorch's,
 * with and without bias. Also: the parameters have PyTorch's names, order,
 * shapes, init range and exact initial draws, and a bad shape gives NULL
 * and an error naming gru_cell_forward. The library's fused GRU over
 * variable-length sequences matches models/gru.c's gru_cell_run to float
 * rounding, outputs and gradients.
 *
 * Tolerance: every element must satisfy
 *     |ag - torch| <= 1e-5 * max(|ag|, |torch|) + 1e-6
 * (1e-5 relative, with a 1e-6 absolute floor for values near zero, where
 * float32 cancellation makes a relative bound meaningless), the rule of
 * test_known_values.c. The golden values themselves agree with a float64
 * computation to a quarter of that. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures/gru_golden.h"
#include "gru.h"
#include "test_util.h"

#define GRU_REL 1e-5
#define GRU_ABS 1e-6
#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

typedef struct gru_golden {
    const char *name;
    bool bias;
    int batch;
    const float *x, *h, *w_ih, *w_hh, *b_ih, *b_hh, *r, *out, *loss;
    const float *gx, *gh, *gw_ih, *gw_hh, *gb_ih, *gb_hh;
    /* sizes of the arrays, to check them against the shapes */
    int64_t n_x, n_h, n_w_ih, n_w_hh, n_b, n_out, n_gx, n_gh, n_gw_ih, n_gw_hh, n_gb;
} gru_golden;

#define GRU_ARRAYS(P) P##_X, P##_H, P##_W_IH, P##_W_HH
#define GRU_GRADS(P) P##_GX, P##_GH, P##_GW_IH, P##_GW_HH
#define GRU_SIZES(P) N_OF(P##_X), N_OF(P##_H), N_OF(P##_W_IH), N_OF(P##_W_HH)

static const gru_golden cases[] = {
    {"GRUCell(3, 4, bias=True), batch 3", true, GRU_BIAS_BATCH, GRU_ARRAYS(GRU_BIAS), GRU_BIAS_B_IH, GRU_BIAS_B_HH,
     GRU_BIAS_R, GRU_BIAS_OUT, GRU_BIAS_LOSS, GRU_GRADS(GRU_BIAS), GRU_BIAS_GB_IH, GRU_BIAS_GB_HH,
     GRU_SIZES(GRU_BIAS), N_OF(GRU_BIAS_B_IH), N_OF(GRU_BIAS_OUT), N_OF(GRU_BIAS_GX), N_OF(GRU_BIAS_GH),
     N_OF(GRU_BIAS_GW_IH), N_OF(GRU_BIAS_GW_HH), N_OF(GRU_BIAS_GB_IH)},
    {"GRUCell(3, 4, bias=False), batch 2", false, GRU_NOBIAS_BATCH, GRU_ARRAYS(GRU_NOBIAS), NULL, NULL,
     GRU_NOBIAS_R, GRU_NOBIAS_OUT, GRU_NOBIAS_LOSS, GRU_GRADS(GRU_NOBIAS), NULL, NULL, GRU_SIZES(GRU_NOBIAS), 0,
     N_OF(GRU_NOBIAS_OUT), N_OF(GRU_NOBIAS_GX), N_OF(GRU_NOBIAS_GH), N_OF(GRU_NOBIAS_GW_IH),
     N_OF(GRU_NOBIAS_GW_HH), 0},
};

/* Every element of got (n values) against want, naming the first mismatch. */
static void check_values(const char *name, const char *what, const ag_real *got, const float *want, int64_t n,
                         int64_t n_want) {
    ck_assert_msg(got != NULL, "%s: %s: no values (NULL)", name, what);
    ck_assert_msg(n == n_want, "%s: %s has %lld values, the golden array %lld", name, what, (long long)n,
                  (long long)n_want);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(ag_test_close((double)got[i], (double)want[i], GRU_REL, GRU_ABS),
                      "%s: %s[%lld] = %.9g, PyTorch %.9g", name, what, (long long)i, (double)got[i],
                      (double)want[i]);
}

static void set_values(ag_tensor *t, const float *values, int64_t n, const char *what) {
    ck_assert_msg(t != NULL, "parameter %s missing", what);
    ck_assert_msg(t->size == n, "parameter %s has %lld values, golden %lld", what, (long long)t->size, (long long)n);
    for (int64_t i = 0; i < n; i++) t->data[i] = (ag_real)values[i];
}

static ag_tensor *step_tensor(ag_ctx *ctx, int rows, int cols, const float *values, int64_t n) {
    ck_assert_msg((int64_t)rows * cols == n, "golden array has %lld values, shape [%d, %d]", (long long)n, rows, cols);
    ag_real buf[64];
    ck_assert(n <= 64);
    for (int64_t i = 0; i < n; i++) buf[i] = (ag_real)values[i];
    ag_tensor *t = ag_from_array(ctx, 2, (int[]){rows, cols}, buf);
    ck_assert_msg(t != NULL, "ag_from_array: %s", ag_error_message());
    return t;
}

/* How the known values are computed: models/gru.c, the library's composed
 * step, the library's fused op over [batch, 1, input]. */
enum { WAY_MODEL, WAY_LIBRARY_STEP, WAY_LIBRARY_FUSED, N_WAYS };
static const char *const WAY_NAMES[] = {"gru_cell_forward", "ag_gru_cell_forward", "ag_gru_cell_sequence"};

START_TEST(test_gru_cell_known_values) {
    const gru_golden *g = &cases[_i / N_WAYS];
    int way = _i % N_WAYS;
    enum { I = GRU_INPUT, H = GRU_HIDDEN };
    int B = g->batch;
    ag_rng rng;
    ag_rng_seed(&rng, 9, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    gru_cell cell;
    ck_assert_msg(gru_cell_init(&cell, params, "gru", I, H, g->bias, &rng) == AG_OK, "gru_cell_init: %s",
                  ag_error_message());
    ck_assert_int_eq(ag_params_count(params), g->bias ? 4 : 2);
    set_values(cell.weight_ih, g->w_ih, g->n_w_ih, "weight_ih");
    set_values(cell.weight_hh, g->w_hh, g->n_w_hh, "weight_hh");
    if (g->bias) {
        set_values(cell.bias_ih, g->b_ih, g->n_b, "bias_ih");
        set_values(cell.bias_hh, g->b_hh, g->n_b, "bias_hh");
    } else {
        ck_assert_ptr_null(cell.bias_ih);
        ck_assert_ptr_null(cell.bias_hh);
    }

    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *x = step_tensor(ctx, B, I, g->x, g->n_x);
    ag_tensor *h = step_tensor(ctx, B, H, g->h, g->n_h);
    ag_tensor *r = step_tensor(ctx, B, H, g->r, g->n_out);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(h, true);
    ag_params_zero_grad(params);

    ag_gru_cell library = {cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, I, H};
    ag_tensor *out;
    if (way == WAY_MODEL)
        out = gru_cell_forward(ctx, &cell, x, h);
    else if (way == WAY_LIBRARY_STEP)
        out = ag_gru_cell_forward(ctx, &library, x, h);
    else
        out = ag_reshape(ctx,
                         ag_gru_cell_sequence(ctx, &library, ag_reshape(ctx, x, 3, (int[]){B, 1, I}), NULL, h),
                         2, (int[]){B, H});
    ck_assert_msg(out != NULL, "%s: %s", WAY_NAMES[way], ag_error_message());
    char label[160];
    snprintf(label, sizeof label, "%s, %s", g->name, WAY_NAMES[way]);
    ck_assert_int_eq(out->ndim, 2);
    ck_assert_int_eq(out->shape[0], B);
    ck_assert_int_eq(out->shape[1], H);
    check_values(label, "h'", out->data, g->out, out->size, g->n_out);
    ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, out, r));
    ck_assert_msg(loss != NULL, "loss: %s", ag_error_message());
    ck_assert_msg(ag_backward(ctx, loss) == AG_OK, "ag_backward: %s", ag_error_message());
    check_values(label, "loss", loss->data, g->loss, 1, 1);

    check_values(label, "x->grad", x->grad, g->gx, x->size, g->n_gx);
    check_values(label, "h->grad", h->grad, g->gh, h->size, g->n_gh);
    check_values(label, "weight_ih->grad", cell.weight_ih->grad, g->gw_ih, cell.weight_ih->size, g->n_gw_ih);
    check_values(label, "weight_hh->grad", cell.weight_hh->grad, g->gw_hh, cell.weight_hh->size, g->n_gw_hh);
    if (g->bias) {
        check_values(label, "bias_ih->grad", cell.bias_ih->grad, g->gb_ih, cell.bias_ih->size, g->n_gb);
        check_values(label, "bias_hh->grad", cell.bias_hh->grad, g->gb_hh, cell.bias_hh->size, g->n_gb);
    }

    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* PREFIX.weight_ih [3 hidden, input], PREFIX.weight_hh [3 hidden, hidden],
 * PREFIX.bias_ih and PREFIX.bias_hh [3 hidden], in PyTorch's order (that of
 * GRUCell.state_dict()), after any parameters already there, each
 * U(-1/sqrt(hidden), 1/sqrt(hidden)). */
START_TEST(test_gru_cell_init_names_and_shapes) {
    enum { I = 5, H = 7 };
    for (int bias = 0; bias <= 1; bias++) {
        ag_rng rng;
        ag_rng_seed(&rng, 10, (uint64_t)bias);
        ag_params *params = ag_params_create();
        ck_assert_ptr_nonnull(params);
        ck_assert_ptr_nonnull(ag_params_add(params, "first", 1, (int[]){2}));
        gru_cell cell;
        ck_assert_msg(gru_cell_init(&cell, params, "encoder.gru", I, H, bias, &rng) == AG_OK, "gru_cell_init: %s",
                      ag_error_message());
        ck_assert_int_eq(cell.input_size, I);
        ck_assert_int_eq(cell.hidden_size, H);
        ck_assert_int_eq(ag_params_count(params), bias ? 5 : 3);
        ag_test_check_param(params, 1, "encoder.gru.weight_ih", 2, (int[]){3 * H, I});
        ag_test_check_param(params, 2, "encoder.gru.weight_hh", 2, (int[]){3 * H, H});
        ck_assert_ptr_eq(cell.weight_ih, ag_params_get(params, 1));
        ck_assert_ptr_eq(cell.weight_hh, ag_params_get(params, 2));
        double bound = 1.0 / sqrt((double)H);
        ag_test_check_uniform(cell.weight_ih, "weight_ih", bound, 8);
        ag_test_check_uniform(cell.weight_hh, "weight_hh", bound, 8);
        if (bias) {
            ag_test_check_param(params, 3, "encoder.gru.bias_ih", 1, (int[]){3 * H});
            ag_test_check_param(params, 4, "encoder.gru.bias_hh", 1, (int[]){3 * H});
            ck_assert_ptr_eq(cell.bias_ih, ag_params_get(params, 3));
            ck_assert_ptr_eq(cell.bias_hh, ag_params_get(params, 4));
            ag_test_check_uniform(cell.bias_ih, "bias_ih", bound, 8);
            ag_test_check_uniform(cell.bias_hh, "bias_hh", bound, 8);
        } else {
            ck_assert_ptr_null(cell.bias_ih);
            ck_assert_ptr_null(cell.bias_hh);
            ck_assert_ptr_null(ag_params_find(params, "encoder.gru.bias_ih"));
            ck_assert_ptr_null(ag_params_find(params, "encoder.gru.bias_hh"));
        }
        ck_assert_int_eq(ag_params_size(params), 2 + 3 * H * I + 3 * H * H + (bias ? 6 * H : 0));
        /* The exact draws: ag_init_uniform's formula over the four tensors
         * in turn, as the loop before ag_init_pytorch_default drew them. */
        ag_rng reference;
        ag_rng_seed(&reference, 10, (uint64_t)bias);
        ag_tensor *all[] = {cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh};
        for (int k = 0; k < 4; k++)
            for (int64_t i = 0; all[k] && i < all[k]->size; i++) {
                ag_real want = (ag_real)(-bound + (bound - (-bound)) * ag_rng_uniform(&reference));
                ck_assert_msg(memcmp(&want, &all[k]->data[i], sizeof want) == 0, "tensor %d [%lld] = %a, expected %a",
                              k, (long long)i, (double)all[k]->data[i], (double)want);
            }
        ck_assert_uint_eq(rng.state, reference.state);
        ag_params_free(params);
    }
}
END_TEST

/* Sizes below 1 and a NULL argument are refused with a message. */
START_TEST(test_gru_cell_init_errors) {
    ag_rng rng;
    ag_rng_seed(&rng, 11, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    gru_cell cell;
    ag_error_clear();
    ck_assert_int_eq(gru_cell_init(&cell, params, "gru", 0, 4, true, &rng), AG_ERROR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "gru_cell_init"));
    ag_error_clear();
    ck_assert_int_eq(gru_cell_init(&cell, params, "gru", 3, 0, true, &rng), AG_ERROR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "gru_cell_init"));
    ag_error_clear();
    ck_assert_int_eq(gru_cell_init(&cell, params, NULL, 3, 4, true, &rng), AG_ERROR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "gru_cell_init"));
    ck_assert_int_eq(ag_params_count(params), 0);
    ag_params_free(params);
}
END_TEST

/* Each bad shape gives NULL, AG_ERROR_SHAPE and a message naming
 * gru_cell_forward and the shapes; a NULL input gives NULL and leaves the
 * message alone. */
START_TEST(test_gru_cell_forward_bad_shapes) {
    enum { B = 2, I = 3, H = 4 };
    ag_rng rng;
    ag_rng_seed(&rng, 12, 0);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    gru_cell cell;
    ck_assert_int_eq(gru_cell_init(&cell, params, "gru", I, H, true, &rng), AG_OK);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);

    /* The good shapes work (so the failures below are the shapes'). */
    ag_tensor *good = gru_cell_forward(ctx, &cell, ag_zeros(ctx, 2, (int[]){B, I}), ag_zeros(ctx, 2, (int[]){B, H}));
    ck_assert_msg(good != NULL, "gru_cell_forward: %s", ag_error_message());

    struct {
        int x_ndim, x_shape[3], h_ndim, h_shape[2];
        const char *x_text, *h_text;
    } bad[] = {
        {2, {B, I + 1}, 2, {B, H}, "[2, 4]", "[2, 4]"}, /* input features */
        {2, {B, I}, 2, {B, H + 1}, "[2, 3]", "[2, 5]"}, /* state width */
        {2, {B, I}, 2, {B + 1, H}, "[2, 3]", "[3, 4]"}, /* batch sizes differ */
        {1, {I}, 2, {1, H}, "[3]", "[1, 4]"},           /* input without a batch axis */
        {3, {B, 1, I}, 2, {B, H}, "[2, 1, 3]", "[2, 4]"}, /* a sequence, not a step */
        {2, {B, I}, 1, {H}, "[2, 3]", "[4]"},           /* state without a batch axis */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ag_tensor *x = ag_zeros(ctx, bad[k].x_ndim, bad[k].x_shape);
        ag_tensor *h = ag_zeros(ctx, bad[k].h_ndim, bad[k].h_shape);
        ck_assert(x && h);
        ag_error_clear();
        ag_tensor *out = gru_cell_forward(ctx, &cell, x, h);
        const char *message = ag_error_message();
        ck_assert_msg(out == NULL, "case %zu: x %s, h %s gave a result", k, bad[k].x_text, bad[k].h_text);
        ck_assert_msg(ag_error_code() == AG_ERROR_SHAPE, "case %zu: status %d, expected AG_ERROR_SHAPE", k,
                      (int)ag_error_code());
        ck_assert_msg(strstr(message, "gru_cell_forward") != NULL, "case %zu: message '%s' does not name gru_cell_forward",
                      k, message);
        ck_assert_msg(strstr(message, bad[k].x_text) && strstr(message, bad[k].h_text),
                      "case %zu: message '%s' does not show the shapes %s and %s", k, message, bad[k].x_text,
                      bad[k].h_text);
    }

    /* NULL in, NULL out, the earlier failure's message kept. */
    ag_error_set(AG_ERROR_ARGUMENT, "an earlier failure");
    ck_assert_ptr_null(gru_cell_forward(ctx, &cell, NULL, ag_zeros(ctx, 2, (int[]){B, H})));
    ck_assert_ptr_null(gru_cell_forward(ctx, &cell, ag_zeros(ctx, 2, (int[]){B, I}), NULL));
    ck_assert_str_eq(ag_error_message(), "an earlier failure");
    ag_error_clear();

    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* The library's fused GRU (ag_gru_cell_run, and ag_gru_cell_sequence read
 * at each row's last step) against models/gru.c's gru_cell_run, stepped one
 * op at a time, on the same weights: the last states and the gradients of
 * sum(h * W) with respect to h0 and every parameter, to float rounding.
 * Variable lengths, batch 5 (one chunk) and 17 (two chunks). */
START_TEST(test_library_gru_matches_model) {
    enum { T = 6, I = 3 };
    int B = _i ? 17 : 5, H = _i ? 14 : 7;
    ag_rng rng;
    ag_rng_seed(&rng, 13, (uint64_t)_i);
    ag_params *params = ag_params_create();
    ag_gru_cell cell;
    ck_assert_int_eq(ag_gru_cell_init(&cell, params, "gru", I, H, true, &rng), AG_OK);
    gru_cell model = {cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, I, H};
    ag_sequence_batch seq;
    ck_assert_int_eq(ag_sequence_batch_init(&seq, B, T, I), AG_OK);
    for (int b = 0; b < B; b++) seq.lengths[b] = 1 + (3 * b + 1) % T;
    for (int64_t i = 0; i < (int64_t)B * T * I; i++) seq.values[i] = (ag_real)(2 * ag_rng_uniform(&rng) - 1);
    int64_t n_state = (int64_t)B * H, n_params = ag_params_size(params);
    ag_real *h0_values = malloc((size_t)n_state * sizeof(ag_real)), *w = malloc((size_t)n_state * sizeof(ag_real));
    ag_real *want_h = malloc((size_t)n_state * sizeof(ag_real)), *want_dh0 = malloc((size_t)n_state * sizeof(ag_real));
    ag_real *want_dparams = malloc((size_t)n_params * sizeof(ag_real));
    ck_assert(h0_values && w && want_h && want_dh0 && want_dparams);
    for (int64_t i = 0; i < n_state; i++) {
        h0_values[i] = (ag_real)(ag_rng_uniform(&rng) - 0.5);
        w[i] = (ag_real)(2 * ag_rng_uniform(&rng) - 1);
    }
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    const char *names[] = {"gru_cell_run", "ag_gru_cell_run", "ag_gru_cell_sequence"};
    for (int way = 0; way < 3; way++) {
        ag_ctx_reset(ctx);
        ag_params_zero_grad(params);
        ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){B, H}, h0_values);
        ag_set_requires_grad(h0, true);
        ag_tensor *h;
        if (way == 0)
            h = gru_cell_run(ctx, &model, &seq, h0);
        else if (way == 1)
            h = ag_gru_cell_run(ctx, &cell, &seq, h0);
        else
            h = ag_last_step(ctx, ag_gru_cell_sequence(ctx, &cell, ag_sequence_values(ctx, &seq), seq.lengths, h0));
        ck_assert_msg(h != NULL, "%s: %s", names[way], ag_error_message());
        ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, h, ag_from_array(ctx, 2, (int[]){B, H}, w)));
        ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
        if (way == 0) {
            memcpy(want_h, h->data, (size_t)n_state * sizeof(ag_real));
            memcpy(want_dh0, h0->grad, (size_t)n_state * sizeof(ag_real));
            memcpy(want_dparams, ag_params_grad(params), (size_t)n_params * sizeof(ag_real));
            continue;
        }
        const ag_real *got[] = {h->data, h0->grad, ag_params_grad(params)};
        const ag_real *want[] = {want_h, want_dh0, want_dparams};
        int64_t n[] = {n_state, n_state, n_params};
        const char *what[] = {"h", "d h0", "d params"};
        double moved = 0;
        for (int k = 0; k < 3; k++)
            for (int64_t i = 0; i < n[k]; i++) {
                ck_assert_msg(ag_test_close((double)got[k][i], (double)want[k][i], 1e-5, 1e-5),
                              "batch %d: %s: %s[%lld] = %.9g, gru_cell_run %.9g", B, names[way], what[k],
                              (long long)i, (double)got[k][i], (double)want[k][i]);
                moved += fabs((double)want[k][i]);
            }
        ck_assert(moved > 1e-2);
    }
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&seq);
    free(h0_values);
    free(w);
    free(want_h);
    free(want_dh0);
    free(want_dparams);
    ag_params_free(params);
}
END_TEST

AG_TEST_SUITE(gru_suite)
static Suite *gru_suite(void) {
    Suite *s = suite_create("gru");
    TCase *tc = tcase_create("gru");
    tcase_add_loop_test(tc, test_gru_cell_known_values, 0, N_WAYS * (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, test_library_gru_matches_model, 0, 2);
    tcase_add_test(tc, test_gru_cell_init_names_and_shapes);
    tcase_add_test(tc, test_gru_cell_init_errors);
    tcase_add_test(tc, test_gru_cell_forward_bad_shapes);
    suite_add_tcase(s, tc);
    return s;
}
