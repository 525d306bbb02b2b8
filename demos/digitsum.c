/* digitsum: a recurrent seq2seq model reads decimal digits and writes the
 * digits of their sum. Subcommands: gen-data, train, predict, eval. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "ag_run.h"
#include "digitsum.h"
#include "harness.h"

static const char *const USAGE =
    "digitsum: a tanh RNN or LSTM reads a sequence of digits and writes the digits of their sum.\n\n"
    "Usage:\n"
    "  digitsum gen-data --len K --out FILE [--only] [--sample N --seed S]\n"
    "  digitsum train --data FILE [--model rnn|lstm] [flags]\n"
    "  digitsum predict --checkpoint FILE [--model rnn|lstm] [--hidden N] DIGITS... | -\n"
    "  digitsum eval --checkpoint FILE --data FILE [--model rnn|lstm] [--hidden N]\n\n"
    "Run 'digitsum COMMAND --help' for a command's flags.";

static int fail(const char *what) {
    fprintf(stderr, "digitsum: %s: %s\n", what, ag_error_message());
    return 1;
}

static bool parse_kind(const char *name, digitsum_kind *kind) {
    if (strcmp(name, "rnn") == 0) *kind = DIGITSUM_RNN;
    else if (strcmp(name, "lstm") == 0) *kind = DIGITSUM_LSTM;
    else {
        char shown[64];
        fprintf(stderr, "digitsum: --model: '%s' is not one of rnn, lstm\n", ag_printable(name, shown, sizeof shown));
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- gen-data */

