/* The L1-norm model (models/l1norm.h): padding never changes a result, the
 * streamed prediction is the exact recurrence, a short training run learns,
 * the parameters are named and shaped like torch.nn.RNNCell(1, 1), and the
 * positive init is PyTorch's with every sign positive. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "l1norm.h"
#include "test_util.h"

/* A model without bias whose weights are set by hand. */
static void make_model(l1norm_model *model, double w_ih, double w_hh) {
    ag_rng rng;
    ag_rng_seed(&rng, 1, 0);
    ck_assert_int_eq(l1norm_model_init(model, false, &rng), AG_OK);
    model->cell.weight_ih->data[0] = (ag_real)w_ih;
    model->cell.weight_hh->data[0] = (ag_real)w_hh;
}

/* h_T of h_t = relu(w_ih |x_t| + w_hh h_{t-1}), h_0 = 0, in double. */
static double recurrence(const ag_real *x, int length, double w_ih, double w_hh) {
    double h = 0;
    for (int t = 0; t < length; t++) h = fmax(0.0, w_ih * fabs((double)x[t]) + w_hh * h);
    return h;
}

/* Sequences of lengths {1, 7, 3, 10} padded to 10 with garbage (100, -100,
 * NaN-free but huge): each prediction is its own sequence's recurrence. */
static void check_padding(double w_ih, double w_hh) {
    const int lengths[] = {1, 7, 3, 10}, n = 4, max_length = 10;
    ag_sequence_batch batch;
    ck_assert_int_eq(ag_sequence_batch_init(&batch, n, max_length, 1), AG_OK);
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    for (int b = 0; b < n; b++) {
        batch.lengths[b] = lengths[b];
        for (int t = 0; t < max_length; t++)
            batch.values[b * max_length + t] =
                t < lengths[b] ? (ag_real)ag_rng_normal(&rng) : (ag_real)((t % 2) ? 100 : -100);
    }
    l1norm_model model;
    make_model(&model, w_ih, w_hh);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_tensor *prediction = l1norm_forward(ctx, &model, &batch);
    ck_assert_msg(prediction != NULL, "l1norm_forward: %s", ag_error_message());
    ck_assert_int_eq(prediction->ndim, 2);
    ck_assert_int_eq(prediction->shape[0], n);
    ck_assert_int_eq(prediction->shape[1], 1);
    for (int b = 0; b < n; b++) {
        const ag_real *x = &batch.values[b * max_length];
        double expected = recurrence(x, lengths[b], w_ih, w_hh);
        if (w_ih == 1 && w_hh == 1) {
            double sum = 0;
            for (int t = 0; t < lengths[b]; t++) sum += fabs((double)x[t]);
            ck_assert(ag_test_close(expected, sum, 1e-12, 0));
        }
        ck_assert_msg(ag_test_close(prediction->data[b], expected, 1e-5, 0),
                      "w_ih=%g w_hh=%g sequence %d (length %d): prediction %.9g, expected %.9g", w_ih, w_hh, b,
                      lengths[b], (double)prediction->data[b], expected);
    }
    ag_ctx_free(ctx);
    l1norm_model_free(&model);
    ag_sequence_batch_free(&batch);
}

START_TEST(test_padding_ignored) {
    check_padding(1, 1);
    /* With w_hh != 1 a padded step would change the state: the mask must hold it. */
    check_padding(1, 0.5);
    check_padding(0.7, 1.3);
}
END_TEST

/* ------------------------------------------------------------ prediction */

static double predict(const l1norm_model *model, const ag_real *x, int length) {
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    double prediction = NAN;
    ck_assert_msg(l1norm_predict(ctx, model, x, length, &prediction) == AG_OK, "l1norm_predict: %s",
                  ag_error_message());
    /* Gradients are left enabled as they were. */
    ck_assert(ag_grad_enabled(ctx));
    /* It runs in pieces: its memory does not grow with the length (in one
     * piece, 100,000 steps take 3.6 MB). */
    ck_assert_msg(ag_ctx_arena_bytes(ctx) <= 256 * 1024, "%d steps took %zu bytes of arena", length,
                  ag_ctx_arena_bytes(ctx));
    ag_ctx_free(ctx);
    return prediction;
}

/* Answers "stop" from its (stop_after + 1)-th question on. */
static int stop_after, stop_questions;
static int stop_when_asked(void) { return stop_questions++ >= stop_after; }

