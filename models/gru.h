/* A GRU cell written on ag's public API only, as a user of the library
 * would write a new module (docs/adding-a-model.md walks through it).
 * Equations, gate order, parameter names and default init are those of
 * torch.nn.GRUCell, so PyTorch checkpoints load into it. */
#ifndef AG_MODEL_GRU_H
#define AG_MODEL_GRU_H

#include <ag.h>

/*   r  = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)        reset gate
 *   z  = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)        update gate
 *   n  = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))     candidate
 *   h' = (1 - z) * n + z * h
 * weight_ih = [W_ir; W_iz; W_in] is [3 hidden, input], weight_hh
 * [3 hidden, hidden], the biases [3 hidden] (PREFIX.weight_ih, ...). */
typedef struct gru_cell {
    ag_tensor *weight_ih, *weight_hh;
    ag_tensor *bias_ih, *bias_hh; /* NULL without bias */
    int input_size, hidden_size;
} gru_cell;

/* Adds the parameters to `params` under `prefix`, initialised
 * U(-1/sqrt(hidden), 1/sqrt(hidden)) like PyTorch. */
ag_status gru_cell_init(gru_cell *cell, ag_params *params, const char *prefix, int input_size, int hidden_size,
                        bool bias, ag_rng *rng);
/* One step: x [batch, input], h [batch, hidden] -> h' [batch, hidden]. */
ag_tensor *gru_cell_forward(ag_ctx *ctx, const gru_cell *cell, ag_tensor *x, ag_tensor *h);
/* The cell over a batch of variable-length sequences from h0; each row of
 * the result is the state after that sequence's own last element. */
ag_tensor *gru_cell_run(ag_ctx *ctx, const gru_cell *cell, const ag_sequence_batch *s, ag_tensor *h0);

#endif
