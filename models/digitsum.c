/* The digit-sum seq2seq model and its data.
 *
 * One recurrent cell reads one-hot symbols; a linear readout of its state
 * gives logits over the 12 symbols:
 *
 *   s_t = cell(onehot(symbol_t), s_{t-1})           tanh RNNCell or LSTMCell
 *   p(next symbol) = softmax(W s_t + b)
 *
 * Training (teacher forcing) feeds d_1..d_L EOS a_1..a_m and scores the
 * outputs at EOS, a_1, .., a_m against a_1, .., a_m, EOA; decoding feeds
 * d_1..d_L EOS and then its own argmax, so both score the same positions. */
#include "digitsum.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_BATCH = 4096, MAX_FIELD = 64 };

/* ------------------------------------------------------------------ data */

ag_status digitsum_example_set(digitsum_example *e, const char *digits, size_t length) {
    if (length < 1 || length > DIGITSUM_MAX_DIGITS)
        return ag_error_set(AG_ERROR_FORMAT, "a sequence has %zu digits; 1 to %d are accepted", length,
                            DIGITSUM_MAX_DIGITS);
    int sum = 0;
    for (size_t i = 0; i < length; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            unsigned char c = (unsigned char)digits[i];
            return c >= 32 && c < 127
                       ? ag_error_set(AG_ERROR_FORMAT, "'%c' at position %zu is not a digit", c, i + 1)
                       : ag_error_set(AG_ERROR_FORMAT, "byte 0x%02x at position %zu is not a digit", c, i + 1);
        }
        sum += digits[i] - '0';
    }
    memcpy(e->digits, digits, length);
    e->digits[length] = '\0';
    e->length = (int)length;
    e->answer_length = snprintf(e->answer, sizeof e->answer, "%d", sum);
    return AG_OK;
}

typedef struct csv_reader {
    const char *path;
    long line;
    char fields[2][MAX_FIELD + 1];
    size_t field_lengths[2];
    int n_fields;
    bool too_many, too_long, failed;
    digitsum_dataset *data;
    int64_t capacity;
} csv_reader;

static void reader_fail(csv_reader *r, ag_status code, const char *what) {
    if (r->failed) return;
    r->failed = true;
    ag_error_set(code, "%s:%ld: %s", r->path, r->line, what);
}

/* libcsv hands over fields that are neither NUL-terminated nor lasting. */
static void on_field(void *text, size_t length, void *context) {
    csv_reader *r = context;
    if (r->n_fields == 2) {
        r->too_many = true;
        return;
    }
    if (length > MAX_FIELD) {
        r->too_long = true;
        length = MAX_FIELD;
    }
    if (length > 0) memcpy(r->fields[r->n_fields], text, length);
    r->fields[r->n_fields][length] = '\0';
    r->field_lengths[r->n_fields] = length;
    r->n_fields++;
}

static void on_row(int terminator, void *context) {
    csv_reader *r = context;
    (void)terminator;
    r->line++;
    int n_fields = r->n_fields;
    r->n_fields = 0;
    if (r->failed) return;
    if (r->too_many || r->too_long || n_fields != 2) {
        reader_fail(r, AG_ERROR_FORMAT,
                    r->too_long ? "a field is far too long (more than 64 characters)"
                    : r->too_many ? "more than two columns (expected digits,sum)"
                                  : "missing column (expected digits,sum)");
        return;
    }
    if (r->line == 1 && strcmp(r->fields[0], "digits") == 0 && strcmp(r->fields[1], "sum") == 0) return;
    if (r->data->count == r->capacity) {
        int64_t capacity = r->capacity ? 2 * r->capacity : 1024;
        digitsum_example *grown = realloc(r->data->examples, (size_t)capacity * sizeof *grown);
        if (!grown) {
            reader_fail(r, AG_ERROR_MEMORY, "out of memory");
            return;
        }
        r->data->examples = grown;
        r->capacity = capacity;
    }
    digitsum_example *e = &r->data->examples[r->data->count];
    if (digitsum_example_set(e, r->fields[0], r->field_lengths[0]) != AG_OK) {
        char message[256];
        snprintf(message, sizeof message, "%s", ag_error_message());
        reader_fail(r, AG_ERROR_FORMAT, message);
        return;
    }
    if (strcmp(e->answer, r->fields[1]) != 0) {
        /* The field may hold any byte: the message stays one line. */
        char sum[MAX_FIELD + 4], message[256];
        snprintf(message, sizeof message, "the sum of '%s' is %s, not '%s'", e->digits, e->answer,
                 ag_printable(r->fields[1], sum, sizeof sum));
        reader_fail(r, AG_ERROR_FORMAT, message);
        return;
    }
    r->data->count++;
}

