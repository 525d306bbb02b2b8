/* Finite-difference gradient checks of the modules and losses (double
 * build), with respect to their inputs and every parameter. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"

/* One stream per test, named by the test function, so that editing one
 * test does not change the random draws of another. */
#define SEED(rng) ag_rng_seed((rng), 7700417u, gc_hash(__func__))

enum { INPUT = 2, HIDDEN = 3, BATCH = 3, MAX_LEN = 3 };
static const int LENGTHS[BATCH] = {1, 3, 2};

/* -------------------------------------------------------------- linear */

static ag_tensor *build_linear(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return ag_linear_forward(ctx, user, in[0]);
}

START_TEST(test_grad_linear) {
    ag_rng rng;
    SEED(&rng);
    for (int bias = 0; bias <= 1; bias++) {
        for (int rep = 0; rep < 2; rep++) {
            int in_f = gc_rand_int(&rng, 1, 4), out_f = gc_rand_int(&rng, 1, 4), b = gc_rand_int(&rng, 1, 4);
            ag_params *p = ag_params_create();
            ag_linear m;
            ck_assert_int_eq(ag_linear_init(&m, p, "fc", in_f, out_f, bias, &rng), AG_OK);
            ck_assert_ptr_eq(ag_params_find(p, "fc.weight"), m.weight);
            ck_assert_int_eq(ag_params_count(p), bias ? 2 : 1);
            if (bias) ck_assert_ptr_eq(ag_params_find(p, "fc.bias"), m.bias);
            else ck_assert_ptr_null(m.bias);
            gc_input x = gc_in(2, (int[]){b, in_f}, -2.0, 2.0);
            char name[96];
            snprintf(name, sizeof name, "ag_linear_forward(in %d, out %d, batch %d, bias %d)", in_f, out_f, b, bias);
            gc_check_module(name, build_linear, NULL, &m, &x, 1, p, &rng, 1.0);
            ag_params_free(p);
        }
    }
}
END_TEST

/* ----------------------------------------------------------- LayerNorm */

static ag_tensor *build_layer_norm(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return ag_layer_norm_forward(ctx, user, in[0]);
}

START_TEST(test_grad_layer_norm) {
    ag_rng rng;
    SEED(&rng);
    for (int affine = 0; affine <= 1; affine++) {
        for (int nd = 1; nd <= 3; nd++) {
            int n = gc_rand_int(&rng, 2, 5), shape[3] = {gc_rand_int(&rng, 1, 3), gc_rand_int(&rng, 1, 3), n};
            ag_params *p = ag_params_create();
            ag_layer_norm m;
            ck_assert_int_eq(ag_layer_norm_init(&m, p, "ln", n, affine, AG_LAYER_NORM_EPS), AG_OK);
            ck_assert_int_eq(ag_params_count(p), affine ? 2 : 0);
            if (affine) {
                ck_assert_ptr_eq(ag_params_find(p, "ln.weight"), m.weight);
                ck_assert_ptr_eq(ag_params_find(p, "ln.bias"), m.bias);
                for (int j = 0; j < n; j++) ck_assert(m.weight->data[j] == 1 && m.bias->data[j] == 0);
            }
            gc_input x = gc_in(nd, shape + 3 - nd, -2.0, 2.0);
            char name[96];
            snprintf(name, sizeof name, "ag_layer_norm_forward(%d dims, size %d, affine %d)", nd, n, affine);
            gc_check_module(name, build_layer_norm, NULL, &m, &x, 1, affine ? p : NULL, &rng, 1.0);
            ag_params_free(p);
        }
    }
}
END_TEST

/* ------------------------------------------------------------ RNN cell */

static ag_tensor *build_rnn_cell(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return ag_rnn_cell_forward(ctx, user, in[0], in[1]);
}

