/* The adding problem (models/adding.h): the examples are what the task
 * promises (two markers, one in each half, the target their values' sum),
 * reproducible and distinct across seeds, splits and indices; always
 * answering 1 scores about 1/6; the four models start as documented and
 * give [batch, 1]; a short IRNN run beats the baseline; gradient clipping
 * keeps the gradient's direction. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adding.h"
#include "gru.h"
#include "test_util.h"

/* ------------------------------------------------------------ data */

/* A batch of `rows` rows of length T whose values and lengths are garbage,
 * so that anything adding_example forgets to write shows. */
static void garbage_batch(ag_sequence_batch *batch, int rows, int T) {
    ck_assert_int_eq(ag_sequence_batch_init(batch, rows, T, 2), AG_OK);
    for (int i = 0; i < rows * T * 2; i++) batch->values[i] = (ag_real)(7 + i % 3);
    for (int r = 0; r < rows; r++) batch->lengths[r] = -1;
}

/* Checks row `row` of `batch` as one example of length T with target
 * `target`; returns the two marker positions in *first and *second. */
static void check_example(const ag_sequence_batch *batch, int row, int T, ag_real target, const char *what,
                          int *first, int *second) {
    ck_assert_msg(batch->lengths[row] == T, "%s: lengths[%d] = %d, expected %d", what, row, batch->lengths[row], T);
    const ag_real *x = batch->values + (size_t)row * T * 2;
    int markers = 0;
    *first = *second = -1;
    for (int t = 0; t < T; t++) {
        ag_real value = x[2 * t], marker = x[2 * t + 1];
        ck_assert_msg(value >= 0 && value < 1, "%s: value %.9g at t=%d is outside [0, 1)", what, (double)value, t);
        ck_assert_msg(marker == 0 || marker == 1, "%s: marker %.9g at t=%d is neither 0 nor 1", what,
                      (double)marker, t);
        if (marker == 1) {
            markers++;
            if (*first < 0)
                *first = t;
            else
                *second = t;
        }
    }
    ck_assert_msg(markers == 2, "%s: %d markers, expected 2", what, markers);
    int half = T / 2;
    ck_assert_msg(*first >= 0 && *first < half, "%s: first marker at %d, outside [0, %d)", what, *first, half);
    ck_assert_msg(*second >= half && *second < T, "%s: second marker at %d, outside [%d, %d)", what, *second, half,
                  T);
    ag_real sum = x[2 * *first] + x[2 * *second];
    ck_assert_msg(target == sum, "%s: target %.9g, sum of the marked values %.9g", what, (double)target,
                  (double)sum);
}

START_TEST(test_examples_are_valid) {
    const int lengths[] = {2, 3, 10, 151};
    const uint64_t seeds[] = {0, 7, 123456789};
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        int T = lengths[l];
        ag_sequence_batch batch;
        garbage_batch(&batch, 3, T);
        for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++)
            for (int split = ADDING_TRAIN; split <= ADDING_TEST; split++)
                for (int64_t index = 0; index < 300; index++) {
                    char what[128];
                    snprintf(what, sizeof what, "T=%d seed=%llu split=%d index=%lld", T,
                             (unsigned long long)seeds[s], split, (long long)index);
                    ag_real target = adding_example(seeds[s], split, index, &batch, 1);
                    int first, second;
                    check_example(&batch, 1, T, target, what, &first, &second);
                }
        /* Rows 0 and 2 were never written. */
        for (int r = 0; r < 3; r += 2) {
            ck_assert_int_eq(batch.lengths[r], -1);
            for (int i = 0; i < T * 2; i++)
                ck_assert_msg(batch.values[(size_t)r * T * 2 + i] == (ag_real)(7 + ((r * T * 2 + i) % 3)),
                              "T=%d: writing row 1 changed row %d", T, r);
        }
        ag_sequence_batch_free(&batch);
    }
    /* A large index is an example like any other. */
    ag_sequence_batch batch;
    garbage_batch(&batch, 1, 10);
    int first, second;
    ag_real target = adding_example(1, ADDING_TRAIN, INT64_C(1) << 40, &batch, 0);
    check_example(&batch, 0, 10, target, "index 2^40", &first, &second);
    ag_sequence_batch_free(&batch);
}
END_TEST

/* Example (seed, split, index) of length T, written alone into `x` (T * 2
 * values); returns the target. */
