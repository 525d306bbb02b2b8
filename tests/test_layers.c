/* Stacked and bidirectional recurrent layers (layers.c): ag_lstm, ag_rnn and
 * ag_gru against torch.nn.LSTM, torch.nn.RNN and torch.nn.GRU with
 * num_layers=2 on a
 * pack_padded_sequence batch (fixtures/layers_golden.h, written by
 * fixtures/make_layers_golden.py): parameter names and order, the output
 * (zero past each length), h_n, c_n and the gradients of a fixed loss with
 * respect to x, the initial states and every parameter, to 1e-5 relative.
 * Then dropout between layers (deterministic for a seed, none in eval) and
 * the errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ag.h"
#include "fixtures/layers_golden.h"
#include "test_util.h"

#define LAYERS_REL 1e-5
#define LAYERS_ABS 1e-6
#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

typedef struct layers_golden {
    const char *name;
    bool lstm, relu, state;
    int directions, nparams;
    const char *const *names;
    const int *sizes;
    const float *params, *x, *h0, *c0, *r, *rh, *rc;
    const float *out, *h_n, *c_n, *loss, *gx, *gh0, *gc0, *gparams;
    int64_t n_params, n_x, n_state, n_out;
    bool gru;
} layers_golden;

#define GOLDEN_COMMON(P)                                                                                        \
    #P, P##_LSTM, P##_RELU, P##_STATE, P##_DIRECTIONS, P##_NPARAMS, P##_NAMES, P##_SIZES, P##_PARAMS, P##_X,   \
        P##_H0, P##_C0, P##_R, P##_RH, P##_RC, P##_OUT, P##_H_N
#define GOLDEN_SIZES(P) N_OF(P##_PARAMS), N_OF(P##_X), N_OF(P##_H0), N_OF(P##_OUT)

static const layers_golden cases[] = {
    {GOLDEN_COMMON(LSTM_UNI), LSTM_UNI_C_N, LSTM_UNI_LOSS, LSTM_UNI_GX, LSTM_UNI_GH0, LSTM_UNI_GC0,
     LSTM_UNI_GPARAMS, GOLDEN_SIZES(LSTM_UNI), false},
    {GOLDEN_COMMON(LSTM_BI), LSTM_BI_C_N, LSTM_BI_LOSS, LSTM_BI_GX, LSTM_BI_GH0, LSTM_BI_GC0, LSTM_BI_GPARAMS,
     GOLDEN_SIZES(LSTM_BI), false},
    {GOLDEN_COMMON(RNN_TANH_BI), NULL, RNN_TANH_BI_LOSS, RNN_TANH_BI_GX, RNN_TANH_BI_GH0, NULL,
     RNN_TANH_BI_GPARAMS, GOLDEN_SIZES(RNN_TANH_BI), false},
    {GOLDEN_COMMON(RNN_RELU_BI), NULL, RNN_RELU_BI_LOSS, RNN_RELU_BI_GX, RNN_RELU_BI_GH0, NULL,
     RNN_RELU_BI_GPARAMS, GOLDEN_SIZES(RNN_RELU_BI), false},
    {GOLDEN_COMMON(GRU_BI), NULL, GRU_BI_LOSS, GRU_BI_GX, GRU_BI_GH0, NULL, GRU_BI_GPARAMS, GOLDEN_SIZES(GRU_BI),
     GRU_BI_GRU},
};

static void check_values(const char *name, const char *what, const ag_real *got, const float *want, int64_t n,
                         int64_t n_want) {
    ck_assert_msg(got != NULL, "%s: %s: no values (NULL)", name, what);
    ck_assert_msg(n == n_want, "%s: %s has %lld values, the golden array %lld", name, what, (long long)n,
                  (long long)n_want);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(ag_test_close((double)got[i], (double)want[i], LAYERS_REL, LAYERS_ABS),
                      "%s: %s[%lld] = %.9g, PyTorch %.9g", name, what, (long long)i, (double)got[i],
                      (double)want[i]);
}

static ag_tensor *golden_tensor(ag_ctx *ctx, int ndim, const int *shape, const float *values, int64_t n) {
    ag_real buf[1024];
    ck_assert(n <= 1024);
    for (int64_t i = 0; i < n; i++) buf[i] = (ag_real)values[i];
    ag_tensor *t = ag_from_array(ctx, ndim, shape, buf);
    ck_assert_msg(t != NULL && t->size == n, "golden tensor of %lld values: %s", (long long)n, ag_error_message());
    return t;
}

typedef struct stacked {
    ag_lstm lstm;
    ag_rnn rnn;
    ag_gru gru;
    bool is_lstm, is_gru;
} stacked;

static ag_status stacked_init(stacked *m, ag_params *p, const char *prefix, bool is_lstm, bool is_gru, bool relu,
                              bool bidirectional, int layers, double dropout, ag_rng *rng) {
    m->is_lstm = is_lstm;
    m->is_gru = is_gru;
    if (is_gru)
        return ag_gru_init(&m->gru, p, prefix, LAYERS_INPUT, LAYERS_HIDDEN, layers, bidirectional, dropout, rng);
    if (is_lstm)
        return ag_lstm_init(&m->lstm, p, prefix, LAYERS_INPUT, LAYERS_HIDDEN, layers, bidirectional, dropout, rng);
    return ag_rnn_init(&m->rnn, p, prefix, LAYERS_INPUT, LAYERS_HIDDEN, layers,
                       relu ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH, bidirectional, dropout, rng);
}

static ag_recurrent_output stacked_forward(ag_ctx *ctx, const stacked *m, ag_tensor *x, const int *lengths,
                                           ag_tensor *h0, ag_tensor *c0, bool training, ag_rng *rng) {
    if (m->is_lstm) return ag_lstm_forward(ctx, &m->lstm, x, lengths, h0, c0, training, rng);
    if (m->is_gru) return ag_gru_forward(ctx, &m->gru, x, lengths, h0, training, rng);
    return ag_rnn_forward(ctx, &m->rnn, x, lengths, h0, training, rng);
}

START_TEST(test_layers_known_values) {
    const layers_golden *g = &cases[_i];
    enum { I = LAYERS_INPUT, H = LAYERS_HIDDEN, L = LAYERS_NUM, B = LAYERS_BATCH, T = LAYERS_STEPS };
    int D = g->directions;
    ag_rng rng;
    ag_rng_seed(&rng, 16, 3);
    ag_params *params = ag_params_create();
    stacked m;
    ck_assert_msg(stacked_init(&m, params, "rnn", g->lstm, g->gru, g->relu, D == 2, L, 0.0, &rng) == AG_OK, "%s: init: %s",
                  g->name, ag_error_message());
    /* PyTorch's names, in PyTorch's order, with PyTorch's sizes. */
    ck_assert_int_eq(ag_params_count(params), g->nparams);
    for (int k = 0; k < g->nparams; k++) {
        char want[128];
        snprintf(want, sizeof want, "rnn.%s", g->names[k]);
        ck_assert_str_eq(ag_params_name(params, k), want);
        ck_assert_int_eq(ag_params_get(params, k)->size, g->sizes[k]);
        /* U(-1/sqrt(H), 1/sqrt(H)) */
        const ag_tensor *t = ag_params_get(params, k);
        for (int64_t i = 0; i < t->size; i++) ck_assert(fabs((double)t->data[i]) <= 1.0 / sqrt((double)H));
    }
    ck_assert_int_eq(ag_params_size(params), g->n_params);
    ag_real *data = ag_params_data(params);
    for (int64_t i = 0; i < g->n_params; i++) data[i] = (ag_real)g->params[i];

    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *x = golden_tensor(ctx, 3, (int[]){B, T, I}, g->x, g->n_x);
    int sshape[3] = {L * D, B, H};
    ag_tensor *h0 = g->state ? golden_tensor(ctx, 3, sshape, g->h0, g->n_state) : NULL;
    ag_tensor *c0 = g->state && g->lstm ? golden_tensor(ctx, 3, sshape, g->c0, g->n_state) : NULL;
    ag_set_requires_grad(x, true);
    if (h0) ag_set_requires_grad(h0, true);
    if (c0) ag_set_requires_grad(c0, true);
    ag_params_zero_grad(params);

    ag_recurrent_output o = stacked_forward(ctx, &m, x, LAYERS_LENGTHS, h0, c0, true, NULL);
    ck_assert_msg(o.output != NULL, "%s: forward: %s", g->name, ag_error_message());
    ck_assert_int_eq(o.output->ndim, 3);
    ck_assert_int_eq(o.output->shape[0], B);
    ck_assert_int_eq(o.output->shape[1], T);
    ck_assert_int_eq(o.output->shape[2], D * H);
    ck_assert_int_eq(o.h_n->ndim, 3);
    ck_assert_int_eq(o.h_n->shape[0], L * D);
    ck_assert_int_eq(o.h_n->shape[1], B);
    ck_assert_int_eq(o.h_n->shape[2], H);
    check_values(g->name, "output", o.output->data, g->out, o.output->size, g->n_out);
    check_values(g->name, "h_n", o.h_n->data, g->h_n, o.h_n->size, g->n_state);
    if (g->lstm) {
        ck_assert_ptr_nonnull(o.c_n);
        check_values(g->name, "c_n", o.c_n->data, g->c_n, o.c_n->size, g->n_state);
    } else {
        ck_assert_ptr_null(o.c_n);
    }

    ag_tensor *loss = ag_add(ctx, ag_sum(ctx, ag_mul(ctx, o.output, golden_tensor(ctx, 3, o.output->shape, g->r, g->n_out))),
                             ag_sum(ctx, ag_mul(ctx, o.h_n, golden_tensor(ctx, 3, sshape, g->rh, g->n_state))));
    if (g->lstm)
        loss = ag_add(ctx, loss, ag_sum(ctx, ag_mul(ctx, o.c_n, golden_tensor(ctx, 3, sshape, g->rc, g->n_state))));
    ck_assert_ptr_nonnull(loss);
    check_values(g->name, "loss", loss->data, g->loss, 1, 1);
    ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
    check_values(g->name, "d loss / d x", x->grad, g->gx, x->size, g->n_x);
    if (h0) check_values(g->name, "d loss / d h0", h0->grad, g->gh0, h0->size, g->n_state);
    if (c0) check_values(g->name, "d loss / d c0", c0->grad, g->gc0, c0->size, g->n_state);
    check_values(g->name, "d loss / d parameters", ag_params_grad(params), g->gparams, ag_params_size(params),
                 g->n_params);
    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* Dropout between layers: in training, a seed gives one result (and
 * another seed another); in evaluation none, the same as p = 0; the last
 * layer's output never gets dropout (a 1-layer module is unchanged). */