START_TEST(test_grad_rnn_cell) {
    ag_rng rng;
    SEED(&rng);
    for (int act = 0; act <= 1; act++) {
        for (int bias = 0; bias <= 1; bias++) {
            ag_params *p = ag_params_create();
            ag_rnn_cell cell;
            ag_nonlinearity nl = act ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH;
            ck_assert_int_eq(ag_rnn_cell_init(&cell, p, "rnn", INPUT, HIDDEN, nl, bias, &rng), AG_OK);
            ck_assert_int_eq(ag_params_count(p), bias ? 4 : 2);
            gc_input in[2] = {gc_in(2, (int[]){BATCH, INPUT}, -1.5, 1.5), gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
            char name[96];
            snprintf(name, sizeof name, "ag_rnn_cell_forward(%s, bias %d)", act ? "relu" : "tanh", bias);
            gc_check_module(name, build_rnn_cell, NULL, &cell, in, 2, p, &rng, 0.8);
            ag_params_free(p);
        }
    }
}
END_TEST

/* ----------------------------------------------------------- LSTM cell */

static int build_lstm_cell(ag_ctx *ctx, ag_tensor *const *in, void *user, ag_tensor **out) {
    ag_lstm_state state = ag_lstm_cell_forward(ctx, user, in[0], (ag_lstm_state){in[1], in[2]});
    out[0] = state.h;
    out[1] = state.c;
    return state.h && state.c ? 2 : 0;
}

START_TEST(test_grad_lstm_cell) {
    ag_rng rng;
    SEED(&rng);
    for (int bias = 0; bias <= 1; bias++) {
        ag_params *p = ag_params_create();
        ag_lstm_cell cell;
        ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", INPUT, HIDDEN, bias, &rng), AG_OK);
        ck_assert_int_eq(ag_params_count(p), bias ? 4 : 2);
        gc_input in[3] = {gc_in(2, (int[]){BATCH, INPUT}, -1.5, 1.5), gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0),
                          gc_in(2, (int[]){BATCH, HIDDEN}, -1.5, 1.5)};
        gc_check_module(bias ? "ag_lstm_cell_forward(bias)" : "ag_lstm_cell_forward(no bias)", NULL, build_lstm_cell,
                   &cell, in, 3, p, &rng, 0.8);
        ag_params_free(p);
    }
}
END_TEST

/* ---------------------------------------------- variable-length batches */

typedef struct rnn_run_user {
    const ag_rnn_cell *cell;
    const ag_sequence_batch *seq;
} rnn_run_user;
static ag_tensor *build_rnn_run(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const rnn_run_user *u = user;
    return ag_rnn_cell_run(ctx, u->cell, u->seq, in[0]);
}

START_TEST(test_grad_rnn_run) {
    ag_rng rng;
    SEED(&rng);
    for (int act = 0; act <= 1; act++) {
        for (int bias = 0; bias <= 1; bias++) {
            ag_params *p = ag_params_create();
            ag_rnn_cell cell;
            ag_nonlinearity nl = act ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH;
            ck_assert_int_eq(ag_rnn_cell_init(&cell, p, "rnn", INPUT, HIDDEN, nl, bias, &rng), AG_OK);
            ag_sequence_batch seq;
            gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, 50.0);
            rnn_run_user u = {&cell, &seq};
            gc_input h0 = gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0);
            char name[96];
            snprintf(name, sizeof name, "ag_rnn_cell_run(%s, bias %d, lengths 1,3,2)", act ? "relu" : "tanh", bias);
            gc_check_module(name, build_rnn_run, NULL, &u, &h0, 1, p, &rng, 0.8);
            ag_sequence_batch_free(&seq);
            ag_params_free(p);
        }
    }
}
END_TEST

typedef struct lstm_run_user {
    const ag_lstm_cell *cell;
    const ag_sequence_batch *seq;
} lstm_run_user;
static int build_lstm_run(ag_ctx *ctx, ag_tensor *const *in, void *user, ag_tensor **out) {
    const lstm_run_user *u = user;
    ag_lstm_state state = ag_lstm_cell_run(ctx, u->cell, u->seq, (ag_lstm_state){in[0], in[1]});
    out[0] = state.h;
    out[1] = state.c;
    return state.h && state.c ? 2 : 0;
}

START_TEST(test_grad_lstm_run) {
    ag_rng rng;
    SEED(&rng);
    for (int bias = 0; bias <= 1; bias++) {
        ag_params *p = ag_params_create();
        ag_lstm_cell cell;
        ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", INPUT, HIDDEN, bias, &rng), AG_OK);
        ag_sequence_batch seq;
        gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, -50.0);
        lstm_run_user u = {&cell, &seq};
        gc_input in[2] = {gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0), gc_in(2, (int[]){BATCH, HIDDEN}, -1.5, 1.5)};
        gc_check_module(bias ? "ag_lstm_cell_run(bias, lengths 1,3,2)" : "ag_lstm_cell_run(no bias, lengths 1,3,2)", NULL,
                   build_lstm_run, &u, in, 2, p, &rng, 0.8);
        ag_sequence_batch_free(&seq);
        ag_params_free(p);
    }
}
END_TEST

