/* Finite-difference gradient checks of the recurrent layers as one op
 * (ag_rnn_cell_sequence, ag_lstm_cell_sequence, ag_gru_cell_sequence;
 * double build), with the
 * loss over the whole output sequence (the harness's sum(out * W), W a
 * random tensor of the output's shape, so every step of every row gets
 * its own upstream gradient), with respect to x, h0 (c0) and every
 * parameter. The chunked configurations (batch 16, enough work per step)
 * take the op's two-chunk path, whose weight gradients are summed over
 * the chunks afterwards. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"

/* One stream per test, named by the test function, so that editing one
 * test does not change the random draws of another. */
#define SEED(rng) ag_rng_seed((rng), 7700417u, gc_hash(__func__))

enum { INPUT = 2, HIDDEN = 3, BATCH = 3, STEPS = 3 };
static const int LENGTHS[BATCH] = {1, 3, 2};

/* The chunked sizes: batch >= 16 and batch * hidden * gates >= 8192
 * (16 * 24 * 24 = 9216 for the RNN, 16 * 12 * 48 = 9216 for the LSTM). */
enum { CHUNK_BATCH = 16, CHUNK_RNN_HIDDEN = 24, CHUNK_LSTM_HIDDEN = 12, CHUNK_STEPS = 3, CHUNK_INPUT = 2 };
/* 16 * 14 * 42 = 9408 for the GRU. */
enum { CHUNK_GRU_HIDDEN = 14 };

/* ------------------------------------------------------------------ RNN */

typedef struct rnn_user {
    const ag_rnn_cell *cell;
    const int *lengths; /* NULL: every row runs all steps */
} rnn_user;

/* in[0] = x [B, T, input], in[1] = h0 [B, hidden]; the output is every
 * step's state [B, T, hidden]. */
static ag_tensor *build_rnn_sequence(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const rnn_user *u = user;
    ag_tensor *out = ag_rnn_cell_sequence(ctx, u->cell, in[0], u->lengths, in[1]);
    if (out && (out->ndim != 3 || out->shape[0] != in[0]->shape[0] || out->shape[1] != in[0]->shape[1] ||
                out->shape[2] != u->cell->hidden_size)) {
        ag_error_set(AG_ERROR_SHAPE, "ag_rnn_cell_sequence returned the wrong shape");
        return NULL;
    }
    return out;
}

START_TEST(test_grad_rnn_sequence) {
    ag_rng rng;
    SEED(&rng);
    for (int act = 0; act <= 1; act++) {
        for (int bias = 0; bias <= 1; bias++) {
            for (int masked = 0; masked <= 1; masked++) {
                ag_params *p = ag_params_create();
                ag_rnn_cell cell;
                ag_nonlinearity nl = act ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH;
                ck_assert_int_eq(ag_rnn_cell_init(&cell, p, "rnn", INPUT, HIDDEN, nl, bias, &rng), AG_OK);
                ck_assert_int_eq(ag_params_count(p), bias ? 4 : 2);
                rnn_user u = {&cell, masked ? LENGTHS : NULL};
                gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                                  gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
                char name[128];
                snprintf(name, sizeof name, "ag_rnn_cell_sequence(%s, bias %d, lengths %s)", act ? "relu" : "tanh",
                         bias, masked ? "1,3,2" : "NULL");
                gc_check_module(name, build_rnn_sequence, NULL, &u, in, 2, p, &rng, 0.8);
                ag_params_free(p);
            }
        }
    }
}
END_TEST

/* x and h0 constants: only the parameters need a gradient, so the op may
 * skip the products that would only feed d h0 and d x. */
START_TEST(test_grad_rnn_sequence_constant_inputs) {
    ag_rng rng;
    SEED(&rng);
    for (int act = 0; act <= 1; act++) {
        ag_params *p = ag_params_create();
        ag_rnn_cell cell;
        ag_nonlinearity nl = act ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH;
        ck_assert_int_eq(ag_rnn_cell_init(&cell, p, "rnn", INPUT, HIDDEN, nl, true, &rng), AG_OK);
        rnn_user u = {&cell, LENGTHS};
        gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                          gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
        in[0].constant = true;
        in[1].constant = true;
        gc_check_module(act ? "ag_rnn_cell_sequence(relu, x and h0 constant)" : "ag_rnn_cell_sequence(tanh, x and h0 constant)",
                   build_rnn_sequence, NULL, &u, in, 2, p, &rng, 0.8);
        ag_params_free(p);
    }
}
END_TEST

