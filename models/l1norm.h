/* The L1-norm RNN: a one-unit ReLU RNN that learns to sum |x_t|. */
#ifndef AG_MODEL_L1NORM_H
#define AG_MODEL_L1NORM_H

#include "ag.h"

typedef struct l1norm_model {
    ag_params *params;
    ag_rnn_cell cell; /* input 1, hidden 1, relu; parameters "rnn.*" */
} l1norm_model;

/* PyTorch's default init: every weight from U(-1, 1). */
ag_status l1norm_model_init(l1norm_model *model, bool bias, ag_rng *rng);

/* The demo's default init, after l1norm_model_init: every parameter keeps
 * the magnitude of PyTorch's draw and takes a positive sign. Without bias,
 * w_ih < 0 (half of PyTorch's draws) makes every state relu(w_ih |x_1|
 * + w_hh 0) = 0 and no gradient ever flows; with every parameter >= 0 the
 * first pre-activation w_ih |x_1| [+ b_ih + b_hh] is >= 0 for any input,
 * so the ReLU starts alive. The biases too: b_ih + b_hh well below 0 kills
 * it as surely (seeds 1..100 with --bias: 100 converge, 95 with the
 * biases left as drawn, 77 with PyTorch's init as drawn). */
void l1norm_init_positive(l1norm_model *model);
void l1norm_model_free(l1norm_model *model);

/* A fresh batch of the experiment's data: lengths uniform in 1..max_length,
 * values N(0, 1) (zero past each length), targets sum |x| accumulated in
 * double. */
void l1norm_make_batch(ag_rng *rng, ag_sequence_batch *batch, ag_real *targets);

/* Predictions [batch, 1]: each sequence's final state after its own length. */
ag_tensor *l1norm_forward(ag_ctx *ctx, const l1norm_model *model, const ag_sequence_batch *batch);

/* The prediction for one long sequence, without recording a graph; run in
 * pieces, so its memory does not grow with the length (the context is
 * reset after each). */
ag_status l1norm_predict(ag_ctx *ctx, const l1norm_model *model, const ag_real *values, int length, double *prediction);
/* The same, asking `stop` (if not NULL) before each piece: when it answers
 * non-zero, returns AG_ERROR_STATE at once and leaves *prediction as it
 * was (a long test sequence stops on a signal). */
ag_status l1norm_predict_or_stop(ag_ctx *ctx, const l1norm_model *model, const ag_real *values, int length,
                                 int (*stop)(void), double *prediction);

#endif
