/* charlm: a character-level language model (Karpathy's char-rnn) reads a
 * text and learns to write like it. Subcommands: train, sample. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ag.h"
#include "ag_run.h"
#include "charlm.h"
#include "charlm_data.h"
#include "harness.h"

static const char *const USAGE =
    "charlm: a character-level language model (char-rnn): Embedding -> LSTM (stacked, dropout between layers)\n"
    "-> Linear reads the bytes of a text and learns to predict the next one, by truncated backpropagation\n"
    "through time. The first 90% of the text trains, the last 10% validates (in bits per character).\n\n"
    "Usage:\n"
    "  charlm train [--data FILE|DIR] [flags]\n"
    "  charlm sample --checkpoint FILE [--length N --temperature T --prime TEXT --seed S]\n\n"
    "train writes RUN_DIR/params.csv, metrics.csv (step,loss,val_loss,val_bpc,seconds), checkpoint.safetensors\n"
    "(go on with --resume RUN_DIR) and model.safetensors (PyTorch's names; the vocabulary is in its metadata,\n"
    "so 'sample' needs nothing else); its last line is 'summary: key=value ...'.\n"
    "Run 'charlm COMMAND --help' for a command's flags.";

#define DEFAULT_TEXT "/usr/share/games/fortunes"
static const double LN2 = 0.69314718055994530942;

/* ---------------------------------------------------------------- shared */

/* Prints generated indices as their bytes; in a log (indent non-NULL) each
 * line starts with the indent, and control bytes but tab show as '?'. */
static void print_text(const charlm_vocab *vocab, const int *indices, int n, const char *indent) {
    if (indent) fputs(indent, stdout);
    for (int i = 0; i < n; i++) {
        unsigned char byte = vocab->bytes[indices[i]];
        if (!indent) putchar(byte);
        else if (byte == '\n') printf("\n%s", indent);
        else putchar(byte < 32 && byte != '\t' ? '?' : byte);
    }
    if (indent) putchar('\n');
}

/* The byte that starts a text when no prime is given: a line break if the
 * vocabulary has one (texts begin after one), else the first byte. */
static int start_index(const charlm_vocab *vocab) { return vocab->index['\n'] >= 0 ? vocab->index['\n'] : 0; }

/* ----------------------------------------------------------------- train */

/* What changes from step to step besides the weights and Adam's state: the
 * state carried between chunks and the dropout generator. Both go into
 * every checkpoint, so a resumed run has the same bits. */
typedef struct carried {
    charlm_state state;
    ag_rng dropout_rng;
} carried;

static ag_status save_state(const void *data, ag_checkpoint_writer *cp) {
    const carried *s = data;
    ag_status status = ag_checkpoint_add_array(cp, "train.state.h", s->state.h->data, s->state.h->size);
    if (status == AG_OK) status = ag_checkpoint_add_array(cp, "train.state.c", s->state.c->data, s->state.c->size);
    return status == AG_OK ? ag_checkpoint_set_rng(cp, "train.rng.dropout", &s->dropout_rng) : status;
}

/* A NaN or infinite carried state (a damaged checkpoint, re-signed) would
 * poison every step after it, and a finished run would save it again: it
 * is refused here, before the run directory changes, as the weights are. */
static ag_status check_state_finite(const char *name, const ag_tensor *t) {
    for (int64_t i = 0; i < t->size; i++)
        if (!isfinite(t->data[i]))
            return ag_error_set(AG_ERROR_STATE, "value of %s[%lld] is %s", name, (long long)i,
                                isnan(t->data[i]) ? "nan" : t->data[i] > 0 ? "inf" : "-inf");
    return AG_OK;
}

static ag_status restore_state(void *data, const ag_checkpoint *cp, int64_t step) {
    carried *s = data;
    ag_status status = ag_checkpoint_read_array(cp, "train.state.h", s->state.h->data, s->state.h->size);
    if (status == AG_OK) status = ag_checkpoint_read_array(cp, "train.state.c", s->state.c->data, s->state.c->size);
    if (status == AG_OK) status = check_state_finite("train.state.h", s->state.h);
    if (status == AG_OK) status = check_state_finite("train.state.c", s->state.c);
    return status == AG_OK ? ag_checkpoint_get_rng(cp, "train.rng.dropout", &s->dropout_rng) : status;
}

