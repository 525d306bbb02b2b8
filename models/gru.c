/* The GRU cell of models/gru.h, composed from ag's ops: forward is the
 * equations, backward comes from the ops. */
#include "gru.h"

ag_status gru_cell_init(gru_cell *cell, ag_params *params, const char *prefix, int input_size, int hidden_size,
                        bool bias, ag_rng *rng) {
    if (!params || !prefix || !rng)
        return ag_error_set(AG_ERROR_ARGUMENT, "gru_cell_init: params, prefix and rng must not be NULL");
    if (input_size < 1 || hidden_size < 1)
        return ag_error_set(AG_ERROR_ARGUMENT, "gru_cell_init: sizes %d and %d must be >= 1", input_size,
                            hidden_size);
    cell->input_size = input_size;
    cell->hidden_size = hidden_size;
    /* The three gates' weights stacked: [3 hidden, input] and [3 hidden, hidden]. */
    ag_tensor *w[4];
    ag_status status = ag_recurrent_weights_init(params, prefix, 3 * hidden_size, input_size, hidden_size, bias, rng, w);
    cell->weight_ih = w[0], cell->weight_hh = w[1], cell->bias_ih = w[2], cell->bias_hh = w[3];
    return status;
}

/* x W^T + b */
static ag_tensor *affine(ag_ctx *ctx, ag_tensor *x, ag_tensor *weight, ag_tensor *bias) {
    ag_tensor *y = ag_matmul_transpose_b(ctx, x, weight);
    return bias ? ag_add(ctx, y, bias) : y;
}

/* Gate k (0 reset, 1 update, 2 candidate) of a [batch, 3 hidden] tensor. */
static ag_tensor *gate(ag_ctx *ctx, ag_tensor *all, int k, int hidden) {
    return ag_slice(ctx, all, 1, k * hidden, (k + 1) * hidden);
}

ag_tensor *gru_cell_forward(ag_ctx *ctx, const gru_cell *cell, ag_tensor *x, ag_tensor *h) {
    if (!x || !h) return NULL;
    int H = cell->hidden_size;
    if (x->ndim != 2 || x->shape[1] != cell->input_size || h->ndim != 2 || h->shape[1] != H ||
        h->shape[0] != x->shape[0]) {
        char xs[64], hs[64];
        ag_error_set(AG_ERROR_SHAPE, "gru_cell_forward: input %s and state %s, expected [batch, %d] and [batch, %d]",
                     ag_shape_string(x, xs, sizeof xs), ag_shape_string(h, hs, sizeof hs), cell->input_size, H);
        return NULL;
    }
    ag_tensor *from_input = affine(ctx, x, cell->weight_ih, cell->bias_ih);
    ag_tensor *from_state = affine(ctx, h, cell->weight_hh, cell->bias_hh);
    ag_tensor *r = ag_sigmoid(ctx, ag_add(ctx, gate(ctx, from_input, 0, H), gate(ctx, from_state, 0, H)));
    ag_tensor *z = ag_sigmoid(ctx, ag_add(ctx, gate(ctx, from_input, 1, H), gate(ctx, from_state, 1, H)));
    ag_tensor *n = ag_tanh(ctx, ag_add(ctx, gate(ctx, from_input, 2, H), ag_mul(ctx, r, gate(ctx, from_state, 2, H))));
    ag_tensor *one_minus_z = ag_sub(ctx, ag_scalar(ctx, 1), z);
    return ag_add(ctx, ag_mul(ctx, one_minus_z, n), ag_mul(ctx, z, h));
}

ag_tensor *gru_cell_run(ag_ctx *ctx, const gru_cell *cell, const ag_sequence_batch *s, ag_tensor *h0) {
    ag_tensor *h = h0;
    for (int t = 0; t < s->max_length && h; t++) {
        ag_tensor *next = gru_cell_forward(ctx, cell, ag_sequence_input(ctx, s, t), h);
        /* A sequence that has ended keeps its state. */
        h = ag_where(ctx, ag_sequence_mask(ctx, s, t, cell->hidden_size), next, h);
    }
    return h;
}
