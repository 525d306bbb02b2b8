/* Linear, RNNCell, LSTMCell, GRUCell and LayerNorm, written on the public API only, with
 * PyTorch's parameter names, layouts, equations and default init. */
#include <math.h>

#include "ag.h"

static ag_status check_init_args(const char *who, const ag_params *params, const ag_rng *rng, int in, int out) {
    if (!params || !rng) return ag_error_set(AG_ERROR_ARGUMENT, "%s: params and rng must not be NULL", who);
    if (in < 1 || out < 1) return ag_error_set(AG_ERROR_ARGUMENT, "%s: sizes %d and %d must be >= 1", who, in, out);
    return AG_OK;
}

/* The input must be [batch, width]. */
static bool check_input(const char *who, const char *what, const ag_tensor *x, int width) {
    if (x->ndim == 2 && x->shape[1] == width) return true;
    char shape[64];
    ag_error_set(AG_ERROR_SHAPE, "%s: %s has shape %s, expected [batch, %d]", who, what,
                 ag_shape_string(x, shape, sizeof shape), width);
    return false;
}

/* ---------------------------------------------------------------- linear */

ag_status ag_linear_init(ag_linear *m, ag_params *params, const char *prefix, int in_features, int out_features,
                         bool bias, ag_rng *rng) {
    ag_status status = check_init_args("ag_linear_init", params, rng, in_features, out_features);
    if (status != AG_OK) return status;
    m->in_features = in_features;
    m->out_features = out_features;
    m->weight = ag_params_add_prefixed(params, prefix, "weight", 2, (int[]){out_features, in_features});
    m->bias = bias ? ag_params_add_prefixed(params, prefix, "bias", 1, (int[]){out_features}) : NULL;
    if (!m->weight || (bias && !m->bias)) return ag_error_code();
    return ag_init_pytorch_default((ag_tensor *[]){m->weight, m->bias}, 2, rng, in_features);
}

ag_tensor *ag_linear_forward(ag_ctx *ctx, const ag_linear *m, ag_tensor *x) {
    if (!x) return NULL;
    if (!check_input("ag_linear_forward", "input", x, m->in_features)) return NULL;
    ag_tensor *y = ag_matmul_transpose_b(ctx, x, m->weight);
    return m->bias ? ag_add(ctx, y, m->bias) : y;
}

/* ------------------------------------------------------ recurrent cells */

ag_status ag_recurrent_weights_init(ag_params *params, const char *prefix, int gates, int input_size,
                                    int hidden_size, bool bias, ag_rng *rng, ag_tensor *weights[4]) {
    ag_status status = check_init_args("ag_recurrent_weights_init", params, rng, input_size, hidden_size);
    if (status != AG_OK) return status;
    if (!weights || gates < 1)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_recurrent_weights_init: weights is NULL or gates %d < 1", gates);
    /* PyTorch's creation order, so that one seed draws the same values in turn. */
    weights[0] = ag_params_add_prefixed(params, prefix, "weight_ih", 2, (int[]){gates, input_size});
    weights[1] = ag_params_add_prefixed(params, prefix, "weight_hh", 2, (int[]){gates, hidden_size});
    weights[2] = bias ? ag_params_add_prefixed(params, prefix, "bias_ih", 1, (int[]){gates}) : NULL;
    weights[3] = bias ? ag_params_add_prefixed(params, prefix, "bias_hh", 1, (int[]){gates}) : NULL;
    if (!weights[0] || !weights[1] || (bias && (!weights[2] || !weights[3]))) return ag_error_code();
    return ag_init_pytorch_default(weights, 4, rng, hidden_size);
}

/* -------------------------------------------------------------- RNN cell */