static ag_real example(uint64_t seed, int split, int64_t index, int T, ag_real *x) {
    ag_sequence_batch batch;
    garbage_batch(&batch, 1, T);
    ag_real target = adding_example(seed, split, index, &batch, 0);
    memcpy(x, batch.values, (size_t)T * 2 * sizeof *x);
    ag_sequence_batch_free(&batch);
    return target;
}

START_TEST(test_examples_are_reproducible_and_distinct) {
    const int lengths[] = {2, 3, 10, 151};
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        int T = lengths[l];
        ag_real *a = malloc((size_t)T * 2 * sizeof *a), *b = malloc((size_t)T * 2 * sizeof *b);
        ck_assert(a && b);
        ag_sequence_batch batch;
        garbage_batch(&batch, 4, T);
        for (int64_t index = 0; index < 50; index++) {
            for (int split = ADDING_TRAIN; split <= ADDING_TEST; split++) {
                /* The same example again, and in another row of another batch. */
                ag_real target = example(42, split, index, T, a);
                ck_assert(example(42, split, index, T, b) == target);
                ck_assert_msg(memcmp(a, b, (size_t)T * 2 * sizeof *a) == 0,
                              "T=%d split=%d index=%lld: two calls differ", T, split, (long long)index);
                ck_assert(adding_example(42, split, index, &batch, 3) == target);
                ck_assert_msg(memcmp(a, batch.values + (size_t)3 * T * 2, (size_t)T * 2 * sizeof *a) == 0,
                              "T=%d split=%d index=%lld: row 3 differs from row 0", T, split, (long long)index);

                /* Another seed, another index. */
                const struct {
                    uint64_t seed;
                    int split;
                    int64_t index;
                    const char *what;
                } others[] = {
                    {43, split, index, "seed 43"},
                    {41, split, index, "seed 41"},
                    {42, split, index + 1, "the next index"},
                    {42, 1 - split, index, "the other split"},
                    {(uint64_t)(split == ADDING_TRAIN ? 43 : 41), 1 - split, index, "a neighbouring seed, other split"},
                };
                for (size_t o = 0; o < sizeof others / sizeof others[0]; o++) {
                    example(others[o].seed, others[o].split, others[o].index, T, b);
                    ck_assert_msg(memcmp(a, b, (size_t)T * 2 * sizeof *a) != 0,
                                  "T=%d: (seed 42, split %d, index %lld) equals %s", T, split, (long long)index,
                                  others[o].what);
                }
            }
        }
        /* Values differ, not only markers: the first values of 200 examples
         * of each split hardly ever coincide (a float in [0, 1) has 2^24
         * values: a chance coincidence is rare; a shared stream makes 200). */
        ag_real firsts[2][200];
        for (int split = 0; split < 2; split++)
            for (int i = 0; i < 200; i++) {
                example(42, split, i, T, a);
                firsts[split][i] = a[0];
            }
        int same = 0;
        for (int i = 0; i < 200; i++)
            for (int j = 0; j < 200; j++) {
                if (firsts[0][i] == firsts[1][j]) same++;
                if (j > i && firsts[0][i] == firsts[0][j]) same++;
            }
        ck_assert_msg(same <= 2, "T=%d: %d coinciding first values among 400 examples", T, same);
        ag_sequence_batch_free(&batch);
        free(a);
        free(b);
    }
}
END_TEST

START_TEST(test_marker_positions_spread) {
    enum { T = 10, N = 2000 };
    int count[T] = {0};
    ag_sequence_batch batch;
    garbage_batch(&batch, 1, T);
    for (int64_t index = 0; index < N; index++) {
        ag_real target = adding_example(5, ADDING_TRAIN, index, &batch, 0);
        int first, second;
        check_example(&batch, 0, T, target, "T=10", &first, &second);
        count[first]++;
        count[second]++;
    }
    /* 2000 examples put 400 markers on each position on average. */
    for (int t = 0; t < T; t++)
        ck_assert_msg(count[t] >= 200 && count[t] <= 600, "position %d holds a marker in %d of %d examples", t,
                      count[t], N);
    ag_sequence_batch_free(&batch);
}
END_TEST