ag_status digitsum_load_csv(const char *path, digitsum_dataset *data) {
    memset(data, 0, sizeof *data);
    FILE *f = fopen(path, "rb");
    if (!f) return ag_error_set(AG_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser parser;
    csv_init(&parser, CSV_STRICT);
    csv_reader r = {.path = path, .data = data};
    char *line = NULL;
    size_t capacity = 0;
    ssize_t n;
    /* One line at a time, so every error names its line (libcsv does not
     * report blank lines) and a data row can never span lines. */
    while (!r.failed && (n = getline(&line, &capacity, f)) >= 0) {
        r.line++;
        size_t length = (size_t)n;
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) length--;
        if (length > 2 * MAX_FIELD) {
            reader_fail(&r, AG_ERROR_FORMAT, "line far too long (more than 128 characters)");
            break;
        }
        if (length == 0) continue; /* blank lines (a trailing one, say) carry nothing */
        /* A field is compared as a C string, so a NUL would cut it short
         * ("10\0junk" read as the sum 10); no text file holds one. */
        if (memchr(line, '\0', length)) {
            reader_fail(&r, AG_ERROR_FORMAT, "a NUL byte (not a text file?)");
            break;
        }
        r.line--; /* on_row counts the row */
        if (csv_parse(&parser, line, length, on_field, on_row, &r) != length ||
            csv_fini(&parser, on_field, on_row, &r) != 0) {
            r.line++;
            reader_fail(&r, AG_ERROR_FORMAT, csv_strerror(csv_error(&parser)));
        }
    }
    if (!r.failed && ferror(f)) {
        r.failed = true;
        ag_error_set(AG_ERROR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    free(line);
    csv_free(&parser);
    fclose(f);
    if (!r.failed && data->count == 0) {
        r.failed = true;
        ag_error_set(AG_ERROR_FORMAT, "%s: no data rows (empty file?)", path);
    }
    if (!r.failed) return AG_OK;
    digitsum_dataset_free(data);
    return ag_error_code();
}

ag_status digitsum_write_csv(const char *path, const digitsum_dataset *data) {
    ag_atomic_file out;
    if (ag_atomic_file_begin(&out, path) != AG_OK) return ag_error_code();
    /* Digits need no quoting, and the original files have none. */
    bool ok = true;
    for (int64_t i = 0; ok && i < data->count; i++)
        ok = fprintf(out.file, "%s,%s\n", data->examples[i].digits, data->examples[i].answer) > 0;
    return ag_atomic_file_commit(&out); /* a failed write shows in the stream's error flag */
}

void digitsum_dataset_free(digitsum_dataset *data) {
    free(data->examples);
    data->examples = NULL;
    data->count = 0;
}

/* ----------------------------------------------------------------- model */

ag_status digitsum_model_init(digitsum_model *model, digitsum_kind kind, int hidden, ag_rng *rng) {
    model->kind = kind;
    model->hidden = hidden;
    model->params = ag_params_create();
    if (!model->params) return ag_error_code();
    ag_status status =
        kind == DIGITSUM_LSTM
            ? ag_lstm_cell_init(&model->lstm, model->params, "lstm", DIGITSUM_SYMBOLS, hidden, true, rng)
            : ag_rnn_cell_init(&model->rnn, model->params, "rnn", DIGITSUM_SYMBOLS, hidden, AG_NONLINEARITY_TANH,
                               true, rng);
    if (status == AG_OK)
        status = ag_linear_init(&model->readout, model->params, "linear", hidden, DIGITSUM_SYMBOLS, true, rng);
    if (status != AG_OK) digitsum_model_free(model);
    return status;
}

void digitsum_model_free(digitsum_model *model) {
    ag_params_free(model->params);
    model->params = NULL;
}

typedef struct state {
    ag_tensor *h, *c; /* c only for the LSTM */
} state;

static state zero_state(ag_ctx *ctx, const digitsum_model *m, int n) {
    int shape[2] = {n, m->hidden};
    return (state){ag_zeros(ctx, 2, shape), m->kind == DIGITSUM_LSTM ? ag_zeros(ctx, 2, shape) : NULL};
}

static state step(ag_ctx *ctx, const digitsum_model *m, const int *symbols, int n, state s) {
    ag_tensor *x = ag_zeros(ctx, 2, (int[]){n, DIGITSUM_SYMBOLS});
    if (!x) return (state){NULL, NULL};
    for (int i = 0; i < n; i++) x->data[i * DIGITSUM_SYMBOLS + symbols[i]] = 1;
    if (m->kind == DIGITSUM_LSTM) {
        ag_lstm_state next = ag_lstm_cell_forward(ctx, &m->lstm, x, (ag_lstm_state){s.h, s.c});
        return (state){next.h, next.c};
    }
    return (state){ag_rnn_cell_forward(ctx, &m->rnn, x, s.h), NULL};
}

static bool check_batch(const char *who, const digitsum_example *const *batch, int n, bool same_length) {
    if (n < 1 || n > MAX_BATCH) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: batch of %d; 1 to %d examples", who, n, MAX_BATCH);
        return false;
    }
    for (int i = 1; i < n && same_length; i++)
        if (batch[i]->length != batch[0]->length) {
            ag_error_set(AG_ERROR_ARGUMENT, "%s: examples of one batch must have one input length (%d and %d)", who,
                         batch[0]->length, batch[i]->length);
            return false;
        }
    return true;
}

/* The symbols of n examples as one-hot rows, [n, steps, 12]; symbol(i, t)
 * gives example i's symbol at step t. A row shorter than `steps`
 * (lengths[i], NULL: all full) is padded with EOA, which the recurrent
 * layer never reads: each row stops at its own length. */
static ag_tensor *one_hot_sequence(ag_ctx *ctx, const digitsum_example *const *batch, int n, int steps,
                                   const int *lengths, int (*symbol)(const digitsum_example *, int)) {
    ag_tensor *x = ag_zeros(ctx, 3, (int[]){n, steps, DIGITSUM_SYMBOLS});
    if (!x) return NULL;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < steps; t++) {
            int k = !lengths || t < lengths[i] ? symbol(batch[i], t) : DIGITSUM_EOA;
            x->data[((size_t)i * steps + t) * DIGITSUM_SYMBOLS + k] = 1;
        }
    return x;
}