static int gen_data(int argc, char **argv) {
    long length = 4, sample = 0, seed = 42;
    const char *out = NULL;
    bool only = false;
    const flag_spec specs[] = {
        {"len", FLAG_INT, &length, 1, DIGITSUM_MAX_DIGITS, false, "longest sequence length K", false},
        {"out", FLAG_STRING, &out, 0, 0, false, "CSV file to write", false},
        {"only", FLAG_BOOL, &only, 0, 0, false, "only length K (default: every length 2..K, as the original)", false},
        {"sample", FLAG_INT, &sample, 0, 1e9, false, "write N random sequences of length K instead of all", false},
        {"seed", FLAG_INT, &seed, 0, 4294967295.0, false, "seed for --sample", false},
    };
    int parsed = flags_parse("digitsum gen-data", USAGE, specs, 5, argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
    if (!out) {
        fprintf(stderr, "digitsum gen-data: --out is required\n");
        return 2;
    }
    int first = sample > 0 || only ? (int)length : (length < 2 ? (int)length : 2);
    int64_t total = 0;
    if (sample > 0) total = sample;
    else {
        if (length > 7) {
            fprintf(stderr, "digitsum gen-data: --len %ld: all sequences would be 10^%ld rows; use --sample N\n", length,
                    length);
            return 2;
        }
        for (int L = first; L <= length; L++) total += (int64_t)pow(10, L);
    }
    digitsum_dataset data = {calloc((size_t)total, sizeof(digitsum_example)), 0};
    if (!data.examples) {
        fprintf(stderr, "digitsum gen-data: out of memory for %lld rows\n", (long long)total);
        return 1;
    }
    char digits[DIGITSUM_MAX_DIGITS + 1];
    ag_rng rng;
    ag_rng_seed(&rng, (uint64_t)seed, 0);
    for (int L = first; L <= length && sample == 0; L++)
        for (int64_t value = 0; value < (int64_t)pow(10, L); value++) {
            snprintf(digits, sizeof digits, "%0*lld", L, (long long)value);
            digitsum_example_set(&data.examples[data.count++], digits, (size_t)L);
        }
    for (int64_t i = 0; i < sample; i++) {
        for (int t = 0; t < length; t++) digits[t] = (char)('0' + ag_rng_below(&rng, 10));
        digitsum_example_set(&data.examples[data.count++], digits, (size_t)length);
    }
    /* A gen-data killed mid-write left OUT.tmp.PID: gone with its process. */
    ag_atomic_file_remove_stale(out);
    ag_status status = digitsum_write_csv(out, &data);
    digitsum_dataset_free(&data);
    if (status != AG_OK) return fail("gen-data --out");
    printf("wrote %lld rows to %s\n", (long long)total, out);
    return 0;
}

/* ----------------------------------------------------------- batches */

/* A split's examples cut into batches: each epoch shuffles the examples
 * and the batches. Training batches mix lengths (padded and masked, as
 * PyTorch's are); decoding needs one input length a batch. */
typedef struct batch_slice {
    int64_t start, size; /* examples[start .. start + size) */
} batch_slice;

typedef struct batches {
    const digitsum_example **examples; /* ordered by group */
    batch_slice *slices;
    int64_t *keys; /* scratch for the grouping sort */
    int64_t count;
} batches;

/* Room for cutting n examples into batches; false when out of memory. */
static bool batches_init(batches *b, int64_t n) {
    b->examples = malloc((size_t)n * sizeof *b->examples);
    b->slices = malloc((size_t)n * sizeof *b->slices);
    b->keys = malloc((size_t)n * sizeof *b->keys);
    b->count = 0;
    if (!b->examples || !b->slices || !b->keys) ag_error_set(AG_ERROR_MEMORY, "out of memory for %lld examples", (long long)n);
    return b->examples && b->slices && b->keys;
}

static void batches_free(batches *b) {
    free(b->examples);
    free(b->slices);
    free(b->keys);
}

static int compare_examples(const void *a, const void *b) {
    const digitsum_example *x = *(const digitsum_example *const *)a, *y = *(const digitsum_example *const *)b;
    return x->length - y->length;
}

static int compare_keys(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Shuffles the pool and cuts it into batches. Training batches mix every
 * length, as PyTorch's padded batches do (batches grouped by answer length
 * reached 99.40% (LSTM) and 98.70% (RNN) after 50 epochs, mixed ones
 * 99.50% and 99.30%); decoding needs one input length a batch, so
 * `by_input_length` groups them first. */
static void make_batches(batches *out, const digitsum_example **pool, int64_t n, int batch_size, bool by_input_length,
                         ag_rng *rng) {
    /* The shuffle cannot fail: n is below 2^32, since each example took memory. */
    ag_rng_shuffle(rng, pool, (size_t)n, sizeof *pool); /* grouping below keeps the order within a group */
    /* qsort is not stable: sort by group with the shuffled position as tie-break. */
    int64_t *keys = out->keys;
    for (int64_t i = 0; i < n; i++) keys[i] = (by_input_length ? (int64_t)pool[i]->length << 32 : 0) | i;
    qsort(keys, (size_t)n, sizeof *keys, compare_keys);
    for (int64_t i = 0; i < n; i++) out->examples[i] = pool[keys[i] & 0xffffffff];
    out->count = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && j - i < batch_size &&
               (!by_input_length || compare_examples(&out->examples[i], &out->examples[j]) == 0))
            j++;
        out->slices[out->count++] = (batch_slice){i, j - i};
        i = j;
    }
    ag_rng_shuffle(rng, out->slices, (size_t)out->count, sizeof *out->slices);
}

/* Validation: teacher-forced loss and exact-match accuracy under greedy
 * decoding, in batches of one group at a time. */
static ag_status evaluate(ag_ctx *ctx, const digitsum_model *model, batches *groups, double *loss, double *accuracy) {
    bool was_enabled = ag_set_grad_enabled(ctx, false);
    double loss_sum = 0;
    int64_t right = 0, total = 0;
    static char answers[4096][DIGITSUM_MAX_ANSWER + 2];
    static bool correct[4096];
    ag_status status = AG_OK;
    for (int64_t b = 0; b < groups->count && status == AG_OK; b++) {
        const digitsum_example *const *batch = groups->examples + groups->slices[b].start;
        int n = (int)groups->slices[b].size;
        ag_tensor *l = digitsum_loss(ctx, model, batch, n);
        if (!l) status = ag_error_code();
        else loss_sum += (double)l->data[0] * n;
        ag_ctx_reset(ctx);
        if (status == AG_OK) status = digitsum_decode(ctx, model, batch, n, answers, correct);
        ag_ctx_reset(ctx);
        for (int i = 0; i < n; i++) right += correct[i];
        total += n;
    }
    ag_set_grad_enabled(ctx, was_enabled);
    *loss = loss_sum / (double)total;
    *accuracy = (double)right / (double)total;
    return status;
}