/* Batch 16, hidden 24: two chunks of 8 rows; lengths 1..3 in both. */
START_TEST(test_grad_rnn_sequence_chunked) {
    ag_rng rng;
    SEED(&rng);
    int lengths[CHUNK_BATCH];
    for (int b = 0; b < CHUNK_BATCH; b++) lengths[b] = 1 + (b * 7 + 2) % CHUNK_STEPS;
    for (int act = 0; act <= 1; act++) {
        ag_params *p = ag_params_create();
        ag_rnn_cell cell;
        ag_nonlinearity nl = act ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH;
        ck_assert_int_eq(ag_rnn_cell_init(&cell, p, "rnn", CHUNK_INPUT, CHUNK_RNN_HIDDEN, nl, true, &rng), AG_OK);
        rnn_user u = {&cell, lengths};
        gc_input in[2] = {gc_in(3, (int[]){CHUNK_BATCH, CHUNK_STEPS, CHUNK_INPUT}, -1.5, 1.5),
                          gc_in(2, (int[]){CHUNK_BATCH, CHUNK_RNN_HIDDEN}, -1.0, 1.0)};
        /* 0.3: the recurrent product of 24 states stays of order 1 */
        gc_check_module(act ? "ag_rnn_cell_sequence(relu, batch 16, hidden 24: 2 chunks)"
                       : "ag_rnn_cell_sequence(tanh, batch 16, hidden 24: 2 chunks)",
                   build_rnn_sequence, NULL, &u, in, 2, p, &rng, 0.3);
        ag_params_free(p);
    }
}
END_TEST

/* ----------------------------------------------------------------- LSTM */

enum { LOSS_H = 1, LOSS_C = 2, LOSS_BOTH = 3 };
static const char *const LOSS_NAMES[] = {"", "h", "c", "h and c"};

typedef struct lstm_user {
    const ag_lstm_cell *cell;
    const int *lengths;
    int outputs; /* LOSS_H, LOSS_C or LOSS_BOTH: what the loss sees */
} lstm_user;

/* in[0] = x, in[1] = h0, in[2] = c0; outputs every step's h and/or c. */
static int build_lstm_sequence(ag_ctx *ctx, ag_tensor *const *in, void *user, ag_tensor **out) {
    const lstm_user *u = user;
    ag_lstm_state s = ag_lstm_cell_sequence(ctx, u->cell, in[0], u->lengths, (ag_lstm_state){in[1], in[2]});
    if (!s.h || !s.c) return 0;
    if (!ag_same_shape(s.h, s.c) || s.h->ndim != 3 || s.h->shape[0] != in[0]->shape[0] ||
        s.h->shape[1] != in[0]->shape[1] || s.h->shape[2] != u->cell->hidden_size) {
        ag_error_set(AG_ERROR_SHAPE, "ag_lstm_cell_sequence returned the wrong shapes");
        return 0;
    }
    int n = 0;
    if (u->outputs & LOSS_H) out[n++] = s.h;
    if (u->outputs & LOSS_C) out[n++] = s.c;
    return n;
}