START_TEST(test_baseline_is_one_sixth) {
    /* The target is the sum of two U[0, 1): mean 1, variance 1/6, so always
     * answering 1 scores an MSE of 1/6. */
    enum { N = 20000, T = 10 };
    ag_sequence_batch batch;
    ck_assert_int_eq(ag_sequence_batch_init(&batch, 1, T, 2), AG_OK);
    double squared_error = 0, sum = 0;
    for (int64_t index = 0; index < N; index++) {
        double target = adding_example(42, ADDING_TEST, index, &batch, 0);
        squared_error += (1 - target) * (1 - target);
        sum += target;
    }
    double mse = squared_error / N, mean = sum / N;
    ck_assert_msg(fabs(mse - 1.0 / 6) < 0.01, "MSE of answering 1 over %d test examples: %.6f, expected ~%.6f", N,
                  mse, 1.0 / 6);
    ck_assert_msg(fabs(mean - 1) < 0.02, "mean target %.6f, expected ~1", mean);
    ag_sequence_batch_free(&batch);
}
END_TEST

/* ------------------------------------------------------------ models */

static void check_param(const adding_model *model, int index, const char *name, int ndim, const int *shape) {
    ag_test_check_param(model->params, index, name, ndim, shape);
}

/* Every value of t within [-bound, bound], and not all tiny. */
static void check_uniform(const ag_tensor *t, const char *name, double bound) {
    ag_test_check_uniform(t, name, bound, 8);
}

static void check_readout(const adding_model *model, int first_index, int H) {
    check_param(model, first_index, "linear.weight", 2, (int[]){1, H});
    check_param(model, first_index + 1, "linear.bias", 1, (int[]){1});
    ck_assert_ptr_eq(model->readout.weight, ag_params_find(model->params, "linear.weight"));
    ck_assert_ptr_eq(model->readout.bias, ag_params_find(model->params, "linear.bias"));
    check_uniform(model->readout.weight, "linear.weight", 1 / sqrt(H));
    check_uniform(model->readout.bias, "linear.bias", 1 / sqrt(H));
}

START_TEST(test_irnn_init) {
    enum { H = 100 };
    const double scales[] = {1.0, 0.01};
    for (int s = 0; s < 2; s++) {
        ag_rng rng;
        ag_rng_seed(&rng, 11 + (uint64_t)s, 0);
        adding_model model;
        ck_assert_msg(adding_model_init(&model, ADDING_IRNN, H, scales[s], 1.0, &rng) == AG_OK, "init: %s",
                      ag_error_message());
        ck_assert_int_eq(model.kind, ADDING_IRNN);
        ck_assert_int_eq(ag_params_count(model.params), 6);
        check_param(&model, 0, "rnn.weight_ih", 2, (int[]){H, 2});
        check_param(&model, 1, "rnn.weight_hh", 2, (int[]){H, H});
        check_param(&model, 2, "rnn.bias_ih", 1, (int[]){H});
        check_param(&model, 3, "rnn.bias_hh", 1, (int[]){H});
        check_readout(&model, 4, H);
        ck_assert_int_eq(ag_params_size(model.params), H * 2 + H * H + H + H + H + 1);
        ck_assert_ptr_eq(model.rnn.weight_ih, ag_params_find(model.params, "rnn.weight_ih"));
        ck_assert_ptr_eq(model.rnn.weight_hh, ag_params_find(model.params, "rnn.weight_hh"));
        ck_assert_int_eq(model.rnn.nonlinearity, AG_NONLINEARITY_RELU);
        ck_assert_int_eq(model.rnn.hidden_size, H);
        ck_assert_int_eq(model.rnn.input_size, 2);

        for (int i = 0; i < H; i++)
            for (int j = 0; j < H; j++) {
                ag_real expected = i == j ? (ag_real)scales[s] : 0;
                ck_assert_msg(model.rnn.weight_hh->data[i * H + j] == expected,
                              "scale %g: weight_hh[%d][%d] = %.9g, expected %.9g", scales[s], i, j,
                              (double)model.rnn.weight_hh->data[i * H + j], (double)expected);
            }
        for (int i = 0; i < H; i++) {
            ck_assert_msg(model.rnn.bias_ih->data[i] == 0, "bias_ih[%d] = %g", i, (double)model.rnn.bias_ih->data[i]);
            ck_assert_msg(model.rnn.bias_hh->data[i] == 0, "bias_hh[%d] = %g", i, (double)model.rnn.bias_hh->data[i]);
        }
        /* W_ih ~ N(0, 0.001^2): 200 samples. */
        const ag_tensor *w = model.rnn.weight_ih;
        double sum = 0, sum_squares = 0;
        for (int64_t i = 0; i < w->size; i++) sum += w->data[i];
        double mean = sum / (double)w->size;
        for (int64_t i = 0; i < w->size; i++) sum_squares += (w->data[i] - mean) * (w->data[i] - mean);
        double std = sqrt(sum_squares / (double)(w->size - 1));
        ck_assert_msg(fabs(std - 0.001) < 0.0002, "weight_ih: sample std %.6g, expected ~0.001", std);
        ck_assert_msg(fabs(mean) < 0.0003, "weight_ih: sample mean %.6g, expected ~0", mean);

        adding_model_free(&model);
        ck_assert_ptr_null(model.params);
    }
}
END_TEST

