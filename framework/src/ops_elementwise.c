/* Elementwise ops: add, sub, mul and div with broadcasting, the masks lt
 * and gt, where, maximum and minimum, the unary functions, and pow and
 * clamp. Each op is one unit: its record,
 * its forward (the public ag_<name>), then its backward directly below. A
 * binary or unary op states only what happens to one element, as small
 * inline functions (its value, and what its output gradient adds to each
 * input's); the loop helpers run them over the tensors. Adding an op is
 * described in docs/adding-an-op.md. */
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

/* ---------------------------------------------------------- loop helpers */

/* The helpers receive an op's element functions as pointers and are always
 * inlined into the op, where the pointers are constants: each op compiles
 * to its own loops with the element function inlined, which vectorise as
 * loops written out by hand do, with no call or switch per element. */
#if defined(__GNUC__)
#define AG_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define AG_ALWAYS_INLINE inline
#endif

/* One element of a binary op's result, from one element of a and one of b. */
typedef ag_real (*binary_value_fn)(ag_real a, ag_real b);
/* What one element g of the output gradient adds to the gradient of one
 * input element, given the input elements a and b it was computed from. */
typedef ag_real (*binary_grad_fn)(ag_real g, ag_real a, ag_real b);

/* value(a, b) elementwise over the broadcast shapes, recorded with `op`
 * (NULL: a constant); NULL with the error set, naming `who` and both
 * shapes, if the shapes do not broadcast. */
static AG_ALWAYS_INLINE ag_tensor *broadcast_forward(ag_ctx *ctx, const char *who, const ag_op *op, ag_tensor *a,
                                                     ag_tensor *b, binary_value_fn value) {
    if (!a || !b) return NULL;
    broadcast plan;
    if (!broadcast_shapes(who, a, b, &plan)) return NULL;
    ag_tensor *out = ag_node(ctx, op, plan.ndim, plan.shape, 2, a, b, NULL);
    if (!out) return NULL;
    const ag_real *x = a->data, *y = b->data;
    ag_real *z = out->data;
    FOR_EACH_BROADCAST(&plan, z[i] = value(x[ia], y[ib]));
    return out;
}

/* The forward of a binary op with a gradient: its record names it. */
static AG_ALWAYS_INLINE ag_tensor *binary_forward(ag_ctx *ctx, const ag_op *op, ag_tensor *a, ag_tensor *b,
                                                  binary_value_fn value) {
    return broadcast_forward(ctx, op->name, op, a, b, value);
}

/* The forward of a mask: a constant, never on the tape, so it has no
 * record, and `who` names it in messages. */
static AG_ALWAYS_INLINE ag_tensor *mask_forward(ag_ctx *ctx, const char *who, ag_tensor *a, ag_tensor *b,
                                                binary_value_fn value) {
    return broadcast_forward(ctx, who, NULL, a, b, value);
}

/* Adds grad_a(g, a, b) to a's gradient and grad_b(g, a, b) to b's for every
 * output element, for each input that needs a gradient. An input element
 * repeated by broadcasting thereby receives the sum over its copies. */
static AG_ALWAYS_INLINE ag_status binary_backward(ag_tensor *out, binary_grad_fn grad_a, binary_grad_fn grad_b) {
    ag_tensor *a = out->inputs[0], *b = out->inputs[1];
    broadcast plan;
    broadcast_shapes(out->op->name, a, b, &plan); /* cannot fail: the forward's shapes */
    const ag_real *g = out->grad, *x = a->data, *y = b->data;
    ag_real *ga = a->requires_grad ? a->grad : NULL, *gb = b->requires_grad ? b->grad : NULL;
    if (ga) FOR_EACH_BROADCAST(&plan, ga[ia] += grad_a(g[i], x[ia], y[ib]));
    if (gb) FOR_EACH_BROADCAST(&plan, gb[ib] += grad_b(g[i], x[ia], y[ib]));
    return AG_OK;
}

/* One element of a unary op's result. */
typedef ag_real (*unary_value_fn)(ag_real x);
/* What one element g of the output gradient adds to the input's gradient,
 * given the input x and the result y (tanh' and sigmoid' read y rather
 * than compute the function again). */
