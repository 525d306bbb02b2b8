/* digitsum: a recurrent seq2seq model reads decimal digits and writes the
 * digits of their sum. Subcommands: gen-data, train, predict, eval. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "ag_run.h"
#include "digitsum.h"
#include "flags.h"

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
    ag_status status = digitsum_write_csv(out, &data);
    digitsum_dataset_free(&data);
    if (status != AG_OK) return fail("gen-data --out");
    printf("wrote %lld rows to %s\n", (long long)total, out);
    return 0;
}

/* ----------------------------------------------------------- batches */

/* Examples grouped by (input length, answer length), so that a batch runs
 * without padding; each epoch shuffles the examples and the batches. */
typedef struct batches {
    const digitsum_example **examples; /* ordered by group */
    int64_t *starts, *sizes;           /* each batch: a slice of examples */
    int64_t count;
} batches;

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
    for (int64_t i = n - 1; i > 0; i--) { /* shuffle; grouping below keeps the order within a group */
        int64_t j = (int64_t)ag_rng_below(rng, (uint32_t)(i + 1));
        const digitsum_example *swap = pool[i];
        pool[i] = pool[j];
        pool[j] = swap;
    }
    /* qsort is not stable: sort by group with the shuffled position as tie-break. */
    int64_t *keys = malloc((size_t)n * sizeof *keys);
    for (int64_t i = 0; i < n; i++) keys[i] = (by_input_length ? (int64_t)pool[i]->length << 32 : 0) | i;
    qsort(keys, (size_t)n, sizeof *keys, compare_keys);
    for (int64_t i = 0; i < n; i++) out->examples[i] = pool[keys[i] & 0xffffffff];
    free(keys);
    out->count = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && j - i < batch_size &&
               (!by_input_length || compare_examples(&out->examples[i], &out->examples[j]) == 0))
            j++;
        out->starts[out->count] = i;
        out->sizes[out->count] = j - i;
        out->count++;
        i = j;
    }
    for (int64_t b = out->count - 1; b > 0; b--) {
        int64_t c = (int64_t)ag_rng_below(rng, (uint32_t)(b + 1)), s = out->starts[b], z = out->sizes[b];
        out->starts[b] = out->starts[c];
        out->sizes[b] = out->sizes[c];
        out->starts[c] = s;
        out->sizes[c] = z;
    }
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
        const digitsum_example *const *batch = groups->examples + groups->starts[b];
        int n = (int)groups->sizes[b];
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

/* A checkpoint at the end of an epoch: the weights, Adam's state and the
 * generator. The order of the next epoch depends on every earlier shuffle
 * of the pool, so a resumed run replays those shuffles (cheap: no
 * training) and checks that it reaches the saved generator state. */
static ag_status save_checkpoint(ag_run *run, const digitsum_model *model, const ag_adam *adam, int64_t epoch,
                                 const ag_rng *order_rng) {
    ag_checkpoint *cp = ag_checkpoint_create();
    if (!cp) return ag_error_code();
    ag_status status = ag_checkpoint_add_params(cp, model->params);
    if (status == AG_OK) status = ag_adam_save(adam, cp);
    if (status == AG_OK) status = ag_checkpoint_set_int(cp, "train.epoch", epoch);
    if (status == AG_OK) status = ag_checkpoint_set_rng(cp, "train.rng.order", order_rng);
    if (status == AG_OK) status = ag_run_save_checkpoint(run, cp);
    ag_checkpoint_free(cp);
    return status;
}