START_TEST(test_layers_dropout) {
    enum { I = LAYERS_INPUT, H = LAYERS_HIDDEN, B = LAYERS_BATCH, T = LAYERS_STEPS };
    for (int kind = 0; kind < 3; kind++) {
        bool is_lstm = kind == 1, is_gru = kind == 2;
        ag_rng rng;
        ag_rng_seed(&rng, 16, 4);
        ag_params *p = ag_params_create(), *p0 = ag_params_create();
        stacked m, m0;
        ck_assert_int_eq(stacked_init(&m, p, "m", is_lstm, is_gru, false, true, 3, 0.5, &rng), AG_OK);
        ag_rng_seed(&rng, 16, 4);
        ck_assert_int_eq(stacked_init(&m0, p0, "m", is_lstm, is_gru, false, true, 3, 0.0, &rng), AG_OK);
        ck_assert_int_eq(ag_params_size(p), ag_params_size(p0));
        ag_ctx *ctx = ag_ctx_create();
        ag_tensor *x = ag_rand_uniform(ctx, &rng, 3, (int[]){B, T, I}, -1, 1);
        int64_t n = B * T * 2 * H;
        ag_real ref[B * T * 2 * H], a[B * T * 2 * H], b[B * T * 2 * H], c[B * T * 2 * H];
        ag_recurrent_output o = stacked_forward(ctx, &m0, x, LAYERS_LENGTHS, NULL, NULL, true, &rng);
        ck_assert_ptr_nonnull(o.output);
        memcpy(ref, o.output->data, sizeof ref);
        /* Evaluation: no dropout, no rng needed. */
        o = stacked_forward(ctx, &m, x, LAYERS_LENGTHS, NULL, NULL, false, NULL);
        ck_assert_ptr_nonnull(o.output);
        ck_assert_mem_eq(o.output->data, ref, sizeof ref);
        /* Training: the same seed, the same result; another seed, another. */
        ag_rng r1;
        ag_rng_seed(&r1, 5, 5);
        o = stacked_forward(ctx, &m, x, LAYERS_LENGTHS, NULL, NULL, true, &r1);
        ck_assert_ptr_nonnull(o.output);
        memcpy(a, o.output->data, sizeof a);
        ag_rng_seed(&r1, 5, 5);
        o = stacked_forward(ctx, &m, x, LAYERS_LENGTHS, NULL, NULL, true, &r1);
        memcpy(b, o.output->data, sizeof b);
        ag_rng_seed(&r1, 5, 6);
        o = stacked_forward(ctx, &m, x, LAYERS_LENGTHS, NULL, NULL, true, &r1);
        memcpy(c, o.output->data, sizeof c);
        ck_assert_mem_eq(a, b, sizeof a);
        ck_assert(memcmp(a, ref, sizeof a) != 0);
        ck_assert(memcmp(a, c, sizeof a) != 0);
        /* Zero past each length even in training. */
        for (int r = 0; r < B; r++)
            for (int t = LAYERS_LENGTHS[r]; t < T; t++)
                for (int f = 0; f < 2 * H; f++) ck_assert(a[(r * T + t) * 2 * H + f] == 0);
        /* Training without an rng is an error when dropout would draw. */
        o = stacked_forward(ctx, &m, x, LAYERS_LENGTHS, NULL, NULL, true, NULL);
        ck_assert_ptr_null(o.output);
        ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
        ag_error_clear();
        (void)n;
        ag_ctx_free(ctx);
        ag_params_free(p);
        ag_params_free(p0);
    }
}
END_TEST

