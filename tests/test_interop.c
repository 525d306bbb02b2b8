/* PyTorch interoperability: checkpoints written by PyTorch load into the demo
 * models with ag_params_load, and the models then give PyTorch's outputs.
 * The files in fixtures/interop/ are the state_dicts of PyTorch modules
 * built as the demo models are (fixtures/torch_models.py), and
 * fixtures/interop_golden.h holds fixed inputs (variable lengths, with
 * large values in the padding) and PyTorch's outputs on them; both are
 * written by fixtures/make_interop.py (see there to regenerate). Checked:
 *   - every tensor of each file is a parameter of the model and every
 *     parameter is in the file (names and shapes are PyTorch's);
 *   - l1norm and l1norm_bias: l1norm_forward on a padded batch and
 *     l1norm_predict on a sequence of 300;
 *   - adding irnn, rnn-tanh, lstm and gru: adding_forward on a padded batch;
 *   - digitsum lstm and rnn: the logits after every symbol of teacher
 *     forcing (the cell and readout run here on one-hot rows of a
 *     variable-length batch), digitsum_loss of each example alone and of
 *     all in one batch, and digitsum_decode's greedy answers.
 * Tolerance: 1e-5 relative, 1e-6 absolute (for values near 0), as in
 * test_known_values.c. Both sides compute in float32, in different orders
 * (ag's recurrent kernel uses fused multiply-adds and a vectorised tanh
 * good to a few ulps), so results differ by a few float32 ulps (1.2e-7
 * relative each) accumulated over at most a few hundred contracting steps:
 * 1e-5 leaves room for that, while a swapped or transposed weight, a wrong
 * gate order or a misnamed tensor changes outputs at the 1e-2 level or
 * fails the load. make_interop.py checks that PyTorch's float32 outputs
 * agree with float64 to a quarter of the tolerance. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adding.h"
#include "digitsum.h"
#include "fixtures/interop_golden.h"
#include "l1norm.h"
#include "test_util.h"

#define IO_REL 1e-5
#define IO_ABS 1e-6

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* tests/fixtures/interop/NAME.safetensors. */
static void fixture_path(const char *name, char *path, size_t size) {
    char relative[256];
    snprintf(relative, sizeof relative, "interop/%s.safetensors", name);
    ag_test_fixture_path(relative, path, size);
}

/* The file's tensor names are exactly the model's parameter names: none
 * is left out of the model (ag_params_load ignores tensors the model lacks,
 * so a misnamed one would otherwise go unseen). */
static void check_same_names(const ag_params *params, const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    unsigned char size_bytes[8];
    ck_assert_uint_eq(fread(size_bytes, 1, 8, f), 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)size_bytes[i] << (8 * i);
    ck_assert_uint_lt(n, 1 << 20);
    char *header = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(header);
    ck_assert_uint_eq(fread(header, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    cJSON *root = cJSON_ParseWithLength(header, (size_t)n);
    ck_assert_msg(root != NULL, "%s: the header is not JSON", path);
    int tensors = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) continue;
        tensors++;
        ck_assert_msg(ag_params_find(params, item->string) != NULL, "%s: the model has no parameter '%s'", path,
                      item->string);
    }
    ck_assert_msg(tensors == ag_params_count(params), "%s holds %d tensors, the model has %d parameters", path,
                  tensors, ag_params_count(params));
    cJSON_Delete(root);
    free(header);
}

/* Loads fixture NAME into `params` and checks the names. */
static void load_fixture(ag_params *params, const char *name) {
    char path[4200];
    fixture_path(name, path, sizeof path);
    ck_assert_msg(ag_params_load(params, path) == AG_OK, "%s: %s", path, ag_error_message());
    check_same_names(params, path);
}

/* Every one of n values of got against PyTorch's, naming the first mismatch. */
static void check_values(const char *what, const ag_real *got, const float *want, int n) {
    for (int i = 0; i < n; i++)
        ck_assert_msg(ag_test_close((double)got[i], (double)want[i], IO_REL, IO_ABS),
                      "%s[%d] = %.9g, expected %.9g (PyTorch)", what, i, (double)got[i], (double)want[i]);
}

/* A padded batch holding the golden values (padding included) and lengths. */
static void golden_batch(ag_sequence_batch *s, int batch, int steps, int features, const float *values,
                         const int *lengths) {
    ck_assert_int_eq(ag_sequence_batch_init(s, batch, steps, features), AG_OK);
    for (int i = 0; i < batch * steps * features; i++) s->values[i] = (ag_real)values[i];
    for (int b = 0; b < batch; b++) s->lengths[b] = lengths[b];
}

/* ------------------------------------------------------------ L1 norm */

