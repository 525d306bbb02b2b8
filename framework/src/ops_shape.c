/* Ops that move elements without arithmetic: concat, slice, row gather,
 * reshape. Their backward moves the gradient back the same way. */
#include <string.h>

#include "ag_internal.h"

/* Sizes of a tensor seen as [outer, n, inner] around `axis`. */
static void split_at(const ag_tensor *t, int axis, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= t->shape[d];
    for (int d = axis + 1; d < t->ndim; d++) *inner *= t->shape[d];
}

/* ---------------------------------------------------------------- concat */

static ag_status concat_backward(ag_ctx *ctx, ag_tensor *out) {
    int axis = out->int_args[0];
    int64_t outer, inner, offset = 0;
    split_at(out, axis, &outer, &inner);
    int64_t row = out->shape[axis] * inner;
    for (int k = 0; k < 2; k++) {
        ag_tensor *in = out->inputs[k];
        int64_t part = in->shape[axis] * inner;
        if (in->requires_grad)
            for (int64_t o = 0; o < outer; o++)
                for (int64_t i = 0; i < part; i++) in->grad[o * part + i] += out->grad[o * row + offset + i];
        offset += part;
    }
    (void)ctx;
    return AG_OK;
}
static const ag_op concat_op = {"ag_concat", concat_backward};

ag_tensor *ag_concat(ag_ctx *ctx, ag_tensor *a, ag_tensor *b, int axis) {
    if (!a || !b) return NULL;
    if (axis < 0 || axis >= a->ndim) {
        char shape[64];
        ag_error_set(AG_ERROR_ARGUMENT, "ag_concat: axis %d is out of range for shape %s", axis,
                     ag_shape_string(a, shape, sizeof shape));
        return NULL;
    }
    bool fits = a->ndim == b->ndim;
    for (int d = 0; fits && d < a->ndim; d++) fits = d == axis || a->shape[d] == b->shape[d];
    if (!fits) {
        char shape_a[64], shape_b[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_concat: shapes %s and %s cannot be joined along axis %d",
                     ag_shape_string(a, shape_a, sizeof shape_a), ag_shape_string(b, shape_b, sizeof shape_b), axis);
        return NULL;
    }
    int shape[AG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[axis] = a->shape[axis] + b->shape[axis];
    ag_tensor *out = ag_node(ctx, &concat_op, a->ndim, shape, 2, a, b, NULL);
    if (!out) return NULL;
    out->int_args[0] = axis;
    int64_t outer, inner;
    split_at(out, axis, &outer, &inner);
    int64_t part_a = a->shape[axis] * inner, part_b = b->shape[axis] * inner;
    for (int64_t o = 0; o < outer; o++) {
        memcpy(out->data + o * (part_a + part_b), a->data + o * part_a, (size_t)part_a * sizeof(ag_real));
        memcpy(out->data + o * (part_a + part_b) + part_a, b->data + o * part_b, (size_t)part_b * sizeof(ag_real));
    }
    return out;
}

/* ----------------------------------------------------------------- slice */

/* int_args: axis, start. */
static ag_status slice_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    int axis = out->int_args[0], start = out->int_args[1];
    int64_t outer, inner;
    split_at(a, axis, &outer, &inner);
    int64_t row_in = a->shape[axis] * inner, row_out = out->shape[axis] * inner;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < row_out; i++) a->grad[o * row_in + start * inner + i] += out->grad[o * row_out + i];
    (void)ctx;
    return AG_OK;
}
static const ag_op slice_op = {"ag_slice", slice_backward};

