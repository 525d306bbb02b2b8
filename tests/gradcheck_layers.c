/* Finite-difference gradient checks (double build) of the stacked,
 * bidirectional recurrent layers of layers.c: a 2-layer bidirectional LSTM,
 * RNN (tanh, relu) and GRU over a batch of sequences of lengths 2, 4, 1 padded
 * to 4, with respect to x, h0 (and c0) and every parameter, the outputs
 * being the output sequence and h_n (and c_n). Dropout between layers in
 * training draws the same mask on every pass (the rng is re-seeded in the
 * build), so it is checked too. */
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"

#define SEED(rng) ag_rng_seed((rng), 7700416u, gc_hash(__func__))

enum { INPUT = 2, HIDDEN = 3, BATCH = 3, STEPS = 4, LAYERS = 2 };
static const int LENGTHS[BATCH] = {2, 4, 1};

typedef struct layers_user {
    const ag_lstm *lstm;
    const ag_rnn *rnn;
    const ag_gru *gru;
    bool training;
} layers_user;

static int build_layers(ag_ctx *ctx, ag_tensor *const *in, void *user, ag_tensor **out) {
    const layers_user *u = user;
    ag_rng rng; /* the same dropout mask on every pass */
    ag_rng_seed(&rng, 42, 1);
    ag_recurrent_output o = u->lstm ? ag_lstm_forward(ctx, u->lstm, in[0], LENGTHS, in[1], in[2], u->training, &rng)
                            : u->gru ? ag_gru_forward(ctx, u->gru, in[0], LENGTHS, in[1], u->training, &rng)
                                     : ag_rnn_forward(ctx, u->rnn, in[0], LENGTHS, in[1], u->training, &rng);
    if (!o.output) return 0;
    out[0] = o.output;
    out[1] = o.h_n;
    if (!u->lstm) return 2;
    out[2] = o.c_n;
    return 3;
}

START_TEST(test_grad_stacked_lstm) {
    ag_rng rng;
    SEED(&rng);
    for (int bidirectional = 0; bidirectional <= 1; bidirectional++)
        for (int training = 0; training <= 1; training++) {
            int d = bidirectional ? 2 : 1;
            ag_params *p = ag_params_create();
            ag_lstm m;
            ck_assert_int_eq(ag_lstm_init(&m, p, "lstm", INPUT, HIDDEN, LAYERS, bidirectional, 0.4, &rng), AG_OK);
            layers_user u = {&m, NULL, NULL, training};
            gc_input in[3] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                              gc_in(3, (int[]){LAYERS * d, BATCH, HIDDEN}, -1.0, 1.0),
                              gc_in(3, (int[]){LAYERS * d, BATCH, HIDDEN}, -1.0, 1.0)};
            char name[128];
            snprintf(name, sizeof name, "ag_lstm_forward(2 layers, bidirectional %d, training %d, lengths 2,4,1)",
                     bidirectional, training);
            gc_check_module(name, NULL, build_layers, &u, in, 3, p, &rng, 0.8);
            ag_params_free(p);
        }
}
END_TEST

START_TEST(test_grad_stacked_rnn) {
    ag_rng rng;
    SEED(&rng);
    for (int relu = 0; relu <= 1; relu++) {
        ag_params *p = ag_params_create();
        ag_rnn m;
        ck_assert_int_eq(ag_rnn_init(&m, p, "rnn", INPUT, HIDDEN, LAYERS,
                                     relu ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH, true, 0.4, &rng),
                         AG_OK);
        layers_user u = {NULL, &m, NULL, true};
        /* relu's kink at 0: inputs kept off it as far as random values allow. */
        gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                          gc_in(3, (int[]){LAYERS * 2, BATCH, HIDDEN}, -1.0, 1.0)};
        gc_check_module(relu ? "ag_rnn_forward(relu, 2 layers, bidirectional)" : "ag_rnn_forward(tanh, 2 layers, bidirectional)",
                        NULL, build_layers, &u, in, 2, p, &rng, 0.8);
        ag_params_free(p);
    }
}
END_TEST

START_TEST(test_grad_stacked_gru) {
    ag_rng rng;
    SEED(&rng);
    for (int training = 0; training <= 1; training++) {
        ag_params *p = ag_params_create();
        ag_gru m;
        ck_assert_int_eq(ag_gru_init(&m, p, "gru", INPUT, HIDDEN, LAYERS, true, 0.4, &rng), AG_OK);
        layers_user u = {NULL, NULL, &m, training};
        gc_input in[2] = {gc_in(3, (int[]){BATCH, STEPS, INPUT}, -1.5, 1.5),
                          gc_in(3, (int[]){LAYERS * 2, BATCH, HIDDEN}, -1.0, 1.0)};
        gc_check_module(training ? "ag_gru_forward(2 layers, bidirectional, training, lengths 2,4,1)"
                                 : "ag_gru_forward(2 layers, bidirectional, lengths 2,4,1)",
                        NULL, build_layers, &u, in, 2, p, &rng, 0.8);
        ag_params_free(p);
    }
}
END_TEST

AG_TEST_SUITE(gradcheck_layers_suite)
static Suite *gradcheck_layers_suite(void) {
    Suite *s = suite_create("gradcheck_layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_grad_stacked_lstm);
    tcase_add_test(tc, test_grad_stacked_rnn);
    tcase_add_test(tc, test_grad_stacked_gru);
    suite_add_tcase(s, tc);
    return s;
}