static void check_l1norm(const char *name, bool bias, const float *out, const float *long_out) {
    ag_rng rng;
    ag_rng_seed(&rng, 1, 0);
    l1norm_model model;
    ck_assert_int_eq(l1norm_model_init(&model, bias, &rng), AG_OK);
    load_fixture(model.params, name);

    ag_sequence_batch batch;
    golden_batch(&batch, L1_BATCH, L1_STEPS, 1, L1_X, L1_LENGTHS);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_set_grad_enabled(ctx, false);
    ag_tensor *prediction = l1norm_forward(ctx, &model, &batch);
    ck_assert_msg(prediction != NULL, "l1norm_forward: %s", ag_error_message());
    ck_assert_int_eq(prediction->size, L1_BATCH);
    check_values(name, prediction->data, out, L1_BATCH);

    ag_real values[L1_LONG];
    for (int i = 0; i < L1_LONG; i++) values[i] = (ag_real)L1_LONG_X[i];
    double long_prediction = 0;
    ck_assert_msg(l1norm_predict(ctx, &model, values, L1_LONG, &long_prediction) == AG_OK, "l1norm_predict: %s",
                  ag_error_message());
    ag_real got = (ag_real)long_prediction;
    check_values("l1norm_predict", &got, long_out, 1);

    ag_ctx_free(ctx);
    ag_sequence_batch_free(&batch);
    l1norm_model_free(&model);
}

START_TEST(test_l1norm) { check_l1norm("l1norm", false, L1_OUT, L1_LONG_OUT); }
END_TEST

START_TEST(test_l1norm_bias) { check_l1norm("l1norm_bias", true, L1_BIAS_OUT, L1_BIAS_LONG_OUT); }
END_TEST

/* A PyTorch checkpoint without biases does not load into the model with
 * them: the error names the missing tensor. */
START_TEST(test_l1norm_bias_missing) {
    ag_rng rng;
    ag_rng_seed(&rng, 1, 0);
    l1norm_model model;
    ck_assert_int_eq(l1norm_model_init(&model, true, &rng), AG_OK);
    char path[4200];
    fixture_path("l1norm", path, sizeof path);
    ck_assert_int_eq(ag_params_load(model.params, path), AG_ERROR_FORMAT);
    ck_assert_msg(strstr(ag_error_message(), "rnn.bias_ih") != NULL, "%s", ag_error_message());
    l1norm_model_free(&model);
}
END_TEST

/* ------------------------------------------------------------ adding */

static void check_adding(const char *name, adding_kind kind, const float *out) {
    ag_rng rng;
    ag_rng_seed(&rng, 2, 0);
    adding_model model;
    ck_assert_int_eq(adding_model_init(&model, kind, ADD_HIDDEN, 1.0, 1.0, &rng), AG_OK);
    load_fixture(model.params, name);

    ag_sequence_batch batch;
    golden_batch(&batch, ADD_BATCH, ADD_STEPS, 2, ADD_X, ADD_LENGTHS);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_set_grad_enabled(ctx, false);
    ag_tensor *prediction = adding_forward(ctx, &model, &batch);
    ck_assert_msg(prediction != NULL, "adding_forward: %s", ag_error_message());
    ck_assert_int_eq(prediction->size, ADD_BATCH);
    check_values(name, prediction->data, out, ADD_BATCH);
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&batch);
    adding_model_free(&model);
}

START_TEST(test_adding_irnn) { check_adding("adding_irnn", ADDING_IRNN, ADD_IRNN_OUT); }
END_TEST

START_TEST(test_adding_rnn_tanh) { check_adding("adding_rnn_tanh", ADDING_RNN_TANH, ADD_RNN_TANH_OUT); }
END_TEST

START_TEST(test_adding_lstm) { check_adding("adding_lstm", ADDING_LSTM, ADD_LSTM_OUT); }
END_TEST

START_TEST(test_adding_gru) { check_adding("adding_gru", ADDING_GRU, ADD_GRU_OUT); }
END_TEST

/* ------------------------------------------------------------ digit sum */

/* The logits after every symbol of d_1..d_L EOS a_1..a_m, all examples in
 * one batch of rows of their own lengths, from the model's cell and
 * readout: [DS_N * steps, 12], row i * steps + t. */
static ag_tensor *teacher_logits(ag_ctx *ctx, const digitsum_model *model, const digitsum_example *examples,
                                 int steps) {
    ag_tensor *x = ag_zeros(ctx, 3, (int[]){DS_N, steps, DIGITSUM_SYMBOLS});
    ck_assert_ptr_nonnull(x);
    for (int i = 0; i < DS_N; i++) {
        const digitsum_example *e = &examples[i];
        for (int t = 0; t < DS_STEPS[i]; t++) {
            int symbol = t < e->length    ? e->digits[t] - '0'
                         : t == e->length ? DIGITSUM_EOS
                                          : e->answer[t - e->length - 1] - '0';
            x->data[((size_t)i * steps + t) * DIGITSUM_SYMBOLS + symbol] = 1;
        }
    }
    ag_tensor *h0 = ag_zeros(ctx, 2, (int[]){DS_N, DS_HIDDEN});
    ag_tensor *states = model->kind == DIGITSUM_LSTM
                            ? ag_lstm_cell_sequence(ctx, &model->lstm, x, DS_STEPS,
                                                    (ag_lstm_state){h0, ag_zeros(ctx, 2, (int[]){DS_N, DS_HIDDEN})})
                                  .h
                            : ag_rnn_cell_sequence(ctx, &model->rnn, x, DS_STEPS, h0);
    ag_tensor *flat = ag_reshape(ctx, states, 2, (int[]){DS_N * steps, DS_HIDDEN});
    return ag_linear_forward(ctx, &model->readout, flat);
}