START_TEST(test_lstm_init) {
    const int sizes[] = {8, 20};
    const double forget_biases[] = {1.0, 2.5, 0.0};
    for (int s = 0; s < 2; s++)
        for (int f = 0; f < 3; f++) {
            int H = sizes[s];
            ag_rng rng;
            ag_rng_seed(&rng, 3, (uint64_t)(s * 3 + f));
            adding_model model;
            ck_assert_msg(adding_model_init(&model, ADDING_LSTM, H, 1.0, forget_biases[f], &rng) == AG_OK,
                          "init: %s", ag_error_message());
            ck_assert_int_eq(model.kind, ADDING_LSTM);
            ck_assert_int_eq(ag_params_count(model.params), 6);
            check_param(&model, 0, "lstm.weight_ih", 2, (int[]){4 * H, 2});
            check_param(&model, 1, "lstm.weight_hh", 2, (int[]){4 * H, H});
            check_param(&model, 2, "lstm.bias_ih", 1, (int[]){4 * H});
            check_param(&model, 3, "lstm.bias_hh", 1, (int[]){4 * H});
            check_readout(&model, 4, H);
            ck_assert_ptr_null(ag_params_find(model.params, "rnn.weight_hh"));
            ck_assert_ptr_eq(model.lstm.bias_ih, ag_params_find(model.params, "lstm.bias_ih"));
            ck_assert_int_eq(model.lstm.hidden_size, H);

            double bound = 1 / sqrt(H);
            check_uniform(model.lstm.weight_ih, "lstm.weight_ih", bound);
            check_uniform(model.lstm.weight_hh, "lstm.weight_hh", bound);
            for (int i = 0; i < 4 * H; i++) {
                double b_ih = model.lstm.bias_ih->data[i], b_hh = model.lstm.bias_hh->data[i];
                if (i >= H && i < 2 * H) {
                    ck_assert_msg(b_ih == (ag_real)forget_biases[f], "H=%d: forget bias_ih[%d] = %.9g, expected %g",
                                  H, i, b_ih, forget_biases[f]);
                    ck_assert_msg(b_hh == 0, "H=%d: forget bias_hh[%d] = %.9g, expected 0", H, i, b_hh);
                } else {
                    /* The input, cell and output gates keep PyTorch's init. */
                    ck_assert_msg(fabs(b_ih) <= bound && fabs(b_hh) <= bound,
                                  "H=%d: bias[%d] = %.9g, %.9g outside [-%g, %g]", H, i, b_ih, b_hh, bound, bound);
                }
            }
            adding_model_free(&model);
        }
}
END_TEST

START_TEST(test_rnn_tanh_init) {
    enum { H = 25 };
    ag_rng rng;
    ag_rng_seed(&rng, 4, 0);
    adding_model model;
    ck_assert_msg(adding_model_init(&model, ADDING_RNN_TANH, H, 1.0, 1.0, &rng) == AG_OK, "init: %s",
                  ag_error_message());
    ck_assert_int_eq(model.kind, ADDING_RNN_TANH);
    ck_assert_int_eq(ag_params_count(model.params), 6);
    check_param(&model, 0, "rnn.weight_ih", 2, (int[]){H, 2});
    check_param(&model, 1, "rnn.weight_hh", 2, (int[]){H, H});
    check_param(&model, 2, "rnn.bias_ih", 1, (int[]){H});
    check_param(&model, 3, "rnn.bias_hh", 1, (int[]){H});
    check_readout(&model, 4, H);
    ck_assert_int_eq(model.rnn.nonlinearity, AG_NONLINEARITY_TANH);
    double bound = 1 / sqrt(H);
    check_uniform(model.rnn.weight_ih, "rnn.weight_ih", bound);
    check_uniform(model.rnn.weight_hh, "rnn.weight_hh", bound);
    check_uniform(model.rnn.bias_ih, "rnn.bias_ih", bound);
    check_uniform(model.rnn.bias_hh, "rnn.bias_hh", bound);
    /* Not the IRNN recipe: W_hh is no multiple of I. */
    int off_diagonal = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++) off_diagonal += i != j && model.rnn.weight_hh->data[i * H + j] != 0;
    ck_assert_int_gt(off_diagonal, H * (H - 1) / 2);
    adding_model_free(&model);
}
END_TEST