/* ------------------------------------------------------------------ train */

/* The data order, the one thing besides the weights and Adam's state that
 * changes from epoch to epoch. The order of the next epoch depends on
 * every earlier shuffle of the pool, so a resumed run replays those
 * shuffles (cheap: no training) and checks that it reaches the saved
 * generator state. */
typedef struct data_order {
    const digitsum_example **pool;
    int64_t n;
    int batch_size;
    batches *train;
    ag_rng rng;
    const char *data_path;
    uint64_t fingerprint; /* of the data file's rows (data_fingerprint) */
} data_order;

/* FNV-1a (64 bits) of the rows as the file gives them, in its order: a
 * resumed run must train on the rows it began with, and another file of
 * as many rows replays the same data order. */
static uint64_t data_fingerprint(const digitsum_dataset *data) {
    uint64_t hash = 0xcbf29ce484222325u;
    for (int64_t i = 0; i < data->count; i++) {
        const digitsum_example *e = &data->examples[i];
        for (const char *c = e->digits; *c; c++) hash = (hash ^ (unsigned char)*c) * 0x100000001b3u;
        hash = (hash ^ ',') * 0x100000001b3u;
        for (const char *c = e->answer; *c; c++) hash = (hash ^ (unsigned char)*c) * 0x100000001b3u;
        hash = (hash ^ '\n') * 0x100000001b3u;
    }
    return hash;
}

static ag_status save_state(const void *data, ag_checkpoint_writer *cp) {
    const data_order *order = data;
    char fingerprint[24];
    snprintf(fingerprint, sizeof fingerprint, "%016llx", (unsigned long long)order->fingerprint);
    ag_status status = ag_checkpoint_set_rng(cp, "train.rng.order", &order->rng);
    return status == AG_OK ? ag_checkpoint_set_metadata(cp, "train.data_fingerprint", fingerprint) : status;
}

/* The saved fingerprint against the data's; a checkpoint of a build
 * before the fingerprint has none, and resumes as it did. */
static ag_status check_fingerprint(const data_order *order, const ag_checkpoint *cp) {
    const char *saved = ag_checkpoint_metadata(cp, "train.data_fingerprint");
    if (!saved) return AG_OK;
    char shown[40];
    if (strlen(saved) != 16 || strspn(saved, "0123456789abcdef") != 16)
        return ag_error_set(AG_ERROR_FORMAT, "metadata 'train.data_fingerprint' is '%s', not 16 hex digits",
                            ag_printable(saved, shown, sizeof shown));
    unsigned long long run_fingerprint = strtoull(saved, NULL, 16);
    if (run_fingerprint != order->fingerprint)
        return ag_error_set(AG_ERROR_STATE,
                            "%s holds other rows than the run was trained on (fingerprint %016llx, the run's %016llx)",
                            order->data_path, (unsigned long long)order->fingerprint, run_fingerprint);
    return AG_OK;
}

static ag_status restore_state(void *data, const ag_checkpoint *cp, int64_t epoch) {
    data_order *order = data;
    ag_rng saved;
    ag_status status = ag_checkpoint_get_rng(cp, "train.rng.order", &saved);
    for (int64_t e = 0; status == AG_OK && e < epoch; e++)
        make_batches(order->train, order->pool, order->n, order->batch_size, false, &order->rng);
    /* The replay catches a file of another length; the fingerprint, one of
     * as many other rows. */
    if (status == AG_OK && (saved.state != order->rng.state || saved.increment != order->rng.increment))
        status = ag_error_set(AG_ERROR_STATE, "replaying %lld epochs of %s does not reach the saved data order "
                              "(has the data file changed?)", (long long)epoch, order->data_path);
    if (status == AG_OK) status = check_fingerprint(order, cp);
    return status;
}

/* One pass over the training batches: the mean loss per sequence, or NAN
 * after a failure (with d's message printed). */