static int train(int argc, char **argv) {
    const char *data_path = NULL, *model_name = "lstm", *run_dir = NULL, *resume_dir = NULL;
    long epochs = 20, hidden = 128, batch_size = 64, seed = 42, threads = 0, checkpoint_every = 1;
    double lr = 1e-3, split = 0.8, weight_decay = 0;
    bool quiet = false;
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
        {"threads", FLAG_INT, &threads, 0, 64, false,
         "threads for the rows of a batch (0: one a core); results do not depend on it", true},
        {"run-dir", FLAG_STRING, &run_dir, 0, 0, false, "where to write the run (default runs/digitsum-DATE-TIME)", true},
        {"checkpoint-every", FLAG_INT, &checkpoint_every, 1, 1e6, false,
         "epochs between checkpoints (RUN_DIR/checkpoint.safetensors; also at the start, the end and on SIGINT/SIGTERM)",
         true},
        {"resume", FLAG_STRING, &resume_dir, 0, 0, false, "go on with the run in this directory from its checkpoint, with its settings", true},
        {"quiet", FLAG_BOOL, &quiet, 0, 0, false, "no progress line", true},
    };
    const int n_specs = (int)(sizeof specs / sizeof specs[0]);
    int parsed = flags_parse("digitsum train", USAGE, specs, n_specs, argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
    if (resume_dir && run_dir) {
        fprintf(stderr, "digitsum train: --run-dir: not with --resume (the run goes on in %s)\n", resume_dir);
        return 2;
    }
    int exit_code = 0;
    ag_checkpoint *resume =
        resume_dir ? flags_resume("digitsum train", "digitsum", resume_dir, specs, n_specs, argc, argv, &exit_code) : NULL;
    if (resume_dir && !resume) return exit_code;
    if (threads == 0) threads = demo_default_threads();
    if (ag_set_num_threads((int)threads) != AG_OK) return fail("--threads");
    digitsum_kind kind;
    if (!parse_kind(model_name, &kind)) return 2;
    if (!data_path) {
        fprintf(stderr, "digitsum train: --data is required (make one with: digitsum gen-data --len 4 --out FILE)\n");
        return 2;
    }

    /* Data: a seeded shuffle, then the split. */
    digitsum_dataset data;
    if (digitsum_load_csv(data_path, &data) != AG_OK) return fail("train");
    ag_rng split_rng, order_rng, init_rng;
    ag_rng_seed(&init_rng, (uint64_t)seed, 0);
    ag_rng_seed(&split_rng, (uint64_t)seed, 1);
    ag_rng_seed(&order_rng, (uint64_t)seed, 2);
    const digitsum_example **all = malloc((size_t)data.count * sizeof *all);
    for (int64_t i = 0; i < data.count; i++) all[i] = &data.examples[i];
    for (int64_t i = data.count - 1; i > 0; i--) {
        int64_t j = (int64_t)ag_rng_below(&split_rng, (uint32_t)(i + 1));
        const digitsum_example *swap = all[i];
        all[i] = all[j];
        all[j] = swap;
    }
    int64_t n_train = (int64_t)(split * (double)data.count), n_val = data.count - n_train;
    if (n_train < 1 || n_val < 1) {
        fprintf(stderr, "digitsum train: --split %g leaves %lld training and %lld validation rows of %s\n", split,
                (long long)n_train, (long long)n_val, data_path);
        return 2;
    }
    batches train_batches = {malloc((size_t)n_train * sizeof(void *)), malloc((size_t)n_train * sizeof(int64_t)),
                             malloc((size_t)n_train * sizeof(int64_t)), 0};
    batches val_batches = {malloc((size_t)n_val * sizeof(void *)), malloc((size_t)n_val * sizeof(int64_t)),
                           malloc((size_t)n_val * sizeof(int64_t)), 0};
    make_batches(&val_batches, all + n_train, n_val, (int)batch_size, true, &order_rng);

    /* Model and optimizer. */
    digitsum_model model;
    if (digitsum_model_init(&model, kind, (int)hidden, &init_rng) != AG_OK) return fail("model");
    ag_adam adam;
    if (ag_adam_init(&adam, model.params, lr) != AG_OK) return fail("optimizer");
    adam.weight_decay = weight_decay;
    ag_ctx *ctx = ag_ctx_create();
    int64_t first_epoch = 0;
    if (resume) {
        ag_rng saved_rng;
        ag_status status = ag_checkpoint_read_params(resume, model.params);
        if (status == AG_OK) status = ag_params_check_finite(model.params, false);
        if (status == AG_OK) status = ag_adam_load(&adam, resume);
        if (status == AG_OK) status = ag_checkpoint_get_int(resume, "train.epoch", &first_epoch);
        if (status == AG_OK) status = ag_checkpoint_get_rng(resume, "train.rng.order", &saved_rng);
        if (status == AG_OK && (first_epoch < 0 || first_epoch > epochs))
            status = ag_error_set(AG_ERROR_FORMAT, "train.epoch %lld is out of range", (long long)first_epoch);
        for (int64_t e = 0; status == AG_OK && e < first_epoch; e++)
            make_batches(&train_batches, all, n_train, (int)batch_size, false, &order_rng);
        if (status == AG_OK && (saved_rng.state != order_rng.state || saved_rng.increment != order_rng.increment))
            status = ag_error_set(AG_ERROR_STATE, "replaying %lld epochs of %s does not reach the saved data order "
                                  "(has the data file changed?)", (long long)first_epoch, data_path);
        if (status != AG_OK) {
            fprintf(stderr, "digitsum train: --resume %s: %s\n", resume_dir, ag_error_message());
            return 1;
        }
    }

    ag_run *run = resume ? ag_run_resume(resume_dir) : ag_run_create("digitsum", run_dir);
    if (!run) return fail("run directory");
    ag_run_set_param(run, "demo", "digitsum");
    flags_record(specs, n_specs, run);
    ag_run_set_param(run, "rows", "%lld", (long long)data.count);
    ag_run_set_param(run, "train_rows", "%lld", (long long)n_train);
    ag_run_set_option(run, "threads", "%ld", threads);
    const char *const columns[] = {"loss", "val_loss", "val_acc", "seconds"};
    if (resume && ag_run_check_params(run, resume) != AG_OK) {
        fprintf(stderr, "digitsum train: --resume: %s\n", ag_error_message());
        return 2;
    }
    /* metrics.csv first: a resume that finds it is not this run's changes
     * nothing in the directory. */
    if ((resume ? ag_run_resume_metrics(run, columns, 4, first_epoch) : ag_run_begin_metrics(run, columns, 4)) != AG_OK ||
        ag_run_write_params(run) != AG_OK)
        return fail("run files");
    /* A checkpoint from the start: a run killed at any moment can go on. */
    if (!resume && save_checkpoint(run, &model, &adam, 0, &order_rng) != AG_OK) return fail("checkpoint");
    if (ag_run_catch_signals() != AG_OK) return fail("signals");

    ag_progress progress;
    ag_progress_start(&progress, stdout, epochs, 1, quiet);
    ag_progress_resume_at(&progress, first_epoch);
    double start = ag_seconds(), val_loss = NAN, val_acc = NAN, epoch_seconds = 0;
    int stop = 0;
    for (long epoch = (long)first_epoch + 1; epoch <= epochs; epoch++) {
        double epoch_start = ag_seconds(), loss_sum = 0;
        make_batches(&train_batches, all, n_train, (int)batch_size, false, &order_rng);
        for (int64_t b = 0; b < train_batches.count; b++) {
            int n = (int)train_batches.sizes[b];
            ag_params_zero_grad(model.params);
            ag_tensor *loss = digitsum_loss(ctx, &model, train_batches.examples + train_batches.starts[b], n);
            if (ag_backward(ctx, loss) != AG_OK) return fail("training step");
            ag_real loss_value = loss->data[0];
            ag_ctx_reset(ctx);
            if (ag_run_check_finite(run, loss_value, model.params) != AG_OK) {
                ag_progress_end(&progress);
                fprintf(stderr, "digitsum train: epoch %ld, step %lld: %s\n", epoch, (long long)b + 1, ag_error_message());
                ag_run_close(run); /* keeps the curve up to here */
                return 1;
            }
            loss_sum += (double)loss_value * n;
            ag_adam_step(&adam, model.params);
        }
        epoch_seconds = ag_seconds() - epoch_start;
        if (evaluate(ctx, &model, &val_batches, &val_loss, &val_acc) != AG_OK) return fail("validation");
        double train_loss = loss_sum / (double)n_train;
        if (ag_run_log(run, epoch, (double[]){train_loss, val_loss, val_acc, epoch_seconds}) != AG_OK)
            return fail("metrics");
        if (!quiet && !progress.terminal)
            printf("epoch %ld: loss %.5f  val_loss %.5f  val_acc %.4f  %.2f s\n", epoch, train_loss, val_loss, val_acc,
                   epoch_seconds);
        if (progress.terminal) ag_progress_update(&progress, epoch, train_loss);
        stop = ag_run_stop_signal();
        if ((epoch % checkpoint_every == 0 || epoch == epochs || stop) &&
            save_checkpoint(run, &model, &adam, epoch, &order_rng) != AG_OK)
            return fail("checkpoint");
        if (stop) {
            ag_progress_end(&progress);
            fprintf(stderr, "digitsum train: %s after epoch %ld: checkpoint saved; go on with: digitsum train --resume %s\n",
                    stop == SIGINT ? "SIGINT" : "SIGTERM", epoch, ag_run_dir(run));
            break;
        }
    }
    ag_progress_end(&progress);
    double seconds = ag_seconds() - start;
    if (!stop) {
        if (isnan(val_acc) && evaluate(ctx, &model, &val_batches, &val_loss, &val_acc) != AG_OK)
            return fail("validation");
        if (ag_run_save_model(run, model.params) != AG_OK) return fail("checkpoint");
        printf("run: %s\n", ag_run_dir(run));
        printf("summary: model=%s epochs=%ld val_acc=%.4f val_loss=%.6f seconds=%.2f epoch_seconds=%.3f\n", model_name,
               epochs, val_acc, val_loss, seconds, epoch_seconds);
    }
    ag_status closed = ag_run_close(run);
    for (int k = 0; k < 2; k++) {
        batches *b = k ? &val_batches : &train_batches;
        free(b->examples);
        free(b->starts);
        free(b->sizes);
    }
    free(all);
    digitsum_dataset_free(&data);
    ag_adam_free(&adam);
    ag_ctx_free(ctx);
    digitsum_model_free(&model);
    ag_checkpoint_free(resume);
    if (closed != AG_OK) return fail("closing the run");
    return stop ? 128 + stop : 0;
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
        fprintf(stderr, "digitsum: %s: %s\n", checkpoint, ag_error_message());
        digitsum_model_free(model);
        return 1;
    }
    return 0;
}