/* The padding must change neither a result nor a gradient. */
START_TEST(test_run_ignores_padding) {
    ag_rng rng;
    SEED(&rng);
    ag_params *p = ag_params_create();
    ag_lstm_cell cell;
    ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", INPUT, HIDDEN, true, &rng), AG_OK);
    ag_sequence_batch seq;
    gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, 0.0);
    ag_ctx *ctx = ag_ctx_create();
    ag_real h_ref[BATCH * HIDDEN], grad_ref[128];
    int64_t n_params = ag_params_size(p);
    ck_assert_int_le(n_params, 128);
    ck_assert_int_gt(n_params, 0);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) /* overwrite the padding with garbage */
            for (int b = 0; b < BATCH; b++)
                for (int t = LENGTHS[b]; t < MAX_LEN; t++)
                    for (int f = 0; f < INPUT; f++) seq.values[(b * MAX_LEN + t) * INPUT + f] = (ag_real)(1e3 * (f + 1));
        ag_ctx_reset(ctx);
        ag_params_zero_grad(p);
        ag_tensor *h0 = ag_zeros(ctx, 2, (int[]){BATCH, HIDDEN});
        ag_tensor *c0 = ag_zeros(ctx, 2, (int[]){BATCH, HIDDEN});
        ag_lstm_state s = ag_lstm_cell_run(ctx, &cell, &seq, (ag_lstm_state){h0, c0});
        ck_assert_msg(s.h != NULL, "%s", ag_error_message());
        ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, s.h, s.h));
        ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
        if (pass == 0) {
            memcpy(h_ref, s.h->data, sizeof h_ref);
            memcpy(grad_ref, ag_params_grad(p), (size_t)n_params * sizeof(ag_real));
        } else {
            for (int i = 0; i < BATCH * HIDDEN; i++) ck_assert_msg(s.h->data[i] == h_ref[i], "h[%d] changed", i);
            for (int64_t i = 0; i < n_params; i++)
                ck_assert_msg(ag_params_grad(p)[i] == grad_ref[i], "gradient %lld changed", (long long)i);
        }
    }
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&seq);
    ag_params_free(p);
}
END_TEST

/* Each row of a run is the state after that sequence's own last element:
 * the same as stepping the cell over that sequence alone (batch 1, its own
 * length), in values and in parameter gradients. (The gradchecks above only
 * show that the run's backward matches its forward.) */
static ag_tensor *row_input(ag_ctx *ctx, const ag_sequence_batch *s, int b, int t) {
    return ag_from_array(ctx, 2, (int[]){1, INPUT}, &s->values[(b * MAX_LEN + t) * INPUT]);
}