static double train_epoch(demo *d, ag_ctx *ctx, const digitsum_model *model, const batches *train,
                          int64_t n_train) {
    double loss_sum = 0;
    for (int64_t b = 0; b < train->count; b++) {
        int n = (int)train->slices[b].size;
        const digitsum_example *const *rows = train->examples + train->slices[b].start;
        /* The loss is a mean over the batch's scored symbols: each chunk's
         * mean counts by its share of them. */
        int scored = 0;
        for (int i = 0; i < n; i++) scored += rows[i]->answer_length + 1;
        for (int k = d->first_chunk; k < d->first_chunk + d->my_chunks; k++) {
            int first, count, chunk_scored = 0;
            demo_chunk_rows(d, n, k, &first, &count);
            for (int i = first; i < first + count; i++) chunk_scored += rows[i]->answer_length + 1;
            ag_params_zero_grad(model->params);
            ag_real share = 0;
            if (count > 0) {
                ag_tensor *loss = ag_scale(ctx, digitsum_loss(ctx, model, rows + first, count),
                                           (ag_real)chunk_scored / (ag_real)scored);
                if (ag_backward(ctx, loss) != AG_OK) return demo_fail(d, "training step"), NAN;
                share = loss->data[0];
                ag_ctx_reset(ctx);
            }
            if (!demo_keep_chunk(d, k, share)) return NAN;
        }
        ag_real loss_value;
        if (!demo_sum_chunks(d, &loss_value)) return NAN;
        if (!demo_finite(d, loss_value)) return NAN;
        loss_sum += (double)loss_value * n;
        if (!demo_step(d)) return NAN;
    }
    return loss_sum / (double)n_train;
}