/* Mean cross-entropy (nats) over every position of the validation streams,
 * read chunk by chunk from a zero state, without dropout. NAN after a
 * failure (message set). */
static double validation_loss(ag_ctx *ctx, const charlm_model *model, const charlm_streams *val, charlm_state *state,
                              int steps, int *inputs, int *targets) {
    bool was_enabled = ag_set_grad_enabled(ctx, false);
    charlm_state_reset(state);
    double sum = 0;
    int64_t count = 0;
    for (int64_t position = 0; position < val->length - 1; position += steps) {
        int n = (int)(val->length - 1 - position < steps ? val->length - 1 - position : steps);
        charlm_streams_chunk(val, position, n, inputs, targets);
        ag_tensor *loss = charlm_loss(ctx, model, inputs, targets, val->streams, n, state, false, NULL);
        if (!loss) {
            sum = NAN;
            break;
        }
        sum += (double)loss->data[0] * val->streams * n;
        count += (int64_t)val->streams * n;
        ag_ctx_reset(ctx);
    }
    ag_ctx_reset(ctx);
    ag_set_grad_enabled(ctx, was_enabled);
    return sum / (double)count;
}

/* One training step's graph (forward and backward) and one validation
 * chunk, tried before the run directory is made: a --batch and --seq-len
 * whose graph does not fit in memory then fail with nothing written, not
 * at step 1 of a run that already holds a directory (and the arena keeps
 * the size it grew to, so the run's steps do not allocate again). Nothing
 * of the trial stays: the gradients are zeroed before every step, and the
 * carried state and the dropout generator are set again here (demo_open
 * restores both on --resume); the validation starts from a zero state. */
static ag_status try_step(ag_ctx *ctx, const charlm_model *model, const charlm_streams *train,
                          const charlm_streams *val, int steps, int val_steps, int *inputs, int *targets,
                          carried *carry, charlm_state *val_state, uint64_t seed) {
    charlm_streams_chunk(train, 0, steps, inputs, targets);
    ag_tensor *loss = charlm_loss(ctx, model, inputs, targets, train->streams, steps, &carry->state, true,
                                  &carry->dropout_rng);
    ag_status status = ag_backward(ctx, loss); /* keeps the message of a failed forward */
    ag_ctx_reset(ctx);
    ag_params_zero_grad(model->params);
    charlm_state_reset(&carry->state);
    ag_rng_seed(&carry->dropout_rng, seed, 1);
    if (status == AG_OK) {
        int n = (int)(val->length - 1 < val_steps ? val->length - 1 : val_steps);
        bool was_enabled = ag_set_grad_enabled(ctx, false);
        charlm_streams_chunk(val, 0, n, inputs, targets);
        if (!charlm_loss(ctx, model, inputs, targets, val->streams, n, val_state, false, NULL)) status = ag_error_code();
        ag_ctx_reset(ctx);
        ag_set_grad_enabled(ctx, was_enabled);
    }
    return status;
}

/* A short sample in the log, so the text's form shows as it is learnt:
 * its own generator (seed, step), so the training's draws are untouched. */
static void log_sample(ag_ctx *ctx, const charlm_model *model, const charlm_vocab *vocab, long seed, int64_t step,
                       double val_bpc) {
    enum { LENGTH = 240 };
    int out[LENGTH];
    charlm_state state;
    if (charlm_state_init(&state, model, 1) != AG_OK) return;
    ag_rng rng;
    ag_rng_seed(&rng, (uint64_t)seed + (uint64_t)step, 3);
    if (charlm_generate(ctx, model, &state, start_index(vocab), LENGTH, 0.8, &rng, out) == AG_OK) {
        printf("step %lld: val_bpc %.4f; a sample (temperature 0.8):\n", (long long)step, val_bpc);
        print_text(vocab, out, LENGTH, "  | ");
        fflush(stdout);
    }
    charlm_state_free(&state);
}

