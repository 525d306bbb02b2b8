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
 * LSTM state carried from step to step and the dropout generators. The
 * streams are cut into the run's chunks (--chunks: demo_chunk_rows); each
 * chunk carries its own streams' state and draws its dropout from its own
 * generator, so a chunk's steps are the same whichever process runs it.
 * Every checkpoint holds the whole state [layers, streams, hidden] and
 * every chunk's generator, the same for any number of processes, so a
 * resumed run has the same bits (under mpirun with any -np, or without). */
typedef struct carried {
    const demo *d;
    uint64_t seed;
    int streams, layers, hidden;
    charlm_state whole;  /* every stream: what checkpoints hold (process 0's, after gather_state) */
    ag_rng *dropout_rng; /* [chunks]: chunk k's generator (this process draws from its own) */
    charlm_state *part;  /* [my_chunks]: this process's chunks' streams (none for a chunk without any) */
    unsigned char *mine, *all; /* gather_state's blocks: this process's chunks; every chunk (process 0) */
    int64_t block;             /* the bytes of a chunk's block */
} carried;

/* Chunk 0 draws as the whole batch did before runs had chunks (stream 1),
 * so --chunks 1 trains as it did; chunk k > 0 from stream 100 + k, clear
 * of the others (0 the init, 3 the log's samples). */
static void seed_dropout(ag_rng *rng, uint64_t seed, int k) { ag_rng_seed(rng, seed, k == 0 ? 1 : 100 + (uint64_t)k); }

/* Chunk 0's generator keeps the name it had before runs had chunks, so an
 * old checkpoint still names it. */
static void dropout_key(int k, char *key, size_t size) {
    if (k == 0) snprintf(key, size, "train.rng.dropout");
    else snprintf(key, size, "train.rng.dropout.%d", k);
}

/* The chunks are known once demo_open has planned them: restore (within
 * it) or split_state (after it) makes the generators, whichever comes
 * first. */
static ag_status make_generators(carried *s) {
    if (s->dropout_rng) return AG_OK;
    s->dropout_rng = malloc((size_t)s->d->chunks * sizeof *s->dropout_rng);
    if (!s->dropout_rng) return ag_error_set(AG_ERROR_MEMORY, "out of memory for %ld dropout generators", s->d->chunks);
    for (int k = 0; k < s->d->chunks; k++) seed_dropout(&s->dropout_rng[k], s->seed, k);
    return AG_OK;
}