static int train(int argc, char **argv) {
    const char *data_path = NULL, *model_name = "lstm";
    long epochs = 20, hidden = 128, batch_size = 64, seed = 42;
    double lr = 1e-3, split = 0.8, weight_decay = 0;
    demo d;
    demo_init(&d, "digitsum train", "digitsum", DEMO_EPOCHS, 1);
    const flag_spec specs[] = {
        {"data", FLAG_STRING, &data_path, 0, 0, false, "CSV file (digits,sum), e.g. data/seq_len_4.csv", false},
        {"model", FLAG_STRING, &model_name, 0, 0, false, "rnn (tanh RNNCell) or lstm (LSTMCell)", false},
        {"epochs", FLAG_INT, &epochs, 1, 1e6, false, "passes over the training set", false},
        {"hidden", FLAG_INT, &hidden, 1, 4096, false, "hidden units", false},
        {"lr", FLAG_DOUBLE, &lr, 0, 10, true, "Adam learning rate", false},
        {"weight-decay", FLAG_DOUBLE, &weight_decay, 0, 10, false, "Adam weight decay", false},
        {"batch", FLAG_INT, &batch_size, 1, 4096, false, "sequences per step", false},
        {"split", FLAG_DOUBLE, &split, 0, 1, true, "share of the data used for training (seeded shuffle)", false},
        {"seed", FLAG_INT, &seed, 0, 4294967295.0, false, "random seed (init, split, order)", false},
        DEMO_CHUNKS_FLAG(&d),
        DEMO_RUN_FLAGS(&d),
    };
    if (!demo_parse(&d, USAGE, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv)) return d.exit_code;
    digitsum_kind kind;
    if (!parse_kind(model_name, &kind)) return demo_close(&d), 2;
    if (!data_path) {
        fprintf(stderr, "digitsum train: --data is required (make one with: digitsum gen-data --len 4 --out FILE)\n");
        return demo_close(&d), 2;
    }

    /* Data: a seeded shuffle, then the split; validation batches of one input length. */
    digitsum_dataset data;
    if (digitsum_load_csv(data_path, &data) != AG_OK) return demo_fail(&d, "--data");
    ag_rng split_rng, init_rng;
    ag_rng_seed(&init_rng, (uint64_t)seed, 0);
    ag_rng_seed(&split_rng, (uint64_t)seed, 1);
    const digitsum_example **all = malloc((size_t)data.count * sizeof *all);
    if (!all) ag_error_set(AG_ERROR_MEMORY, "out of memory for %lld rows", (long long)data.count);
    if (!all) return demo_fail(&d, "--data");
    for (int64_t i = 0; i < data.count; i++) all[i] = &data.examples[i];
    ag_rng_shuffle(&split_rng, all, (size_t)data.count, sizeof *all);
    int64_t n_train = (int64_t)(split * (double)data.count), n_val = data.count - n_train;
    if (n_train < 1 || n_val < 1) {
        char shown[1024];
        fprintf(stderr, "digitsum train: --split %g leaves %lld training and %lld validation rows of %s\n", split,
                (long long)n_train, (long long)n_val, ag_printable(data_path, shown, sizeof shown));
        return demo_close(&d), 2;
    }
    batches train_batches, val_batches;
    if (!batches_init(&train_batches, n_train) || !batches_init(&val_batches, n_val)) return demo_fail(&d, "--data");
    data_order order = {all, n_train, (int)batch_size, &train_batches, {0, 0}, data_path, data_fingerprint(&data)};
    ag_rng_seed(&order.rng, (uint64_t)seed, 2);
    make_batches(&val_batches, all + n_train, n_val, (int)batch_size, true, &order.rng);

    /* Model: teacher-forced cross-entropy, Adam. */
    digitsum_model model;
    if (digitsum_model_init(&model, kind, (int)hidden, &init_rng) != AG_OK) return demo_fail(&d, "model");
    demo_optimizer adam;
    if (demo_optimizer_init(&adam, "adam", model.params, lr) != AG_OK) return demo_fail(&d, "optimizer");
    adam.adam.weight_decay = weight_decay;
    ag_ctx *ctx = ag_ctx_create();
    demo_set_param(&d, "rows", "%lld", (long long)data.count);
    demo_set_param(&d, "train_rows", "%lld", (long long)n_train);
    const char *const columns[] = {"loss", "val_loss", "val_acc", "seconds"};
    /* Its own line for each epoch replaces the plain progress line. */
    if (!demo_open(&d, &(demo_training){.params = model.params, .optimizer = &adam,
                                        .state = {&order, save_state, restore_state}, .columns = columns,
                                        .n_columns = 4, .total = epochs, .progress_every = INT64_MAX,
                                        .batch_rows = (int)batch_size}))
        return d.exit_code;

    double val_loss = NAN, val_acc = NAN, epoch_seconds = 0;
    while (demo_running(&d)) {
        double epoch_start = ag_seconds();
        make_batches(&train_batches, all, n_train, (int)batch_size, false, &order.rng);
        double train_loss = train_epoch(&d, ctx, &model, &train_batches, n_train);
        if (d.exit_code != 0) break;
        epoch_seconds = ag_seconds() - epoch_start;
        if (evaluate(ctx, &model, &val_batches, &val_loss, &val_acc) != AG_OK) return demo_fail(&d, "validation");
        d.step++;
        if (!demo_log(&d, (double[]){train_loss, val_loss, val_acc, epoch_seconds})) break;
        if (!d.quiet && !d.progress.terminal)
            printf("epoch %lld: loss %.5f  val_loss %.5f  val_acc %.4f  %.2f s\n", (long long)d.step, train_loss,
                   val_loss, val_acc, epoch_seconds);
    }

    if (demo_finish(&d)) {
        if (isnan(val_acc) && evaluate(ctx, &model, &val_batches, &val_loss, &val_acc) != AG_OK)
            return demo_fail(&d, "validation");
        if (demo_save_model(&d))
            demo_summary(&d, "model=%s epochs=%ld val_acc=%.4f val_loss=%.6f seconds=%.2f epoch_seconds=%.3f",
                   model_name, epochs, val_acc, val_loss, d.seconds, epoch_seconds);
    }
    batches_free(&train_batches);
    batches_free(&val_batches);
    free(all);
    digitsum_dataset_free(&data);
    demo_optimizer_free(&adam);
    ag_ctx_free(ctx);
    digitsum_model_free(&model);
    return demo_close(&d);
}

/* ------------------------------------------------------- predict and eval */

