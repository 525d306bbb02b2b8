/* Elementwise ops: binary ops with broadcasting, comparison masks, where,
 * and unary functions. Each op's forward and backward formulas sit side by
 * side in the switch of its family. */
#include <string.h>
#include <tgmath.h> /* float functions in the float build, double in the double build */

#include "ag_internal.h"
#include "fast_math.h"

/* ------------------------------------------------------------ broadcasting */

/* The output shape and the strides of each input over the output's index
 * space, right-aligned to 4 dimensions; a stride of 0 repeats an element. */
typedef struct broadcast {
    int ndim;
    int shape[AG_MAX_DIMS];
    int64_t padded[AG_MAX_DIMS]; /* output shape right-aligned to 4 dims */
    int64_t stride_a[AG_MAX_DIMS], stride_b[AG_MAX_DIMS];
    bool same_shape;
    bool row_of_b; /* a is the output's shape, b one row repeated: [B, H] + [H] */
    bool scalar_b; /* a is the output's shape, b one value: x < 0 */
} broadcast;

static void input_strides(const ag_tensor *t, int64_t *stride) {
    int64_t s = 1;
    for (int d = AG_MAX_DIMS - 1, k = t->ndim - 1; d >= 0; d--, k--) {
        int size = k >= 0 ? t->shape[k] : 1;
        stride[d] = size == 1 ? 0 : s;
        s *= size;
    }
}

static bool broadcast_shapes(const char *who, const ag_tensor *a, const ag_tensor *b, broadcast *plan) {
    plan->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < plan->ndim; i++) {
        int ka = a->ndim - plan->ndim + i, kb = b->ndim - plan->ndim + i;
        int sa = ka >= 0 ? a->shape[ka] : 1, sb = kb >= 0 ? b->shape[kb] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char shape_a[64], shape_b[64];
            ag_error_set(AG_ERROR_SHAPE, "%s: shapes %s and %s do not broadcast (dimension %d: %d vs %d)", who,
                         ag_shape_string(a, shape_a, sizeof shape_a), ag_shape_string(b, shape_b, sizeof shape_b),
                         i, sa, sb);
            return false;
        }
        plan->shape[i] = sa > sb ? sa : sb;
    }
    for (int d = 0; d < AG_MAX_DIMS; d++) {
        int k = plan->ndim - AG_MAX_DIMS + d;
        plan->padded[d] = k >= 0 ? plan->shape[k] : 1;
    }
    input_strides(a, plan->stride_a);
    input_strides(b, plan->stride_b);
    plan->same_shape = ag_same_shape(a, b);
    /* The bias pattern of every module ([B, H] + [H]) gets a loop without
     * index arithmetic: a is not broadcast, b is one row of the last
     * dimension's length. */
    int64_t output_size = plan->padded[0] * plan->padded[1] * plan->padded[2] * plan->padded[3];
    plan->row_of_b = !plan->same_shape && a->size == output_size && b->size == plan->padded[3] &&
                     plan->stride_b[3] == 1;
    plan->scalar_b = !plan->same_shape && a->size == output_size && b->size == 1;
    return true;
}

/* Calls BODY with i (output index), ia, ib (input indices) for every
 * output element. */