static ag_status save_state(const void *data, ag_checkpoint_writer *cp) {
    const carried *s = data;
    ag_status status = ag_checkpoint_add_array(cp, "train.state.h", s->whole.h->data, s->whole.h->size);
    if (status == AG_OK) status = ag_checkpoint_add_array(cp, "train.state.c", s->whole.c->data, s->whole.c->size);
    char key[48];
    for (int k = 0; k < s->d->chunks && status == AG_OK; k++) {
        /* A new run's first checkpoint comes before split_state: its generators as seeded. */
        ag_rng rng;
        if (s->dropout_rng) rng = s->dropout_rng[k];
        else seed_dropout(&rng, s->seed, k);
        dropout_key(k, key, sizeof key);
        status = ag_checkpoint_set_rng(cp, key, &rng);
    }
    return status;
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

/* In every process: the whole state and every generator; split_state then
 * gives this process's chunks their part. */
static ag_status restore_state(void *data, const ag_checkpoint *cp, int64_t step) {
    carried *s = data;
    ag_status status = make_generators(s);
    if (status == AG_OK) status = ag_checkpoint_read_array(cp, "train.state.h", s->whole.h->data, s->whole.h->size);
    if (status == AG_OK) status = ag_checkpoint_read_array(cp, "train.state.c", s->whole.c->data, s->whole.c->size);
    if (status == AG_OK) status = check_state_finite("train.state.h", s->whole.h);
    if (status == AG_OK) status = check_state_finite("train.state.c", s->whole.c);
    char key[48];
    for (int k = 0; k < s->d->chunks && status == AG_OK; k++) {
        dropout_key(k, key, sizeof key);
        status = ag_checkpoint_get_rng(cp, key, &s->dropout_rng[k]);
    }
    return status;
}

/* Chunk k's block for gather_state: its generator, then the h and c of its
 * `count` streams, layer by layer; `state` holds them from stream `first`
 * on (a chunk's own state from 0, the whole state from the chunk's first). */
static void chunk_block(const carried *s, unsigned char *block, ag_rng *rng, charlm_state *state, int first,
                        int count, bool into_block) {
    size_t row = (size_t)count * (size_t)s->hidden * sizeof(ag_real);
    if (into_block) memcpy(block, rng, sizeof *rng);
    else memcpy(rng, block, sizeof *rng);
    unsigned char *at = block + sizeof *rng;
    ag_tensor *const tensors[2] = {state->h, state->c};
    for (int t = 0; t < 2 && count > 0; t++)
        for (int l = 0; l < s->layers; l++, at += row) {
            ag_real *streams = tensors[t]->data + ((int64_t)l * tensors[t]->shape[1] + first) * s->hidden;
            if (into_block) memcpy(at, streams, row);
            else memcpy(streams, at, row);
        }
}

/* The demo's gather hook, in every process before a checkpoint: process 0
 * receives every chunk's state and generator into the whole. */
static ag_status gather_state(void *data) {
    carried *s = data;
    const demo *d = s->d;
    int first, count;
    for (int i = 0; i < d->my_chunks; i++) {
        demo_chunk_rows(d, s->streams, d->first_chunk + i, &first, &count);
        chunk_block(s, s->mine + i * s->block, &s->dropout_rng[d->first_chunk + i], &s->part[i], 0, count, true);
    }
    ag_status status = ag_mpi_gather_chunks(s->mine, s->all, s->block, (int)d->chunks);
    for (int k = 0; k < d->chunks && status == AG_OK && s->all; k++) {
        demo_chunk_rows(d, s->streams, k, &first, &count);
        chunk_block(s, s->all + k * s->block, &s->dropout_rng[k], &s->whole, first, count, false);
    }
    return status;
}

/* After demo_open (the chunks planned, a checkpoint restored): this
 * process's chunks take their streams of the whole state, and the blocks
 * for gather_state are made. */
static ag_status split_state(carried *s, const charlm_model *model) {
    const demo *d = s->d;
    int first, count, widest;
    demo_chunk_rows(d, s->streams, 0, &first, &widest); /* the first chunks are the widest */
    s->block = (int64_t)sizeof(ag_rng) + 2 * (int64_t)s->layers * widest * s->hidden * (int64_t)sizeof(ag_real);
    s->part = calloc((size_t)d->my_chunks + 1, sizeof *s->part);
    s->mine = malloc((size_t)(d->my_chunks + 1) * (size_t)s->block);
    if (d->rank == 0) s->all = malloc((size_t)d->chunks * (size_t)s->block);
    ag_status status = make_generators(s);
    if (status == AG_OK && (!s->part || !s->mine || (d->rank == 0 && !s->all)))
        status = ag_error_set(AG_ERROR_MEMORY, "out of memory for the carried state");
    for (int i = 0; i < d->my_chunks && status == AG_OK; i++) {
        demo_chunk_rows(d, s->streams, d->first_chunk + i, &first, &count);
        if (count == 0) continue;
        status = charlm_state_init(&s->part[i], model, count);
        if (status != AG_OK) break;
        /* Whole to part through the chunk's block: one copy of the layout. */
        chunk_block(s, s->mine, &s->dropout_rng[d->first_chunk + i], &s->whole, first, count, true);
        chunk_block(s, s->mine, &s->dropout_rng[d->first_chunk + i], &s->part[i], 0, count, false);
    }
    return status;
}

static void carried_free(carried *s) {
    for (int i = 0; s->part && i < s->d->my_chunks; i++) charlm_state_free(&s->part[i]);
    free(s->part);
    charlm_state_free(&s->whole);
    free(s->dropout_rng);
    free(s->mine);
    free(s->all);
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
 * the size it grew to, so the run's steps do not allocate again). The
 * trial reads every stream at once, as --chunks 1 does: a step of fewer
 * streams needs no more. Nothing of it stays: the gradients are zeroed before
 * every step, the whole carried state is set again here (demo_open
 * restores it on --resume), the dropout draws from a generator of its own,
 * and the validation starts from a zero state. */
static ag_status try_step(ag_ctx *ctx, const charlm_model *model, const charlm_streams *train,
                          const charlm_streams *val, int steps, int val_steps, int *inputs, int *targets,
                          charlm_state *state, charlm_state *val_state) {
    ag_rng trial_rng;
    ag_rng_seed(&trial_rng, 0, 0);
    charlm_streams_chunk(train, 0, steps, inputs, targets);
    ag_tensor *loss = charlm_loss(ctx, model, inputs, targets, train->streams, steps, state, true, &trial_rng);
    ag_status status = ag_backward(ctx, loss); /* keeps the message of a failed forward */
    ag_ctx_reset(ctx);
    ag_params_zero_grad(model->params);
    charlm_state_reset(state);
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
        DEMO_CHUNKS_FLAG(&d),
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
    int64_t stream_length = n_train / batch,
            chunks_per_epoch = stream_length > 0 ? (stream_length - 1) / seq_len : 0;
    if (chunks_per_epoch < 1 || n_val < 2) {
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
    int64_t total = steps > 0 ? steps : epochs * chunks_per_epoch;

    /* Model: PyTorch's init; Adam; the carried state. */
    ag_rng init_rng;
    ag_rng_seed(&init_rng, (uint64_t)seed, 0);
    charlm_model model;
    const charlm_config config = {vocab.size, (int)embed, (int)hidden, (int)layers, dropout};
    if (charlm_model_init(&model, &config, &init_rng) != AG_OK) return demo_fail(&d, "model");
    demo_optimizer adam;
    if (demo_optimizer_init(&adam, "adam", model.params, lr) != AG_OK) return demo_fail(&d, "optimizer");
    carried carry = {.d = &d, .seed = (uint64_t)seed, .streams = (int)batch, .layers = (int)layers,
                     .hidden = (int)hidden};
    charlm_state val_state;
    size_t chunk_size = (size_t)(batch * seq_len > val_streams * val_steps ? batch * seq_len : val_streams * val_steps);
    int *inputs = malloc(chunk_size * sizeof *inputs), *targets = malloc(chunk_size * sizeof *targets);
    ag_ctx *ctx = ag_ctx_create();
    if (!inputs || !targets || !ctx) ag_error_set(AG_ERROR_MEMORY, "out of memory for a batch");
    if (!inputs || !targets || !ctx || charlm_state_init(&carry.whole, &model, (int)batch) != AG_OK ||
        charlm_state_init(&val_state, &model, val_streams) != AG_OK)
        return demo_fail(&d, "setup");

    char vocab_hex[CHARLM_VOCAB_HEX];
    charlm_vocab_to_hex(&vocab, vocab_hex);
    demo_set_param(&d, "vocab", "%s", vocab_hex);
    demo_set_param(&d, "data_bytes", "%lld", (long long)text.size);
    demo_set_param(&d, "data_fingerprint", "%016llx", (unsigned long long)text.fingerprint);
    demo_set_param(&d, "chunks_per_epoch", "%lld", (long long)chunks_per_epoch);
    demo_set_param(&d, "total_steps", "%lld", (long long)total);
    if (!d.quiet)
        printf("charlm: %s: %lld bytes, %d distinct; %ld streams of %lld training bytes, %lld chunks of %ld per "
               "epoch; %lld validation bytes; %lld parameters\n",
               ag_printable(data_path, shown, sizeof shown), (long long)text.size, vocab.size, batch,
               (long long)stream_length, (long long)chunks_per_epoch, seq_len,
               (long long)(n_val / val_streams * val_streams),
               (long long)ag_params_size(model.params));
    fflush(stdout); /* before the first validation's seconds, in a log too */
    if (try_step(ctx, &model, &train_text, &val_text, (int)seq_len, val_steps, inputs, targets, &carry.whole,
                 &val_state) != AG_OK) {
        fprintf(stderr, "charlm train: a step of --batch %ld --seq-len %ld: %s\n", batch, seq_len, ag_error_message());
        d.exit_code = 1;
        goto done;
    }
    /* A new run's first row: the validation loss before training. */
    double val_loss = d.resume ? NAN : validation_loss(ctx, &model, &val_text, &val_state, val_steps, inputs, targets);
    const char *const columns[] = {"loss", "val_loss", "val_bpc", "seconds"};
    if (!demo_open(&d, &(demo_training){.params = model.params, .optimizer = &adam,
                                        .state = {&carry, save_state, restore_state, gather_state},
                                        .columns = columns, .n_columns = 4,
                                        .first_row = (double[]){NAN, val_loss, val_loss / LN2, 0}, .total = total,
                                        .progress_every = eval_every, .batch_rows = (int)batch}))
        goto done; /* demo_open said why: the memory is freed below (a clean exit under LeakSanitizer) */
    if (split_state(&carry, &model) != AG_OK) {
        demo_fail(&d, "setup");
        goto done;
    }

    double eval_seconds = 0; /* validations and samples: not part of step_ms */
    while (demo_running(&d)) {
        int64_t position = d.step % chunks_per_epoch * seq_len;
        charlm_streams_chunk(&train_text, position, (int)seq_len, inputs, targets);
        /* This process's chunks of the streams, each from its own state
         * (afresh each epoch) with its own dropout: its mean loss times
         * its share of the streams. */
        bool failed = false;
        for (int k = d.first_chunk; k < d.first_chunk + d.my_chunks && !failed; k++) {
            int first, count;
            demo_chunk_rows(&d, (int)batch, k, &first, &count);
            charlm_state *state = &carry.part[k - d.first_chunk];
            ag_params_zero_grad(model.params);
            ag_real loss_share = 0;
            if (count > 0) {
                if (position == 0) charlm_state_reset(state);
                ag_tensor *loss = ag_scale(ctx,
                                           charlm_loss(ctx, &model, inputs + (size_t)first * seq_len,
                                                       targets + (size_t)first * seq_len, count, (int)seq_len, state,
                                                       true, &carry.dropout_rng[k]),
                                           (ag_real)count / (ag_real)batch);
                if (ag_backward(ctx, loss) != AG_OK) {
                    demo_fail(&d, "training step");
                    failed = true;
                    break;
                }
                loss_share = loss->data[0];
            }
            ag_ctx_reset(ctx);
            failed = !demo_keep_chunk(&d, k, loss_share);
        }
        ag_real loss_sum;
        if (failed || !demo_sum_chunks(&d, &loss_sum)) break;
        double loss_value = loss_sum;
        if (!demo_finite(&d, loss_value)) break;
        ag_params_clip_grad_norm(model.params, clip);
        if (!demo_step(&d)) break;
        d.step++;
        bool evaluate = d.step % eval_every == 0 || d.step == total;
        double eval_start = ag_seconds();
        val_loss = evaluate ? validation_loss(ctx, &model, &val_text, &val_state, val_steps, inputs, targets) : NAN;
        eval_seconds += ag_seconds() - eval_start;
        if (!demo_log(&d, (double[]){loss_value, val_loss, val_loss / LN2, ag_seconds() - d.start})) break;
        /* Process 0 alone prints: the sample has its own state and
         * generator, so leaving it out changes no other process's run. */
        if (evaluate && !d.quiet && d.rank == 0) {
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
                   (long long)d.step, (double)d.step / (double)chunks_per_epoch, val_loss, val_loss / LN2,
                   (long long)ag_params_size(model.params), vocab.size, d.seconds,
                   d.step > d.first_step ? 1e3 * (d.seconds - eval_seconds) / (double)(d.step - d.first_step) : 0.0);
    }
done:
    free(inputs);
    free(targets);
    ag_ctx_free(ctx);
    carried_free(&carry);
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