/* Teacher forcing reads d_1..d_L EOS a_1..a_m. */
static int teacher_symbol(const digitsum_example *e, int t) {
    if (t < e->length) return e->digits[t] - '0';
    return t == e->length ? DIGITSUM_EOS : e->answer[t - e->length - 1] - '0';
}

/* Decoding reads d_1..d_L EOS, then its own outputs. */
static int encoder_symbol(const digitsum_example *e, int t) {
    return t < e->length ? e->digits[t] - '0' : DIGITSUM_EOS;
}

/* The states after every step of the recurrent layer, [n, steps, hidden],
 * and the last step's state. */
static ag_tensor *run_layer(ag_ctx *ctx, const digitsum_model *m, ag_tensor *x, const int *lengths, state *last) {
    int n = x ? x->shape[0] : 1;
    state s = zero_state(ctx, m, n);
    if (!x || !s.h) return NULL;
    ag_tensor *h;
    if (m->kind == DIGITSUM_LSTM) {
        ag_lstm_state all = ag_lstm_cell_sequence(ctx, &m->lstm, x, lengths, (ag_lstm_state){s.h, s.c});
        h = all.h;
        if (last) *last = (state){ag_last_step(ctx, all.h), ag_last_step(ctx, all.c)};
    } else {
        h = ag_rnn_cell_sequence(ctx, &m->rnn, x, lengths, s.h);
        if (last) *last = (state){ag_last_step(ctx, h), NULL};
    }
    return h;
}

