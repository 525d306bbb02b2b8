/* Reductions (sum, mean) and the softmax family along the last axis. */
#include <math.h>

#include "ag_internal.h"

/* --------------------------------------------------------- sum and mean */

/* A tensor seen as [outer, n, inner] around `axis`; ALL_AXES means all
 * elements (outer = inner = 1). */
enum { ALL_AXES = -1000 };
typedef struct axis_view {
    int64_t outer, n, inner;
} axis_view;

static axis_view view_around(const ag_tensor *a, int axis) {
    axis_view v = {1, a->size, 1};
    if (axis == ALL_AXES) return v;
    v.n = a->shape[axis];
    for (int d = 0; d < axis; d++) v.outer *= a->shape[d];
    for (int d = axis + 1; d < a->ndim; d++) v.inner *= a->shape[d];
    return v;
}

/* int_args: [0] axis or ALL_AXES, [1] 1 for mean. */
static ag_status reduce_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    axis_view v = view_around(a, out->int_args[0]);
    ag_real scale = out->int_args[1] ? (ag_real)(1.0 / (double)v.n) : 1;
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t j = 0; j < v.n; j++)
            for (int64_t i = 0; i < v.inner; i++)
                a->grad[(o * v.n + j) * v.inner + i] += scale * out->grad[o * v.inner + i];
    (void)ctx;
    return AG_OK;
}
static const ag_op sum_op = {"ag_sum", reduce_backward};
static const ag_op mean_op = {"ag_mean", reduce_backward};
static const ag_op sum_axis_op = {"ag_sum_axis", reduce_backward};
static const ag_op mean_axis_op = {"ag_mean_axis", reduce_backward};
static const ag_op sum_axis_keepdim_op = {"ag_sum_axis_keepdim", reduce_backward};
static const ag_op mean_axis_keepdim_op = {"ag_mean_axis_keepdim", reduce_backward};

/* With keepdim the axis stays, of size 1; the data's layout is the same. */
static ag_tensor *reduce(ag_ctx *ctx, const ag_op *op, ag_tensor *a, int axis, bool mean, bool keepdim) {
    if (!a) return NULL;
    if (axis != ALL_AXES && (axis < 0 || axis >= a->ndim)) {
        char shape[64];
        ag_error_set(AG_ERROR_ARGUMENT, "%s: axis %d is out of range for shape %s", op->name, axis,
                     ag_shape_string(a, shape, sizeof shape));
        return NULL;
    }
    int shape[AG_MAX_DIMS] = {1}, ndim = 1;
    if (keepdim) {
        ndim = a->ndim;
        for (int d = 0; d < a->ndim; d++) shape[d] = d == axis ? 1 : a->shape[d];
    } else if (axis != ALL_AXES && a->ndim > 1) {
        ndim = 0;
        for (int d = 0; d < a->ndim; d++)
            if (d != axis) shape[ndim++] = a->shape[d];
    }
    ag_tensor *out = ag_node(ctx, op, ndim, shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    out->int_args[0] = axis;
    out->int_args[1] = mean;
    axis_view v = view_around(a, axis);
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < v.inner; i++) {
            /* Double accumulation: a float running sum stops growing at 2^24. */
            double sum = 0;
            for (int64_t j = 0; j < v.n; j++) sum += a->data[(o * v.n + j) * v.inner + i];
            out->data[o * v.inner + i] = (ag_real)(mean ? sum / (double)v.n : sum);
        }
    return out;
}

ag_tensor *ag_sum(ag_ctx *ctx, ag_tensor *a) { return reduce(ctx, &sum_op, a, ALL_AXES, false, false); }
ag_tensor *ag_mean(ag_ctx *ctx, ag_tensor *a) { return reduce(ctx, &mean_op, a, ALL_AXES, true, false); }
ag_tensor *ag_sum_axis(ag_ctx *ctx, ag_tensor *a, int axis) {
    return reduce(ctx, &sum_axis_op, a, axis, false, false);
}
ag_tensor *ag_mean_axis(ag_ctx *ctx, ag_tensor *a, int axis) {
    return reduce(ctx, &mean_axis_op, a, axis, true, false);
}
ag_tensor *ag_sum_axis_keepdim(ag_ctx *ctx, ag_tensor *a, int axis) {
    return reduce(ctx, &sum_axis_keepdim_op, a, axis, false, true);
}
ag_tensor *ag_mean_axis_keepdim(ag_ctx *ctx, ag_tensor *a, int axis) {
    return reduce(ctx, &mean_axis_keepdim_op, a, axis, true, true);
}

/* -------------------------------------------------------------- softmax */

/* int_args[0] = 1 for log_softmax. */
static ag_status softmax_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    int64_t n = a->shape[a->ndim - 1], rows = a->size / n;
    bool log_space = out->int_args[0];
    for (int64_t r = 0; r < rows; r++) {
        const ag_real *y = out->data + r * n, *g = out->grad + r * n;
        ag_real *gx = a->grad + r * n;
        double dot = 0;
        if (log_space) {
            /* y = x - logsumexp(x): dx = g - softmax(x) * sum(g) */
            for (int64_t j = 0; j < n; j++) dot += g[j];
            for (int64_t j = 0; j < n; j++) gx[j] += g[j] - (ag_real)(exp(y[j]) * dot);
        } else {
            /* dx = y * (g - sum(g * y)) */
            for (int64_t j = 0; j < n; j++) dot += (double)g[j] * y[j];
            for (int64_t j = 0; j < n; j++) gx[j] += y[j] * (g[j] - (ag_real)dot);
        }
    }
    (void)ctx;
    return AG_OK;
}
static const ag_op softmax_op = {"ag_softmax", softmax_backward};
static const ag_op log_softmax_op = {"ag_log_softmax", softmax_backward};

static ag_tensor *softmax(ag_ctx *ctx, const ag_op *op, ag_tensor *a, bool log_space) {
    if (!a) return NULL;
    ag_tensor *out = ag_node(ctx, op, a->ndim, a->shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    out->int_args[0] = log_space;
    int64_t n = a->shape[a->ndim - 1], rows = a->size / n;
    for (int64_t r = 0; r < rows; r++) {
        const ag_real *x = a->data + r * n;
        ag_real *y = out->data + r * n;
        /* Subtracting the maximum keeps exp <= 1, and the sum >= 1. */
        ag_real max = x[0];
        for (int64_t j = 1; j < n; j++)
            if (x[j] > max) max = x[j];
        double sum = 0;
        for (int64_t j = 0; j < n; j++) sum += exp((double)(x[j] - max));
        double log_sum = log(sum);
        for (int64_t j = 0; j < n; j++)
            y[j] = log_space ? (ag_real)((double)(x[j] - max) - log_sum) : (ag_real)(exp((double)(x[j] - max)) / sum);
    }
    return out;
}

ag_tensor *ag_softmax(ag_ctx *ctx, ag_tensor *a) { return softmax(ctx, &softmax_op, a, false); }
ag_tensor *ag_log_softmax(ag_ctx *ctx, ag_tensor *a) { return softmax(ctx, &log_softmax_op, a, true); }
