/* Variable-length batches (ag_sequence_batch): allocation, one step's
 * inputs and mask for a cell stepped by hand (the mask lets a model keep
 * the state of a sequence that has ended, as models/gru.c does), the whole
 * batch as the input of the recurrent layers (recurrent.c, which stop each
 * row at its own length), and ag_last_step, which picks the last state out
 * of a layer's result. */
#include <stdlib.h>
#include <string.h>

#include "ag.h"

ag_status ag_sequence_batch_init(ag_sequence_batch *s, int batch, int max_length, int features) {
    memset(s, 0, sizeof *s);
    if (batch < 1 || max_length < 1 || features < 1)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_sequence_batch_init: batch %d, max_length %d, features %d must be >= 1",
                            batch, max_length, features);
    /* The tensor constructors' limit: the values become one tensor
     * (ag_sequence_values), and the product must not wrap around. */
    const uint64_t limit = (uint64_t)1 << 40;
    uint64_t rows = (uint64_t)batch * (uint64_t)max_length; /* < 2^62 */
    if (rows > limit / (uint64_t)features)
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "ag_sequence_batch_init: batch %d x max_length %d x features %d is more than 2^40 values",
                            batch, max_length, features);
    s->values = calloc((size_t)(rows * (uint64_t)features), sizeof *s->values);
    s->lengths = calloc((size_t)batch, sizeof *s->lengths);
    if (!s->values || !s->lengths) {
        ag_sequence_batch_free(s);
        return ag_error_set(AG_ERROR_MEMORY, "ag_sequence_batch_init: out of memory");
    }
    s->batch = batch;
    s->max_length = max_length;
    s->features = features;
    for (int b = 0; b < batch; b++) s->lengths[b] = max_length;
    return AG_OK;
}

void ag_sequence_batch_free(ag_sequence_batch *s) {
    free(s->values);
    free(s->lengths);
    memset(s, 0, sizeof *s);
}

static bool valid_step(const char *who, const ag_sequence_batch *s, int t) {
    if (t >= 0 && t < s->max_length) return true;
    ag_error_set(AG_ERROR_ARGUMENT, "%s: step %d is outside 0..%d", who, t, s->max_length - 1);
    return false;
}

ag_tensor *ag_sequence_input(ag_ctx *ctx, const ag_sequence_batch *s, int t) {
    if (!valid_step("ag_sequence_input", s, t)) return NULL;
    ag_tensor *x = ag_zeros(ctx, 2, (int[]){s->batch, s->features});
    if (!x) return NULL;
    for (int b = 0; b < s->batch; b++)
        if (t < s->lengths[b])
            memcpy(x->data + (size_t)b * s->features, s->values + ((size_t)b * s->max_length + t) * s->features,
                   (size_t)s->features * sizeof(ag_real));
    return x;
}

ag_tensor *ag_sequence_mask(ag_ctx *ctx, const ag_sequence_batch *s, int t, int width) {
    if (!valid_step("ag_sequence_mask", s, t)) return NULL;
    ag_tensor *mask = ag_zeros(ctx, 2, (int[]){s->batch, width});
    if (!mask) return NULL;
    for (int b = 0; b < s->batch; b++)
        if (t < s->lengths[b])
            for (int j = 0; j < width; j++) mask->data[(size_t)b * width + j] = 1;
    return mask;
}

ag_tensor *ag_last_step(ag_ctx *ctx, ag_tensor *sequence) {
    if (!sequence) return NULL;
    if (sequence->ndim != 3) {
        char shape[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_last_step: shape %s is not [batch, steps, features]",
                     ag_shape_string(sequence, shape, sizeof shape));
        return NULL;
    }
    int steps = sequence->shape[1];
    ag_tensor *last = ag_slice(ctx, sequence, 1, steps - 1, steps);
    return ag_reshape(ctx, last, 2, (int[]){sequence->shape[0], sequence->shape[2]});
}

ag_tensor *ag_sequence_values(ag_ctx *ctx, const ag_sequence_batch *s) {
    return ag_from_array(ctx, 3, (int[]){s->batch, s->max_length, s->features}, s->values);
}
