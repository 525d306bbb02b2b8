/* For tests/interop_torch.sh: loads a checkpoint written by a demo into the
 * demo's model and prints, as one JSON object, fixed inputs (seeded,
 * variable lengths, large values in the padding) and ag's outputs on them;
 * tests/interop_torch.py then runs PyTorch on the same inputs.
 *
 *   interop_torch l1norm BIAS CHECKPOINT          BIAS 0 or 1
 *   interop_torch adding KIND HIDDEN CHECKPOINT   KIND irnn, rnn-tanh, lstm, gru
 *   interop_torch digitsum KIND HIDDEN CHECKPOINT KIND lstm, rnn
 *
 * Not part of the test binary: the script compiles it against build/libag.a
 * and the model sources (models/NAME.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adding.h"
#include "ag.h"
#include "digitsum.h"
#include "l1norm.h"

enum { BATCH = 6, STEPS = 12, LONG = 500 };
static const ag_real PAD = 5;

static void die(const char *what) {
    fprintf(stderr, "interop_torch: %s: %s\n", what, ag_error_message());
    exit(1);
}

static cJSON *floats(const ag_real *values, int n) {
    cJSON *array = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(array, cJSON_CreateNumber((double)values[i]));
    return array;
}

/* A batch of BATCH rows of lengths in 2..STEPS, each value drawn by `draw`
 * for its own steps and PAD after. */
static void make_batch(ag_sequence_batch *s, int features, ag_rng *rng, void (*draw)(ag_rng *, ag_real *, int)) {
    if (ag_sequence_batch_init(s, BATCH, STEPS, features) != AG_OK) die("ag_sequence_batch_init");
    for (int b = 0; b < BATCH; b++) {
        int length = b == 0 ? STEPS : 2 + (int)ag_rng_below(rng, STEPS - 1);
        s->lengths[b] = length;
        ag_real *row = s->values + (size_t)b * STEPS * features;
        for (int i = 0; i < STEPS * features; i++) row[i] = PAD;
        draw(rng, row, length);
    }
}

static void add_batch(cJSON *root, const ag_sequence_batch *s) {
    cJSON_AddItemToObject(root, "x", floats(s->values, s->batch * s->max_length * s->features));
    cJSON_AddItemToObject(root, "shape",
                          cJSON_CreateIntArray((int[]){s->batch, s->max_length, s->features}, 3));
    cJSON_AddItemToObject(root, "lengths", cJSON_CreateIntArray(s->lengths, s->batch));
}

static void draw_normal(ag_rng *rng, ag_real *row, int length) {
    for (int t = 0; t < length; t++) row[t] = (ag_real)ag_rng_normal(rng);
}

/* Adding-problem pairs (value, marker): one marker in each half. */
static void draw_pairs(ag_rng *rng, ag_real *row, int length) {
    for (int t = 0; t < length; t++) {
        row[2 * t] = (ag_real)ag_rng_uniform(rng);
        row[2 * t + 1] = 0;
    }
    int half = length / 2;
    row[2 * (int)ag_rng_below(rng, (uint32_t)half) + 1] = 1;
    row[2 * (half + (int)ag_rng_below(rng, (uint32_t)(length - half))) + 1] = 1;
}

static void l1norm(cJSON *root, bool bias, const char *path, ag_ctx *ctx, ag_rng *rng) {
    l1norm_model model;
    if (l1norm_model_init(&model, bias, rng) != AG_OK) die("l1norm_model_init");
    if (ag_params_load(model.params, path) != AG_OK) die("ag_params_load");
    ag_sequence_batch s;
    make_batch(&s, 1, rng, draw_normal);
    ag_tensor *out = l1norm_forward(ctx, &model, &s);
    if (!out) die("l1norm_forward");
    add_batch(root, &s);
    cJSON_AddItemToObject(root, "out", floats(out->data, BATCH));
    ag_real values[LONG];
    for (int i = 0; i < LONG; i++) values[i] = (ag_real)ag_rng_normal(rng);
    double prediction;
    if (l1norm_predict(ctx, &model, values, LONG, &prediction) != AG_OK) die("l1norm_predict");
    cJSON_AddItemToObject(root, "long_x", floats(values, LONG));
    cJSON_AddNumberToObject(root, "long_out", prediction);
    ag_sequence_batch_free(&s);
    l1norm_model_free(&model);
}

static void adding(cJSON *root, const char *kind, int hidden, const char *path, ag_ctx *ctx, ag_rng *rng) {
    const char *names[] = {"irnn", "rnn-tanh", "lstm", "gru"};
    const adding_kind kinds[] = {ADDING_IRNN, ADDING_RNN_TANH, ADDING_LSTM, ADDING_GRU};
    int k = 0;
    while (k < 4 && strcmp(kind, names[k]) != 0) k++;
    if (k == 4) die(kind);
    adding_model model;
    if (adding_model_init(&model, kinds[k], hidden, 1.0, 1.0, rng) != AG_OK) die("adding_model_init");
    if (ag_params_load(model.params, path) != AG_OK) die("ag_params_load");
    ag_sequence_batch s;
    make_batch(&s, 2, rng, draw_pairs);
    ag_tensor *out = adding_forward(ctx, &model, &s);
    if (!out) die("adding_forward");
    add_batch(root, &s);
    cJSON_AddItemToObject(root, "out", floats(out->data, BATCH));
    ag_sequence_batch_free(&s);
    adding_model_free(&model);
}

