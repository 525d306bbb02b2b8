/* The character-level language model: embedding, stacked LSTM, linear. */
#include "charlm.h"

#include <string.h>

ag_status charlm_model_init(charlm_model *model, const charlm_config *config, ag_rng *rng) {
    memset(model, 0, sizeof *model);
    const charlm_config *c = config;
    if (c->vocab < 1 || c->embed < 1 || c->hidden < 1 || c->layers < 1 || c->layers > AG_RECURRENT_MAX_LAYERS ||
        !(c->dropout >= 0 && c->dropout < 1))
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "charlm_model_init: vocab %d, embed %d, hidden %d, layers %d (1..%d), dropout %g ([0, 1))",
                            c->vocab, c->embed, c->hidden, c->layers, AG_RECURRENT_MAX_LAYERS, c->dropout);
    model->config = *c;
    model->params = ag_params_create();
    if (!model->params) return ag_error_code();
    ag_status status = ag_embedding_init(&model->embed, model->params, "embed", c->vocab, c->embed, -1, rng);
    if (status == AG_OK)
        status = ag_lstm_init(&model->lstm, model->params, "lstm", c->embed, c->hidden, c->layers, false, c->dropout,
                              rng);
    if (status == AG_OK) status = ag_linear_init(&model->linear, model->params, "linear", c->hidden, c->vocab, true, rng);
    if (status != AG_OK) charlm_model_free(model);
    return status;
}

void charlm_model_free(charlm_model *model) {
    ag_params_free(model->params);
    model->params = NULL;
}

ag_status charlm_state_init(charlm_state *state, const charlm_model *model, int streams) {
    const int shape[3] = {model->config.layers, streams, model->config.hidden};
    state->h = ag_tensor_new(3, shape);
    state->c = state->h ? ag_tensor_new(3, shape) : NULL;
    if (!state->c) {
        charlm_state_free(state);
        return ag_error_code();
    }
    return AG_OK;
}

void charlm_state_reset(charlm_state *state) {
    memset(state->h->data, 0, (size_t)state->h->size * sizeof(ag_real));
    memset(state->c->data, 0, (size_t)state->c->size * sizeof(ag_real));
}

void charlm_state_free(charlm_state *state) {
    ag_tensor_free(state->h);
    ag_tensor_free(state->c);
    state->h = state->c = NULL;
}

ag_tensor *charlm_forward(ag_ctx *ctx, const charlm_model *model, const int *inputs, int streams, int steps,
                          charlm_state *state, bool training, ag_rng *rng) {
    const charlm_config *c = &model->config;
    if (streams != state->h->shape[1]) {
        ag_error_set(AG_ERROR_SHAPE, "charlm_forward: %d streams, the state holds %d", streams, state->h->shape[1]);
        return NULL;
    }
    /* The graph reads copies: the state is overwritten below, before the
     * backward pass that reads h0 and c0. */
    ag_tensor *h0 = ag_copy(ctx, state->h), *c0 = ag_copy(ctx, state->c);
    ag_tensor *x = ag_embedding_forward(ctx, &model->embed, inputs, streams * steps);
    x = ag_reshape(ctx, x, 3, (int[]){streams, steps, c->embed});
    ag_recurrent_output out = ag_lstm_forward(ctx, &model->lstm, x, NULL, h0, c0, training, rng);
    ag_tensor *h = ag_reshape(ctx, out.output, 2, (int[]){streams * steps, c->hidden});
    ag_tensor *logits = ag_linear_forward(ctx, &model->linear, h);
    if (!logits) return NULL;
    ag_detach_into(state->h, out.h_n);
    ag_detach_into(state->c, out.c_n);
    return logits;
}

ag_tensor *charlm_loss(ag_ctx *ctx, const charlm_model *model, const int *inputs, const int *targets, int streams,
                       int steps, charlm_state *state, bool training, ag_rng *rng) {
    ag_tensor *logits = charlm_forward(ctx, model, inputs, streams, steps, state, training, rng);
    return logits ? ag_cross_entropy_loss(ctx, logits, targets, NULL) : NULL;
}

ag_status charlm_generate(ag_ctx *ctx, const charlm_model *model, charlm_state *state, int first, int length,
                          double temperature, ag_rng *rng, int *out) {
    bool was_enabled = ag_set_grad_enabled(ctx, false);
    ag_status status = AG_OK;
    int next = first;
    for (int i = 0; i < length && status == AG_OK; i++) {
        ag_tensor *logits = charlm_forward(ctx, model, &next, 1, 1, state, false, NULL);
        status = logits ? ag_sample_categorical(logits, temperature, rng, &out[i]) : ag_error_code();
        next = out[i];
        ag_ctx_reset(ctx);
    }
    ag_set_grad_enabled(ctx, was_enabled);
    return status;
}