/* Whether the text is the one the run in the checkpoint began on: its
 * length and fingerprint (FNV-1a of the bytes), saved as the settings
 * data_bytes and data_fingerprint. A checkpoint without them resumes
 * unchecked. */
static ag_status check_same_text(const ag_checkpoint *cp, const char *path, const charlm_text *text) {
    const char *saved = ag_checkpoint_metadata(cp, "data_fingerprint");
    if (!saved) return AG_OK;
    char shown[1100];
    if (strlen(saved) != 16 || strspn(saved, "0123456789abcdef") != 16)
        return ag_error_set(AG_ERROR_FORMAT, "metadata 'data_fingerprint' is '%s', not 16 hex digits",
                            ag_printable(saved, shown, sizeof shown));
    int64_t bytes = -1;
    if (ag_checkpoint_metadata(cp, "data_bytes") && ag_checkpoint_get_int(cp, "data_bytes", &bytes) != AG_OK)
        return ag_error_code();
    unsigned long long fingerprint = strtoull(saved, NULL, 16);
    if (fingerprint == text->fingerprint && (bytes < 0 || bytes == text->size)) return AG_OK;
    char before[40] = "";
    if (bytes >= 0) snprintf(before, sizeof before, "%lld bytes, ", (long long)bytes);
    return ag_error_set(AG_ERROR_STATE,
                        "the text in %s is not the one the run began on (then %sfingerprint %016llx; now %lld bytes, "
                        "fingerprint %016llx): a run goes on with the text it began with",
                        ag_printable(path, shown, sizeof shown), before, fingerprint, (long long)text->size,
                        (unsigned long long)text->fingerprint);
}

