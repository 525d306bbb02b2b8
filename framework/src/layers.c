/* Stacked and bidirectional recurrent layers, torch.nn.RNN, torch.nn.LSTM
 * and torch.nn.GRU (batch_first), built on the public API: each direction
 * of each layer is one fused cell sequence op (ag_rnn_cell_sequence,
 * ag_lstm_cell_sequence, ag_gru_cell_sequence). The backward direction runs on the input with
 * every row reversed within its own length (a row gather, its own
 * inverse), and its result is reversed back the same way, so that it
 * matches PyTorch's packed sequences: the reverse pass of a row starts at
 * its last real input, and its final state is the one after input 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"

/* ------------------------------------------------------------------ init */

/* The four parameters of one cell, PREFIX.weight_ih_lL[_reverse] and so on,
 * in PyTorch's order, drawn U(-1/sqrt(hidden), 1/sqrt(hidden)). */
static ag_status add_cell_weights(ag_params *params, const char *prefix, int layer, int direction, int gates,
                                  int input_size, int hidden_size, ag_rng *rng, ag_tensor *w[4]) {
    static const char *const names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    const char *suffix = direction ? "_reverse" : "";
    for (int k = 0; k < 4; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s_l%d%s", names[k], layer, suffix);
        int shape[2] = {gates * hidden_size, k == 0 ? input_size : hidden_size};
        w[k] = ag_params_add_prefixed(params, prefix, name, k < 2 ? 2 : 1, shape);
        if (!w[k]) return ag_error_code();
    }
    return ag_init_pytorch_default(w, 4, rng, hidden_size);
}

static ag_status check_init(const char *who, const void *m, const ag_params *params, int input_size,
                            int hidden_size, int num_layers, double dropout, const ag_rng *rng) {
    if (!m || !params || !rng)
        return ag_error_set(AG_ERROR_ARGUMENT, "%s: NULL %s", who, !m ? "module" : !params ? "params" : "rng");
    if (input_size < 1 || hidden_size < 1)
        return ag_error_set(AG_ERROR_ARGUMENT, "%s: input_size %d and hidden_size %d must be >= 1", who, input_size,
                            hidden_size);
    if (num_layers < 1 || num_layers > AG_RECURRENT_MAX_LAYERS)
        return ag_error_set(AG_ERROR_ARGUMENT, "%s: num_layers %d is outside 1..%d", who, num_layers,
                            AG_RECURRENT_MAX_LAYERS);
    if (!(dropout >= 0.0 && dropout < 1.0))
        return ag_error_set(AG_ERROR_ARGUMENT, "%s: dropout %g is outside [0, 1)", who, dropout);
    return AG_OK;
}

/* Stores the weights w of cell [l][d] (reading `in` features) in module m. */
typedef void (*store_cell_fn)(void *m, int l, int d, ag_tensor *const w[4], int in, int hidden_size);

/* The fields every stacked module (ag_rnn, ag_lstm, ag_gru) has, in m. */
typedef struct stack_header {
    int *input_size, *hidden_size, *num_layers, *num_directions;
    double *dropout;
} stack_header;

/* The arguments checked, m zeroed and its shared fields set, then every
 * cell's weights (gates * hidden rows) added and handed to store. */
static ag_status init_stack(const char *who, void *m, size_t m_size, stack_header hdr, ag_params *params,
                            const char *prefix, int gates, int input_size, int hidden_size, int num_layers,
                            bool bidirectional, double dropout, ag_rng *rng, store_cell_fn store) {
    ag_status st = check_init(who, m, params, input_size, hidden_size, num_layers, dropout, rng);
    if (st != AG_OK) return st;
    memset(m, 0, m_size);
    int directions = bidirectional ? 2 : 1;
    *hdr.input_size = input_size;
    *hdr.hidden_size = hidden_size;
    *hdr.num_layers = num_layers;
    *hdr.num_directions = directions;
    *hdr.dropout = dropout;
    for (int l = 0; l < num_layers; l++)
        for (int d = 0; d < directions; d++) {
            int in = l == 0 ? input_size : directions * hidden_size;
            ag_tensor *w[4];
            st = add_cell_weights(params, prefix, l, d, gates, in, hidden_size, rng, w);
            if (st != AG_OK) return st;
            store(m, l, d, w, in, hidden_size);
        }
    return AG_OK;
}