START_TEST(test_gru_init) {
    enum { H = 25 };
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    adding_model model;
    ck_assert_msg(adding_model_init(&model, ADDING_GRU, H, 1.0, 1.0, &rng) == AG_OK, "init: %s", ag_error_message());
    ck_assert_int_eq(model.kind, ADDING_GRU);
    ck_assert_int_eq(ag_params_count(model.params), 6);
    check_param(&model, 0, "gru.weight_ih", 2, (int[]){3 * H, 2});
    check_param(&model, 1, "gru.weight_hh", 2, (int[]){3 * H, H});
    check_param(&model, 2, "gru.bias_ih", 1, (int[]){3 * H});
    check_param(&model, 3, "gru.bias_hh", 1, (int[]){3 * H});
    check_readout(&model, 4, H);
    ck_assert_ptr_eq(model.gru.weight_ih, ag_params_find(model.params, "gru.weight_ih"));
    ck_assert_ptr_eq(model.gru.bias_hh, ag_params_find(model.params, "gru.bias_hh"));
    ck_assert_int_eq(model.gru.input_size, 2);
    ck_assert_int_eq(model.gru.hidden_size, H);
    /* PyTorch's init for every GRU parameter, identity_scale and
     * forget_bias ignored. */
    double bound = 1 / sqrt(H);
    check_uniform(model.gru.weight_ih, "gru.weight_ih", bound);
    check_uniform(model.gru.weight_hh, "gru.weight_hh", bound);
    check_uniform(model.gru.bias_ih, "gru.bias_ih", bound);
    check_uniform(model.gru.bias_hh, "gru.bias_hh", bound);
    /* Exactly gru_cell_init's draw from the same generator state: nothing
     * overwrites it afterwards. */
    ag_rng same;
    ag_rng_seed(&same, 5, 0);
    ag_params *alone = ag_params_create();
    gru_cell cell;
    ck_assert_int_eq(gru_cell_init(&cell, alone, "gru", 2, H, true, &same), AG_OK);
    ck_assert_int_eq(ag_params_size(alone), 3 * H * 2 + 3 * H * H + 2 * 3 * H);
    ck_assert_msg(memcmp(ag_params_data(alone), ag_params_data(model.params),
                         (size_t)ag_params_size(alone) * sizeof(ag_real)) == 0,
                  "the GRU's parameters differ from gru_cell_init's with the same seed");
    ag_params_free(alone);
    adding_model_free(&model);
}
END_TEST

START_TEST(test_forward_shape) {
    const adding_kind kinds[] = {ADDING_IRNN, ADDING_RNN_TANH, ADDING_LSTM, ADDING_GRU};
    const int batches[] = {1, 5};
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 2; b++) {
            int B = batches[b], T = 7;
            ag_rng rng;
            ag_rng_seed(&rng, 6, (uint64_t)k);
            adding_model model;
            ck_assert_int_eq(adding_model_init(&model, kinds[k], 8, 1.0, 1.0, &rng), AG_OK);
            ag_sequence_batch batch;
            ck_assert_int_eq(ag_sequence_batch_init(&batch, B, T, 2), AG_OK);
            for (int r = 0; r < B; r++) adding_example(1, ADDING_TRAIN, r, &batch, r);
            ag_ctx *ctx = ag_ctx_create();
            ck_assert_ptr_nonnull(ctx);
            ag_tensor *prediction = adding_forward(ctx, &model, &batch);
            ck_assert_msg(prediction != NULL, "kind %d: adding_forward: %s", (int)kinds[k], ag_error_message());
            ck_assert_int_eq(prediction->ndim, 2);
            ck_assert_int_eq(prediction->shape[0], B);
            ck_assert_int_eq(prediction->shape[1], 1);
            for (int r = 0; r < B; r++) ck_assert(isfinite(prediction->data[r]));
            ag_ctx_free(ctx);
            ag_sequence_batch_free(&batch);
            adding_model_free(&model);
        }
}
END_TEST

