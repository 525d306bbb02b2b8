/* Losses, composed from primitive ops so that their gradients come from
 * the ops' own (gradient-checked) backward functions. */
#include "ag.h"

ag_tensor *ag_mse_loss(ag_ctx *ctx, ag_tensor *prediction, ag_tensor *target) {
    if (!prediction || !target) return NULL;
    if (!ag_same_shape(prediction, target)) {
        char p[64], t[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_mse_loss: prediction %s and target %s differ in shape",
                     ag_shape_string(prediction, p, sizeof p), ag_shape_string(target, t, sizeof t));
        return NULL;
    }
    ag_tensor *difference = ag_sub(ctx, prediction, target);
    return ag_mean(ctx, ag_mul(ctx, difference, difference));
}

ag_tensor *ag_cross_entropy_loss(ag_ctx *ctx, ag_tensor *logits, const int *targets, const ag_real *mask) {
    if (!logits) return NULL;
    char shape[64];
    if (logits->ndim != 2) {
        ag_error_set(AG_ERROR_SHAPE, "ag_cross_entropy_loss: logits have shape %s, expected [rows, classes]",
                     ag_shape_string(logits, shape, sizeof shape));
        return NULL;
    }
    if (!targets) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_cross_entropy_loss: targets is NULL");
        return NULL;
    }
    int rows = logits->shape[0], classes = logits->shape[1];
    double counted = 0;
    for (int r = 0; r < rows; r++) {
        if (mask && mask[r] == 0) continue;
        if (targets[r] < 0 || targets[r] >= classes) {
            ag_error_set(AG_ERROR_ARGUMENT, "ag_cross_entropy_loss: target %d of row %d is outside 0..%d",
                         targets[r], r, classes - 1);
            return NULL;
        }
        counted += 1;
    }
    if (counted == 0) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_cross_entropy_loss: every row is masked out");
        return NULL;
    }
    /* -mean of the picked log-probabilities = -sum(log_softmax * W), with
     * W holding 1/count at each counted row's target. */
    ag_tensor *pick = ag_zeros(ctx, 2, logits->shape);
    if (!pick) return NULL;
    for (int r = 0; r < rows; r++)
        if (!mask || mask[r] != 0) pick->data[(int64_t)r * classes + targets[r]] = (ag_real)(1.0 / counted);
    return ag_neg(ctx, ag_sum(ctx, ag_mul(ctx, ag_log_softmax(ctx, logits), pick)));
}