typedef ag_real (*unary_grad_fn)(ag_real g, ag_real x, ag_real y);

/* value(a) elementwise, recorded with `op`. */
static AG_ALWAYS_INLINE ag_tensor *unary_forward(ag_ctx *ctx, const ag_op *op, ag_tensor *a, unary_value_fn value) {
    if (!a) return NULL;
    ag_tensor *out = ag_node(ctx, op, a->ndim, a->shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    const ag_real *x = a->data;
    ag_real *y = out->data;
    int64_t n = a->size;
    for (int64_t i = 0; i < n; i++) y[i] = value(x[i]);
    return out;
}

/* Adds grad(g, x, y) to the input's gradient for every element (a unary
 * op is on the tape only when its input needs a gradient). */
static AG_ALWAYS_INLINE ag_status unary_backward(ag_tensor *out, unary_grad_fn grad) {
    ag_tensor *a = out->inputs[0];
    const ag_real *x = a->data, *y = out->data, *g = out->grad;
    ag_real *gx = a->grad;
    int64_t n = a->size;
    for (int64_t i = 0; i < n; i++) gx[i] += grad(g[i], x[i], y[i]);
    return AG_OK;
}

/* ------------------------------------------------------------------- add */

static ag_status add_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op add_op = {"ag_add", add_backward};

static inline ag_real add_value(ag_real a, ag_real b) { return a + b; }
ag_tensor *ag_add(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary_forward(ctx, &add_op, a, b, add_value); }

static inline ag_real add_grad_a(ag_real g, ag_real a, ag_real b) { return g; }
static inline ag_real add_grad_b(ag_real g, ag_real a, ag_real b) { return g; }
static ag_status add_backward(ag_ctx *ctx, ag_tensor *out) { return binary_backward(out, add_grad_a, add_grad_b); }

/* ------------------------------------------------------------------- sub */

static ag_status sub_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op sub_op = {"ag_sub", sub_backward};

static inline ag_real sub_value(ag_real a, ag_real b) { return a - b; }
ag_tensor *ag_sub(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary_forward(ctx, &sub_op, a, b, sub_value); }

static inline ag_real sub_grad_a(ag_real g, ag_real a, ag_real b) { return g; }
static inline ag_real sub_grad_b(ag_real g, ag_real a, ag_real b) { return -g; }
static ag_status sub_backward(ag_ctx *ctx, ag_tensor *out) { return binary_backward(out, sub_grad_a, sub_grad_b); }

/* ------------------------------------------------------------------- mul */

static ag_status mul_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op mul_op = {"ag_mul", mul_backward};

static inline ag_real mul_value(ag_real a, ag_real b) { return a * b; }
ag_tensor *ag_mul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary_forward(ctx, &mul_op, a, b, mul_value); }

static inline ag_real mul_grad_a(ag_real g, ag_real a, ag_real b) { return g * b; }
static inline ag_real mul_grad_b(ag_real g, ag_real a, ag_real b) { return g * a; }
static ag_status mul_backward(ag_ctx *ctx, ag_tensor *out) { return binary_backward(out, mul_grad_a, mul_grad_b); }

/* ------------------------------------------------------------------- div */

static ag_status div_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op div_op = {"ag_div", div_backward};

static inline ag_real div_value(ag_real a, ag_real b) { return a / b; }
ag_tensor *ag_div(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return binary_forward(ctx, &div_op, a, b, div_value); }

/* d(a / b)/db = -a / b^2 */
static inline ag_real div_grad_a(ag_real g, ag_real a, ag_real b) { return g / b; }
static inline ag_real div_grad_b(ag_real g, ag_real a, ag_real b) { return -(g * a / (b * b)); }
static ag_status div_backward(ag_ctx *ctx, ag_tensor *out) { return binary_backward(out, div_grad_a, div_grad_b); }

/* ------------------------------------------------------------- lt and gt */