START_TEST(test_grad_lstm_sequence) {
    ag_rng rng;
    SEED(&rng);
    for (int bias = 0; bias <= 1; bias++) {
        for (int masked = 0; masked <= 1; masked++) {
            for (int outputs = LOSS_H; outputs <= LOSS_BOTH; outputs++) {
                ag_params *p = ag_params_create();
                ag_lstm_cell cell;
                ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", INPUT, HIDDEN, bias, &rng), AG_OK);
                ck_assert_int_eq(ag_params_count(p), bias ? 4 : 2);
                lstm_user u = {&cell, masked ? LENGTHS : NULL, outputs};
                gc_input in[3] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                                  gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0),
                                  gc_in(2, (int[]){BATCH, HIDDEN}, -1.5, 1.5)};
                char name[128];
                snprintf(name, sizeof name, "ag_lstm_cell_sequence(bias %d, lengths %s, loss on %s)", bias,
                         masked ? "1,3,2" : "NULL", LOSS_NAMES[outputs]);
                gc_check_module(name, NULL, build_lstm_sequence, &u, in, 3, p, &rng, 0.8);
                ag_params_free(p);
            }
        }
    }
}
END_TEST

/* x and h0 constants, c0 not: d c0 still needs the recurrent product of
 * step 0. And the reverse (c0 constant, h0 not). */
START_TEST(test_grad_lstm_sequence_constant_inputs) {
    ag_rng rng;
    SEED(&rng);
    for (int which = 1; which <= 2; which++) {
        ag_params *p = ag_params_create();
        ag_lstm_cell cell;
        ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", INPUT, HIDDEN, true, &rng), AG_OK);
        lstm_user u = {&cell, LENGTHS, LOSS_BOTH};
        gc_input in[3] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                          gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0), gc_in(2, (int[]){BATCH, HIDDEN}, -1.5, 1.5)};
        in[0].constant = true;
        in[which].constant = true;
        gc_check_module(which == 1 ? "ag_lstm_cell_sequence(x and h0 constant)" : "ag_lstm_cell_sequence(x and c0 constant)",
                   NULL, build_lstm_sequence, &u, in, 3, p, &rng, 0.8);
        ag_params_free(p);
    }
}
END_TEST

/* Batch 16, hidden 12 (48 gates): two chunks of 8 rows. */
START_TEST(test_grad_lstm_sequence_chunked) {
    ag_rng rng;
    SEED(&rng);
    int lengths[CHUNK_BATCH];
    for (int b = 0; b < CHUNK_BATCH; b++) lengths[b] = 1 + (b * 5 + 1) % CHUNK_STEPS;
    for (int outputs = LOSS_H; outputs <= LOSS_BOTH; outputs += LOSS_BOTH - LOSS_H) { /* h; h and c */
        ag_params *p = ag_params_create();
        ag_lstm_cell cell;
        ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", CHUNK_INPUT, CHUNK_LSTM_HIDDEN, true, &rng), AG_OK);
        lstm_user u = {&cell, lengths, outputs};
        gc_input in[3] = {gc_in(3, (int[]){CHUNK_BATCH, CHUNK_STEPS, CHUNK_INPUT}, -1.5, 1.5),
                          gc_in(2, (int[]){CHUNK_BATCH, CHUNK_LSTM_HIDDEN}, -1.0, 1.0),
                          gc_in(2, (int[]){CHUNK_BATCH, CHUNK_LSTM_HIDDEN}, -1.5, 1.5)};
        char name[128];
        snprintf(name, sizeof name, "ag_lstm_cell_sequence(batch 16, hidden 12: 2 chunks, loss on %s)",
                 LOSS_NAMES[outputs]);
        gc_check_module(name, NULL, build_lstm_sequence, &u, in, 3, p, &rng, 0.5);
        ag_params_free(p);
    }
}
END_TEST

/* ------------------------------------------------------------------ GRU */

typedef struct gru_user {
    const ag_gru_cell *cell;
    const int *lengths; /* NULL: every row runs all steps */
    int way;            /* 0: every step's state; 1: ag_gru_cell_sequence_last */
} gru_user;

/* in[0] = x [B, T, input], in[1] = h0 [B, hidden]. */
static ag_tensor *build_gru(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const gru_user *u = user;
    if (u->way == 1) return ag_gru_cell_sequence_last(ctx, u->cell, in[0], u->lengths, in[1]);
    ag_tensor *out = ag_gru_cell_sequence(ctx, u->cell, in[0], u->lengths, in[1]);
    if (out && (out->ndim != 3 || out->shape[0] != in[0]->shape[0] || out->shape[1] != in[0]->shape[1] ||
                out->shape[2] != u->cell->hidden_size)) {
        ag_error_set(AG_ERROR_SHAPE, "ag_gru_cell_sequence returned the wrong shape");
        return NULL;
    }
    return out;
}