static int train(int argc, char **argv) {
    const char *data_path = DEFAULT_TEXT;
    long hidden = 256, layers = 2, embed = 64, seq_len = 64, batch = 32, epochs = 5, steps = 0, seed = 42,
         eval_every = 500;
    double dropout = 0.2, lr = 2e-3, clip = 5;
    demo d;
    demo_init(&d, "charlm train", "charlm", DEMO_STEPS, 500);
    const flag_spec specs[] = {
        {"data", FLAG_STRING, &data_path, 0, 0, false,
         "text file, or a directory of them (the fortunes package's texts)", false},
        {"hidden", FLAG_INT, &hidden, 1, 4096, false, "LSTM hidden units", false},
        {"layers", FLAG_INT, &layers, 1, AG_RECURRENT_MAX_LAYERS, false, "LSTM layers", false},
        {"embed", FLAG_INT, &embed, 1, 4096, false, "embedding size", false},
        {"dropout", FLAG_DOUBLE, &dropout, 0, 0.99, false, "dropout between LSTM layers", false},
        {"seq-len", FLAG_INT, &seq_len, 1, 100000, false, "characters per chunk (backpropagation through time)", false},
        {"batch", FLAG_INT, &batch, 1, 65536, false, "streams read side by side", false},
        {"lr", FLAG_DOUBLE, &lr, 0, 10, true, "Adam learning rate", false},
        {"clip", FLAG_DOUBLE, &clip, 0, 1e9, true, "global gradient-norm limit", false},
        {"epochs", FLAG_INT, &epochs, 1, 1e6, false, "passes over the training text", false},
        {"steps", FLAG_INT, &steps, 0, 1e10, false, "training steps instead of --epochs (0: use --epochs)", false},
        {"eval-every", FLAG_INT, &eval_every, 1, 1e10, false, "steps between validations (and log samples)", false},
        {"seed", FLAG_INT, &seed, 0, 4294967295.0, false, "random seed (init, dropout)", false},
        DEMO_RUN_FLAGS(&d),
    };
    if (!demo_parse(&d, USAGE, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv)) return d.exit_code;

    /* Data: the text's bytes; 90% train, 10% validate, each cut into streams. */
    char shown[1100];
    charlm_text text;
    if (charlm_text_load(data_path, &text) != AG_OK) {
        bool missing = ag_error_code() == AG_ERROR_IO && strcmp(data_path, DEFAULT_TEXT) == 0;
        /* On --resume the path is the run's saved setting, not a flag given. */
        if (d.resume_dir)
            fprintf(stderr, "charlm train: --resume %s: the run's text (its --data): %s\n",
                    ag_printable(d.resume_dir, shown, sizeof shown), ag_error_message());
        else
            fprintf(stderr, "charlm train: --data: %s%s\n", ag_error_message(),
                    missing ? " (install the fortunes package with 'make deps', or give --data FILE)" : "");
        return demo_close(&d), 2;
    }
    charlm_vocab vocab;
    charlm_vocab_build(&vocab, text.bytes, text.size);
    /* A resumed run must read the text it began with. Checked here, before
     * the model is built from the text's vocabulary: a text with another
     * byte would otherwise fail on embed.weight's shape, and one of other
     * bytes on a setting (data_bytes, data_fingerprint) that says nothing to
     * a user. */
    if (d.resume && check_same_text(d.resume, data_path, &text) != AG_OK) {
        fprintf(stderr, "charlm train: --resume %s: %s\n", ag_printable(d.resume_dir, shown, sizeof shown),
                ag_error_message());
        charlm_text_free(&text);
        d.exit_code = 1;
        return demo_close(&d);
    }
    int64_t n_train = text.size * 9 / 10, n_val = text.size - n_train;
    int64_t stream_length = n_train / batch, chunks = stream_length > 0 ? (stream_length - 1) / seq_len : 0;
    if (chunks < 1 || n_val < 2) {
        /* The shortest text that would do, exactly: the estimate
         * batch * (seq_len + 1) * 10 / 9 + 1 was a byte over at times, and
         * far under where the 10% left to validate came to under 2 bytes
         * (3 bytes for --batch 1 --seq-len 1, which need 11). */
        int64_t need = (10 * batch * (seq_len + 1) + 8) / 9;
        while (need * 9 / 10 < batch * (seq_len + 1) || need - need * 9 / 10 < 2) need++;
        fprintf(stderr,
                "charlm train: --data %s: %lld bytes are too short: the training text (90%%, %lld bytes) cut into "
                "--batch %ld streams must give each at least --seq-len %ld + 1 bytes, and the validation text (the "
                "rest) 2 bytes: a text of at least %lld bytes\n",
                ag_printable(data_path, shown, sizeof shown), (long long)text.size, (long long)n_train, batch,
                seq_len, (long long)need);
        charlm_text_free(&text);
        return demo_close(&d), 2;
    }
    /* Validation reads 128 streams (fewer, longer products are slower)
     * in chunks of as many positions as a training step, so it needs no
     * more memory than one; the state carried between chunks makes the
     * loss the same for any chunk length. */
    int val_streams = (int)(n_val / 2 < 128 ? n_val / 2 : 128);
    int val_steps = (int)(batch * seq_len / val_streams > 1 ? batch * seq_len / val_streams : 1);
    charlm_streams train_text, val_text;
    if (charlm_streams_init(&train_text, &text, 0, n_train, (int)batch, &vocab) != AG_OK ||
        charlm_streams_init(&val_text, &text, n_train, n_val, val_streams, &vocab) != AG_OK)
        return demo_fail(&d, "--data");
    int64_t total = steps > 0 ? steps : epochs * chunks;

    /* Model: PyTorch's init; Adam; the carried state. */
    ag_rng init_rng;
    ag_rng_seed(&init_rng, (uint64_t)seed, 0);
    charlm_model model;
    const charlm_config config = {vocab.size, (int)embed, (int)hidden, (int)layers, dropout};
    if (charlm_model_init(&model, &config, &init_rng) != AG_OK) return demo_fail(&d, "model");
    demo_optimizer adam;
    if (demo_optimizer_init(&adam, "adam", model.params, lr) != AG_OK) return demo_fail(&d, "optimizer");
    carried carry;
    charlm_state val_state;
    size_t chunk_size = (size_t)(batch * seq_len > val_streams * val_steps ? batch * seq_len : val_streams * val_steps);
    int *inputs = malloc(chunk_size * sizeof *inputs), *targets = malloc(chunk_size * sizeof *targets);
    ag_ctx *ctx = ag_ctx_create();
    if (!inputs || !targets || !ctx) ag_error_set(AG_ERROR_MEMORY, "out of memory for a batch");
    if (!inputs || !targets || !ctx || charlm_state_init(&carry.state, &model, (int)batch) != AG_OK ||
        charlm_state_init(&val_state, &model, val_streams) != AG_OK)
        return demo_fail(&d, "setup");
    ag_rng_seed(&carry.dropout_rng, (uint64_t)seed, 1);

    char vocab_hex[CHARLM_VOCAB_HEX];
    charlm_vocab_to_hex(&vocab, vocab_hex);
    demo_set_param(&d, "vocab", "%s", vocab_hex);
    demo_set_param(&d, "data_bytes", "%lld", (long long)text.size);
    demo_set_param(&d, "data_fingerprint", "%016llx", (unsigned long long)text.fingerprint);
    demo_set_param(&d, "chunks_per_epoch", "%lld", (long long)chunks);
    demo_set_param(&d, "total_steps", "%lld", (long long)total);
    if (!d.quiet)
        printf("charlm: %s: %lld bytes, %d distinct; %ld streams of %lld training bytes, %lld chunks of %ld per "
               "epoch; %lld validation bytes; %lld parameters\n",
               ag_printable(data_path, shown, sizeof shown), (long long)text.size, vocab.size, batch,
               (long long)stream_length, (long long)chunks, seq_len, (long long)(n_val / val_streams * val_streams),
               (long long)ag_params_size(model.params));
    fflush(stdout); /* before the first validation's seconds, in a log too */
    if (try_step(ctx, &model, &train_text, &val_text, (int)seq_len, val_steps, inputs, targets, &carry, &val_state,
                 (uint64_t)seed) != AG_OK) {
        fprintf(stderr, "charlm train: a step of --batch %ld --seq-len %ld: %s\n", batch, seq_len, ag_error_message());
        d.exit_code = 1;
        goto done;
    }
    /* A new run's first row: the validation loss before training. */
    double val_loss = d.resume ? NAN : validation_loss(ctx, &model, &val_text, &val_state, val_steps, inputs, targets);
    const char *const columns[] = {"loss", "val_loss", "val_bpc", "seconds"};
    if (!demo_open(&d, &(demo_training){.params = model.params, .optimizer = &adam,
                                        .state = {&carry, save_state, restore_state}, .columns = columns,
                                        .n_columns = 4, .first_row = (double[]){NAN, val_loss, val_loss / LN2, 0},
                                        .total = total, .progress_every = eval_every}))
        goto done; /* demo_open said why: the memory is freed below (a clean exit under LeakSanitizer) */

    double eval_seconds = 0; /* validations and samples: not part of step_ms */
    while (demo_running(&d)) {
        int64_t chunk = d.step % chunks;
        if (chunk == 0) charlm_state_reset(&carry.state); /* each epoch starts afresh */
        charlm_streams_chunk(&train_text, chunk * seq_len, (int)seq_len, inputs, targets);
        ag_params_zero_grad(model.params);
        ag_tensor *loss = charlm_loss(ctx, &model, inputs, targets, (int)batch, (int)seq_len, &carry.state, true,
                                      &carry.dropout_rng);
        if (ag_backward(ctx, loss) != AG_OK) {
            demo_fail(&d, "training step");
            break;
        }
        double loss_value = loss->data[0];
        ag_ctx_reset(ctx);
        if (!demo_finite(&d, loss_value)) break;
        ag_params_clip_grad_norm(model.params, clip);
        if (!demo_step(&d)) break;
        d.step++;
        bool evaluate = d.step % eval_every == 0 || d.step == total;
        double eval_start = ag_seconds();
        val_loss = evaluate ? validation_loss(ctx, &model, &val_text, &val_state, val_steps, inputs, targets) : NAN;
        eval_seconds += ag_seconds() - eval_start;
        if (!demo_log(&d, (double[]){loss_value, val_loss, val_loss / LN2, ag_seconds() - d.start})) break;
        if (evaluate && !d.quiet) {
            double sample_start = ag_seconds();
            ag_progress_end(&d.progress);
            log_sample(ctx, &model, &vocab, seed, d.step, val_loss / LN2);
            eval_seconds += ag_seconds() - sample_start;
        }
    }

    if (demo_finish(&d)) {
        if (isnan(val_loss)) val_loss = validation_loss(ctx, &model, &val_text, &val_state, val_steps, inputs, targets);
        if (demo_save_model(&d))
            demo_summary(&d, "steps=%lld epochs=%.3g val_loss=%.6f val_bpc=%.4f params=%lld vocab=%d seconds=%.2f "
                   "step_ms=%.3f",
                   (long long)d.step, (double)d.step / (double)chunks, val_loss, val_loss / LN2,
                   (long long)ag_params_size(model.params), vocab.size, d.seconds,
                   d.step > d.first_step ? 1e3 * (d.seconds - eval_seconds) / (double)(d.step - d.first_step) : 0.0);
    }
done:
    free(inputs);
    free(targets);
    ag_ctx_free(ctx);
    charlm_state_free(&carry.state);
    charlm_state_free(&val_state);
    demo_optimizer_free(&adam);
    charlm_model_free(&model);
    charlm_streams_free(&train_text);
    charlm_streams_free(&val_text);
    charlm_text_free(&text);
    return demo_close(&d);
}