ag_status ag_rnn_cell_init(ag_rnn_cell *cell, ag_params *params, const char *prefix, int input_size,
                           int hidden_size, ag_nonlinearity nonlinearity, bool bias, ag_rng *rng) {
    ag_status status = check_init_args("ag_rnn_cell_init", params, rng, input_size, hidden_size);
    if (status != AG_OK) return status;
    if (nonlinearity != AG_NONLINEARITY_TANH && nonlinearity != AG_NONLINEARITY_RELU)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_rnn_cell_init: unknown nonlinearity %d", (int)nonlinearity);
    cell->input_size = input_size;
    cell->hidden_size = hidden_size;
    cell->nonlinearity = nonlinearity;
    ag_tensor *w[4];
    status = ag_recurrent_weights_init(params, prefix, hidden_size, input_size, hidden_size, bias, rng, w);
    cell->weight_ih = w[0], cell->weight_hh = w[1], cell->bias_ih = w[2], cell->bias_hh = w[3];
    return status;
}

/* x W^T + b, the affine map both cells apply to their input and state. */
static ag_tensor *affine(ag_ctx *ctx, ag_tensor *x, ag_tensor *weight, ag_tensor *bias) {
    ag_tensor *y = ag_matmul_transpose_b(ctx, x, weight);
    return bias ? ag_add(ctx, y, bias) : y;
}

ag_tensor *ag_rnn_cell_forward(ag_ctx *ctx, const ag_rnn_cell *cell, ag_tensor *x, ag_tensor *h) {
    if (!x || !h) return NULL;
    if (!check_input("ag_rnn_cell_forward", "input", x, cell->input_size) ||
        !check_input("ag_rnn_cell_forward", "hidden state", h, cell->hidden_size))
        return NULL;
    ag_tensor *pre = ag_add(ctx, affine(ctx, x, cell->weight_ih, cell->bias_ih),
                            affine(ctx, h, cell->weight_hh, cell->bias_hh));
    return cell->nonlinearity == AG_NONLINEARITY_RELU ? ag_relu(ctx, pre) : ag_tanh(ctx, pre);
}

/* ------------------------------------------------------------- LSTM cell */

ag_status ag_lstm_cell_init(ag_lstm_cell *cell, ag_params *params, const char *prefix, int input_size,
                            int hidden_size, bool bias, ag_rng *rng) {
    ag_status status = check_init_args("ag_lstm_cell_init", params, rng, input_size, hidden_size);
    if (status != AG_OK) return status;
    cell->input_size = input_size;
    cell->hidden_size = hidden_size;
    ag_tensor *w[4];
    status = ag_recurrent_weights_init(params, prefix, 4 * hidden_size, input_size, hidden_size, bias, rng, w);
    cell->weight_ih = w[0], cell->weight_hh = w[1], cell->bias_ih = w[2], cell->bias_hh = w[3];
    return status;
}

ag_lstm_state ag_lstm_cell_forward(ag_ctx *ctx, const ag_lstm_cell *cell, ag_tensor *x, ag_lstm_state state) {
    ag_lstm_state failed = {NULL, NULL};
    if (!x || !state.h || !state.c) return failed;
    if (!check_input("ag_lstm_cell_forward", "input", x, cell->input_size) ||
        !check_input("ag_lstm_cell_forward", "hidden state", state.h, cell->hidden_size) ||
        !check_input("ag_lstm_cell_forward", "cell state", state.c, cell->hidden_size))
        return failed;
    int H = cell->hidden_size;
    ag_tensor *gates = ag_add(ctx, affine(ctx, x, cell->weight_ih, cell->bias_ih),
                              affine(ctx, state.h, cell->weight_hh, cell->bias_hh));
    ag_tensor *i = ag_sigmoid(ctx, ag_slice(ctx, gates, 1, 0 * H, 1 * H));
    ag_tensor *f = ag_sigmoid(ctx, ag_slice(ctx, gates, 1, 1 * H, 2 * H));
    ag_tensor *g = ag_tanh(ctx, ag_slice(ctx, gates, 1, 2 * H, 3 * H));
    ag_tensor *o = ag_sigmoid(ctx, ag_slice(ctx, gates, 1, 3 * H, 4 * H));
    ag_tensor *c = ag_add(ctx, ag_mul(ctx, f, state.c), ag_mul(ctx, i, g));
    ag_tensor *h = ag_mul(ctx, o, ag_tanh(ctx, c));
    if (!h) return failed;
    return (ag_lstm_state){h, c};
}