START_TEST(test_grad_gru_sequence) {
    ag_rng rng;
    SEED(&rng);
    for (int bias = 0; bias <= 1; bias++) {
        for (int masked = 0; masked <= 1; masked++) {
            for (int way = 0; way <= 1; way++) {
                ag_params *p = ag_params_create();
                ag_gru_cell cell;
                ck_assert_int_eq(ag_gru_cell_init(&cell, p, "gru", INPUT, HIDDEN, bias, &rng), AG_OK);
                ck_assert_int_eq(ag_params_count(p), bias ? 4 : 2);
                gru_user u = {&cell, masked ? LENGTHS : NULL, way};
                gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                                  gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
                char name[128];
                snprintf(name, sizeof name, "ag_gru_cell_sequence%s(bias %d, lengths %s)", way ? "_last" : "", bias,
                         masked ? "1,3,2" : "NULL");
                gc_check_module(name, build_gru, NULL, &u, in, 2, p, &rng, 0.8);
                ag_params_free(p);
            }
        }
    }
}
END_TEST

/* x and h0 constants: only the parameters need a gradient. */
START_TEST(test_grad_gru_sequence_constant_inputs) {
    ag_rng rng;
    SEED(&rng);
    ag_params *p = ag_params_create();
    ag_gru_cell cell;
    ck_assert_int_eq(ag_gru_cell_init(&cell, p, "gru", INPUT, HIDDEN, true, &rng), AG_OK);
    gru_user u = {&cell, LENGTHS, 0};
    gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5), gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
    in[0].constant = true;
    in[1].constant = true;
    gc_check_module("ag_gru_cell_sequence(x and h0 constant)", build_gru, NULL, &u, in, 2, p, &rng, 0.8);
    ag_params_free(p);
}
END_TEST

/* Batch 16, hidden 14 (42 gates): two chunks of 8 rows. */
START_TEST(test_grad_gru_sequence_chunked) {
    ag_rng rng;
    SEED(&rng);
    int lengths[CHUNK_BATCH];
    for (int b = 0; b < CHUNK_BATCH; b++) lengths[b] = 1 + (b * 5 + 2) % CHUNK_STEPS;
    for (int way = 0; way <= 1; way++) {
        ag_params *p = ag_params_create();
        ag_gru_cell cell;
        ck_assert_int_eq(ag_gru_cell_init(&cell, p, "gru", CHUNK_INPUT, CHUNK_GRU_HIDDEN, true, &rng), AG_OK);
        gru_user u = {&cell, lengths, way};
        gc_input in[2] = {gc_in(3, (int[]){CHUNK_BATCH, CHUNK_STEPS, CHUNK_INPUT}, -1.5, 1.5),
                          gc_in(2, (int[]){CHUNK_BATCH, CHUNK_GRU_HIDDEN}, -1.0, 1.0)};
        gc_check_module(way ? "ag_gru_cell_sequence_last(batch 16, hidden 14: 2 chunks)"
                            : "ag_gru_cell_sequence(batch 16, hidden 14: 2 chunks)",
                        build_gru, NULL, &u, in, 2, p, &rng, 0.5);
        ag_params_free(p);
    }
}
END_TEST

/* ----------------------------------------------------------- last step */

static ag_tensor *build_last_step(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    return ag_last_step(ctx, in[0]);
}

/* The layer followed by ag_last_step, as a model reads it. */
static ag_tensor *build_rnn_last(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return ag_last_step(ctx, build_rnn_sequence(ctx, in, user));
}