ag_tensor *digitsum_loss(ag_ctx *ctx, const digitsum_model *model, const digitsum_example *const *batch, int n) {
    if (!check_batch("digitsum_loss", batch, n, false)) return NULL;
    enum { MAX_SCORED = MAX_BATCH * (DIGITSUM_MAX_ANSWER + 1) };
    static _Thread_local int targets[MAX_SCORED], rows[MAX_SCORED], lengths[MAX_BATCH];
    int steps = 0, scored = 0;
    for (int i = 0; i < n; i++) {
        lengths[i] = batch[i]->length + batch[i]->answer_length + 1;
        if (lengths[i] > steps) steps = lengths[i];
    }
    ag_tensor *x = one_hot_sequence(ctx, batch, n, steps, lengths, teacher_symbol);
    /* Scored where the model should emit a_1, .., a_m, EOA: the states
     * after reading EOS, a_1, .., a_m. */
    for (int i = 0; i < n; i++) {
        const digitsum_example *e = batch[i];
        for (int j = 0; j <= e->answer_length; j++, scored++) {
            rows[scored] = i * steps + e->length + j;
            targets[scored] = j == e->answer_length ? DIGITSUM_EOA : e->answer[j] - '0';
        }
    }
    ag_tensor *states = run_layer(ctx, model, x, lengths, NULL);
    ag_tensor *flat = ag_reshape(ctx, states, 2, (int[]){n * steps, model->hidden});
    ag_tensor *decoder = ag_gather_rows(ctx, flat, rows, scored);
    /* The mean over every scored symbol of the batch, as PyTorch's
     * cross_entropy over padded targets (ignore_index) computes it. */
    return ag_cross_entropy_loss(ctx, ag_linear_forward(ctx, &model->readout, decoder), targets, NULL);
}

ag_status digitsum_decode(ag_ctx *ctx, const digitsum_model *model, const digitsum_example *const *batch, int n,
                          char (*answers)[DIGITSUM_MAX_ANSWER + 2], bool *correct) {
    if (!check_batch("digitsum_decode", batch, n, true)) return ag_error_code();
    bool was_enabled = ag_set_grad_enabled(ctx, false);
    int symbols[MAX_BATCH], emitted[MAX_BATCH][DIGITSUM_MAX_ANSWER];
    bool finished[MAX_BATCH] = {false};
    state s = {NULL, NULL};
    run_layer(ctx, model, one_hot_sequence(ctx, batch, n, batch[0]->length + 1, NULL, encoder_symbol), NULL, &s);
    int steps = 0;
    for (int all_done = 0; steps < DIGITSUM_MAX_ANSWER && s.h && !all_done; steps++) {
        if (steps > 0) s = step(ctx, model, symbols, n, s);
        ag_tensor *logits = ag_linear_forward(ctx, &model->readout, s.h);
        if (!logits) break;
        all_done = 1;
        for (int i = 0; i < n; i++) {
            const ag_real *row = logits->data + i * DIGITSUM_SYMBOLS;
            int best = 0;
            for (int k = 1; k < DIGITSUM_SYMBOLS; k++)
                if (row[k] > row[best]) best = k;
            emitted[i][steps] = best;
            symbols[i] = best;
            finished[i] = finished[i] || best == DIGITSUM_EOA;
            all_done &= finished[i];
        }
    }
    ag_set_grad_enabled(ctx, was_enabled);
    if (!s.h) return ag_error_code();
    for (int i = 0; i < n; i++) {
        /* The answer is what precedes the first EOA; EOS or a missing EOA
         * make it wrong. */
        int length = 0;
        bool valid = true;
        while (length < steps && emitted[i][length] != DIGITSUM_EOA) {
            if (emitted[i][length] > 9) valid = false;
            length++;
        }
        bool terminated = length < steps;
        for (int k = 0; k < length; k++) answers[i][k] = emitted[i][k] <= 9 ? (char)('0' + emitted[i][k]) : '?';
        answers[i][length] = '\0';
        if (correct) correct[i] = valid && terminated && strcmp(answers[i], batch[i]->answer) == 0;
    }
    return AG_OK;
}