static int load_model(const char *checkpoint, const char *model_name, long hidden, digitsum_model *model) {
    digitsum_kind kind;
    if (!parse_kind(model_name, &kind)) return 2;
    ag_rng rng;
    ag_rng_seed(&rng, 0, 0);
    if (digitsum_model_init(model, kind, (int)hidden, &rng) != AG_OK) return fail("model");
    if (ag_params_load(model->params, checkpoint) != AG_OK) {
        if (ag_error_code() == AG_ERROR_IO)
            fprintf(stderr, "digitsum: %s\n", ag_error_message());
        else
            fprintf(stderr, "digitsum: %s (is it a --model %s --hidden %ld checkpoint?)\n", ag_error_message(),
                    model_name, hidden);
        digitsum_model_free(model);
        return 1;
    }
    /* A NaN or infinite weight answers garbage for every input. */
    if (ag_params_check_finite(model->params, false) != AG_OK) {
        char shown[1024];
        fprintf(stderr, "digitsum: %s: %s\n", ag_printable(checkpoint, shown, sizeof shown), ag_error_message());
        digitsum_model_free(model);
        return 1;
    }
    return 0;
}

/* One sequence: `length` bytes of `text` (an argument, or a line of
 * stdin without its line end; `where` names the line). */
static int predict_one(ag_ctx *ctx, const digitsum_model *model, const char *text, size_t length, const char *where) {
    digitsum_example e;
    if (digitsum_example_set(&e, text, length) != AG_OK) {
        char part[42], shown[44]; /* the first 40 bytes, "..." after them if there are more */
        snprintf(part, sizeof part, "%.*s", (int)(length > 41 ? 41 : length), text);
        fprintf(stderr, "digitsum predict: %s'%s': %s\n", where, ag_printable(part, shown, sizeof shown),
                ag_error_message());
        return 1;
    }
    char answer[1][DIGITSUM_MAX_ANSWER + 2];
    const digitsum_example *batch[1] = {&e};
    if (digitsum_decode(ctx, model, batch, 1, answer, NULL) != AG_OK) return fail("predict");
    ag_ctx_reset(ctx);
    printf("%s\n", answer[0]);
    return 0;
}

/* The lines of stdin, whole whatever their length (a line of 300 digits
 * is one of 300 digits), each ended by \n or \r\n. */
static int predict_stdin(ag_ctx *ctx, const digitsum_model *model) {
    char *line = NULL, where[64];
    size_t capacity = 0;
    ssize_t n;
    int status = 0;
    for (long number = 1; status == 0 && (n = getline(&line, &capacity, stdin)) >= 0; number++) {
        size_t length = (size_t)n;
        if (length > 0 && line[length - 1] == '\n') length--;
        if (length > 0 && line[length - 1] == '\r') length--;
        snprintf(where, sizeof where, "stdin:%ld: ", number);
        /* The digits would end at a NUL unseen ("12<NUL>9" read as 12). */
        if (memchr(line, '\0', length)) {
            fprintf(stderr, "digitsum predict: %sthe line holds a NUL byte (not a text file?)\n", where);
            status = 1;
        } else {
            status = predict_one(ctx, model, line, length, where);
        }
    }
    if (status == 0 && ferror(stdin)) {
        fprintf(stderr, "digitsum predict: stdin: cannot read: %s\n", strerror(errno));
        status = 1;
    }
    free(line);
    return status;
}

static int predict(int argc, char **argv) {
    const char *checkpoint = NULL, *model_name = "lstm";
    long hidden = 128;
    const flag_spec specs[] = {
        {"checkpoint", FLAG_STRING, &checkpoint, 0, 0, false, "model.safetensors of a training run", false},
        {"model", FLAG_STRING, &model_name, 0, 0, false, "rnn or lstm: the checkpoint's model", false},
        {"hidden", FLAG_INT, &hidden, 1, 4096, false, "the checkpoint's hidden units", false},
    };
    char **sequences = malloc((size_t)argc * sizeof *sequences);
    int n_sequences = 0;
    int parsed = flags_parse("digitsum predict", USAGE, specs, 3, argc, argv, sequences, &n_sequences);
    if (parsed != FLAGS_OK || !checkpoint || n_sequences == 0) {
        if (parsed == FLAGS_OK)
            fprintf(stderr, "digitsum predict: %s\n",
                    !checkpoint ? "--checkpoint is required" : "give digit sequences, or - to read them from stdin");
        free(sequences);
        return parsed == FLAGS_HELP ? 0 : 2;
    }
    digitsum_model model;
    int status = load_model(checkpoint, model_name, hidden, &model);
    if (status != 0) {
        free(sequences);
        return status;
    }
    ag_ctx *ctx = ag_ctx_create();
    for (int i = 0; i < n_sequences && status == 0; i++) {
        if (strcmp(sequences[i], "-") != 0) {
            status = predict_one(ctx, &model, sequences[i], strlen(sequences[i]), "");
            continue;
        }
        status = predict_stdin(ctx, &model);
    }
    ag_ctx_free(ctx);
    digitsum_model_free(&model);
    free(sequences);
    return status;
}