START_TEST(test_grad_last_step) {
    ag_rng rng;
    SEED(&rng);
    gc_input seq = gc_in(3, (int[]){2, 3, 4}, -2.0, 2.0);
    gc_check_module("ag_last_step([2, 3, 4])", build_last_step, NULL, NULL, &seq, 1, NULL, &rng, 0);
    gc_input one = gc_in(3, (int[]){3, 1, 2}, -2.0, 2.0);
    gc_check_module("ag_last_step([3, 1, 2])", build_last_step, NULL, NULL, &one, 1, NULL, &rng, 0);

    ag_params *p = ag_params_create();
    ag_rnn_cell cell;
    ck_assert_int_eq(ag_rnn_cell_init(&cell, p, "rnn", INPUT, HIDDEN, AG_NONLINEARITY_TANH, true, &rng), AG_OK);
    rnn_user u = {&cell, LENGTHS};
    gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5), gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
    gc_check_module("ag_last_step(ag_rnn_cell_sequence(tanh, lengths 1,3,2))", build_rnn_last, NULL, &u, in, 2, p, &rng,
               0.8);
    ag_params_free(p);
}
END_TEST

/* The layers in their last-state-only mode, gradients reaching x, h0 (and
 * c0) as well as the weights. */
static ag_tensor *build_rnn_sequence_last(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const rnn_user *u = user;
    return ag_rnn_cell_sequence_last(ctx, u->cell, in[0], u->lengths, in[1]);
}

static int build_lstm_sequence_last(ag_ctx *ctx, ag_tensor *const *in, void *user, ag_tensor **out) {
    const lstm_user *u = user;
    ag_lstm_state s = ag_lstm_cell_sequence_last(ctx, u->cell, in[0], u->lengths, (ag_lstm_state){in[1], in[2]});
    if (!s.h || !s.c) return 0;
    out[0] = s.h;
    out[1] = s.c;
    return 2;
}

START_TEST(test_grad_sequence_last) {
    ag_rng rng;
    SEED(&rng);
    for (int act = 0; act <= 1; act++) {
        ag_params *p = ag_params_create();
        ag_rnn_cell cell;
        ck_assert_int_eq(ag_rnn_cell_init(&cell, p, "rnn", INPUT, HIDDEN, act ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH,
                                          true, &rng), AG_OK);
        rnn_user u = {&cell, LENGTHS};
        gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5), gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
        gc_check_module(act ? "ag_rnn_cell_sequence_last(relu, lengths 1,3,2)" : "ag_rnn_cell_sequence_last(tanh, lengths 1,3,2)",
                        build_rnn_sequence_last, NULL, &u, in, 2, p, &rng, 0.8);
        ag_params_free(p);
    }
    ag_params *p = ag_params_create();
    ag_lstm_cell cell;
    ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", INPUT, HIDDEN, true, &rng), AG_OK);
    lstm_user u = {&cell, LENGTHS, LOSS_BOTH};
    gc_input in[3] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5), gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0),
                      gc_in(2, (int[]){BATCH, HIDDEN}, -1.5, 1.5)};
    gc_check_module("ag_lstm_cell_sequence_last(lengths 1,3,2, loss on h and c)", NULL, build_lstm_sequence_last, &u, in, 3,
                    p, &rng, 0.8);
    ag_params_free(p);
}
END_TEST

AG_TEST_SUITE(gradcheck_recurrent_suite)
static Suite *gradcheck_recurrent_suite(void) {
    Suite *s = suite_create("gradcheck_recurrent");
    TCase *tc = tcase_create("recurrent");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_grad_rnn_sequence);
    tcase_add_test(tc, test_grad_rnn_sequence_constant_inputs);
    tcase_add_test(tc, test_grad_rnn_sequence_chunked);
    tcase_add_test(tc, test_grad_lstm_sequence);
    tcase_add_test(tc, test_grad_lstm_sequence_constant_inputs);
    tcase_add_test(tc, test_grad_lstm_sequence_chunked);
    tcase_add_test(tc, test_grad_gru_sequence);
    tcase_add_test(tc, test_grad_gru_sequence_constant_inputs);
    tcase_add_test(tc, test_grad_gru_sequence_chunked);
    tcase_add_test(tc, test_grad_last_step);
    tcase_add_test(tc, test_grad_sequence_last);
    suite_add_tcase(s, tc);
    return s;
}