static int predict_one(ag_ctx *ctx, const digitsum_model *model, const char *text, const char *where) {
    digitsum_example e;
    /* A line from stdin ends at its newline; an argument has none. */
    size_t length = *where ? strcspn(text, "\r\n") : strlen(text);
    if (digitsum_example_set(&e, text, length) != AG_OK) {
        char part[41], shown[48];
        snprintf(part, sizeof part, "%.*s", (int)(length > 40 ? 40 : length), text);
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
            status = predict_one(ctx, &model, sequences[i], "");
            continue;
        }
        char line[256], where[64];
        for (long number = 1; status == 0 && fgets(line, sizeof line, stdin); number++) {
            snprintf(where, sizeof where, "stdin:%ld: ", number);
            status = predict_one(ctx, &model, line, where);
        }
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
    for (int64_t i = 0; i < data.count; i++) all[i] = &data.examples[i];
    batches groups = {malloc((size_t)data.count * sizeof(void *)), malloc((size_t)data.count * sizeof(int64_t)),
                      malloc((size_t)data.count * sizeof(int64_t)), 0};
    ag_rng rng;
    ag_rng_seed(&rng, 0, 0);
    make_batches(&groups, all, data.count, 256, true, &rng);
    ag_ctx *ctx = ag_ctx_create();
    double loss, accuracy;
    if (evaluate(ctx, &model, &groups, &loss, &accuracy) != AG_OK) status = fail("eval");
    else printf("accuracy %.4f (%lld sequences)  loss %.6f\n", accuracy, (long long)data.count, loss);
    ag_ctx_free(ctx);
    free(groups.examples);
    free(groups.starts);
    free(groups.sizes);
    free(all);
    digitsum_model_free(&model);
    digitsum_dataset_free(&data);
    return status;
}

int main(int argc, char **argv) {
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