/* Masks are constants: no record, no backward. */
static inline ag_real lt_value(ag_real a, ag_real b) { return a < b ? 1 : 0; }
ag_tensor *ag_lt(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return mask_forward(ctx, "ag_lt", a, b, lt_value); }

static inline ag_real gt_value(ag_real a, ag_real b) { return a > b ? 1 : 0; }
ag_tensor *ag_gt(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return mask_forward(ctx, "ag_gt", a, b, gt_value); }

/* ----------------------------------------------------------------- where */

/* Three inputs: its own loops. Inputs of one shape take the vectorised
 * select; others broadcast, as torch.where does, through strides over the
 * output's index space right-aligned to 4 dimensions. */
static ag_status where_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op where_op = {"ag_where", where_backward};

/* The output shape of mask, a and b broadcast together, and each input's
 * strides over it; false if they do not broadcast. */
typedef struct where_plan {
    int ndim;
    int shape[AG_MAX_DIMS];
    int64_t padded[AG_MAX_DIMS];
    int64_t stride[3][AG_MAX_DIMS];
} where_plan;

static bool where_shapes(ag_tensor *const in[3], where_plan *plan) {
    plan->ndim = 0;
    for (int t = 0; t < 3; t++)
        if (in[t]->ndim > plan->ndim) plan->ndim = in[t]->ndim;
    for (int i = 0; i < plan->ndim; i++) {
        int size = 1;
        for (int t = 0; t < 3; t++) {
            int k = in[t]->ndim - plan->ndim + i, s = k >= 0 ? in[t]->shape[k] : 1;
            if (s == 1) continue;
            if (size != 1 && s != size) return false;
            size = s;
        }
        plan->shape[i] = size;
    }
    for (int d = 0; d < AG_MAX_DIMS; d++) {
        int k = plan->ndim - AG_MAX_DIMS + d;
        plan->padded[d] = k >= 0 ? plan->shape[k] : 1;
    }
    for (int t = 0; t < 3; t++) input_strides(in[t], plan->stride[t]);
    return true;
}

/* Calls BODY with i (output index) and im, ia, ib (input indices). */
#define FOR_EACH_WHERE(plan, BODY)                                                                   \
    do {                                                                                             \
        int64_t i = 0;                                                                               \
        for (int64_t d0 = 0; d0 < (plan)->padded[0]; d0++)                                           \
            for (int64_t d1 = 0; d1 < (plan)->padded[1]; d1++)                                       \
                for (int64_t d2 = 0; d2 < (plan)->padded[2]; d2++)                                   \
                    for (int64_t d3 = 0; d3 < (plan)->padded[3]; d3++, i++) {                        \
                        int64_t im = d0 * (plan)->stride[0][0] + d1 * (plan)->stride[0][1] +         \
                                     d2 * (plan)->stride[0][2] + d3 * (plan)->stride[0][3];          \
                        int64_t ia = d0 * (plan)->stride[1][0] + d1 * (plan)->stride[1][1] +         \
                                     d2 * (plan)->stride[1][2] + d3 * (plan)->stride[1][3];          \
                        int64_t ib = d0 * (plan)->stride[2][0] + d1 * (plan)->stride[2][1] +         \
                                     d2 * (plan)->stride[2][2] + d3 * (plan)->stride[2][3];          \
                        BODY;                                                                        \
                    }                                                                                \
    } while (0)