START_TEST(test_predict_long_sequence) {
    enum { LENGTH = 100000 }; /* many pieces, and a part-piece at the end */
    ag_real *x = malloc(LENGTH * sizeof *x);
    ck_assert_ptr_nonnull(x);
    ag_rng rng;
    ag_rng_seed(&rng, 3, 0);
    double sum = 0;
    for (int t = 0; t < LENGTH; t++) {
        x[t] = (ag_real)ag_rng_normal(&rng);
        sum += fabs((double)x[t]);
    }

    l1norm_model model;
    make_model(&model, 1, 1);
    double prediction = predict(&model, x, LENGTH);
    ck_assert_msg(ag_test_close(prediction, sum, 1e-5, 0), "weights 1: prediction %.9g, sum |x| %.9g", prediction,
                  sum);
    l1norm_model_free(&model);

    make_model(&model, 1, 0.5);
    prediction = predict(&model, x, LENGTH);
    double expected = recurrence(x, LENGTH, 1, 0.5);
    ck_assert_msg(ag_test_close(prediction, expected, 1e-5, 1e-6), "w_hh=0.5: prediction %.9g, recurrence %.9g",
                  prediction, expected);
    l1norm_model_free(&model);

    /* The prediction in pieces and the batched forward in one pass give the
     * same bits, the state carried from piece to piece. */
    make_model(&model, 0.9, 0.999);
    enum { SHORT = 3000 };
    ag_sequence_batch batch;
    ck_assert_int_eq(ag_sequence_batch_init(&batch, 1, SHORT, 1), AG_OK);
    memcpy(batch.values, x, SHORT * sizeof *x);
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *forward = l1norm_forward(ctx, &model, &batch);
    ck_assert_ptr_nonnull(forward);
    prediction = predict(&model, x, SHORT);
    ck_assert_msg(prediction == forward->data[0], "in pieces %.9g, in one pass %.9g", prediction,
                  (double)forward->data[0]);
    ck_assert(ag_test_close(prediction, recurrence(x, SHORT, 0.9, 0.999), 1e-4, 0));
    /* No sequence is an error, not a prediction of 0. */
    double untouched = -1;
    ck_assert_int_eq(l1norm_predict(ctx, &model, x, 0, &untouched), AG_ERROR_ARGUMENT);
    ck_assert(untouched == -1);
    /* Asked to stop (a signal, in the demo), it stops between pieces with
     * no prediction; never asked, it predicts as l1norm_predict does. */
    stop_after = 2;
    stop_questions = 0;
    ck_assert_int_eq(l1norm_predict_or_stop(ctx, &model, x, SHORT, stop_when_asked, &untouched), AG_ERROR_STATE);
    ck_assert(untouched == -1);
    ck_assert_msg(strstr(ag_error_message(), "stopped after 2048 of 3000 steps") != NULL, "%s", ag_error_message());
    stop_after = 1000;
    stop_questions = 0;
    double not_stopped = -1;
    ck_assert_int_eq(l1norm_predict_or_stop(ctx, &model, x, SHORT, stop_when_asked, &not_stopped), AG_OK);
    ck_assert(not_stopped == prediction);
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&batch);
    l1norm_model_free(&model);
    free(x);
}
END_TEST

/* ------------------------------------------------------------ training */

static double mse(ag_ctx *ctx, const l1norm_model *model, const ag_sequence_batch *batch, const ag_real *targets,
                  bool backward) {
    ag_tensor *prediction = l1norm_forward(ctx, model, batch);
    ag_tensor *target = ag_from_array(ctx, 2, (int[]){batch->batch, 1}, targets);
    ag_tensor *loss = ag_mse_loss(ctx, prediction, target);
    ck_assert_msg(loss != NULL, "loss: %s", ag_error_message());
    if (backward) ck_assert_msg(ag_backward(ctx, loss) == AG_OK, "ag_backward: %s", ag_error_message());
    double value = loss->data[0];
    ag_ctx_reset(ctx);
    return value;
}

START_TEST(test_training_learns) {
    enum { BATCH = 32, MAX_LENGTH = 10, STEPS = 300 };
    l1norm_model model;
    make_model(&model, 0.5, 0.5);
    ag_sequence_batch batch, held_out;
    ck_assert_int_eq(ag_sequence_batch_init(&batch, BATCH, MAX_LENGTH, 1), AG_OK);
    ck_assert_int_eq(ag_sequence_batch_init(&held_out, 256, MAX_LENGTH, 1), AG_OK);
    ag_real targets[BATCH], held_out_targets[256];
    ag_rng data_rng, held_out_rng;
    ag_rng_seed(&data_rng, 2024, 1);
    ag_rng_seed(&held_out_rng, 2024, 2);
    l1norm_make_batch(&held_out_rng, &held_out, held_out_targets);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_adam adam;
    ck_assert_int_eq(ag_adam_init(&adam, model.params, 1e-2), AG_OK);

    bool was = ag_set_grad_enabled(ctx, false);
    double before = mse(ctx, &model, &held_out, held_out_targets, false);
    ag_set_grad_enabled(ctx, was);
    double first_train = NAN, last_train = NAN;
    for (int step = 0; step < STEPS; step++) {
        l1norm_make_batch(&data_rng, &batch, targets); /* a fresh batch every step */
        ag_params_zero_grad(model.params);
        double loss = mse(ctx, &model, &batch, targets, true);
        ck_assert_int_eq(ag_adam_step(&adam, model.params), AG_OK);
        if (step == 0) first_train = loss;
        last_train = loss;
    }
    ag_set_grad_enabled(ctx, false);
    double after = mse(ctx, &model, &held_out, held_out_targets, false);
    ck_assert_msg(isfinite(after) && after * 10 <= before,
                  "held-out MSE %.6g -> %.6g after %d Adam steps (w_ih %.6g, w_hh %.6g): not 10-fold", before, after,
                  (int)STEPS, (double)model.cell.weight_ih->data[0], (double)model.cell.weight_hh->data[0]);
    ck_assert_msg(last_train * 10 <= first_train, "training MSE %.6g -> %.6g: not 10-fold", first_train, last_train);

    ag_adam_free(&adam);
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&batch);
    ag_sequence_batch_free(&held_out);
    l1norm_model_free(&model);
}
END_TEST