ag_status ag_lstm_cell_set_forget_bias(ag_lstm_cell *cell, double value) {
    if (!cell->bias_ih || !cell->bias_hh)
        return ag_error_set(AG_ERROR_STATE, "ag_lstm_cell_set_forget_bias: the cell has no bias");
    int H = cell->hidden_size;
    for (int j = H; j < 2 * H; j++) {
        cell->bias_ih->data[j] = (ag_real)value;
        cell->bias_hh->data[j] = 0;
    }
    return AG_OK;
}

/* ------------------------------------------------------------------- GRU */

ag_status ag_gru_cell_init(ag_gru_cell *cell, ag_params *params, const char *prefix, int input_size, int hidden_size,
                           bool bias, ag_rng *rng) {
    ag_status status = check_init_args("ag_gru_cell_init", params, rng, input_size, hidden_size);
    if (status != AG_OK) return status;
    cell->input_size = input_size;
    cell->hidden_size = hidden_size;
    ag_tensor *w[4];
    status = ag_recurrent_weights_init(params, prefix, 3 * hidden_size, input_size, hidden_size, bias, rng, w);
    cell->weight_ih = w[0], cell->weight_hh = w[1], cell->bias_ih = w[2], cell->bias_hh = w[3];
    return status;
}

ag_tensor *ag_gru_cell_forward(ag_ctx *ctx, const ag_gru_cell *cell, ag_tensor *x, ag_tensor *h) {
    if (!x || !h) return NULL;
    if (!check_input("ag_gru_cell_forward", "input", x, cell->input_size) ||
        !check_input("ag_gru_cell_forward", "hidden state", h, cell->hidden_size))
        return NULL;
    int H = cell->hidden_size;
    /* The state's part of the candidate, h W_hn^T + b_hn, is multiplied by
     * r before it meets the input's, so the two products stay apart. */
    ag_tensor *from_input = affine(ctx, x, cell->weight_ih, cell->bias_ih);
    ag_tensor *from_state = affine(ctx, h, cell->weight_hh, cell->bias_hh);
    ag_tensor *r = ag_sigmoid(ctx, ag_add(ctx, ag_slice(ctx, from_input, 1, 0 * H, 1 * H),
                                          ag_slice(ctx, from_state, 1, 0 * H, 1 * H)));
    ag_tensor *z = ag_sigmoid(ctx, ag_add(ctx, ag_slice(ctx, from_input, 1, 1 * H, 2 * H),
                                          ag_slice(ctx, from_state, 1, 1 * H, 2 * H)));
    ag_tensor *n = ag_tanh(ctx, ag_add(ctx, ag_slice(ctx, from_input, 1, 2 * H, 3 * H),
                                       ag_mul(ctx, r, ag_slice(ctx, from_state, 1, 2 * H, 3 * H))));
    ag_tensor *one_minus_z = ag_sub(ctx, ag_scalar(ctx, 1), z);
    return ag_add(ctx, ag_mul(ctx, one_minus_z, n), ag_mul(ctx, z, h));
}

/* ------------------------------------------------------------- embedding */

ag_status ag_embedding_init(ag_embedding *m, ag_params *params, const char *prefix, int num_embeddings,
                            int embedding_dim, int padding_index, ag_rng *rng) {
    ag_status status = check_init_args("ag_embedding_init", params, rng, num_embeddings, embedding_dim);
    if (status != AG_OK) return status;
    if (padding_index < -1 || padding_index >= num_embeddings)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_embedding_init: padding index %d is out of range for %d embeddings (-1 for none)",
                            padding_index, num_embeddings);
    m->num_embeddings = num_embeddings;
    m->embedding_dim = embedding_dim;
    m->padding_index = padding_index;
    m->weight = ag_params_add_prefixed(params, prefix, "weight", 2, (int[]){num_embeddings, embedding_dim});
    if (!m->weight) return ag_error_code();
    ag_init_normal(m->weight, rng, 0.0, 1.0);
    /* torch draws every row, then zeroes the padding row. */
    if (padding_index >= 0)
        for (int j = 0; j < embedding_dim; j++) m->weight->data[(int64_t)padding_index * embedding_dim + j] = 0;
    return AG_OK;
}