ag_tensor *ag_where(ag_ctx *ctx, ag_tensor *mask, ag_tensor *a, ag_tensor *b) {
    if (!mask || !a || !b) return NULL;
    if (ag_same_shape(mask, a) && ag_same_shape(a, b)) {
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
    where_plan plan;
    if (!where_shapes((ag_tensor *const[]){mask, a, b}, &plan)) {
        char s1[64], s2[64], s3[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_where: mask %s, a %s and b %s do not broadcast",
                     ag_shape_string(mask, s1, sizeof s1), ag_shape_string(a, s2, sizeof s2),
                     ag_shape_string(b, s3, sizeof s3));
        return NULL;
    }
    ag_tensor *out = ag_node(ctx, &where_op, plan.ndim, plan.shape, 3, mask, a, b);
    if (!out) return NULL;
    const ag_real *m = mask->data, *x = a->data, *y = b->data;
    ag_real *o = out->data;
    FOR_EACH_WHERE(&plan, o[i] = m[im] != 0 ? x[ia] : y[ib]);
    return out;
}

/* The mask is a constant and gets no gradient; a broadcast input gets the
 * sum over its copies. */
static ag_status where_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *mask_t = out->inputs[0], *a = out->inputs[1], *b = out->inputs[2];
    const ag_real *mask = mask_t->data, *g = out->grad;
    if (ag_same_shape(mask_t, a) && ag_same_shape(a, b)) {
        if (a->requires_grad)
            for (int64_t i = 0; i < out->size; i++) a->grad[i] += mask[i] != 0 ? g[i] : 0;
        if (b->requires_grad)
            for (int64_t i = 0; i < out->size; i++) b->grad[i] += mask[i] != 0 ? 0 : g[i];
        return AG_OK;
    }
    where_plan plan;
    where_shapes((ag_tensor *const[]){mask_t, a, b}, &plan); /* cannot fail: the forward's shapes */
    if (a->requires_grad) FOR_EACH_WHERE(&plan, (void)ib; if (mask[im] != 0) a->grad[ia] += g[i]);
    if (b->requires_grad) FOR_EACH_WHERE(&plan, (void)ia; if (mask[im] == 0) b->grad[ib] += g[i]);
    return AG_OK;
}

/* ------------------------------------------------------- maximum, minimum */

static ag_status maximum_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op maximum_op = {"ag_maximum", maximum_backward};

/* NaN in either input gives NaN, as torch.maximum. */
static inline ag_real maximum_value(ag_real a, ag_real b) { return a > b || a != a ? a : b; }
ag_tensor *ag_maximum(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) {
    return binary_forward(ctx, &maximum_op, a, b, maximum_value);
}

/* The larger input gets the gradient; a tie splits it half and half, as
 * PyTorch does. */
static inline ag_real maximum_grad_a(ag_real g, ag_real a, ag_real b) { return a > b ? g : a == b ? g / 2 : 0; }
static inline ag_real maximum_grad_b(ag_real g, ag_real a, ag_real b) { return b > a ? g : a == b ? g / 2 : 0; }
static ag_status maximum_backward(ag_ctx *ctx, ag_tensor *out) {
    return binary_backward(out, maximum_grad_a, maximum_grad_b);
}

static ag_status minimum_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op minimum_op = {"ag_minimum", minimum_backward};

static inline ag_real minimum_value(ag_real a, ag_real b) { return a < b || a != a ? a : b; }
ag_tensor *ag_minimum(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) {
    return binary_forward(ctx, &minimum_op, a, b, minimum_value);
}

static inline ag_real minimum_grad_a(ag_real g, ag_real a, ag_real b) { return a < b ? g : a == b ? g / 2 : 0; }
static inline ag_real minimum_grad_b(ag_real g, ag_real a, ag_real b) { return b < a ? g : a == b ? g / 2 : 0; }
static ag_status minimum_backward(ag_ctx *ctx, ag_tensor *out) {
    return binary_backward(out, minimum_grad_a, minimum_grad_b);
}

/* ------------------------------------------------------------------- neg */

static ag_status neg_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op neg_op = {"ag_neg", neg_backward};

static inline ag_real neg_value(ag_real x) { return -x; }
ag_tensor *ag_neg(ag_ctx *ctx, ag_tensor *a) { return unary_forward(ctx, &neg_op, a, neg_value); }

static inline ag_real neg_grad(ag_real g, ag_real x, ag_real y) { return -g; }
static ag_status neg_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, neg_grad); }

/* ----------------------------------------------------------------- scale */

/* The factor is an argument, not an element: scale writes its own loops
 * and keeps the factor for the backward in the result's real_arg. */
static ag_status scale_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op scale_op = {"ag_scale", scale_backward};

