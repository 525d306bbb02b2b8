/* The digit-sum seq2seq model: read decimal digits, then EOS, then write
 * the digits of their sum, then EOA. Its examples and their CSV files are
 * in digitsum_data.h. */
#ifndef AG_MODEL_DIGITSUM_H
#define AG_MODEL_DIGITSUM_H

#include "ag.h"
#include "digitsum_data.h"

enum {
    DIGITSUM_EOS = 10,    /* end of sequence: the model starts answering */
    DIGITSUM_EOA = 11,    /* end of answer */
    DIGITSUM_SYMBOLS = 12 /* one-hot width */
};

typedef enum digitsum_kind { DIGITSUM_RNN, DIGITSUM_LSTM } digitsum_kind;

typedef struct digitsum_model {
    digitsum_kind kind;
    int hidden;
    ag_params *params;
    ag_rnn_cell rnn;   /* "rnn.*": tanh RNNCell(12, hidden) */
    ag_lstm_cell lstm; /* "lstm.*": LSTMCell(12, hidden) */
    ag_linear readout; /* "linear.*": Linear(hidden, 12) */
} digitsum_model;

ag_status digitsum_model_init(digitsum_model *model, digitsum_kind kind, int hidden, ag_rng *rng);
void digitsum_model_free(digitsum_model *model);

/* Teacher-forced cross-entropy of n examples of any lengths: each reads
 * d_1..d_L EOS a_1..a_m and is scored where it should emit a_1..a_m EOA;
 * the loss is the mean over all scored symbols of the batch (PyTorch's
 * cross_entropy over padded targets with ignore_index). */
ag_tensor *digitsum_loss(ag_ctx *ctx, const digitsum_model *model, const digitsum_example *const *batch, int n);

/* Greedy decoding of n examples of one input length: writes each answer
 * (digits before the first EOA, or all DIGITSUM_MAX_ANSWER symbols if none)
 * into answers[i] and sets correct[i] (may be NULL) when it equals the
 * example's answer followed by EOA. */
ag_status digitsum_decode(ag_ctx *ctx, const digitsum_model *model, const digitsum_example *const *batch, int n,
                          char (*answers)[DIGITSUM_MAX_ANSWER + 2], bool *correct);

#endif