/* ------------------------------------------------------------ training */

/* Test MSE of `model` on test examples 0..n-1 of `seed` (n a multiple of 100). */
static double test_mse(ag_ctx *ctx, const adding_model *model, uint64_t seed, int T, int n) {
    enum { ROWS = 100 };
    ag_sequence_batch batch;
    ck_assert_int_eq(ag_sequence_batch_init(&batch, ROWS, T, 2), AG_OK);
    ag_real targets[ROWS];
    bool was = ag_set_grad_enabled(ctx, false);
    double squared_error = 0;
    for (int done = 0; done < n; done += ROWS) {
        for (int r = 0; r < ROWS; r++) targets[r] = adding_example(seed, ADDING_TEST, done + r, &batch, r);
        ag_tensor *prediction = adding_forward(ctx, model, &batch);
        ck_assert_msg(prediction != NULL, "adding_forward: %s", ag_error_message());
        for (int r = 0; r < ROWS; r++) {
            double error = (double)prediction->data[r] - targets[r];
            squared_error += error * error;
        }
        ag_ctx_reset(ctx);
    }
    ag_set_grad_enabled(ctx, was);
    ag_sequence_batch_free(&batch);
    return squared_error / n;
}

/* One step's batch: training examples step * B .. step * B + B - 1. */
static void training_batch(uint64_t seed, int64_t step, ag_sequence_batch *batch, ag_real *targets) {
    for (int r = 0; r < batch->batch; r++)
        targets[r] = adding_example(seed, ADDING_TRAIN, step * batch->batch + r, batch, r);
}

/* The loss of one batch, with its gradients in the parameters. */
static double loss_and_gradients(ag_ctx *ctx, const adding_model *model, const ag_sequence_batch *batch,
                                 const ag_real *targets) {
    ag_params_zero_grad(model->params);
    ag_tensor *target = ag_from_array(ctx, 2, (int[]){batch->batch, 1}, targets);
    ag_tensor *loss = ag_mse_loss(ctx, adding_forward(ctx, model, batch), target);
    ck_assert_msg(loss != NULL, "loss: %s", ag_error_message());
    ck_assert_msg(ag_backward(ctx, loss) == AG_OK, "ag_backward: %s", ag_error_message());
    double value = loss->data[0];
    ag_ctx_reset(ctx);
    return value;
}

/* A short IRNN run (T 10, hidden 32, batch 16, Adam 3e-3, clip 1, 2000
 * steps: about 0.2 s) learns the task: across seeds 1..100 these settings
 * end between 0.0000 and 0.022, against the baseline's 0.167. */
START_TEST(test_irnn_learns) {
    enum { T = 10, H = 32, B = 16, STEPS = 2000, TEST = 500 };
    const uint64_t seed = 1;
    ag_rng rng;
    ag_rng_seed(&rng, seed, 0);
    adding_model model;
    ck_assert_int_eq(adding_model_init(&model, ADDING_IRNN, H, 1.0, 1.0, &rng), AG_OK);
    ag_sequence_batch batch;
    ck_assert_int_eq(ag_sequence_batch_init(&batch, B, T, 2), AG_OK);
    ag_real targets[B];
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_adam adam;
    ck_assert_int_eq(ag_adam_init(&adam, model.params, 3e-3), AG_OK);

    double before = test_mse(ctx, &model, seed, T, TEST);
    for (int64_t step = 0; step < STEPS; step++) {
        training_batch(seed, step, &batch, targets);
        double loss = loss_and_gradients(ctx, &model, &batch, targets);
        double norm = ag_params_clip_grad_norm(model.params, 1.0);
        ck_assert_msg(isfinite(loss) && isfinite(norm), "step %lld: loss %g, gradient norm %g", (long long)step,
                      loss, norm);
        ck_assert_int_eq(ag_adam_step(&adam, model.params), AG_OK);
    }
    double after = test_mse(ctx, &model, seed, T, TEST);
    ck_assert_msg(after < 0.05, "test MSE %.6f -> %.6f after %d steps: not below 0.05 (baseline ~0.167)", before,
                  after, (int)STEPS);

    ag_adam_free(&adam);
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&batch);
    adding_model_free(&model);
}
END_TEST

/* ------------------------------------------------------------ clipping */

