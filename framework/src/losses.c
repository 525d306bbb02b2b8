/* Losses: MSE composed from primitive ops, so that its gradient comes from
 * their own (gradient-checked) backward functions; the negative
 * log-likelihood is an op of its own, because it must read only the picked
 * entries (below); cross-entropy is log_softmax followed by it. */
#include "ag_internal.h"

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

/* The rows that count (mask non-zero, or all) with their targets checked
 * against x [rows, classes]; 0 with the error set, naming `who`. */
static int counted_rows(const char *who, const ag_tensor *x, const int *targets, const ag_real *mask) {
    char shape[64];
    if (x->ndim != 2) {
        ag_error_set(AG_ERROR_SHAPE, "%s: input has shape %s, expected [rows, classes]", who,
                     ag_shape_string(x, shape, sizeof shape));
        return 0;
    }
    if (!targets) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: targets is NULL", who);
        return 0;
    }
    int rows = x->shape[0], classes = x->shape[1], counted = 0;
    for (int r = 0; r < rows; r++) {
        if (mask && mask[r] == 0) continue;
        if (targets[r] < 0 || targets[r] >= classes) {
            ag_error_set(AG_ERROR_ARGUMENT, "%s: target %d of row %d is outside 0..%d", who, targets[r], r, classes - 1);
            return 0;
        }
        counted++;
    }
    if (counted == 0) ag_error_set(AG_ERROR_ARGUMENT, "%s: every row is masked out", who);
    return counted;
}

/* saved: the picked element's flat index for each row, -1 for a row that
 * does not count; real_arg: 1 / the number of rows that count. Only the
 * picked entries are read or given a gradient, so a -inf anywhere else (a
 * class masked with -inf, a masked-out row) cannot turn into -inf * 0 =
 * NaN, as in PyTorch's gather-based nll_loss. */
static ag_status nll_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *x = out->inputs[0];
    const int64_t *picked = out->saved;
    ag_real g = -out->grad[0];
    for (int r = 0; r < x->shape[0]; r++)
        if (picked[r] >= 0) x->grad[picked[r]] += g * out->real_arg;
    (void)ctx;
    return AG_OK;
}
static const ag_op nll_op = {"ag_nll_loss", nll_backward};

static ag_tensor *nll(ag_ctx *ctx, ag_tensor *x, const int *targets, const ag_real *mask, int counted) {
    int rows = x->shape[0], classes = x->shape[1];
    int64_t *picked = ag_arena_alloc(ctx, (size_t)rows * sizeof *picked);
    ag_tensor *out = picked ? ag_node(ctx, &nll_op, 1, (int[]){1}, 1, x, NULL, NULL) : NULL;
    if (!out) return NULL;
    out->saved = picked;
    out->real_arg = (ag_real)(1.0 / counted);
    /* The products and the double sum of the former -sum(x * weights), so
     * that losses keep their bits. */
    double sum = 0;
    for (int r = 0; r < rows; r++) {
        picked[r] = mask && mask[r] == 0 ? -1 : (int64_t)r * classes + targets[r];
        if (picked[r] >= 0) sum += x->data[picked[r]] * out->real_arg;
    }
    out->data[0] = -(ag_real)sum;
    return out;
}

ag_tensor *ag_nll_loss(ag_ctx *ctx, ag_tensor *log_probs, const int *targets, const ag_real *mask) {
    if (!log_probs) return NULL;
    int counted = counted_rows("ag_nll_loss", log_probs, targets, mask);
    return counted ? nll(ctx, log_probs, targets, mask, counted) : NULL;
}

ag_tensor *ag_cross_entropy_loss(ag_ctx *ctx, ag_tensor *logits, const int *targets, const ag_real *mask) {
    if (!logits) return NULL;
    int counted = counted_rows("ag_cross_entropy_loss", logits, targets, mask);
    ag_tensor *log_probs = counted ? ag_log_softmax(ctx, logits) : NULL;
    return log_probs ? nll(ctx, log_probs, targets, mask, counted) : NULL;
}