/* One layer, one direction: the same numbers as the fused cell sequence op
 * (with the output zeroed past each length). */
START_TEST(test_layers_one_layer_is_the_cell) {
    enum { I = LAYERS_INPUT, H = LAYERS_HIDDEN, B = LAYERS_BATCH, T = LAYERS_STEPS };
    ag_rng rng;
    ag_rng_seed(&rng, 16, 5);
    ag_params *p = ag_params_create();
    ag_lstm m;
    ck_assert_int_eq(ag_lstm_init(&m, p, "lstm", I, H, 1, false, 0.3, &rng), AG_OK);
    ck_assert_ptr_eq(ag_params_find(p, "lstm.weight_ih_l0"), m.cells[0][0].weight_ih);
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *x = ag_rand_uniform(ctx, &rng, 3, (int[]){B, T, I}, -1, 1);
    ag_recurrent_output o = ag_lstm_forward(ctx, &m, x, LAYERS_LENGTHS, NULL, NULL, true, &rng);
    ck_assert_ptr_nonnull(o.output);
    ag_lstm_state s0 = {ag_zeros(ctx, 2, (int[]){B, H}), ag_zeros(ctx, 2, (int[]){B, H})};
    ag_lstm_state s = ag_lstm_cell_sequence(ctx, &m.cells[0][0], x, LAYERS_LENGTHS, s0);
    for (int r = 0; r < B; r++)
        for (int t = 0; t < T; t++)
            for (int f = 0; f < H; f++) {
                int64_t i = (r * T + t) * H + f;
                ck_assert(o.output->data[i] == (t < LAYERS_LENGTHS[r] ? s.h->data[i] : 0));
                if (t == T - 1) {
                    ck_assert(o.h_n->data[r * H + f] == s.h->data[i]);
                    ck_assert(o.c_n->data[r * H + f] == s.c->data[i]);
                }
            }
    ag_ctx_free(ctx);
    ag_params_free(p);
}
END_TEST