START_TEST(test_run_stops_at_each_length) {
    ag_rng rng;
    SEED(&rng);
    for (int kind = 0; kind < 3; kind++) { /* lstm, rnn tanh, rnn relu */
        ag_params *p = ag_params_create();
        ag_lstm_cell lstm;
        ag_rnn_cell rnn;
        if (kind == 0) ck_assert_int_eq(ag_lstm_cell_init(&lstm, p, "lstm", INPUT, HIDDEN, true, &rng), AG_OK);
        else
            ck_assert_int_eq(ag_rnn_cell_init(&rnn, p, "rnn", INPUT, HIDDEN,
                                              kind == 1 ? AG_NONLINEARITY_TANH : AG_NONLINEARITY_RELU, true, &rng),
                             AG_OK);
        ag_sequence_batch seq;
        gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, 7.0);
        ag_real h0v[BATCH * HIDDEN], c0v[BATCH * HIDDEN];
        for (int i = 0; i < BATCH * HIDDEN; i++) {
            h0v[i] = (ag_real)(ag_rng_uniform(&rng) - 0.5);
            c0v[i] = (ag_real)(ag_rng_uniform(&rng) - 0.5);
        }
        int64_t n_params = ag_params_size(p);
        ck_assert_int_le(n_params, 128);
        ag_ctx *ctx = ag_ctx_create();

        /* the batch run; loss sum(h * h) + sum(c) */
        ag_real h_run[BATCH * HIDDEN], c_run[BATCH * HIDDEN], grad_run[128];
        ag_params_zero_grad(p);
        ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){BATCH, HIDDEN}, h0v);
        ag_tensor *c0 = ag_from_array(ctx, 2, (int[]){BATCH, HIDDEN}, c0v);
        ag_tensor *loss;
        if (kind == 0) {
            ag_lstm_state s = ag_lstm_cell_run(ctx, &lstm, &seq, (ag_lstm_state){h0, c0});
            ck_assert_msg(s.h && s.c, "%s", ag_error_message());
            memcpy(h_run, s.h->data, sizeof h_run);
            memcpy(c_run, s.c->data, sizeof c_run);
            loss = ag_add(ctx, ag_sum(ctx, ag_mul(ctx, s.h, s.h)), ag_sum(ctx, s.c));
        } else {
            ag_tensor *h = ag_rnn_cell_run(ctx, &rnn, &seq, h0);
            ck_assert_msg(h != NULL, "%s", ag_error_message());
            memcpy(h_run, h->data, sizeof h_run);
            loss = ag_sum(ctx, ag_mul(ctx, h, h));
        }
        ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
        memcpy(grad_run, ag_params_grad(p), (size_t)n_params * sizeof(ag_real));

        /* each sequence alone; parameter gradients accumulate over rows */
        ag_params_zero_grad(p);
        for (int b = 0; b < BATCH; b++) {
            ag_ctx_reset(ctx);
            ag_tensor *h = ag_from_array(ctx, 2, (int[]){1, HIDDEN}, &h0v[b * HIDDEN]);
            ag_tensor *c = ag_from_array(ctx, 2, (int[]){1, HIDDEN}, &c0v[b * HIDDEN]);
            for (int t = 0; t < LENGTHS[b]; t++) {
                if (kind == 0) {
                    ag_lstm_state s = ag_lstm_cell_forward(ctx, &lstm, row_input(ctx, &seq, b, t), (ag_lstm_state){h, c});
                    h = s.h;
                    c = s.c;
                } else {
                    h = ag_rnn_cell_forward(ctx, &rnn, row_input(ctx, &seq, b, t), h);
                }
            }
            ck_assert_msg(h && c, "%s", ag_error_message());
            for (int j = 0; j < HIDDEN; j++) {
                ck_assert_msg(ag_test_close(h_run[b * HIDDEN + j], h->data[j], 1e-12, 1e-14),
                              "kind %d: run h[%d][%d] = %.17g, stepping sequence %d alone (length %d) gives %.17g",
                              kind, b, j, (double)h_run[b * HIDDEN + j], b, LENGTHS[b], (double)h->data[j]);
                if (kind == 0)
                    ck_assert_msg(ag_test_close(c_run[b * HIDDEN + j], c->data[j], 1e-12, 1e-14),
                                  "run c[%d][%d] = %.17g, stepping sequence %d alone (length %d) gives %.17g", b, j,
                                  (double)c_run[b * HIDDEN + j], b, LENGTHS[b], (double)c->data[j]);
            }
            loss = ag_sum(ctx, ag_mul(ctx, h, h));
            if (kind == 0) loss = ag_add(ctx, loss, ag_sum(ctx, c));
            ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
        }
        for (int64_t i = 0; i < n_params; i++)
            ck_assert_msg(ag_test_close(grad_run[i], ag_params_grad(p)[i], 1e-10, 1e-13),
                          "kind %d: parameter gradient %lld is %.17g from the run, %.17g from the sequences alone",
                          kind, (long long)i, (double)grad_run[i], (double)ag_params_grad(p)[i]);
        ag_ctx_free(ctx);
        ag_sequence_batch_free(&seq);
        ag_params_free(p);
    }
}
END_TEST

/* -------------------------------------------------------------- losses */

static ag_tensor *build_mse(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)user;
    return ag_mse_loss(ctx, in[0], in[1]);
}

START_TEST(test_grad_mse_loss) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < 4; rep++) {
        int nd = 1 + rep % 3, shape[3];
        for (int i = 0; i < nd; i++) shape[i] = gc_rand_int(&rng, 1, 4);
        gc_input in[2] = {gc_in(nd, shape, -2.0, 2.0), gc_in(nd, shape, -2.0, 2.0)};
        gc_check_module("ag_mse_loss", build_mse, NULL, NULL, in, 2, NULL, &rng, 0);
    }
}
END_TEST

typedef struct ce_user {
    const int *targets;
    const ag_real *mask;
} ce_user;
static ag_tensor *build_ce(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const ce_user *u = user;
    return ag_cross_entropy_loss(ctx, in[0], u->targets, u->mask);
}

