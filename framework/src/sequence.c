/* Variable-length batches: each sequence's state stops at its own last
 * element, by keeping the old state wherever a sequence has ended. */
#include <stdlib.h>
#include <string.h>

#include "ag.h"

ag_status ag_sequence_batch_init(ag_sequence_batch *s, int batch, int max_length, int features) {
    memset(s, 0, sizeof *s);
    if (batch < 1 || max_length < 1 || features < 1)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_sequence_batch_init: batch %d, max_length %d, features %d must be >= 1",
                            batch, max_length, features);
    s->values = calloc((size_t)batch * max_length * features, sizeof *s->values);
    s->lengths = calloc((size_t)batch, sizeof *s->lengths);
    if (!s->values || !s->lengths) {
        ag_sequence_batch_free(s);
        return ag_error_set(AG_ERROR_MEMORY, "ag_sequence_batch_init: out of memory");
    }
    s->batch = batch;
    s->max_length = max_length;
    s->features = features;
    for (int b = 0; b < batch; b++) s->lengths[b] = max_length;
    return AG_OK;
}

void ag_sequence_batch_free(ag_sequence_batch *s) {
    free(s->values);
    free(s->lengths);
    memset(s, 0, sizeof *s);
}

static bool valid_step(const char *who, const ag_sequence_batch *s, int t) {
    if (t >= 0 && t < s->max_length) return true;
    ag_error_set(AG_ERROR_ARGUMENT, "%s: step %d is outside 0..%d", who, t, s->max_length - 1);
    return false;
}

ag_tensor *ag_sequence_input(ag_ctx *ctx, const ag_sequence_batch *s, int t) {
    if (!valid_step("ag_sequence_input", s, t)) return NULL;
    ag_tensor *x = ag_zeros(ctx, 2, (int[]){s->batch, s->features});
    if (!x) return NULL;
    for (int b = 0; b < s->batch; b++)
        if (t < s->lengths[b])
            memcpy(x->data + (size_t)b * s->features, s->values + ((size_t)b * s->max_length + t) * s->features,
                   (size_t)s->features * sizeof(ag_real));
    return x;
}

ag_tensor *ag_sequence_mask(ag_ctx *ctx, const ag_sequence_batch *s, int t, int width) {
    if (!valid_step("ag_sequence_mask", s, t)) return NULL;
    ag_tensor *mask = ag_zeros(ctx, 2, (int[]){s->batch, width});
    if (!mask) return NULL;
    for (int b = 0; b < s->batch; b++)
        if (t < s->lengths[b])
            for (int j = 0; j < width; j++) mask->data[(size_t)b * width + j] = 1;
    return mask;
}

static int shortest(const ag_sequence_batch *s) {
    int n = s->max_length;
    for (int b = 0; b < s->batch; b++)
        if (s->lengths[b] < n) n = s->lengths[b];
    return n;
}

static ag_status check_lengths(const char *who, const ag_sequence_batch *s) {
    for (int b = 0; b < s->batch; b++)
        if (s->lengths[b] < 1 || s->lengths[b] > s->max_length)
            return ag_error_set(AG_ERROR_ARGUMENT, "%s: sequence %d has length %d, outside 1..%d", who, b,
                                s->lengths[b], s->max_length);
    return AG_OK;
}

ag_tensor *ag_rnn_cell_run(ag_ctx *ctx, const ag_rnn_cell *cell, const ag_sequence_batch *s, ag_tensor *h0) {
    if (!h0 || check_lengths("ag_rnn_cell_run", s) != AG_OK) return NULL;
    int all_running = shortest(s);
    ag_tensor *h = h0;
    for (int t = 0; t < s->max_length && h; t++) {
        ag_tensor *next = ag_rnn_cell_forward(ctx, cell, ag_sequence_input(ctx, s, t), h);
        /* While every sequence is still running no state needs keeping. */
        h = t < all_running ? next : ag_where(ctx, ag_sequence_mask(ctx, s, t, cell->hidden_size), next, h);
    }
    return h;
}

ag_lstm_state ag_lstm_cell_run(ag_ctx *ctx, const ag_lstm_cell *cell, const ag_sequence_batch *s,
                               ag_lstm_state state0) {
    ag_lstm_state state = state0, failed = {NULL, NULL};
    if (check_lengths("ag_lstm_cell_run", s) != AG_OK) return failed;
    int all_running = shortest(s);
    for (int t = 0; t < s->max_length && state.h; t++) {
        ag_lstm_state next = ag_lstm_cell_forward(ctx, cell, ag_sequence_input(ctx, s, t), state);
        if (t >= all_running) {
            ag_tensor *mask = ag_sequence_mask(ctx, s, t, cell->hidden_size);
            next.h = ag_where(ctx, mask, next.h, state.h);
            next.c = ag_where(ctx, mask, next.c, state.c);
        }
        state = next;
    }
    return state.h && state.c ? state : failed;
}