static double grad_norm(ag_params *params) {
    const ag_real *g = ag_params_grad(params);
    double sum = 0;
    for (int64_t i = 0; i < ag_params_size(params); i++) sum += (double)g[i] * g[i];
    return sqrt(sum);
}

START_TEST(test_clipping_keeps_direction) {
    enum { T = 10, H = 32, B = 16 };
    const adding_kind kinds[] = {ADDING_IRNN, ADDING_LSTM};
    for (int k = 0; k < 2; k++) {
        ag_rng rng;
        ag_rng_seed(&rng, 8, (uint64_t)k);
        adding_model model;
        ck_assert_int_eq(adding_model_init(&model, kinds[k], H, 1.0, 1.0, &rng), AG_OK);
        ag_sequence_batch batch;
        ck_assert_int_eq(ag_sequence_batch_init(&batch, B, T, 2), AG_OK);
        ag_real targets[B];
        ag_ctx *ctx = ag_ctx_create();
        ck_assert_ptr_nonnull(ctx);
        training_batch(8, 0, &batch, targets);
        /* Targets of 10 for a large loss, hence a large gradient. */
        for (int r = 0; r < B; r++) targets[r] += 10;
        loss_and_gradients(ctx, &model, &batch, targets);

        int64_t n = ag_params_size(model.params);
        ag_real *g = ag_params_grad(model.params);
        ag_real *before = malloc((size_t)n * sizeof *before);
        ck_assert_ptr_nonnull(before);
        memcpy(before, g, (size_t)n * sizeof *before);
        double norm = grad_norm(model.params);
        ck_assert_msg(norm > 1, "kind %d: gradient norm %g: the test needs one above 1", (int)kinds[k], norm);

        /* A limit above the norm changes nothing. */
        double returned = ag_params_clip_grad_norm(model.params, 2 * norm);
        AG_ASSERT_CLOSE(returned, norm, 1e-9, 0);
        ck_assert(memcmp(before, g, (size_t)n * sizeof *before) == 0);

        returned = ag_params_clip_grad_norm(model.params, 1.0);
        AG_ASSERT_CLOSE(returned, norm, 1e-9, 0);
        double after = grad_norm(model.params);
        ck_assert_msg(after <= 1 + 1e-6, "kind %d: norm %.9g after clipping to 1 (before %.9g)", (int)kinds[k], after,
                      norm);
        ck_assert_msg(after >= 1 - 1e-4, "kind %d: norm %.9g after clipping to 1: shrunk too far", (int)kinds[k],
                      after);
        /* The factor from the largest element; every element shares it. */
        int64_t largest = 0;
        for (int64_t i = 1; i < n; i++)
            if (fabs(before[i]) > fabs(before[largest])) largest = i;
        double factor = (double)g[largest] / before[largest];
        ck_assert_msg(factor > 0 && factor < 1, "kind %d: factor %g", (int)kinds[k], factor);
        AG_ASSERT_CLOSE(factor, 1 / norm, 1e-5, 0);
        int64_t nonzero = 0;
        for (int64_t i = 0; i < n; i++) {
            nonzero += before[i] != 0;
            ck_assert_msg(ag_test_close(g[i], factor * before[i], 1e-6, 1e-30),
                          "kind %d: gradient %lld: %.9g -> %.9g, not %.9g times", (int)kinds[k], (long long)i,
                          (double)before[i], (double)g[i], factor);
        }
        ck_assert_int_gt(nonzero, n / 2);

        free(before);
        ag_ctx_free(ctx);
        ag_sequence_batch_free(&batch);
        adding_model_free(&model);
    }
}
END_TEST

AG_TEST_SUITE(adding_suite)
static Suite *adding_suite(void) {
    Suite *s = suite_create("adding");
    TCase *tc = tcase_create("adding");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_examples_are_valid);
    tcase_add_test(tc, test_examples_are_reproducible_and_distinct);
    tcase_add_test(tc, test_marker_positions_spread);
    tcase_add_test(tc, test_baseline_is_one_sixth);
    tcase_add_test(tc, test_irnn_init);
    tcase_add_test(tc, test_lstm_init);
    tcase_add_test(tc, test_rnn_tanh_init);
    tcase_add_test(tc, test_gru_init);
    tcase_add_test(tc, test_forward_shape);
    tcase_add_test(tc, test_irnn_learns);
    tcase_add_test(tc, test_clipping_keeps_direction);
    suite_add_tcase(s, tc);
    return s;
}