#define FOR_EACH_BROADCAST(plan, BODY)                                                               \
    do {                                                                                             \
        if ((plan)->scalar_b) {                                                                      \
            int64_t n_ = (plan)->padded[0] * (plan)->padded[1] * (plan)->padded[2] * (plan)->padded[3]; \
            for (int64_t i = 0; i < n_; i++) {                                                       \
                int64_t ia = i, ib = 0;                                                              \
                (void)ia; (void)ib; BODY;                                                            \
            }                                                                                        \
            break;                                                                                   \
        }                                                                                            \
        if ((plan)->row_of_b) {                                                                      \
            int64_t n_ = (plan)->padded[3], rows_ = (plan)->padded[0] * (plan)->padded[1] * (plan)->padded[2]; \
            for (int64_t r_ = 0, i = 0; r_ < rows_; r_++)                                            \
                for (int64_t ib = 0; ib < n_; ib++, i++) {                                           \
                    int64_t ia = i;                                                                  \
                    (void)ia; (void)ib; BODY;                                                        \
                }                                                                                    \
            break;                                                                                   \
        }                                                                                            \
        if ((plan)->same_shape) {                                                                    \
            int64_t n_ = (plan)->padded[0] * (plan)->padded[1] * (plan)->padded[2] * (plan)->padded[3]; \
            for (int64_t i = 0; i < n_; i++) {                                                       \
                int64_t ia = i, ib = i;                                                              \
                (void)ia; (void)ib; BODY;                                                            \
            }                                                                                        \
            break;                                                                                   \
        }                                                                                            \
        int64_t i = 0;                                                                               \
        for (int64_t d0 = 0; d0 < (plan)->padded[0]; d0++)                                           \
            for (int64_t d1 = 0; d1 < (plan)->padded[1]; d1++)                                       \
                for (int64_t d2 = 0; d2 < (plan)->padded[2]; d2++) {                                 \
                    int64_t base_a_ = d0 * (plan)->stride_a[0] + d1 * (plan)->stride_a[1] +          \
                                      d2 * (plan)->stride_a[2];                                      \
                    int64_t base_b_ = d0 * (plan)->stride_b[0] + d1 * (plan)->stride_b[1] +          \
                                      d2 * (plan)->stride_b[2];                                      \
                    for (int64_t d3 = 0; d3 < (plan)->padded[3]; d3++, i++) {                        \
                        int64_t ia = base_a_ + d3 * (plan)->stride_a[3];                             \
                        int64_t ib = base_b_ + d3 * (plan)->stride_b[3];                             \
                        (void)ia; (void)ib; BODY;                                                    \
                    }                                                                                \
                }                                                                                    \
    } while (0)

/* ------------------------------------------------------------ binary ops */

enum binary_kind { BINARY_ADD, BINARY_SUB, BINARY_MUL, BINARY_DIV, BINARY_LT, BINARY_GT };

static ag_status binary_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op add_op = {"ag_add", binary_backward};
static const ag_op sub_op = {"ag_sub", binary_backward};
static const ag_op mul_op = {"ag_mul", binary_backward};
static const ag_op div_op = {"ag_div", binary_backward};

static ag_tensor *binary(ag_ctx *ctx, const ag_op *op, const char *name, enum binary_kind kind, ag_tensor *a,
                         ag_tensor *b) {
    if (!a || !b) return NULL;
    broadcast plan;
    if (!broadcast_shapes(name, a, b, &plan)) return NULL;
    ag_tensor *out = ag_node(ctx, op, plan.ndim, plan.shape, 2, a, b, NULL);
    if (!out) return NULL;
    out->int_args[0] = kind;
    const ag_real *x = a->data, *y = b->data;
    ag_real *z = out->data;
    switch (kind) {
    case BINARY_ADD: FOR_EACH_BROADCAST(&plan, z[i] = x[ia] + y[ib]); break;
    case BINARY_SUB: FOR_EACH_BROADCAST(&plan, z[i] = x[ia] - y[ib]); break;
    case BINARY_MUL: FOR_EACH_BROADCAST(&plan, z[i] = x[ia] * y[ib]); break;
    case BINARY_DIV: FOR_EACH_BROADCAST(&plan, z[i] = x[ia] / y[ib]); break;
    case BINARY_LT: FOR_EACH_BROADCAST(&plan, z[i] = x[ia] < y[ib] ? 1 : 0); break;
    case BINARY_GT: FOR_EACH_BROADCAST(&plan, z[i] = x[ia] > y[ib] ? 1 : 0); break;
    }
    return out;
}

/* Broadcast inputs receive the sum of the gradients of every output
 * element they were repeated into. */