/* Digit sums: logits after every symbol of d_1..d_L EOS a_1..a_m (the
 * model's cell and readout over one batch of rows of their own lengths),
 * digitsum_loss of each example and of all, digitsum_decode's answers. */
static void digitsum(cJSON *root, const char *kind, int hidden, const char *path, ag_ctx *ctx, ag_rng *rng) {
    static const char *const digits[] = {"3", "58", "406", "9999", "12345", "0", "77", "2020"};
    enum { N = sizeof digits / sizeof digits[0] };
    digitsum_model model;
    bool lstm = strcmp(kind, "lstm") == 0;
    if (digitsum_model_init(&model, lstm ? DIGITSUM_LSTM : DIGITSUM_RNN, hidden, rng) != AG_OK)
        die("digitsum_model_init");
    if (ag_params_load(model.params, path) != AG_OK) die("ag_params_load");
    digitsum_example examples[N];
    const digitsum_example *batch[N];
    int lengths[N], steps = 0;
    for (int i = 0; i < N; i++) {
        if (digitsum_example_set(&examples[i], digits[i], strlen(digits[i])) != AG_OK) die(digits[i]);
        batch[i] = &examples[i];
        lengths[i] = examples[i].length + examples[i].answer_length + 1;
        if (lengths[i] > steps) steps = lengths[i];
    }
    ag_tensor *x = ag_zeros(ctx, 3, (int[]){N, steps, DIGITSUM_SYMBOLS});
    if (!x) die("ag_zeros");
    for (int i = 0; i < N; i++)
        for (int t = 0; t < lengths[i]; t++) {
            const digitsum_example *e = &examples[i];
            int symbol = t < e->length    ? e->digits[t] - '0'
                         : t == e->length ? DIGITSUM_EOS
                                          : e->answer[t - e->length - 1] - '0';
            x->data[((size_t)i * steps + t) * DIGITSUM_SYMBOLS + symbol] = 1;
        }
    ag_tensor *h0 = ag_zeros(ctx, 2, (int[]){N, hidden});
    ag_tensor *states = lstm ? ag_lstm_cell_sequence(ctx, &model.lstm, x, lengths,
                                                     (ag_lstm_state){h0, ag_zeros(ctx, 2, (int[]){N, hidden})})
                                   .h
                             : ag_rnn_cell_sequence(ctx, &model.rnn, x, lengths, h0);
    ag_tensor *logits =
        ag_linear_forward(ctx, &model.readout, ag_reshape(ctx, states, 2, (int[]){N * steps, hidden}));
    if (!logits) die("logits");
    cJSON *all = cJSON_AddArrayToObject(root, "logits"), *losses = cJSON_AddArrayToObject(root, "loss");
    cJSON *answers = cJSON_AddArrayToObject(root, "answers");
    for (int i = 0; i < N; i++) {
        cJSON_AddItemToArray(all, floats(logits->data + (size_t)i * steps * DIGITSUM_SYMBOLS,
                                         lengths[i] * DIGITSUM_SYMBOLS));
        ag_tensor *loss = digitsum_loss(ctx, &model, &batch[i], 1);
        if (!loss) die("digitsum_loss");
        cJSON_AddItemToArray(losses, cJSON_CreateNumber((double)loss->data[0]));
        char answer[1][DIGITSUM_MAX_ANSWER + 2];
        if (digitsum_decode(ctx, &model, &batch[i], 1, answer, NULL) != AG_OK) die("digitsum_decode");
        cJSON_AddItemToArray(answers, cJSON_CreateString(answer[0]));
    }
    ag_tensor *loss = digitsum_loss(ctx, &model, batch, N);
    if (!loss) die("digitsum_loss");
    cJSON_AddNumberToObject(root, "batch_loss", (double)loss->data[0]);
    cJSON_AddItemToObject(root, "digits", cJSON_CreateStringArray(digits, N));
    digitsum_model_free(&model);
}

int main(int argc, char **argv) {
    bool l1 = argc == 4 && strcmp(argv[1], "l1norm") == 0;
    if (!l1 && !(argc == 5 && (strcmp(argv[1], "adding") == 0 || strcmp(argv[1], "digitsum") == 0))) {
        fprintf(stderr, "usage: interop_torch l1norm BIAS CHECKPOINT | adding|digitsum KIND HIDDEN CHECKPOINT\n");
        return 2;
    }
    ag_ctx *ctx = ag_ctx_create();
    if (!ctx) die("ag_ctx_create");
    ag_set_grad_enabled(ctx, false);
    ag_rng rng;
    ag_rng_seed(&rng, 2718, 0);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "demo", argv[1]);
    if (l1)
        l1norm(root, strcmp(argv[2], "1") == 0, argv[3], ctx, &rng);
    else if (strcmp(argv[1], "adding") == 0)
        adding(root, argv[2], atoi(argv[3]), argv[4], ctx, &rng);
    else
        digitsum(root, argv[2], atoi(argv[3]), argv[4], ctx, &rng);
    char *text = cJSON_Print(root);
    if (!text) die("cJSON_Print");
    puts(text);
    free(text);
    cJSON_Delete(root);
    ag_ctx_free(ctx);
    return 0;
}