static void check_digitsum(const char *name, digitsum_kind kind, const float *logits, int n_logits,
                           const float *losses, const float *batch_loss, const char *const *answers) {
    ag_rng rng;
    ag_rng_seed(&rng, 3, 0);
    digitsum_model model;
    ck_assert_int_eq(digitsum_model_init(&model, kind, DS_HIDDEN, &rng), AG_OK);
    load_fixture(model.params, name);

    digitsum_example examples[DS_N];
    const digitsum_example *batch[DS_N];
    int steps = 0, total = 0;
    for (int i = 0; i < DS_N; i++) {
        ck_assert_int_eq(digitsum_example_set(&examples[i], DS_DIGITS[i], strlen(DS_DIGITS[i])), AG_OK);
        ck_assert_int_eq(examples[i].length + examples[i].answer_length + 1, DS_STEPS[i]);
        batch[i] = &examples[i];
        if (DS_STEPS[i] > steps) steps = DS_STEPS[i];
        total += DS_STEPS[i];
    }
    ck_assert_int_eq(total * DIGITSUM_SYMBOLS, n_logits);

    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_set_grad_enabled(ctx, false);
    ag_tensor *got = teacher_logits(ctx, &model, examples, steps);
    ck_assert_msg(got != NULL, "teacher logits: %s", ag_error_message());
    char what[128];
    for (int i = 0, row = 0; i < DS_N; row += DS_STEPS[i], i++) {
        snprintf(what, sizeof what, "%s logits of '%s'", name, DS_DIGITS[i]);
        check_values(what, got->data + (size_t)i * steps * DIGITSUM_SYMBOLS, logits + row * DIGITSUM_SYMBOLS,
                     DS_STEPS[i] * DIGITSUM_SYMBOLS);
    }

    for (int i = 0; i < DS_N; i++) {
        ag_tensor *loss = digitsum_loss(ctx, &model, &batch[i], 1);
        ck_assert_msg(loss != NULL, "digitsum_loss: %s", ag_error_message());
        snprintf(what, sizeof what, "%s loss of '%s'", name, DS_DIGITS[i]);
        check_values(what, loss->data, &losses[i], 1);
    }
    ag_tensor *loss = digitsum_loss(ctx, &model, batch, DS_N);
    ck_assert_msg(loss != NULL, "digitsum_loss: %s", ag_error_message());
    snprintf(what, sizeof what, "%s loss of the batch", name);
    check_values(what, loss->data, batch_loss, 1);

    int checked = 0;
    for (int i = 0; i < DS_N; i++) {
        if (!answers[i]) continue;
        char answer[1][DIGITSUM_MAX_ANSWER + 2];
        ck_assert_msg(digitsum_decode(ctx, &model, &batch[i], 1, answer, NULL) == AG_OK, "digitsum_decode: %s",
                      ag_error_message());
        ck_assert_msg(strcmp(answer[0], answers[i]) == 0, "%s decodes '%s' as '%s', PyTorch as '%s'", name,
                      DS_DIGITS[i], answer[0], answers[i]);
        checked++;
    }
    ck_assert_int_ge(checked, DS_N - 2);
    ag_ctx_free(ctx);
    digitsum_model_free(&model);
}

START_TEST(test_digitsum_lstm) {
    check_digitsum("digitsum_lstm", DIGITSUM_LSTM, DS_LSTM_LOGITS, N_OF(DS_LSTM_LOGITS), DS_LSTM_LOSS,
                   DS_LSTM_BATCH_LOSS, DS_LSTM_ANSWERS);
}
END_TEST

START_TEST(test_digitsum_rnn) {
    check_digitsum("digitsum_rnn", DIGITSUM_RNN, DS_RNN_LOGITS, N_OF(DS_RNN_LOGITS), DS_RNN_LOSS, DS_RNN_BATCH_LOSS,
                   DS_RNN_ANSWERS);
}
END_TEST

AG_TEST_SUITE(interop_suite)
static Suite *interop_suite(void) {
    Suite *s = suite_create("interop");
    TCase *tc = tcase_create("pytorch");
    tcase_add_test(tc, test_l1norm);
    tcase_add_test(tc, test_l1norm_bias);
    tcase_add_test(tc, test_l1norm_bias_missing);
    tcase_add_test(tc, test_adding_irnn);
    tcase_add_test(tc, test_adding_rnn_tanh);
    tcase_add_test(tc, test_adding_lstm);
    tcase_add_test(tc, test_adding_gru);
    tcase_add_test(tc, test_digitsum_lstm);
    tcase_add_test(tc, test_digitsum_rnn);
    suite_add_tcase(s, tc);
    return s;
}