ag_tensor *ag_scale(ag_ctx *ctx, ag_tensor *a, ag_real factor) {
    if (!a) return NULL;
    ag_tensor *out = ag_node(ctx, &scale_op, a->ndim, a->shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    out->real_arg = factor;
    const ag_real *x = a->data;
    ag_real *y = out->data;
    int64_t n = a->size;
    for (int64_t i = 0; i < n; i++) y[i] = factor * x[i];
    return out;
}

static ag_status scale_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    const ag_real *g = out->grad;
    ag_real *gx = a->grad, factor = out->real_arg;
    int64_t n = a->size;
    for (int64_t i = 0; i < n; i++) gx[i] += factor * g[i];
    return AG_OK;
}

/* ------------------------------------------------------------------ relu */

static ag_status relu_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op relu_op = {"ag_relu", relu_backward};

static inline ag_real relu_value(ag_real x) { return x > 0 ? x : 0; }
ag_tensor *ag_relu(ag_ctx *ctx, ag_tensor *a) { return unary_forward(ctx, &relu_op, a, relu_value); }

/* The derivative at 0 is taken as 0, as PyTorch does. */
static inline ag_real relu_grad(ag_real g, ag_real x, ag_real y) { return x > 0 ? g : 0; }
static ag_status relu_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, relu_grad); }

/* ------------------------------------------------------------------ tanh */

static ag_status tanh_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op tanh_op = {"ag_tanh", tanh_backward};

static inline ag_real tanh_value(ag_real x) { return ag_fast_tanh(x); }
ag_tensor *ag_tanh(ag_ctx *ctx, ag_tensor *a) { return unary_forward(ctx, &tanh_op, a, tanh_value); }

/* tanh' = 1 - tanh^2 */
static inline ag_real tanh_grad(ag_real g, ag_real x, ag_real y) { return g * (1 - y * y); }
static ag_status tanh_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, tanh_grad); }

/* --------------------------------------------------------------- sigmoid */

static ag_status sigmoid_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op sigmoid_op = {"ag_sigmoid", sigmoid_backward};

static inline ag_real sigmoid_value(ag_real x) { return ag_fast_sigmoid(x); }
ag_tensor *ag_sigmoid(ag_ctx *ctx, ag_tensor *a) { return unary_forward(ctx, &sigmoid_op, a, sigmoid_value); }

/* sigmoid' = sigmoid (1 - sigmoid) */
static inline ag_real sigmoid_grad(ag_real g, ag_real x, ag_real y) { return g * y * (1 - y); }
static ag_status sigmoid_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, sigmoid_grad); }

/* ------------------------------------------------------------------- exp */

static ag_status exp_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op exp_op = {"ag_exp", exp_backward};

static inline ag_real exp_value(ag_real x) { return exp(x); }
ag_tensor *ag_exp(ag_ctx *ctx, ag_tensor *a) { return unary_forward(ctx, &exp_op, a, exp_value); }

static inline ag_real exp_grad(ag_real g, ag_real x, ag_real y) { return g * y; }
static ag_status exp_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, exp_grad); }

/* ------------------------------------------------------------------- log */

static ag_status log_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op log_op = {"ag_log", log_backward};

static inline ag_real log_value(ag_real x) { return log(x); }
ag_tensor *ag_log(ag_ctx *ctx, ag_tensor *a) {
    if (!a) return NULL;
    for (int64_t i = 0; i < a->size; i++)
        if (!(a->data[i] > 0)) {
            ag_error_set(AG_ERROR_ARGUMENT, "ag_log: element %lld is %g; log needs positive input",
                         (long long)i, (double)a->data[i]);
            return NULL;
        }
    return unary_forward(ctx, &log_op, a, log_value);
}

static inline ag_real log_grad(ag_real g, ag_real x, ag_real y) { return g / x; }
static ag_status log_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, log_grad); }

/* ------------------------------------------------------------------- abs */

static ag_status abs_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op abs_op = {"ag_abs", abs_backward};

static inline ag_real abs_value(ag_real x) { return fabs(x); }
ag_tensor *ag_abs(ag_ctx *ctx, ag_tensor *a) { return unary_forward(ctx, &abs_op, a, abs_value); }