/* m's shared fields (none for a NULL m, which init_stack refuses). */
#define STACK_HEADER(m)                                                                                       \
    ((m) ? (stack_header){&(m)->input_size, &(m)->hidden_size, &(m)->num_layers, &(m)->num_directions,         \
                          &(m)->dropout}                                                                      \
         : (stack_header){0})

/* torch.nn.RNN's cells; ag_rnn_init sets their nonlinearity afterwards. */
static void store_rnn_cell(void *m, int l, int d, ag_tensor *const w[4], int in, int hidden_size) {
    ((ag_rnn *)m)->cells[l][d] = (ag_rnn_cell){w[0], w[1], w[2], w[3], in, hidden_size, AG_NONLINEARITY_TANH};
}

static void store_lstm_cell(void *m, int l, int d, ag_tensor *const w[4], int in, int hidden_size) {
    ((ag_lstm *)m)->cells[l][d] = (ag_lstm_cell){w[0], w[1], w[2], w[3], in, hidden_size};
}

static void store_gru_cell(void *m, int l, int d, ag_tensor *const w[4], int in, int hidden_size) {
    ((ag_gru *)m)->cells[l][d] = (ag_gru_cell){w[0], w[1], w[2], w[3], in, hidden_size};
}

ag_status ag_rnn_init(ag_rnn *m, ag_params *params, const char *prefix, int input_size, int hidden_size,
                      int num_layers, ag_nonlinearity nonlinearity, bool bidirectional, double dropout,
                      ag_rng *rng) {
    if (m && nonlinearity != AG_NONLINEARITY_TANH && nonlinearity != AG_NONLINEARITY_RELU)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_rnn_init: unknown nonlinearity %d", (int)nonlinearity);
    ag_status st = init_stack("ag_rnn_init", m, sizeof *m, STACK_HEADER(m), params, prefix,
                              1, input_size, hidden_size, num_layers, bidirectional, dropout, rng, store_rnn_cell);
    for (int l = 0; st == AG_OK && l < num_layers; l++)
        for (int d = 0; d < m->num_directions; d++) m->cells[l][d].nonlinearity = nonlinearity;
    return st;
}

ag_status ag_lstm_init(ag_lstm *m, ag_params *params, const char *prefix, int input_size, int hidden_size,
                       int num_layers, bool bidirectional, double dropout, ag_rng *rng) {
    return init_stack("ag_lstm_init", m, sizeof *m, STACK_HEADER(m), params, prefix, 4,
                      input_size, hidden_size, num_layers, bidirectional, dropout, rng, store_lstm_cell);
}

ag_status ag_gru_init(ag_gru *m, ag_params *params, const char *prefix, int input_size, int hidden_size,
                      int num_layers, bool bidirectional, double dropout, ag_rng *rng) {
    return init_stack("ag_gru_init", m, sizeof *m, STACK_HEADER(m), params, prefix, 3,
                      input_size, hidden_size, num_layers, bidirectional, dropout, rng, store_gru_cell);
}

/* --------------------------------------------------------------- forward */

/* What the shared forward needs to know of the module. */
typedef struct stack_desc {
    const char *who;
    const ag_rnn *rnn; /* one of the three */
    const ag_lstm *lstm;
    const ag_gru *gru;
    int input_size, hidden_size, num_layers, num_directions;
    double dropout;
} stack_desc;

/* Each row reversed within its length, as [batch, steps, features]: row
 * b's position t < length reads position length - 1 - t, the padding stays
 * in place. `rev` holds the batch * steps row indices. */