static int eval(int argc, char **argv) {
    const char *checkpoint = NULL, *data_path = NULL, *model_name = "lstm";
    long hidden = 128;
    const flag_spec specs[] = {
        {"checkpoint", FLAG_STRING, &checkpoint, 0, 0, false, "model.safetensors of a training run", false},
        {"data", FLAG_STRING, &data_path, 0, 0, false, "CSV file (digits,sum)", false},
        {"model", FLAG_STRING, &model_name, 0, 0, false, "rnn or lstm: the checkpoint's model", false},
        {"hidden", FLAG_INT, &hidden, 1, 4096, false, "the checkpoint's hidden units", false},
    };
    int parsed = flags_parse("digitsum eval", USAGE, specs, 4, argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
    if (!checkpoint || !data_path) {
        fprintf(stderr, "digitsum eval: --checkpoint and --data are required\n");
        return 2;
    }
    digitsum_dataset data;
    if (digitsum_load_csv(data_path, &data) != AG_OK) return fail("eval");
    digitsum_model model;
    int status = load_model(checkpoint, model_name, hidden, &model);
    if (status != 0) {
        digitsum_dataset_free(&data);
        return status;
    }
    const digitsum_example **all = malloc((size_t)data.count * sizeof *all);
    batches groups;
    if (!all || !batches_init(&groups, data.count)) {
        fprintf(stderr, "digitsum eval: out of memory for %lld rows\n", (long long)data.count);
        return 1;
    }
    for (int64_t i = 0; i < data.count; i++) all[i] = &data.examples[i];
    ag_rng rng;
    ag_rng_seed(&rng, 0, 0);
    make_batches(&groups, all, data.count, 256, true, &rng);
    ag_ctx *ctx = ag_ctx_create();
    double loss, accuracy;
    if (evaluate(ctx, &model, &groups, &loss, &accuracy) != AG_OK) {
        status = fail("eval");
    } else if (!isfinite(loss) || !isfinite(accuracy)) {
        /* Finite weights can still overflow (1e38 and up): a loss of nan
         * or inf is no score. */
        char shown[1024], data_shown[1024];
        fprintf(stderr, "digitsum eval: %s: loss %g, accuracy %g on %s: no score (do its weights overflow?)\n",
                ag_printable(checkpoint, shown, sizeof shown), loss, accuracy,
                ag_printable(data_path, data_shown, sizeof data_shown));
        status = 1;
    } else {
        printf("accuracy %.4f (%lld sequences)  loss %.6f\n", accuracy, (long long)data.count, loss);
    }
    ag_ctx_free(ctx);
    batches_free(&groups);
    free(all);
    digitsum_model_free(&model);
    digitsum_dataset_free(&data);
    return status;
}

int main(int argc, char **argv) {
    demo_fit_blas_kernels(argv); /* the right OpenBLAS kernels, or this process as it is */
    if (argc < 2) {
        fprintf(stderr, "digitsum: give a command: gen-data, train, predict or eval (see --help)\n");
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        puts(USAGE);
        return 0;
    }
    const char *command = argv[1];
    if (strcmp(command, "gen-data") == 0) return gen_data(argc - 1, argv + 1);
    if (strcmp(command, "train") == 0) return train(argc - 1, argv + 1);
    if (strcmp(command, "predict") == 0) return predict(argc - 1, argv + 1);
    if (strcmp(command, "eval") == 0) return eval(argc - 1, argv + 1);
    char shown[64];
    fprintf(stderr, "digitsum: unknown command '%s' (gen-data, train, predict, eval; see --help)\n",
            ag_printable(command, shown, sizeof shown));
    return 2;
}