/* The derivative at 0 is taken as 0, as PyTorch does. */
static inline ag_real abs_grad(ag_real g, ag_real x, ag_real y) { return x > 0 ? g : x < 0 ? -g : 0; }
static ag_status abs_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, abs_grad); }

/* ------------------------------------------------------------------ sqrt */

static ag_status sqrt_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op sqrt_op = {"ag_sqrt", sqrt_backward};

static inline ag_real sqrt_value(ag_real x) { return sqrt(x); }
ag_tensor *ag_sqrt(ag_ctx *ctx, ag_tensor *a) {
    if (!a) return NULL;
    for (int64_t i = 0; i < a->size; i++)
        if (!(a->data[i] >= 0)) {
            ag_error_set(AG_ERROR_ARGUMENT, "ag_sqrt: element %lld is %g; sqrt needs non-negative input",
                         (long long)i, (double)a->data[i]);
            return NULL;
        }
    return unary_forward(ctx, &sqrt_op, a, sqrt_value);
}

/* sqrt' = 1 / (2 sqrt): +inf at 0, as PyTorch. */
static inline ag_real sqrt_grad(ag_real g, ag_real x, ag_real y) { return g / (2 * y); }
static ag_status sqrt_backward(ag_ctx *ctx, ag_tensor *out) { return unary_backward(out, sqrt_grad); }

/* ------------------------------------------------------------------- pow */

/* The exponent is an argument, not an element: pow writes its own loops
 * and keeps the exponent in the result's real_arg, as ag_scale does. */
static ag_status pow_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op pow_op = {"ag_pow", pow_backward};

ag_tensor *ag_pow(ag_ctx *ctx, ag_tensor *a, double exponent) {
    if (!a) return NULL;
    ag_tensor *out = ag_node(ctx, &pow_op, a->ndim, a->shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    ag_real p = (ag_real)exponent;
    out->real_arg = p;
    const ag_real *x = a->data;
    ag_real *y = out->data;
    int64_t n = a->size;
    for (int64_t i = 0; i < n; i++) y[i] = pow(x[i], p);
    return out;
}

/* d x^p / dx = p x^(p-1); 0 for p = 0 (x^0 is 1 everywhere), as PyTorch. */
static ag_status pow_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    const ag_real *x = a->data, *g = out->grad;
    ag_real *gx = a->grad, p = out->real_arg;
    int64_t n = a->size;
    if (p == 0) return AG_OK;
    for (int64_t i = 0; i < n; i++) gx[i] += g[i] * p * pow(x[i], p - 1);
    return AG_OK;
}

/* ----------------------------------------------------------------- clamp */

/* The bounds are arguments: clamp writes its own loops. Its backward needs
 * no bounds: an element inside [min, max] is the one the result equals. */
static ag_status clamp_backward(ag_ctx *ctx, ag_tensor *out);
static const ag_op clamp_op = {"ag_clamp", clamp_backward};

ag_tensor *ag_clamp(ag_ctx *ctx, ag_tensor *a, double min, double max) {
    if (!a) return NULL;
    if (!(min <= max)) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_clamp: bounds [%g, %g]: min must be <= max and neither NaN", min, max);
        return NULL;
    }
    ag_tensor *out = ag_node(ctx, &clamp_op, a->ndim, a->shape, 1, a, NULL, NULL);
    if (!out) return NULL;
    ag_real lo = (ag_real)min, hi = (ag_real)max;
    const ag_real *x = a->data;
    ag_real *y = out->data;
    int64_t n = a->size;
    for (int64_t i = 0; i < n; i++) {
        ag_real t = x[i] < lo ? lo : x[i]; /* NaN stays NaN */
        y[i] = t > hi ? hi : t;
    }
    return out;
}

/* 1 inside [min, max] (bounds included), 0 outside and for NaN, as
 * torch.clamp. */
static ag_status clamp_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    const ag_real *x = a->data, *y = out->data, *g = out->grad;
    ag_real *gx = a->grad;
    int64_t n = a->size;
    for (int64_t i = 0; i < n; i++) gx[i] += y[i] == x[i] ? g[i] : 0;
    return AG_OK;
}
