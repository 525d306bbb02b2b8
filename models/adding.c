/* Models for the adding problem: one recurrent layer, then a linear readout
 * of the last hidden state:
 *
 *   irnn:      h_t = relu(W_ih x_t + W_hh h_{t-1} + b),  W_hh(0) = I
 *   rnn-tanh:  h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)
 *   lstm:      (h_t, c_t) = LSTMCell(x_t, h_{t-1}, c_{t-1})
 *   gru:       h_t = GRUCell(x_t, h_{t-1})
 *   y = w_out . h_T + b_out
 */
#include "adding.h"

ag_real adding_example(uint64_t seed, int split, int64_t index, ag_sequence_batch *batch, int row) {
    ag_rng rng;
    /* Seeds are hashed, so 2 seed + split gives the two splits unrelated
     * generators; each example has its own stream. */
    ag_rng_seed(&rng, 2 * seed + (uint64_t)split, (uint64_t)index);
    int T = batch->max_length;
    ag_real *x = batch->values + (size_t)row * T * 2;
    for (int t = 0; t < T; t++) {
        x[2 * t] = (ag_real)ag_rng_uniform(&rng);
        x[2 * t + 1] = 0;
    }
    int half = T / 2;
    int first = (int)ag_rng_below(&rng, (uint32_t)half);
    int second = half + (int)ag_rng_below(&rng, (uint32_t)(T - half));
    x[2 * first + 1] = 1;
    x[2 * second + 1] = 1;
    batch->lengths[row] = T;
    return x[2 * first] + x[2 * second];
}

ag_status adding_model_init(adding_model *model, adding_kind kind, int hidden, double identity_scale,
                            double forget_bias, ag_rng *rng) {
    model->kind = kind;
    model->params = ag_params_create();
    if (!model->params) return ag_error_code();
    ag_status status;
    if (kind == ADDING_LSTM) {
        status = ag_lstm_cell_init(&model->lstm, model->params, "lstm", 2, hidden, true, rng);
        if (status == AG_OK) status = ag_lstm_cell_set_forget_bias(&model->lstm, forget_bias);
    } else if (kind == ADDING_GRU) {
        status = ag_gru_cell_init(&model->gru, model->params, "gru", 2, hidden, true, rng);
    } else {
        ag_nonlinearity act = kind == ADDING_IRNN ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH;
        status = ag_rnn_cell_init(&model->rnn, model->params, "rnn", 2, hidden, act, true, rng);
        if (status == AG_OK && kind == ADDING_IRNN) {
            status = ag_init_identity(model->rnn.weight_hh, identity_scale);
            ag_init_normal(model->rnn.weight_ih, rng, 0, 0.001);
            ag_init_constant(model->rnn.bias_ih, 0);
            ag_init_constant(model->rnn.bias_hh, 0);
        }
    }
    if (status == AG_OK) status = ag_linear_init(&model->readout, model->params, "linear", hidden, 1, true, rng);
    if (status != AG_OK) adding_model_free(model);
    return status;
}

void adding_model_free(adding_model *model) {
    ag_params_free(model->params);
    model->params = NULL;
}

ag_tensor *adding_forward(ag_ctx *ctx, const adding_model *model, const ag_sequence_batch *batch) {
    int B = batch->batch;
    ag_tensor *h;
    if (model->kind == ADDING_LSTM) {
        int H = model->lstm.hidden_size;
        ag_lstm_state zero = {ag_zeros(ctx, 2, (int[]){B, H}), ag_zeros(ctx, 2, (int[]){B, H})};
        h = ag_lstm_cell_run(ctx, &model->lstm, batch, zero).h;
    } else if (model->kind == ADDING_GRU) {
        h = ag_gru_cell_run(ctx, &model->gru, batch, ag_zeros(ctx, 2, (int[]){B, model->gru.hidden_size}));
    } else {
        h = ag_rnn_cell_run(ctx, &model->rnn, batch, ag_zeros(ctx, 2, (int[]){B, model->rnn.hidden_size}));
    }
    return ag_linear_forward(ctx, &model->readout, h);
}