static ag_tensor *reverse_rows(ag_ctx *ctx, ag_tensor *x, const int *rev) {
    int b = x->shape[0], t = x->shape[1], f = x->shape[2];
    ag_tensor *flat = ag_reshape(ctx, x, 2, (int[]){b * t, f});
    ag_tensor *g = ag_gather_rows(ctx, flat, rev, b * t);
    return ag_reshape(ctx, g, 3, (int[]){b, t, f});
}

/* State k ([batch, hidden]) of a [L*D, batch, hidden] initial state, or zeros. */
static ag_tensor *initial_state(ag_ctx *ctx, ag_tensor *s0, int k, int batch, int hidden) {
    if (!s0) return ag_zeros(ctx, 2, (int[]){batch, hidden});
    return ag_reshape(ctx, ag_slice(ctx, s0, 0, k, k + 1), 2, (int[]){batch, hidden});
}

/* [batch, hidden] -> [1, batch, hidden], appended to *acc along axis 0. */
static ag_tensor *append_state(ag_ctx *ctx, ag_tensor *acc, ag_tensor *s) {
    if (!s) return NULL;
    ag_tensor *one = ag_reshape(ctx, s, 3, (int[]){1, s->shape[0], s->shape[1]});
    return acc ? ag_concat(ctx, acc, one, 0) : one;
}

static bool check_state(const stack_desc *m, const char *what, const ag_tensor *s, int batch) {
    if (!s) return true;
    if (s->ndim != 3 || s->shape[0] != m->num_layers * m->num_directions || s->shape[1] != batch ||
        s->shape[2] != m->hidden_size) {
        char shape[64];
        ag_error_set(AG_ERROR_SHAPE, "%s: %s has shape %s; it must be [%d, %d, %d]", m->who, what,
                     ag_shape_string(s, shape, sizeof shape), m->num_layers * m->num_directions, batch,
                     m->hidden_size);
        return false;
    }
    return true;
}

static ag_recurrent_output stack_forward(ag_ctx *ctx, const stack_desc *m, ag_tensor *x, const int *lengths,
                                         ag_tensor *h0, ag_tensor *c0, bool training, ag_rng *rng) {
    ag_recurrent_output none = {NULL, NULL, NULL};
    if (!x) return none;
    if (x->ndim != 3 || x->shape[2] != m->input_size) {
        char shape[64];
        ag_error_set(AG_ERROR_SHAPE, "%s: x has shape %s; it must be [batch, steps, %d]", m->who,
                     ag_shape_string(x, shape, sizeof shape), m->input_size);
        return none;
    }
    int batch = x->shape[0], steps = x->shape[1], hidden = m->hidden_size;
    if (!check_state(m, "h0", h0, batch) || !check_state(m, "c0", c0, batch)) return none;
    if (lengths)
        for (int b = 0; b < batch; b++)
            if (lengths[b] < 1 || lengths[b] > steps) {
                ag_error_set(AG_ERROR_ARGUMENT, "%s: length %d of row %d is outside 1..%d", m->who, lengths[b], b,
                             steps);
                return none;
            }
    if (training && m->dropout > 0.0 && m->num_layers > 1 && !rng) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: dropout in training needs an rng", m->who);
        return none;
    }

    /* The reversal's row indices and the mask of real steps, [batch, steps, 1]. */
    int n = batch * steps;
    int *rev = malloc((size_t)n * sizeof *rev);
    ag_real *mask = malloc((size_t)n * sizeof *mask);
    if (!rev || !mask) {
        free(rev);
        free(mask);
        ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", m->who);
        return none;
    }
    for (int b = 0; b < batch; b++) {
        int len = lengths ? lengths[b] : steps;
        for (int t = 0; t < steps; t++) {
            rev[b * steps + t] = b * steps + (t < len ? len - 1 - t : t);
            mask[b * steps + t] = t < len ? 1 : 0;
        }
    }

    ag_tensor *layer_in = x, *h_n = NULL, *c_n = NULL, *out = NULL;
    for (int l = 0; l < m->num_layers; l++) {
        ag_tensor *dir_out[2] = {NULL, NULL};
        for (int d = 0; d < m->num_directions; d++) {
            int k = l * m->num_directions + d;
            ag_tensor *in = d ? reverse_rows(ctx, layer_in, rev) : layer_in;
            ag_tensor *hs, *cs = NULL;
            ag_tensor *h_init = initial_state(ctx, h0, k, batch, hidden);
            if (m->lstm) {
                ag_lstm_state s0 = {h_init, initial_state(ctx, c0, k, batch, hidden)};
                ag_lstm_state s = ag_lstm_cell_sequence(ctx, &m->lstm->cells[l][d], in, lengths, s0);
                hs = s.h;
                cs = s.c;
            } else if (m->gru) {
                hs = ag_gru_cell_sequence(ctx, &m->gru->cells[l][d], in, lengths, h_init);
            } else {
                hs = ag_rnn_cell_sequence(ctx, &m->rnn->cells[l][d], in, lengths, h_init);
            }
            /* Past its length a row keeps its state, so the last step is
             * its final state in either direction. */
            h_n = append_state(ctx, h_n, ag_last_step(ctx, hs));
            if (m->lstm) c_n = append_state(ctx, c_n, ag_last_step(ctx, cs));
            dir_out[d] = d ? reverse_rows(ctx, hs, rev) : hs;
        }
        out = m->num_directions == 2 ? ag_concat(ctx, dir_out[0], dir_out[1], 2) : dir_out[0];
        if (l + 1 < m->num_layers) out = ag_dropout(ctx, out, m->dropout, training, rng);
        layer_in = out;
    }
    /* Zero past each row's length, as pad_packed_sequence. */
    if (out) out = ag_mul(ctx, out, ag_from_array(ctx, 3, (int[]){batch, steps, 1}, mask));
    free(rev);
    free(mask);
    if (!out || !h_n || (m->lstm && !c_n)) return none;
    return (ag_recurrent_output){out, h_n, c_n};
}

