/* The adding problem (Hochreiter and Schmidhuber 1997; as in Le, Jaitly
 * and Hinton 2015): read T pairs (value, marker) and output the sum of the
 * two marked values. */
#ifndef AG_MODEL_ADDING_H
#define AG_MODEL_ADDING_H

#include "ag.h"

/* Example `index` of a data set, written into row `row` of `batch`
 * (features 2, max_length T); returns the target. The same (seed, split,
 * index) always gives the same example, so no data set is stored. Values
 * are U[0, 1); one marker is in the first half, one in the second. */
ag_real adding_example(uint64_t seed, int split, int64_t index, ag_sequence_batch *batch, int row);
enum { ADDING_TRAIN = 0, ADDING_TEST = 1 };

typedef enum adding_kind { ADDING_IRNN, ADDING_RNN_TANH, ADDING_LSTM, ADDING_GRU } adding_kind;

typedef struct adding_model {
    adding_kind kind;
    ag_params *params;
    ag_rnn_cell rnn;   /* irnn, rnn-tanh: parameters "rnn.*" */
    ag_lstm_cell lstm; /* lstm: parameters "lstm.*" */
    ag_gru_cell gru;   /* gru: parameters "gru.*" */
    ag_linear readout; /* hidden -> 1: "linear.*" */
} adding_model;

/* irnn: W_hh = identity_scale * I, biases 0, W_ih ~ N(0, 0.001^2) (the
 * paper's recipe); rnn-tanh: PyTorch's init; lstm: PyTorch's init with the
 * forget-gate bias set to forget_bias; gru: PyTorch's init (torch.nn.GRUCell).
 * The readout has PyTorch's init. */
ag_status adding_model_init(adding_model *model, adding_kind kind, int hidden, double identity_scale,
                            double forget_bias, ag_rng *rng);
void adding_model_free(adding_model *model);

/* Predictions [batch, 1] from the last hidden state. */
ag_tensor *adding_forward(ag_ctx *ctx, const adding_model *model, const ag_sequence_batch *batch);

#endif