ag_tensor *ag_slice(ag_ctx *ctx, ag_tensor *a, int axis, int start, int end) {
    if (!a) return NULL;
    if (axis < 0 || axis >= a->ndim || start < 0 || end > a->shape[axis] || start >= end) {
        char shape[64];
        ag_error_set(AG_ERROR_ARGUMENT, "ag_slice: [%d, %d) along axis %d is out of range for shape %s", start, end,
                     axis, ag_shape_string(a, shape, sizeof shape));
        return NULL;
    }
    int shape[AG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[axis] = end - start;
    ag_tensor *out = ag_node(ctx, &slice_op, a->ndim, shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    out->int_args[0] = axis;
    out->int_args[1] = start;
    int64_t outer, inner;
    split_at(a, axis, &outer, &inner);
    int64_t row_in = a->shape[axis] * inner, row_out = (int64_t)(end - start) * inner;
    for (int64_t o = 0; o < outer; o++)
        memcpy(out->data + o * row_out, a->data + o * row_in + start * inner, (size_t)row_out * sizeof(ag_real));
    return out;
}

/* ----------------------------------------------------------- gather rows */

static ag_status gather_rows_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *table = out->inputs[0];
    const int *indices = out->saved;
    int64_t columns = table->shape[1];
    int padding_index = out->int_args[0]; /* gets no gradient; -1: none */
    /* Repeated indices add up: a row used twice gets both gradients. */
    for (int r = 0; r < out->shape[0]; r++)
        if (indices[r] != padding_index)
            for (int64_t j = 0; j < columns; j++) table->grad[indices[r] * columns + j] += out->grad[r * columns + j];
    (void)ctx;
    return AG_OK;
}
static const ag_op gather_rows_op = {"ag_gather_rows", gather_rows_backward};

/* ag_gather_rows and ag_gather_rows_padded; `who` names the function in messages. */
static ag_tensor *gather_rows(ag_ctx *ctx, const char *who, ag_tensor *table, const int *indices, int n,
                              int padding_index) {
    if (!table) return NULL;
    char shape[64];
    if (table->ndim != 2) {
        ag_error_set(AG_ERROR_SHAPE, "%s: table has shape %s; it must be 2-D", who,
                     ag_shape_string(table, shape, sizeof shape));
        return NULL;
    }
    if (!indices || n < 1) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: need at least one index", who);
        return NULL;
    }
    if (padding_index < -1 || padding_index >= table->shape[0]) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: padding index %d is out of range for table %s (-1 for none)", who,
                     padding_index, ag_shape_string(table, shape, sizeof shape));
        return NULL;
    }
    for (int r = 0; r < n; r++)
        if (indices[r] < 0 || indices[r] >= table->shape[0]) {
            ag_error_set(AG_ERROR_ARGUMENT, "%s: index %d (position %d) is out of range for table %s", who,
                         indices[r], r, ag_shape_string(table, shape, sizeof shape));
            return NULL;
        }
    int64_t columns = table->shape[1];
    ag_tensor *out = ag_node(ctx, &gather_rows_op, 2, (int[]){n, (int)columns}, 1, table, NULL, NULL);
    if (!out) return NULL;
    out->int_args[0] = padding_index;
    if (out->requires_grad) {
        int *saved = ag_arena_alloc(ctx, (size_t)n * sizeof *saved);
        if (!saved) return NULL;
        memcpy(saved, indices, (size_t)n * sizeof *saved);
        out->saved = saved;
    }
    for (int r = 0; r < n; r++)
        memcpy(out->data + r * columns, table->data + indices[r] * columns, (size_t)columns * sizeof(ag_real));
    return out;
}

ag_tensor *ag_gather_rows(ag_ctx *ctx, ag_tensor *table, const int *indices, int n) {
    return gather_rows(ctx, "ag_gather_rows", table, indices, n, -1);
}

ag_tensor *ag_gather_rows_padded(ag_ctx *ctx, ag_tensor *table, const int *indices, int n, int padding_index) {
    return gather_rows(ctx, "ag_gather_rows_padded", table, indices, n, padding_index);
}

/* --------------------------------------------------------------- reshape */

static ag_status reshape_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    for (int64_t i = 0; i < a->size; i++) a->grad[i] += out->grad[i];
    (void)ctx;
    return AG_OK;
}
static const ag_op reshape_op = {"ag_reshape", reshape_backward};

ag_tensor *ag_reshape(ag_ctx *ctx, ag_tensor *a, int ndim, const int *shape) {
    if (!a) return NULL;
    if (!ag_valid_shape("ag_reshape", ndim, shape)) return NULL;
    int64_t size = 1;
    for (int d = 0; d < ndim; d++) size *= shape[d];
    if (size != a->size) {
        char from[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_reshape: cannot reshape %s (%lld elements) to %lld elements",
                     ag_shape_string(a, from, sizeof from), (long long)a->size, (long long)size);
        return NULL;
    }
    ag_tensor *out = ag_node(ctx, &reshape_op, ndim, shape, 1, a, NULL, NULL);
    if (out) memcpy(out->data, a->data, (size_t)a->size * sizeof(ag_real));
    return out;
}