static ag_status binary_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0], *b = out->inputs[1];
    broadcast plan;
    broadcast_shapes(out->op->name, a, b, &plan);
    const ag_real *g = out->grad, *x = a->data, *y = b->data;
    ag_real *ga = a->requires_grad ? a->grad : NULL, *gb = b->requires_grad ? b->grad : NULL;
    switch ((enum binary_kind)out->int_args[0]) {
    case BINARY_ADD:
        if (ga) FOR_EACH_BROADCAST(&plan, ga[ia] += g[i]);
        if (gb) FOR_EACH_BROADCAST(&plan, gb[ib] += g[i]);
        break;
    case BINARY_SUB:
        if (ga) FOR_EACH_BROADCAST(&plan, ga[ia] += g[i]);
        if (gb) FOR_EACH_BROADCAST(&plan, gb[ib] -= g[i]);
        break;
    case BINARY_MUL:
        if (ga) FOR_EACH_BROADCAST(&plan, ga[ia] += g[i] * y[ib]);
        if (gb) FOR_EACH_BROADCAST(&plan, gb[ib] += g[i] * x[ia]);
        break;
    case BINARY_DIV:
        if (ga) FOR_EACH_BROADCAST(&plan, ga[ia] += g[i] / y[ib]);
        if (gb) FOR_EACH_BROADCAST(&plan, gb[ib] -= g[i] * x[ia] / (y[ib] * y[ib]));
        break;
    case BINARY_LT:
    case BINARY_GT: break; /* masks are constants */
    }
    (void)ctx;
    return AG_OK;
}

ag_tensor *ag_add(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary(ctx, &add_op, "ag_add", BINARY_ADD, a, b); }
ag_tensor *ag_sub(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary(ctx, &sub_op, "ag_sub", BINARY_SUB, a, b); }
ag_tensor *ag_mul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary(ctx, &mul_op, "ag_mul", BINARY_MUL, a, b); }
ag_tensor *ag_div(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary(ctx, &div_op, "ag_div", BINARY_DIV, a, b); }
ag_tensor *ag_lt(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary(ctx, NULL, "ag_lt", BINARY_LT, a, b); }
ag_tensor *ag_gt(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary(ctx, NULL, "ag_gt", BINARY_GT, a, b); }

/* ------------------------------------------------------------------ where */

static ag_status where_backward(ag_ctx *ctx, ag_tensor *out) {
    const ag_real *mask = out->inputs[0]->data, *g = out->grad;
    ag_tensor *a = out->inputs[1], *b = out->inputs[2];
    if (a->requires_grad)
        for (int64_t i = 0; i < out->size; i++) a->grad[i] += mask[i] != 0 ? g[i] : 0;
    if (b->requires_grad)
        for (int64_t i = 0; i < out->size; i++) b->grad[i] += mask[i] != 0 ? 0 : g[i];
    (void)ctx;
    return AG_OK;
}
static const ag_op where_op = {"ag_where", where_backward};

ag_tensor *ag_where(ag_ctx *ctx, ag_tensor *mask, ag_tensor *a, ag_tensor *b) {
    if (!mask || !a || !b) return NULL;
    if (!ag_same_shape(mask, a) || !ag_same_shape(a, b)) {
        char s1[64], s2[64], s3[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_where: mask %s, a %s and b %s must have one shape",
                     ag_shape_string(mask, s1, sizeof s1), ag_shape_string(a, s2, sizeof s2),
                     ag_shape_string(b, s3, sizeof s3));
        return NULL;
    }
    ag_tensor *out = ag_node(ctx, &where_op, a->ndim, a->shape, 3, mask, a, b);
    if (!out) return NULL;
    /* The result is new memory (restrict) and both sides are read whatever
     * the mask says: the select then vectorises. */
    const ag_real *restrict m = mask->data, *restrict x = a->data, *restrict y = b->data;
    ag_real *restrict o = out->data;
    for (int64_t i = 0; i < out->size; i++) {
        ag_real if_true = x[i], if_false = y[i];
        o[i] = m[i] != 0 ? if_true : if_false;
    }
    return out;
}

/* ------------------------------------------------------------- unary ops */

enum unary_kind { UNARY_NEG, UNARY_SCALE, UNARY_RELU, UNARY_TANH, UNARY_SIGMOID, UNARY_EXP, UNARY_LOG, UNARY_ABS };

static ag_status unary_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op neg_op = {"ag_neg", unary_backward};
static const ag_op scale_op = {"ag_scale", unary_backward};
static const ag_op relu_op = {"ag_relu", unary_backward};
static const ag_op tanh_op = {"ag_tanh", unary_backward};
static const ag_op sigmoid_op = {"ag_sigmoid", unary_backward};
static const ag_op exp_op = {"ag_exp", unary_backward};
static const ag_op log_op = {"ag_log", unary_backward};
static const ag_op abs_op = {"ag_abs", unary_backward};