/* ------------------------------------------------------------ parameters */

static void check_param(const l1norm_model *model, int index, const char *name, int ndim, const int *shape) {
    ck_assert_str_eq(ag_params_name(model->params, index), name);
    ag_tensor *t = ag_params_get(model->params, index);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(ag_params_find(model->params, name), t);
    ck_assert_msg(t->ndim == ndim, "%s has %d dimensions, expected %d", name, t->ndim, ndim);
    for (int i = 0; i < ndim; i++) ck_assert_int_eq(t->shape[i], shape[i]);
    /* PyTorch's init for hidden size 1: U(-1, 1). */
    ck_assert_msg(t->data[0] >= -1 && t->data[0] <= 1, "%s = %g is outside [-1, 1]", name, (double)t->data[0]);
}

START_TEST(test_parameters) {
    ag_rng rng;
    ag_rng_seed(&rng, 9, 0);
    l1norm_model model;
    ck_assert_int_eq(l1norm_model_init(&model, true, &rng), AG_OK);
    ck_assert_int_eq(ag_params_count(model.params), 4);
    check_param(&model, 0, "rnn.weight_ih", 2, (int[]){1, 1});
    check_param(&model, 1, "rnn.weight_hh", 2, (int[]){1, 1});
    check_param(&model, 2, "rnn.bias_ih", 1, (int[]){1});
    check_param(&model, 3, "rnn.bias_hh", 1, (int[]){1});
    ck_assert_ptr_eq(model.cell.weight_ih, ag_params_find(model.params, "rnn.weight_ih"));
    ck_assert_ptr_eq(model.cell.bias_hh, ag_params_find(model.params, "rnn.bias_hh"));
    ck_assert_int_eq(ag_params_size(model.params), 4);
    l1norm_model_free(&model);
    ck_assert_ptr_null(model.params);

    ck_assert_int_eq(l1norm_model_init(&model, false, &rng), AG_OK);
    ck_assert_int_eq(ag_params_count(model.params), 2);
    check_param(&model, 0, "rnn.weight_ih", 2, (int[]){1, 1});
    check_param(&model, 1, "rnn.weight_hh", 2, (int[]){1, 1});
    ck_assert_ptr_null(model.cell.bias_ih);
    ck_assert_ptr_null(model.cell.bias_hh);
    ck_assert_ptr_null(ag_params_find(model.params, "rnn.bias_ih"));
    l1norm_model_free(&model);
}
END_TEST

/* l1norm_init_positive: PyTorch's draw for the same seed, every sign made
 * positive, with and without bias; over 20 seeds some draws are negative. */
START_TEST(test_init_positive) {
    int negative = 0;
    for (int seed = 1; seed <= 20; seed++)
        for (int bias = 0; bias <= 1; bias++) {
            l1norm_model torch, positive;
            ag_rng rng;
            ag_rng_seed(&rng, (uint64_t)seed, 0);
            ck_assert_int_eq(l1norm_model_init(&torch, bias, &rng), AG_OK);
            ag_rng_seed(&rng, (uint64_t)seed, 0);
            ck_assert_int_eq(l1norm_model_init(&positive, bias, &rng), AG_OK);
            l1norm_init_positive(&positive);
            ck_assert_int_eq(ag_params_size(positive.params), bias ? 4 : 2);
            for (int64_t i = 0; i < ag_params_size(positive.params); i++) {
                ag_real drawn = ag_params_data(torch.params)[i], made = ag_params_data(positive.params)[i];
                negative += drawn < 0;
                ck_assert_msg(made > 0 && (made == drawn || made == -drawn),
                              "seed %d, parameter %d: %.9g, not |PyTorch's %.9g|", seed, (int)i, (double)made,
                              (double)drawn);
            }
            l1norm_model_free(&torch);
            l1norm_model_free(&positive);
        }
    ck_assert_int_gt(negative, 10);
}
END_TEST

AG_TEST_SUITE(l1norm_suite)
static Suite *l1norm_suite(void) {
    Suite *s = suite_create("l1norm");
    TCase *tc = tcase_create("l1norm");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_padding_ignored);
    tcase_add_test(tc, test_predict_long_sequence);
    tcase_add_test(tc, test_training_learns);
    tcase_add_test(tc, test_parameters);
    tcase_add_test(tc, test_init_positive);
    suite_add_tcase(s, tc);
    return s;
}
