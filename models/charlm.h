/* A character-level language model, Karpathy's char-rnn: each byte of a
 * text, as its index in a sorted vocabulary, predicts the next one through
 *   Embedding(vocab, embed) -> LSTM(embed, hidden, layers, dropout between
 *   layers) -> Linear(hidden, vocab)
 * with PyTorch's module names (embed.weight, lstm.weight_ih_l0, ...,
 * linear.weight, linear.bias), so the weights load into the same
 * torch.nn modules. Trained by truncated backpropagation through time: the
 * state is carried from chunk to chunk, detached. The text, its vocabulary
 * and its streams are in charlm_data.h. */
#ifndef AG_MODEL_CHARLM_H
#define AG_MODEL_CHARLM_H

#include "ag.h"

typedef struct charlm_config {
    int vocab, embed, hidden, layers;
    double dropout; /* between LSTM layers, in training */
} charlm_config;

typedef struct charlm_model {
    charlm_config config;
    ag_params *params;
    ag_embedding embed; /* "embed.weight" [vocab, embed], N(0, 1) */
    ag_lstm lstm;       /* "lstm.*", torch.nn.LSTM(batch_first=True) */
    ag_linear linear;   /* "linear.*" [vocab, hidden] and [vocab] */
} charlm_model;

/* PyTorch's init, drawn in module order (embedding, LSTM, linear);
 * AG_ERROR_ARGUMENT on a size < 1, layers over AG_RECURRENT_MAX_LAYERS or
 * dropout outside [0, 1). */
ag_status charlm_model_init(charlm_model *model, const charlm_config *config, ag_rng *rng);
void charlm_model_free(charlm_model *model);

/* The state carried between chunks: h and c, [layers, streams, hidden],
 * owned by the caller (they outlive each step's graph). */
typedef struct charlm_state {
    ag_tensor *h, *c; /* [layers, streams, hidden] */
} charlm_state;
/* A zero state for `streams` streams; AG_ERROR_MEMORY. */
ag_status charlm_state_init(charlm_state *state, const charlm_model *model, int streams);
/* Back to zeros (the start of an epoch, or of a text). */
void charlm_state_reset(charlm_state *state);
void charlm_state_free(charlm_state *state);

/* Logits [streams * steps, vocab] (row b * steps + t) of the next byte
 * after each of inputs [streams, steps] (row-major vocabulary indices),
 * starting from `state`. The graph reads a copy of the state, and the
 * state is then set to the one after the chunk, detached: the next chunk
 * goes on from it and its backward stops there. In training the LSTM's
 * dropout draws from rng. NULL (state unchanged) on an index outside the
 * vocabulary or a state of other streams. */
ag_tensor *charlm_forward(ag_ctx *ctx, const charlm_model *model, const int *inputs, int streams, int steps,
                          charlm_state *state, bool training, ag_rng *rng);

/* The mean cross-entropy (nats) of predicting targets [streams, steps]
 * from inputs, as charlm_forward: torch's F.cross_entropy over all
 * streams * steps positions. */
ag_tensor *charlm_loss(ag_ctx *ctx, const charlm_model *model, const int *inputs, const int *targets, int streams,
                       int steps, charlm_state *state, bool training, ag_rng *rng);

/* Generates `length` indices into out, one stream from `state` (1
 * stream), fed `first` first: each next index is drawn from
 * softmax(logits / temperature) with one ag_rng_uniform of rng
 * (temperature 0: the most likely, no draw), then fed back. Runs without
 * a graph (grad disabled) and leaves the state after the last one fed. */
ag_status charlm_generate(ag_ctx *ctx, const charlm_model *model, charlm_state *state, int first, int length,
                          double temperature, ag_rng *rng, int *out);

#endif