/* ---------------------------------------------------------------- sample */

/* An integer setting of a charlm checkpoint's metadata, in 1..max; the
 * message names the setting and what it holds. */
static ag_status metadata_int(const ag_checkpoint *cp, const char *key, long max, int *value) {
    const char *text = ag_checkpoint_metadata(cp, key);
    int64_t v;
    char shown[40];
    if (!text) return ag_error_set(AG_ERROR_FORMAT, "its metadata has no '%s'", key);
    if (ag_checkpoint_get_int(cp, key, &v) != AG_OK || v < 1 || v > max)
        return ag_error_set(AG_ERROR_FORMAT, "its metadata's '%s' is '%s', not an integer in 1..%ld", key,
                            ag_printable(text, shown, sizeof shown), max);
    *value = (int)v;
    return AG_OK;
}

/* The model's weights in 32-bit floats, as the file stores them. */
static int64_t model_bytes(const charlm_config *c) {
    int64_t v = c->vocab, e = c->embed, h = c->hidden, l = c->layers;
    return 4 * (v * e + 4 * h * (e + h + 2) + (l - 1) * 4 * h * (2 * h + 2) + v * h + v);
}

/* Whether the file holds LSTM tensors of a layer past its 'layers'
 * setting: the loader skips tensors the model does not have, and the
 * model would run on the first layers alone. A tensor that is there is
 * not AG_ERROR_FORMAT ("missing") when read as an empty array. */