ag_tensor *ag_embedding_forward(ag_ctx *ctx, const ag_embedding *m, const int *indices, int n) {
    if (!m || !m->weight) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_embedding_forward: the module is NULL or not initialised");
        return NULL;
    }
    if (!indices || n < 1) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_embedding_forward: need at least one index (n = %d)", n);
        return NULL;
    }
    for (int r = 0; r < n; r++)
        if (indices[r] < 0 || indices[r] >= m->num_embeddings) {
            ag_error_set(AG_ERROR_ARGUMENT, "ag_embedding_forward: index %d (position %d) is out of range for %d embeddings",
                         indices[r], r, m->num_embeddings);
            return NULL;
        }
    return ag_gather_rows_padded(ctx, m->weight, indices, n, m->padding_index);
}

/* --------------------------------------------------------------- dropout */

ag_tensor *ag_dropout(ag_ctx *ctx, ag_tensor *x, double p, bool training, ag_rng *rng) {
    if (!x) return NULL;
    if (!(p >= 0 && p < 1)) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_dropout: p = %g is outside [0, 1)", p);
        return NULL;
    }
    if (!training || p == 0) return x;
    if (!rng) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_dropout: rng must not be NULL in training");
        return NULL;
    }
    ag_tensor *mask = ag_zeros(ctx, x->ndim, x->shape);
    if (!mask) return NULL;
    ag_real scale = (ag_real)(1.0 / (1.0 - p));
    /* One uniform draw per element, in row-major order: an element is kept when its draw is >= p. */
    for (int64_t i = 0; i < mask->size; i++) mask->data[i] = ag_rng_uniform(rng) >= p ? scale : 0;
    return ag_mul(ctx, x, mask);
}

/* ------------------------------------------------------------- LayerNorm */

ag_status ag_layer_norm_init(ag_layer_norm *m, ag_params *params, const char *prefix, int normalized_size,
                             bool elementwise_affine, double eps) {
    if (!m || !params) return ag_error_set(AG_ERROR_ARGUMENT, "ag_layer_norm_init: m and params must not be NULL");
    if (normalized_size < 1)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_layer_norm_init: normalized_size %d must be >= 1", normalized_size);
    if (!(eps >= 0) || !isfinite(eps))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_layer_norm_init: eps %g must be finite and >= 0", eps);
    m->normalized_size = normalized_size;
    m->eps = eps;
    m->weight = m->bias = NULL;
    if (!elementwise_affine) return AG_OK;
    m->weight = ag_params_add_prefixed(params, prefix, "weight", 1, (int[]){normalized_size});
    m->bias = ag_params_add_prefixed(params, prefix, "bias", 1, (int[]){normalized_size});
    if (!m->weight || !m->bias) return ag_error_code();
    ag_init_constant(m->weight, 1.0);
    ag_init_constant(m->bias, 0.0);
    return AG_OK;
}

ag_tensor *ag_layer_norm_forward(ag_ctx *ctx, const ag_layer_norm *m, ag_tensor *x) {
    if (!x) return NULL;
    int last = x->ndim - 1;
    if (x->shape[last] != m->normalized_size) {
        char shape[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_layer_norm_forward: input has shape %s, expected [..., %d]",
                     ag_shape_string(x, shape, sizeof shape), m->normalized_size);
        return NULL;
    }
    ag_tensor *centred = ag_sub(ctx, x, ag_mean_axis_keepdim(ctx, x, last));
    ag_tensor *variance = ag_mean_axis_keepdim(ctx, ag_mul(ctx, centred, centred), last); /* biased */
    ag_tensor *y = ag_div(ctx, centred, ag_sqrt(ctx, ag_add(ctx, variance, ag_scalar(ctx, (ag_real)m->eps))));
    if (m->weight) y = ag_add(ctx, ag_mul(ctx, y, m->weight), m->bias);
    return y;
}