static ag_tensor *unary(ag_ctx *ctx, const ag_op *op, enum unary_kind kind, ag_tensor *a, ag_real factor) {
    if (!a) return NULL;
    ag_tensor *out = ag_node(ctx, op, a->ndim, a->shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    out->int_args[0] = kind;
    out->real_arg = factor;
    const ag_real *x = a->data;
    ag_real *y = out->data;
    int64_t n = a->size;
    switch (kind) {
    case UNARY_NEG: for (int64_t i = 0; i < n; i++) y[i] = -x[i]; break;
    case UNARY_SCALE: for (int64_t i = 0; i < n; i++) y[i] = factor * x[i]; break;
    case UNARY_RELU: for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0; break;
    case UNARY_TANH: for (int64_t i = 0; i < n; i++) y[i] = ag_fast_tanh(x[i]); break;
    case UNARY_SIGMOID: for (int64_t i = 0; i < n; i++) y[i] = ag_fast_sigmoid(x[i]); break;
    case UNARY_EXP: for (int64_t i = 0; i < n; i++) y[i] = exp(x[i]); break;
    case UNARY_LOG: for (int64_t i = 0; i < n; i++) y[i] = log(x[i]); break;
    case UNARY_ABS: for (int64_t i = 0; i < n; i++) y[i] = fabs(x[i]); break;
    }
    return out;
}

static ag_status unary_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    const ag_real *x = a->data, *y = out->data, *g = out->grad;
    ag_real *gx = a->grad, factor = out->real_arg;
    int64_t n = a->size;
    switch ((enum unary_kind)out->int_args[0]) {
    case UNARY_NEG: for (int64_t i = 0; i < n; i++) gx[i] -= g[i]; break;
    case UNARY_SCALE: for (int64_t i = 0; i < n; i++) gx[i] += factor * g[i]; break;
    case UNARY_RELU: for (int64_t i = 0; i < n; i++) gx[i] += x[i] > 0 ? g[i] : 0; break;
    case UNARY_TANH: for (int64_t i = 0; i < n; i++) gx[i] += g[i] * (1 - y[i] * y[i]); break;
    case UNARY_SIGMOID: for (int64_t i = 0; i < n; i++) gx[i] += g[i] * y[i] * (1 - y[i]); break;
    case UNARY_EXP: for (int64_t i = 0; i < n; i++) gx[i] += g[i] * y[i]; break;
    case UNARY_LOG: for (int64_t i = 0; i < n; i++) gx[i] += g[i] / x[i]; break;
    case UNARY_ABS: for (int64_t i = 0; i < n; i++) gx[i] += x[i] > 0 ? g[i] : x[i] < 0 ? -g[i] : 0; break;
    }
    (void)ctx;
    return AG_OK;
}

ag_tensor *ag_neg(ag_ctx *ctx, ag_tensor *a) { return unary(ctx, &neg_op, UNARY_NEG, a, 0); }
ag_tensor *ag_scale(ag_ctx *ctx, ag_tensor *a, ag_real factor) { return unary(ctx, &scale_op, UNARY_SCALE, a, factor); }
ag_tensor *ag_relu(ag_ctx *ctx, ag_tensor *a) { return unary(ctx, &relu_op, UNARY_RELU, a, 0); }
ag_tensor *ag_tanh(ag_ctx *ctx, ag_tensor *a) { return unary(ctx, &tanh_op, UNARY_TANH, a, 0); }
ag_tensor *ag_sigmoid(ag_ctx *ctx, ag_tensor *a) { return unary(ctx, &sigmoid_op, UNARY_SIGMOID, a, 0); }
ag_tensor *ag_exp(ag_ctx *ctx, ag_tensor *a) { return unary(ctx, &exp_op, UNARY_EXP, a, 0); }
ag_tensor *ag_abs(ag_ctx *ctx, ag_tensor *a) { return unary(ctx, &abs_op, UNARY_ABS, a, 0); }

ag_tensor *ag_log(ag_ctx *ctx, ag_tensor *a) {
    if (!a) return NULL;
    for (int64_t i = 0; i < a->size; i++)
        if (!(a->data[i] > 0)) {
            ag_error_set(AG_ERROR_ARGUMENT, "ag_log: element %lld is %g; log needs positive input",
                         (long long)i, (double)a->data[i]);
            return NULL;
        }
    return unary(ctx, &log_op, UNARY_LOG, a, 0);
}