/* The module's shared fields, as stack_forward reads them. */
#define STACK_DESC(who, m, rnn, lstm, gru) \
    ((stack_desc){who, rnn, lstm, gru, (m)->input_size, (m)->hidden_size, (m)->num_layers, (m)->num_directions, \
                  (m)->dropout})

static bool check_module(const char *who, const void *m) {
    if (!m) ag_error_set(AG_ERROR_ARGUMENT, "%s: NULL module", who);
    return m != NULL;
}

ag_recurrent_output ag_rnn_forward(ag_ctx *ctx, const ag_rnn *m, ag_tensor *x, const int *lengths, ag_tensor *h0,
                                   bool training, ag_rng *rng) {
    if (!check_module("ag_rnn_forward", m)) return (ag_recurrent_output){NULL, NULL, NULL};
    stack_desc d = STACK_DESC("ag_rnn_forward", m, m, NULL, NULL);
    return stack_forward(ctx, &d, x, lengths, h0, NULL, training, rng);
}

ag_recurrent_output ag_lstm_forward(ag_ctx *ctx, const ag_lstm *m, ag_tensor *x, const int *lengths, ag_tensor *h0,
                                    ag_tensor *c0, bool training, ag_rng *rng) {
    if (!check_module("ag_lstm_forward", m)) return (ag_recurrent_output){NULL, NULL, NULL};
    stack_desc d = STACK_DESC("ag_lstm_forward", m, NULL, m, NULL);
    return stack_forward(ctx, &d, x, lengths, h0, c0, training, rng);
}

ag_recurrent_output ag_gru_forward(ag_ctx *ctx, const ag_gru *m, ag_tensor *x, const int *lengths, ag_tensor *h0,
                                   bool training, ag_rng *rng) {
    if (!check_module("ag_gru_forward", m)) return (ag_recurrent_output){NULL, NULL, NULL};
    stack_desc d = STACK_DESC("ag_gru_forward", m, NULL, NULL, m);
    return stack_forward(ctx, &d, x, lengths, h0, NULL, training, rng);
}
