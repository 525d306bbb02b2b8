/* The digit-sum seq2seq model (its data: digitsum_data.c).
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

#include <string.h>

enum { MAX_BATCH = 4096 };

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