START_TEST(test_layers_errors) {
    enum { I = LAYERS_INPUT, H = LAYERS_HIDDEN, B = LAYERS_BATCH, T = LAYERS_STEPS };
    ag_rng rng;
    ag_rng_seed(&rng, 16, 6);
    ag_params *p = ag_params_create();
    ag_lstm m;
    ag_rnn r;
    ag_gru gru;
    ck_assert_int_eq(ag_lstm_init(&m, p, "a", I, H, 0, false, 0, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lstm_init(&m, p, "a", I, H, AG_RECURRENT_MAX_LAYERS + 1, false, 0, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lstm_init(&m, p, "a", 0, H, 1, false, 0, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lstm_init(&m, p, "a", I, H, 2, false, 1.0, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lstm_init(&m, p, "a", I, H, 2, false, -0.1, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_rnn_init(&r, p, "a", I, H, 2, (ag_nonlinearity)7, false, 0, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lstm_init(&m, p, "a", I, H, 2, true, 0, NULL), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_gru_init(&gru, p, "a", I, 0, 2, true, 0, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_gru_init(NULL, p, "a", I, H, 2, true, 0, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_count(p), 0);
    ck_assert_int_eq(ag_lstm_init(&m, p, "a", I, H, 2, true, 0, &rng), AG_OK);
    ck_assert_int_eq(ag_params_count(p), 16);
    /* A taken name. */
    ck_assert_int_eq(ag_rnn_init(&r, p, "a", I, H, 1, AG_NONLINEARITY_TANH, false, 0, &rng), AG_ERROR_ARGUMENT);

    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *x = ag_zeros(ctx, 3, (int[]){B, T, I});
    ag_recurrent_output o = ag_lstm_forward(ctx, &m, ag_zeros(ctx, 3, (int[]){B, T, I + 1}), NULL, NULL, NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    ck_assert_int_eq(ag_error_code(), AG_ERROR_SHAPE);
    ck_assert_msg(strstr(ag_error_message(), "ag_lstm_forward") != NULL, "%s", ag_error_message());
    o = ag_lstm_forward(ctx, &m, ag_zeros(ctx, 2, (int[]){B, I}), NULL, NULL, NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    o = ag_lstm_forward(ctx, &m, x, NULL, ag_zeros(ctx, 3, (int[]){2, B, H}), NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    ck_assert_int_eq(ag_error_code(), AG_ERROR_SHAPE);
    int bad[B] = {1, 2, T + 1, 1};
    ag_error_clear();
    o = ag_lstm_forward(ctx, &m, x, bad, NULL, NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
    bad[2] = 0;
    o = ag_lstm_forward(ctx, &m, x, bad, NULL, NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    o = ag_lstm_forward(ctx, NULL, x, NULL, NULL, NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    o = ag_gru_forward(ctx, NULL, x, NULL, NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    ck_assert_msg(strstr(ag_error_message(), "ag_gru_forward") != NULL, "%s", ag_error_message());
    /* NULL in, NULL out, the earlier message kept. */
    ag_error_set(AG_ERROR_ARGUMENT, "an earlier failure");
    o = ag_lstm_forward(ctx, &m, NULL, NULL, NULL, NULL, false, NULL);
    ck_assert_ptr_null(o.output);
    ck_assert_str_eq(ag_error_message(), "an earlier failure");
    ag_error_clear();
    ag_ctx_free(ctx);
    ag_params_free(p);
}
END_TEST

AG_TEST_SUITE(layers_suite)
static Suite *layers_suite(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_add_loop_test(tc, test_layers_known_values, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_layers_dropout);
    tcase_add_test(tc, test_layers_one_layer_is_the_cell);
    tcase_add_test(tc, test_layers_errors);
    suite_add_tcase(s, tc);
    return s;
}