static ag_status check_no_further_layer(const ag_checkpoint *cp, int layers) {
    static const char *const kinds[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    char name[64];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "lstm.%s_l%d", kinds[k], layers);
        if (ag_checkpoint_read_array(cp, name, NULL, 0) != AG_ERROR_FORMAT)
            return ag_error_set(AG_ERROR_FORMAT, "it holds tensor '%s', of a layer past its 'layers' %d", name, layers);
    }
    return AG_OK;
}

/* The model and vocabulary of a charlm checkpoint (model.safetensors or
 * checkpoint.safetensors of a training run), checked. */
static ag_status load_model(const char *path, charlm_model *model, charlm_vocab *vocab) {
    ag_checkpoint *cp = ag_checkpoint_load(path);
    if (!cp) return ag_error_code();
    const char *maker = ag_checkpoint_metadata(cp, "demo"), *hex = ag_checkpoint_metadata(cp, "vocab");
    charlm_config config = {0};
    char shown[64];
    ag_status status = AG_OK;
    if (!maker || strcmp(maker, "charlm") != 0)
        status = maker ? ag_error_set(AG_ERROR_FORMAT, "a model of '%s', not of charlm", ag_printable(maker, shown, sizeof shown))
                      : ag_error_set(AG_ERROR_FORMAT, "not a charlm model (no 'demo' in its metadata)");
    if (status == AG_OK && !hex) status = ag_error_set(AG_ERROR_FORMAT, "its metadata has no 'vocab'");
    if (status == AG_OK) status = charlm_vocab_from_hex(vocab, hex);
    if (status == AG_OK) status = metadata_int(cp, "embed", 4096, &config.embed);
    if (status == AG_OK) status = metadata_int(cp, "hidden", 4096, &config.hidden);
    if (status == AG_OK) status = metadata_int(cp, "layers", AG_RECURRENT_MAX_LAYERS, &config.layers);
    config.vocab = vocab->size;
    /* Settings edited to sizes in range but far past the file's weights
     * (embed, hidden 4096, layers 8: a gigabyte, and seconds to draw an
     * initial model) are refused before the model is made: the file,
     * already read whole, holds every weight in 4 bytes. */
    struct stat st;
    if (status == AG_OK && stat(path, &st) == 0 && model_bytes(&config) > (int64_t)st.st_size)
        status = ag_error_set(AG_ERROR_FORMAT,
                              "its settings (vocabulary %d bytes, embed %d, hidden %d, layers %d) make a model of "
                              "%lld bytes, more than the file's %lld",
                              config.vocab, config.embed, config.hidden, config.layers,
                              (long long)model_bytes(&config), (long long)st.st_size);
    if (status == AG_OK) status = check_no_further_layer(cp, config.layers);
    ag_rng rng;
    ag_rng_seed(&rng, 0, 0);
    if (status == AG_OK) status = charlm_model_init(model, &config, &rng);
    if (status == AG_OK) {
        status = ag_checkpoint_read_params(cp, model->params);
        /* A tensor missing or of another shape: the settings, not only the
         * tensor, are what a user needs to see. */
        if (status != AG_OK) {
            char reason[1024];
            snprintf(reason, sizeof reason, "%s", ag_error_message()); /* ag_error_set overwrites it */
            status = ag_error_set(status, "its settings (vocabulary %d bytes, embed %d, hidden %d, layers %d) do not "
                                  "fit its tensors: %s",
                                  config.vocab, config.embed, config.hidden, config.layers, reason);
        }
        /* A NaN or infinite weight writes garbage. */
        if (status == AG_OK) status = ag_params_check_finite(model->params, false);
        if (status != AG_OK) charlm_model_free(model);
    }
    ag_checkpoint_free(cp);
    return status;
}