START_TEST(test_grad_cross_entropy_loss) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < 4; rep++) {
        int n = gc_rand_int(&rng, 2, 5), classes = gc_rand_int(&rng, 2, 5);
        int targets[5];
        ag_real mask[5];
        for (int i = 0; i < n; i++) {
            targets[i] = gc_rand_int(&rng, 0, classes - 1);
            mask[i] = (ag_real)(i % 2 == 0); /* rows 0, 2, 4 count */
        }
        gc_input logits = gc_in(2, (int[]){n, classes}, -3.0, 3.0);
        ce_user plain = {targets, NULL}, masked = {targets, mask};
        char name[96];
        snprintf(name, sizeof name, "ag_cross_entropy_loss(n %d, classes %d)", n, classes);
        gc_check_module(name, build_ce, NULL, &plain, &logits, 1, NULL, &rng, 0);
        snprintf(name, sizeof name, "ag_cross_entropy_loss(n %d, classes %d, mask 1,0,1,..)", n, classes);
        gc_check_module(name, build_ce, NULL, &masked, &logits, 1, NULL, &rng, 0);
    }
    /* A single row. */
    int one_target[1] = {1};
    ce_user single = {one_target, NULL};
    gc_input one = gc_in(2, (int[]){1, 3}, -3.0, 3.0);
    gc_check_module("ag_cross_entropy_loss(1 row)", build_ce, NULL, &single, &one, 1, NULL, &rng, 0);
}
END_TEST

/* ag_nll_loss of log-probabilities (any values: the op only picks). */
static ag_tensor *build_nll(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const ce_user *u = user;
    return ag_nll_loss(ctx, in[0], u->targets, u->mask);
}

START_TEST(test_grad_nll_loss) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < 3; rep++) {
        int n = gc_rand_int(&rng, 2, 5), classes = gc_rand_int(&rng, 2, 5);
        int targets[5];
        ag_real mask[5];
        for (int i = 0; i < n; i++) {
            targets[i] = gc_rand_int(&rng, 0, classes - 1);
            mask[i] = (ag_real)(i % 2 == 1); /* rows 1, 3 count */
        }
        gc_input log_probs = gc_in(2, (int[]){n, classes}, -4.0, 0.0);
        ce_user plain = {targets, NULL}, masked = {targets, mask};
        char name[96];
        snprintf(name, sizeof name, "ag_nll_loss(n %d, classes %d)", n, classes);
        gc_check_module(name, build_nll, NULL, &plain, &log_probs, 1, NULL, &rng, 0);
        snprintf(name, sizeof name, "ag_nll_loss(n %d, classes %d, mask 0,1,0,..)", n, classes);
        gc_check_module(name, build_nll, NULL, &masked, &log_probs, 1, NULL, &rng, 0);
    }
}
END_TEST

/* ------------------------------------------------------ a whole model */

/* LSTM over a padded batch, then a linear layer and cross-entropy: the
 * gradient of every parameter of a small sequence classifier. */
typedef struct model_user {
    const ag_lstm_cell *cell;
    const ag_linear *head;
    const ag_sequence_batch *seq;
    const int *targets;
} model_user;
static ag_tensor *build_model(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const model_user *u = user;
    ag_lstm_state s = ag_lstm_cell_run(ctx, u->cell, u->seq, (ag_lstm_state){in[0], in[1]});
    return ag_cross_entropy_loss(ctx, ag_linear_forward(ctx, u->head, s.h), u->targets, NULL);
}

START_TEST(test_grad_model) {
    ag_rng rng;
    SEED(&rng);
    ag_params *p = ag_params_create();
    ag_lstm_cell cell;
    ag_linear head;
    ck_assert_int_eq(ag_lstm_cell_init(&cell, p, "lstm", INPUT, HIDDEN, true, &rng), AG_OK);
    ck_assert_int_eq(ag_linear_init(&head, p, "head", HIDDEN, 4, true, &rng), AG_OK);
    ag_sequence_batch seq;
    gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, 9.0);
    const int targets[BATCH] = {3, 0, 3};
    model_user u = {&cell, &head, &seq, targets};
    gc_input in[2] = {gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0), gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0)};
    gc_check_module("lstm -> linear -> cross-entropy", build_model, NULL, &u, in, 2, p, &rng, 0.8);
    ag_sequence_batch_free(&seq);
    ag_params_free(p);
}
END_TEST

AG_TEST_SUITE(gradcheck_modules_suite)
static Suite *gradcheck_modules_suite(void) {
    Suite *s = suite_create("gradcheck_modules");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_grad_linear);
    tcase_add_test(tc, test_grad_layer_norm);
    tcase_add_test(tc, test_grad_rnn_cell);
    tcase_add_test(tc, test_grad_lstm_cell);
    tcase_add_test(tc, test_grad_rnn_run);
    tcase_add_test(tc, test_grad_lstm_run);
    tcase_add_test(tc, test_run_ignores_padding);
    tcase_add_test(tc, test_run_stops_at_each_length);
    tcase_add_test(tc, test_grad_mse_loss);
    tcase_add_test(tc, test_grad_cross_entropy_loss);
    tcase_add_test(tc, test_grad_nll_loss);
    tcase_add_test(tc, test_grad_model);
    suite_add_tcase(s, tc);
    return s;
}
