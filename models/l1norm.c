/* The L1-norm RNN, as in the original notebook:
 *
 *   a_t = where(x_t < 0, -x_t, x_t)                    |x_t| from primitives
 *   h_t = relu(a_t w_ih + h_{t-1} w_hh  [+ b_ih + b_hh])  torch.nn.RNNCell(1, 1)
 *   prediction = h_T                                    T = the sequence's length
 *
 * With w_ih = w_hh = 1 and no bias, h_T = sum_t |x_t| exactly: training must
 * find those weights, nothing sets them by hand. */
#include "l1norm.h"

#include <math.h>
#include <string.h>

ag_status l1norm_model_init(l1norm_model *model, bool bias, ag_rng *rng) {
    model->params = ag_params_create();
    if (!model->params) return ag_error_code();
    ag_status status = ag_rnn_cell_init(&model->cell, model->params, "rnn", 1, 1, AG_NONLINEARITY_RELU, bias, rng);
    if (status != AG_OK) {
        ag_params_free(model->params);
        model->params = NULL;
    }
    return status;
}

void l1norm_init_positive(l1norm_model *model) {
    ag_real *values = ag_params_data(model->params);
    for (int64_t i = 0; i < ag_params_size(model->params); i++) values[i] = (ag_real)fabs((double)values[i]);
}

void l1norm_model_free(l1norm_model *model) {
    ag_params_free(model->params);
    model->params = NULL;
}

void l1norm_make_batch(ag_rng *rng, ag_sequence_batch *batch, ag_real *targets) {
    /* The lengths first, then every value in one draw, packed at the start
     * of the buffer: ag_rng_normal_fill computes four at a time, and a call
     * per row of 5.5 values on average cost half as much again. */
    int64_t total = 0;
    for (int b = 0; b < batch->batch; b++) {
        batch->lengths[b] = 1 + (int)ag_rng_below(rng, (uint32_t)batch->max_length);
        total += batch->lengths[b];
    }
    ag_rng_normal_fill(rng, batch->values, total);
    /* Each row to its place, the last first: a row's packed values lie
     * before its place and after those of the rows before it. */
    for (int b = batch->batch - 1; b >= 0; b--) {
        int length = batch->lengths[b];
        ag_real *row = batch->values + (size_t)b * batch->max_length;
        total -= length;
        memmove(row, batch->values + total, (size_t)length * sizeof *row);
        double sum = 0;
        for (int t = 0; t < length; t++) sum += fabs((double)row[t]);
        for (int t = length; t < batch->max_length; t++) row[t] = 0;
        targets[b] = (ag_real)sum;
    }
}

static ag_tensor *absolute_value(ag_ctx *ctx, ag_tensor *x) {
    return ag_where(ctx, ag_lt(ctx, x, ag_scalar(ctx, 0)), ag_neg(ctx, x), x);
}

ag_tensor *l1norm_forward(ag_ctx *ctx, const l1norm_model *model, const ag_sequence_batch *batch) {
    ag_tensor *absolute = absolute_value(ctx, ag_sequence_values(ctx, batch));
    ag_tensor *h0 = ag_zeros(ctx, 2, (int[]){batch->batch, 1});
    /* Each row's state stops at its own length: padding changes nothing. */
    return ag_rnn_cell_sequence_last(ctx, &model->cell, absolute, batch->lengths, h0);
}

/* In pieces of PREDICT_PIECE steps, each starting from the state the one
 * before ended in: the bits of one pass, in the memory of a training step.
 * Fresh memory cost more than the arithmetic (here a page fault per 4 KB
 * took 12 us: 1.4 ms for the 10,000 steps in one piece, 0.1 ms of work). */
enum { PREDICT_PIECE = 1024 };

ag_status l1norm_predict(ag_ctx *ctx, const l1norm_model *model, const ag_real *values, int length, double *prediction) {
    return l1norm_predict_or_stop(ctx, model, values, length, NULL, prediction);
}

ag_status l1norm_predict_or_stop(ag_ctx *ctx, const l1norm_model *model, const ag_real *values, int length,
                                 int (*stop)(void), double *prediction) {
    if (length < 1) return ag_error_set(AG_ERROR_ARGUMENT, "l1norm_predict: length %d is not at least 1", length);
    bool was_enabled = ag_set_grad_enabled(ctx, false);
    ag_status status = AG_OK;
    ag_real state = 0;
    for (int start = 0; start < length && status == AG_OK; start += PREDICT_PIECE) {
        if (stop && stop()) {
            status = ag_error_set(AG_ERROR_STATE, "l1norm_predict: stopped after %d of %d steps", start, length);
            break;
        }
        int steps = length - start < PREDICT_PIECE ? length - start : PREDICT_PIECE;
        ag_tensor *x = ag_from_array(ctx, 3, (int[]){1, steps, 1}, values + start);
        ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){1, 1}, &state);
        ag_tensor *h = ag_rnn_cell_sequence_last(ctx, &model->cell, absolute_value(ctx, x), NULL, h0);
        if (h)
            state = h->data[0];
        else
            status = ag_error_code();
        ag_ctx_reset(ctx);
    }
    if (status == AG_OK) *prediction = state;
    ag_set_grad_enabled(ctx, was_enabled);
    return status;
}