static int sample(int argc, char **argv) {
    const char *checkpoint = NULL, *prime = NULL;
    long length = 500, seed = 42, threads = 1;
    double temperature = 0.8;
    const flag_spec specs[] = {
        {"checkpoint", FLAG_STRING, &checkpoint, 0, 0, false, "model.safetensors (or checkpoint.safetensors) of a run", false},
        {"length", FLAG_INT, &length, 0, 1e8, false, "characters to generate", false},
        {"temperature", FLAG_DOUBLE, &temperature, 0, 100, false, "softmax temperature (0: always the likeliest)", false},
        {"prime", FLAG_STRING, &prime, 0, 0, false, "text to start from, printed first (default: a line break)", false},
        {"seed", FLAG_INT, &seed, 0, 4294967295.0, false, "random seed of the draws", false},
        {"threads", FLAG_INT, &threads, 0, 64, false,
         "threads (0: one a core): two are faster on an idle machine, slower on a busy one; the text does not "
         "depend on it",
         false},
    };
    int parsed = flags_parse("charlm sample", USAGE, specs, 6, argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
    if (ag_set_num_threads(threads > 0 ? (int)threads : (int)demo_default_threads()) != AG_OK) {
        fprintf(stderr, "charlm sample: --threads: %s\n", ag_error_message());
        return 1;
    }
    if (!checkpoint) {
        fprintf(stderr, "charlm sample: --checkpoint is required (a run's model.safetensors)\n");
        return 2;
    }
    char shown[1100];
    charlm_model model;
    charlm_vocab vocab;
    if (load_model(checkpoint, &model, &vocab) != AG_OK) {
        const char *message = ag_error_message();
        bool named = strstr(message, checkpoint) != NULL; /* the loader's own errors name the file */
        fprintf(stderr, "charlm sample: --checkpoint%s%s: %s\n", named ? "" : " ",
                named ? "" : ag_printable(checkpoint, shown, sizeof shown), message);
        return 1;
    }
    /* The prime, as indices; a byte outside the vocabulary cannot be fed. */
    size_t n_prime = prime ? strlen(prime) : 0;
    int *indices = malloc((n_prime + (size_t)length + 1) * sizeof *indices);
    if (!indices) {
        fprintf(stderr, "charlm sample: out of memory for %ld characters\n", length);
        charlm_model_free(&model);
        return 1;
    }
    for (size_t i = 0; i < n_prime; i++) {
        unsigned char byte = (unsigned char)prime[i];
        if (vocab.index[byte] < 0) {
            char what[16];
            snprintf(what, sizeof what, byte >= 32 && byte < 127 ? "'%c'" : "0x%02x", byte);
            /* Positions count from 1, as digitsum's do ('12a': 'a' at position 3). */
            fprintf(stderr, "charlm sample: --prime: byte %s at position %zu is not in the model's vocabulary (%d bytes)\n",
                    what, i + 1, vocab.size);
            free(indices);
            charlm_model_free(&model);
            return 2;
        }
        indices[i] = vocab.index[byte];
    }
    ag_ctx *ctx = ag_ctx_create();
    charlm_state state;
    ag_rng rng;
    ag_rng_seed(&rng, (uint64_t)seed, 3);
    int status = ctx && charlm_state_init(&state, &model, 1) == AG_OK ? 0 : 1;
    /* All of the prime but its last byte in one chunk; the last starts the generation. */
    if (status == 0 && n_prime > 1) {
        bool was_enabled = ag_set_grad_enabled(ctx, false);
        if (!charlm_forward(ctx, &model, indices, 1, (int)n_prime - 1, &state, false, NULL)) status = 1;
        ag_ctx_reset(ctx);
        ag_set_grad_enabled(ctx, was_enabled);
    }
    int first = n_prime > 0 ? indices[n_prime - 1] : start_index(&vocab);
    if (status == 0 && charlm_generate(ctx, &model, &state, first, (int)length, temperature, &rng, indices + n_prime) != AG_OK)
        status = 1;
    if (status == 0) {
        print_text(&vocab, indices, (int)(n_prime + (size_t)length), NULL);
        if (fflush(stdout) != 0) status = 1;
    } else {
        fprintf(stderr, "charlm sample: %s\n", ag_error_message());
    }
    if (ctx) charlm_state_free(&state);
    ag_ctx_free(ctx);
    free(indices);
    charlm_model_free(&model);
    return status;
}

int main(int argc, char **argv) {
    demo_fit_blas_kernels(argv); /* the right OpenBLAS kernels, or this process as it is */
    if (argc < 2) {
        fprintf(stderr, "charlm: give a command: train or sample (see --help)\n");
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        puts(USAGE);
        return 0;
    }
    if (strcmp(argv[1], "train") == 0) return train(argc - 1, argv + 1);
    if (strcmp(argv[1], "sample") == 0) return sample(argc - 1, argv + 1);
    char shown[64];
    fprintf(stderr, "charlm: unknown command '%s' (train, sample; see --help)\n", ag_printable(argv[1], shown, sizeof shown));
    return 2;
}
