/** @file
 * ag: a small tensor and reverse-mode autodiff library for training small
 * recurrent networks in C.
 *
 * The whole public API is this header. Conventions that hold everywhere:
 *
 *  - Tensors hold ag_real (float; double when the library and the caller are
 *    built with -DAG_DOUBLE, which the gradient checks use), row-major and
 *    contiguous, with 1 to AG_MAX_DIMS dimensions. A scalar has shape [1].
 *  - Three owners of tensors:
 *      an ag_ctx owns the tensors of one step (inputs, intermediate results,
 *        their gradients). They live in an arena that ag_ctx_reset() empties,
 *        so that once the arena has grown to a step's size, later steps make
 *        no malloc calls;
 *      an ag_params owns a model's parameters, whose values lie in one
 *        contiguous buffer and whose gradients lie in another, so optimizers,
 *        clipping and checkpoints work on one array each;
 *      the caller owns tensors from ag_tensor_new() and frees them with
 *        ag_tensor_free().
 *  - Errors are values. A function that fails returns NULL (tensor results)
 *    or a negative ag_status, and leaves a one-line message naming the
 *    function and the offending shapes, file or value in ag_error_message().
 *    The return value is the status; the message and ag_error_code()
 *    describe the most recent failure and no success clears them (see
 *    "errors" below). An op given a NULL input returns NULL without
 *    touching the message, so a whole expression can be checked once, at
 *    its end. The library never calls exit() and never prints unless asked
 *    to.
 *  - Ops record themselves on the context's tape when gradients are enabled
 *    and an input requires a gradient; ag_backward() replays the tape in
 *    reverse.
 */
#ifndef AG_H
#define AG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef AG_DOUBLE
typedef double ag_real;
#else
typedef float ag_real;
#endif

#define AG_MAX_DIMS 4
/* The most inputs one op takes (a recurrent layer: x, h0, c0 and four weights). */
#define AG_MAX_INPUTS 8

/* ------------------------------------------------------- errors (core.c) */

typedef enum ag_status {
    AG_OK = 0,
    AG_ERROR_SHAPE = -1,    /**< shapes do not fit the operation */
    AG_ERROR_ARGUMENT = -2, /**< a value out of range, a NULL where one is needed */
    AG_ERROR_MEMORY = -3,   /**< an allocation failed */
    AG_ERROR_IO = -4,       /**< a file could not be opened, read or written */
    AG_ERROR_FORMAT = -5,   /**< a file's content is malformed */
    AG_ERROR_STATE = -6     /**< the call is not valid now (such as backward twice) */
} ag_status;

/* The rule, for every function: the status is the return value (a
 * negative ag_status, or NULL for a pointer result, or what the function's
 * comment names). ag_error_message() and ag_error_code() describe the most
 * recent failure in this thread, and no library function clears them on
 * success: after a failure and then a success they still describe the
 * failure. So test the return value to know whether a call failed, then
 * read the message to know why; ag_error_code() is AG_OK only if nothing
 * failed since the start of the thread or the last ag_error_clear(). (A
 * success that cleared them would lose the message that a NULL carried to
 * the end of an expression: in ag_add(ctx, ag_log(ctx, x), ag_scalar(ctx,
 * 1)), ag_log's failure must survive ag_scalar's success.) To tell a new
 * failure from an old one by the code alone, call ag_error_clear() first. */

/* On a function whose status must not be ignored (the compiler warns). */
#if defined(__GNUC__)
#define AG_MUST_CHECK __attribute__((warn_unused_result))
#else
#define AG_MUST_CHECK
#endif

/** The message of the most recent failure in this thread ("" if none since
 * the last ag_error_clear); not cleared by a later success. */
const char *ag_error_message(void);
/** The status of the most recent failure in this thread (AG_OK if none
 * since the last ag_error_clear); not cleared by a later success. */
ag_status ag_error_code(void);
/** Text from a file or a command line made fit to quote in a one-line
 * message: at most size - 4 bytes, each byte outside printable ASCII as '?',
 * "..." if cut. Writes into buf (size >= 8) and returns it. */
const char *ag_printable(const char *text, char *buf, size_t size);
/** Resets this thread's message to "" and its status to AG_OK. */
void ag_error_clear(void);
/** Records a failure; for modules and models built on ag. Returns `code`.
 * The message keeps one line of printable ASCII: any other byte (from a
 * path, say) becomes '?', as ag_printable writes it. */
ag_status ag_error_set(ag_status code, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* --------------------------------------------- random numbers (random.c) */

/** PCG32 (O'Neill 2014): small state, so a run's generator can be saved in a
 * checkpoint and restored exactly. Copy the struct to save it. */
typedef struct ag_rng {
    uint64_t state;
    uint64_t increment;
} ag_rng;

/** PCG's seeding with the seed hashed (SplitMix64) first, so that nearby
 * seeds give unrelated sequences; different streams of one seed are
 * independent sequences. */
void ag_rng_seed(ag_rng *rng, uint64_t seed, uint64_t stream);
/** The next 32 random bits (PCG32's XSH RR output); advances the state. */
uint32_t ag_rng_next_u32(ag_rng *rng);
/** Uniform in [0, 1), 53 random bits. */
double ag_rng_uniform(ag_rng *rng);
/** Standard normal (Box-Muller, no cached second value). */
double ag_rng_normal(ag_rng *rng);
/** n standard normals into out, the values and the final state of n calls
 * of ag_rng_normal (each cast to ag_real), computed several at a time. */
void ag_rng_normal_fill(ag_rng *rng, ag_real *out, int64_t n);
/** Uniform integer in [0, n), without modulo bias; n must be > 0. */
uint32_t ag_rng_below(ag_rng *rng, uint32_t n);
/** Shuffles `count` elements of `size` bytes at `base` in place
 * (Fisher-Yates: for i from count - 1 down to 1, element i is swapped with
 * element ag_rng_below(rng, i + 1)), so every permutation is equally
 * likely and a loop written that way gives the same order and leaves the
 * same state. AG_ERROR_ARGUMENT, with nothing drawn or moved, on a NULL rng,
 * a NULL base or size 0 with count > 1, or count > UINT32_MAX. */
ag_status ag_rng_shuffle(ag_rng *rng, void *base, size_t count, size_t size);

/* ------------------------------------------------------ tensors (core.c) */

typedef struct ag_ctx ag_ctx;
typedef struct ag_op ag_op;
typedef struct ag_tensor ag_tensor;

struct ag_tensor {
    ag_real *data;
    /** Gradient of the last backward pass, same shape as data; NULL while no
     * gradient has reached a step tensor. Parameters always have one. */
    ag_real *grad;
    int64_t size; /**< number of elements */
    int ndim;
    int shape[AG_MAX_DIMS];
    bool requires_grad;

    /* Graph bookkeeping, read by the ops; not for users. */
    const ag_op *op;         /**< NULL for a leaf */
    ag_tensor *inputs[AG_MAX_INPUTS]; /**< an optional input may be NULL */
    int n_inputs;
    int int_args[3];         /**< axis, start, ... as the op needs */
    ag_real real_arg;        /**< the constant of ag_scale */
    void *saved;             /**< op data kept for backward, in the arena */
};

/* Step tensors live in the context's arena until ag_ctx_reset. */
/** A step tensor of zeros. Like every step tensor: owned by `ctx` until ag_ctx_reset, `shape` has
 * `ndim` (1 to AG_MAX_DIMS) sizes >= 1, NULL with the error set on a bad shape or no memory. */
ag_tensor *ag_zeros(ag_ctx *ctx, int ndim, const int *shape);
/** A step tensor of ones. */
ag_tensor *ag_ones(ag_ctx *ctx, int ndim, const int *shape);
/** A step tensor filled with `value`. */
ag_tensor *ag_full(ag_ctx *ctx, int ndim, const int *shape, ag_real value);
/** A step tensor holding a copy of `values` (as many as the shape's product). */
ag_tensor *ag_from_array(ag_ctx *ctx, int ndim, const int *shape, const ag_real *values);
/** A step tensor of shape [1] holding `value`; broadcasts against any shape. */
ag_tensor *ag_scalar(ag_ctx *ctx, ag_real value);
/** A step tensor of values uniform in [low, high), drawn from `rng`. */
ag_tensor *ag_rand_uniform(ag_ctx *ctx, ag_rng *rng, int ndim, const int *shape, double low, double high);
/** A step tensor of values from N(mean, std^2), drawn from `rng`. */
ag_tensor *ag_randn(ag_ctx *ctx, ag_rng *rng, int ndim, const int *shape, double mean, double std);
/** A copy of the values with no graph history (like torch's detach().clone()). */
ag_tensor *ag_copy(ag_ctx *ctx, const ag_tensor *t);
/** Marks a step tensor as a leaf whose gradient backward should compute. */
void ag_set_requires_grad(ag_tensor *t, bool requires_grad);

/** A caller-owned tensor (zero-filled), for data that outlives steps; free
 * it with ag_tensor_free. NULL (error set) on a bad shape or no memory. */
ag_tensor *ag_tensor_new(int ndim, const int *shape);
/** Frees a tensor from ag_tensor_new (and its grad, if one was allocated); NULL is a no-op. */
void ag_tensor_free(ag_tensor *t);
/** Copies the values of `t` (a step tensor, say the last hidden state of a
 * chunk) into `keep`, a tensor of the same shape that outlives
 * ag_ctx_reset (from ag_tensor_new), without any of t's graph: `keep` used
 * as an input afterwards is a constant, so backward stops there (torch's
 * keep.copy_(t.detach())). The way to carry state across steps, as in
 * truncated backpropagation through time. AG_ERROR_SHAPE on other shapes;
 * AG_ERROR_ARGUMENT on a NULL keep; a NULL t (an op failed) returns that
 * op's error and leaves its message. */
ag_status ag_detach_into(ag_tensor *keep, const ag_tensor *t);

/** True if a and b have the same dimensions and sizes. */
bool ag_same_shape(const ag_tensor *a, const ag_tensor *b);
/** Flat offset of a multi-index (one index per dimension), or -1 if out of range. */
int64_t ag_offset(const ag_tensor *t, const int *index);
/** Writes "[2, 3]" into buf; returns buf. For error messages. */
const char *ag_shape_string(const ag_tensor *t, char *buf, size_t buf_size);
/** Prints name, shape and values (at most `max_values`, 0 for all). */
void ag_print(FILE *out, const char *name, const ag_tensor *t, int max_values);

/* ----------------------------------------- context and backward (core.c) */

/** A context: the arena and tape of one step at a time. Recording is on. NULL (error set) if out of
 * memory. Also sets OpenBLAS to one thread (see ag_set_num_threads). */
ag_ctx *ag_ctx_create(void);
/** Frees the context and every step tensor it owns; NULL is a no-op. */
void ag_ctx_free(ag_ctx *ctx);
/** Frees every step tensor and the tape; keeps the memory for the next step. */
void ag_ctx_reset(ag_ctx *ctx);
/** Turns recording off (evaluation) or on; returns the previous setting. */
bool ag_set_grad_enabled(ag_ctx *ctx, bool enabled);
/** Whether ops record themselves for backward. */
bool ag_grad_enabled(const ag_ctx *ctx);
/** Bytes the context's arena holds. */
size_t ag_ctx_arena_bytes(const ag_ctx *ctx);
/** How many times the arena has called malloc: a step that needs no new
 * memory leaves the count unchanged. */
uint64_t ag_ctx_arena_allocations(const ag_ctx *ctx);

/** Backpropagates from a scalar (size 1) tensor: afterwards every tensor that
 * requires a gradient and that `loss` depends on has `grad` += d loss / d t.
 * Parameter gradients accumulate across calls until ag_params_zero_grad();
 * a graph can be backpropagated once, then the context must be reset. */
ag_status ag_backward(ag_ctx *ctx, ag_tensor *loss);

/* ----------------------------------- elementwise ops (ops_elementwise.c) */

/* Binary elementwise ops broadcast like PyTorch: shapes are aligned at the
 * last dimension and a dimension of size 1 (or a missing leading one)
 * stretches, e.g. [B, H] + [H] or [B, H] * [B, 1]. */

/** a + b, broadcasting. Every op returns a step tensor owned by `ctx`, or NULL with an error naming
 * the op and the shapes (an input that is NULL gives NULL and leaves the message alone). */
ag_tensor *ag_add(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** a - b, broadcasting. */
ag_tensor *ag_sub(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** a * b elementwise, broadcasting. */
ag_tensor *ag_mul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** a / b elementwise, broadcasting (IEEE division: x / 0 is +-inf or NaN). */
ag_tensor *ag_div(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** -a. */
ag_tensor *ag_neg(ag_ctx *ctx, ag_tensor *a);
/** factor * a for a constant factor. */
ag_tensor *ag_scale(ag_ctx *ctx, ag_tensor *a, ag_real factor);

/** max(a, 0); its derivative at 0 is taken as 0, as PyTorch does. */
ag_tensor *ag_relu(ag_ctx *ctx, ag_tensor *a);
/** tanh(a) (to a few float ulps: a vectorised approximation in the float build). */
ag_tensor *ag_tanh(ag_ctx *ctx, ag_tensor *a);
/** 1 / (1 + exp(-a)), without overflow for any input. */
ag_tensor *ag_sigmoid(ag_ctx *ctx, ag_tensor *a);
/** exp(a). */
ag_tensor *ag_exp(ag_ctx *ctx, ag_tensor *a);
/** Natural log; fails on non-positive input rather than returning -inf/NaN. */
ag_tensor *ag_log(ag_ctx *ctx, ag_tensor *a);
/** |a|; its derivative at 0 is taken as 0, as PyTorch does. */
ag_tensor *ag_abs(ag_ctx *ctx, ag_tensor *a);
/** sqrt(a); fails (AG_ERROR_ARGUMENT) on negative or NaN input rather than returning NaN. Its
 * derivative 1 / (2 sqrt(a)) is +inf at 0, as PyTorch's. */
ag_tensor *ag_sqrt(ag_ctx *ctx, ag_tensor *a);
/** a^exponent elementwise (torch.pow(a, exponent)), with the gradient exponent a^(exponent-1)
 * (0 for exponent 0). IEEE pow: a negative element with a non-integer exponent gives NaN, 0 with
 * a negative one inf. The exponent is rounded to ag_real. */
ag_tensor *ag_pow(ag_ctx *ctx, ag_tensor *a, double exponent);
/** a limited to [min, max] (torch.clamp); the gradient is 1 inside [min, max], bounds included,
 * and 0 outside, as PyTorch's. AG_ERROR_ARGUMENT if min > max or a bound is NaN (PyTorch's NaN
 * for an unused bound is not supported: pass -INFINITY or INFINITY). NaN elements stay NaN. */
ag_tensor *ag_clamp(ag_ctx *ctx, ag_tensor *a, double min, double max);

/** The larger of a and b elementwise, broadcasting (torch.maximum; NaN if either is NaN). The
 * gradient goes to the larger input; on a tie each gets half of it, as PyTorch's. */
ag_tensor *ag_maximum(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** The smaller of a and b elementwise, broadcasting (torch.minimum); ties as ag_maximum. */
ag_tensor *ag_minimum(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);

/** A mask of 1.0 where a < b, else 0.0; broadcasting; a constant (no gradient). */
ag_tensor *ag_lt(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** A mask of 1.0 where a > b, else 0.0; broadcasting; a constant (no gradient). */
ag_tensor *ag_gt(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** mask != 0 ? a : b elementwise, the three broadcasting together as in torch.where (a [B, 1]
 * mask with [B, H] and [H] operands gives [B, H]). The gradient flows to a where the mask is set
 * and to b elsewhere (summed over a broadcast input's copies); the mask gets none. */
ag_tensor *ag_where(ag_ctx *ctx, ag_tensor *mask, ag_tensor *a, ag_tensor *b);

/* ---------------------------------------- matrix products (ops_matmul.c) */

/** [m, k] x [k, n] -> [m, n]. */
ag_tensor *ag_matmul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** [m, k] x [n, k]^T -> [m, n]: a times b transposed without a copy of b,
 * for PyTorch-layout weights ([out, in]). */
ag_tensor *ag_matmul_transpose_b(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);
/** 2-D transpose. */
ag_tensor *ag_transpose(ag_ctx *ctx, ag_tensor *a);

/* ----------------------------------- sums, means, softmax (ops_reduce.c) */

/** The sum of all elements, as a [1] tensor, accumulated in double. */
ag_tensor *ag_sum(ag_ctx *ctx, ag_tensor *a);
/** The mean of all elements, as a [1] tensor, accumulated in double. */
ag_tensor *ag_mean(ag_ctx *ctx, ag_tensor *a);
/** The sum along one axis, which is removed ([B, H] axis 1 -> [B]); a
 * result with no dimension left has shape [1]. AG_ERROR_ARGUMENT on an
 * axis outside 0..ndim-1. */
ag_tensor *ag_sum_axis(ag_ctx *ctx, ag_tensor *a, int axis);
/** The mean along one axis, which is removed, as ag_sum_axis. */
ag_tensor *ag_mean_axis(ag_ctx *ctx, ag_tensor *a, int axis);
/** ag_sum_axis keeping the axis with size 1 (torch.sum(a, axis, keepdim=True)): [B, H] axis 1
 * -> [B, 1], which broadcasts back against a. Errors as ag_sum_axis. */
ag_tensor *ag_sum_axis_keepdim(ag_ctx *ctx, ag_tensor *a, int axis);
/** ag_mean_axis keeping the axis with size 1 (torch.mean(a, axis, keepdim=True)). */
ag_tensor *ag_mean_axis_keepdim(ag_ctx *ctx, ag_tensor *a, int axis);

/** Softmax along the last axis, with the maximum subtracted first so that
 * exp never overflows. */
ag_tensor *ag_softmax(ag_ctx *ctx, ag_tensor *a);
/** log(softmax) along the last axis, computed as x - max - log(sum(exp(x -
 * max))) so that log never sees 0. */
ag_tensor *ag_log_softmax(ag_ctx *ctx, ag_tensor *a);

/* ----------------------------------------------- shape ops (ops_shape.c) */

/** Joins a and b along `axis` (all other sizes equal). */
ag_tensor *ag_concat(ag_ctx *ctx, ag_tensor *a, ag_tensor *b, int axis);
/** Elements start..end-1 along `axis`. */
ag_tensor *ag_slice(ag_ctx *ctx, ag_tensor *a, int axis, int start, int end);
/** Rows table[indices[i]] of a 2-D table -> [n, columns]: an embedding
 * lookup, or a one-hot encoding when table is the identity. */
ag_tensor *ag_gather_rows(ag_ctx *ctx, ag_tensor *table, const int *indices, int n);
/** ag_gather_rows whose backward gives row `padding_index` of the table no
 * gradient (torch's F.embedding with padding_idx): positions holding that
 * index still read the row forward. -1 for none; AG_ERROR_ARGUMENT on an
 * index or padding index outside the table, naming it and its position. */
ag_tensor *ag_gather_rows_padded(ag_ctx *ctx, ag_tensor *table, const int *indices, int n, int padding_index);
/** Same elements, new shape of the same size. */
ag_tensor *ag_reshape(ag_ctx *ctx, ag_tensor *a, int ndim, const int *shape);

/* ------------------------------------------------- parameters (params.c) */

typedef struct ag_params ag_params;

/** An empty parameter set; NULL (error set) if out of memory. */
ag_params *ag_params_create(void);
/** Frees the set and every parameter tensor in it; NULL is a no-op. */
void ag_params_free(ag_params *params);
/** Adds a zero-filled parameter named `name` (unique, such as "lstm.weight_ih").
 * The returned tensor stays valid until ag_params_free; its data and grad
 * live in the two shared buffers. NULL, with params unchanged and the
 * message set, on a NULL params, an empty or taken name, a bad shape
 * (AG_ERROR_ARGUMENT, AG_ERROR_SHAPE), no memory (AG_ERROR_MEMORY), or once
 * an optimizer has been made for params (AG_ERROR_STATE, "ag_params_add:
 * NAME: params is held by an optimizer (made for N values); add every
 * parameter before ag_adam_init or ag_sgd_init"): the optimizer's state is
 * one value per parameter value, so a later parameter would not fit it.
 * The mark stays for the life of params, even after the optimizer is freed
 * (an optimizer keeps no pointer to params); params stays usable as it
 * was, and a model with more parameters needs a new ag_params. */
ag_tensor *ag_params_add(ag_params *params, const char *name, int ndim, const int *shape);
/** ag_params_add under PyTorch's module naming, PREFIX.NAME ("lstm" and
 * "weight_ih" give "lstm.weight_ih"; just NAME when prefix is NULL or "");
 * AG_ERROR_ARGUMENT if the full name is longer than 255 characters. */
ag_tensor *ag_params_add_prefixed(ag_params *params, const char *prefix, const char *name, int ndim,
                                  const int *shape);
/** The number of parameters, in the order they were added. */
int ag_params_count(const ag_params *params);
/** Parameter `index` (0 to count - 1), or NULL if out of range. */
ag_tensor *ag_params_get(const ag_params *params, int index);
/** The name of parameter `index`, or NULL if out of range. */
const char *ag_params_name(const ag_params *params, int index);
/** The parameter named `name`, or NULL if there is none. */
ag_tensor *ag_params_find(const ag_params *params, const char *name);
/** The total number of scalars in all parameters. */
int64_t ag_params_size(const ag_params *params);
/** The one buffer of all parameter values (ag_params_size of them), in the
 * order the parameters were added; owned by `params`. */
ag_real *ag_params_data(ag_params *params);
/** The one buffer of all gradients, laid out as ag_params_data. */
ag_real *ag_params_grad(ag_params *params);
/** Sets every gradient to 0; call before each backward (gradients accumulate). */
void ag_params_zero_grad(ag_params *params);
/** Scales all gradients together so that their global L2 norm is at most
 * max_norm (torch.nn.utils.clip_grad_norm_). Returns the norm before (inf or
 * NaN when a gradient is not finite: the gradients are then scaled as
 * PyTorch does, so check the result or ag_params_check_finite). NaN, with
 * AG_ERROR_ARGUMENT and the gradients unchanged, on a NULL params or a
 * max_norm that is not > 0 (which would flip or zero every gradient). */
double ag_params_clip_grad_norm(ag_params *params, double max_norm);
/** AG_OK if every value (and, with `gradients`, every gradient) is finite;
 * otherwise AG_ERROR_STATE with a message naming the first parameter and
 * element that is not, e.g. "gradient of rnn.weight_hh[3] is nan". */
ag_status ag_params_check_finite(const ag_params *params, bool gradients);

/* ----------------------------------------------- initialisers (params.c) */

/* They fill a tensor's values in place. */
/** Values uniform in [low, high), drawn from `rng` in row-major order. */
void ag_init_uniform(ag_tensor *t, ag_rng *rng, double low, double high);
/** PyTorch's default initialisation of its modules: each non-NULL tensor
 * of tensors[0..count-1] in turn (an absent bias may be NULL), as
 * ag_init_uniform(t, rng, -1/sqrt(size), 1/sqrt(size)), where `size` is
 * in_features for torch.nn.Linear (its kaiming_uniform_(a=sqrt(5)) reduces
 * to this bound) and hidden_size for RNNCell, LSTMCell and GRUCell, whose
 * every weight and bias use it. AG_ERROR_ARGUMENT, with nothing drawn, on
 * a NULL tensors or rng, count < 0 or size < 1. */
ag_status ag_init_pytorch_default(ag_tensor *const *tensors, int count, ag_rng *rng, int size);
/** Values from N(mean, std^2), drawn from `rng` in row-major order. */
void ag_init_normal(ag_tensor *t, ag_rng *rng, double mean, double std);
/** Every value set to `value`. */
void ag_init_constant(ag_tensor *t, double value);
/** scale * I for a square 2-D tensor (the IRNN recurrent weight). */
ag_status ag_init_identity(ag_tensor *t, double scale);

/* torch.nn.init's initialisers with fans and a gain. Fans as torch computes
 * them: for a weight [out, in, ...], fan_in = in * r and fan_out = out * r,
 * r the product of the dimensions after the second (1 for 2-D). Values are
 * drawn from `rng` (in row-major order), so they differ from PyTorch's;
 * the distributions are torch's. Each returns AG_ERROR_ARGUMENT on a NULL
 * tensor or rng, a gain that is negative or not finite, or a bad fan, and
 * AG_ERROR_SHAPE on a tensor of fewer than 2 dimensions, with nothing drawn. */

/** The nonlinearities of torch.nn.init.calculate_gain. */
typedef enum ag_gain {
    AG_GAIN_LINEAR,     /**< 1 (also torch's gain for conv layers) */
    AG_GAIN_SIGMOID,    /**< 1 */
    AG_GAIN_TANH,       /**< 5/3 */
    AG_GAIN_RELU,       /**< sqrt(2) */
    AG_GAIN_LEAKY_RELU  /**< sqrt(2 / (1 + negative_slope^2)) */
} ag_gain;
/** torch.nn.init.calculate_gain(nonlinearity, negative_slope); the slope
 * is read for AG_GAIN_LEAKY_RELU only. */
double ag_init_gain(ag_gain nonlinearity, double negative_slope);
/** Which fan Kaiming's initialisers scale by (torch's mode). */
typedef enum ag_fan { AG_FAN_IN, AG_FAN_OUT } ag_fan;
/** torch.nn.init.xavier_uniform_: U(-b, b), b = gain sqrt(6 / (fan_in + fan_out)). */
ag_status ag_init_xavier_uniform(ag_tensor *t, ag_rng *rng, double gain);
/** torch.nn.init.xavier_normal_: N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)). */
ag_status ag_init_xavier_normal(ag_tensor *t, ag_rng *rng, double gain);
/** torch.nn.init.kaiming_uniform_: U(-b, b), b = gain sqrt(3 / fan). torch's
 * default (a = 0, mode fan_in, leaky_relu) is gain ag_init_gain(AG_GAIN_RELU, 0)
 * = sqrt(2) with AG_FAN_IN; its nonlinearity 'linear' is gain 1. */
ag_status ag_init_kaiming_uniform(ag_tensor *t, ag_rng *rng, double gain, ag_fan fan);
/** torch.nn.init.kaiming_normal_: N(0, s^2), s = gain / sqrt(fan). */
ag_status ag_init_kaiming_normal(ag_tensor *t, ag_rng *rng, double gain, ag_fan fan);
/** torch.nn.init.orthogonal_: the [rows, cols] view (rows = dimension 0)
 * gets gain times a matrix with orthonormal rows (rows <= cols) or columns
 * (rows >= cols): Q of the QR factorisation of a Gaussian matrix (drawn in
 * row-major order, transposed first when wide), with R's diagonal made
 * positive as torch's sign correction does; QR in double. Also
 * AG_ERROR_MEMORY. */
ag_status ag_init_orthogonal(ag_tensor *t, ag_rng *rng, double gain);

/* ----------------------------- writing a checkpoint (checkpoint_write.c) */

/* Every safetensors file ag writes carries its checksum: the metadata entry
 * "ag.crc32c" (8 lowercase hex digits) holds the CRC-32C of the whole file
 * taken with that value read as "00000000". Nothing is appended: the file
 * is plain safetensors for PyTorch and any other reader. The loaders check
 * it and refuse a mismatch as a damaged file; a file without it (an older
 * ag's, PyTorch's) loads unverified (ag_checkpoint_verified). */

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `size` bytes,
 * continuing from `crc` (0 to start): ag_crc32c(0, "123456789", 9) is
 * 0xe3069283, and ag_crc32c(ag_crc32c(0, a, n), b, m) is the CRC of a
 * followed by b. The checksum of ag's safetensors files. */
uint32_t ag_crc32c(uint32_t crc, const void *data, size_t size);

/** Saves every parameter under its name (ag_params_name) as a safetensors
 * file, atomically (temporary file, fsync, rename), with its checksum.
 * `metadata` holds n_metadata key/value pairs as {"key1", "value1", "key2",
 * "value2", ...} (AG_ERROR_ARGUMENT if a key is given twice, or is
 * "ag.crc32c"). For the model alone; a training checkpoint is written with
 * an ag_checkpoint_writer. */
ag_status ag_params_save(const ag_params *params, const char *path, const char *const *metadata,
                         int n_metadata);

/** A training checkpoint being written: besides the parameters (under their
 * names, so any safetensors reader loads the model from it), the state a run
 * needs to go on exactly where it stopped: an optimizer's moments
 * (ag_adam_save), the step, generator states, settings. Create one, add to
 * it, save it and free it; ag_checkpoint_load reads the file back. Tensors
 * are borrowed, not copied: their values must stay valid until the last
 * ag_checkpoint_save; metadata is copied. Given a NULL writer, the
 * functions that return a status return AG_ERROR_ARGUMENT. */
typedef struct ag_checkpoint_writer ag_checkpoint_writer;
/** An empty writer; NULL (error set) when out of memory. */
ag_checkpoint_writer *ag_checkpoint_writer_create(void);
/** Adds every parameter under its name. The values are read when the
 * checkpoint is saved, not copied now. AG_ERROR_ARGUMENT if a name is taken
 * or "__metadata__". */
ag_status ag_checkpoint_add_params(ag_checkpoint_writer *w, const ag_params *params);
/** Adds `size` values as a 1-D tensor `name` (read when saved, not copied
 * now). AG_ERROR_ARGUMENT if the name is taken or "__metadata__". */
ag_status ag_checkpoint_add_array(ag_checkpoint_writer *w, const char *name, const ag_real *data, int64_t size);
/** Sets one metadata string; setting a key again replaces its value.
 * AG_ERROR_ARGUMENT for "ag.crc32c" (the checksum, which the writer sets)
 * and keys one bit from it (which a reader takes for a damaged checksum). */
ag_status ag_checkpoint_set_metadata(ag_checkpoint_writer *w, const char *key, const char *value);
/** Sets an integer as metadata (decimal). */
ag_status ag_checkpoint_set_int(ag_checkpoint_writer *w, const char *key, int64_t value);
/** Sets a generator's whole state as metadata ("STATE,INCREMENT"). */
ag_status ag_checkpoint_set_rng(ag_checkpoint_writer *w, const char *key, const ag_rng *rng);
/** Writes the checkpoint to `path` atomically (temporary file, fsync,
 * rename) with its checksum, as ag_params_save does; the writer is
 * unchanged, and can be saved again. */
ag_status ag_checkpoint_save(const ag_checkpoint_writer *w, const char *path);
/** Frees a writer, not the values it borrowed (NULL is allowed). */
void ag_checkpoint_writer_free(ag_checkpoint_writer *w);

/* ------------------------------ reading a checkpoint (checkpoint_read.c) */

/** Loads every parameter by name. The whole file is checked (header, dtype,
 * shapes, offsets, size, then the checksum where the file has one) before
 * any parameter changes; tensors in the file that the model does not have
 * are ignored. A checksum that does not match is AG_ERROR_FORMAT,
 * "PATH: checksum mismatch: the file is damaged (CRC-32C x, expected y)". */
ag_status ag_params_load(ag_params *params, const char *path);

/** A checkpoint read from a safetensors file (such as one that
 * ag_checkpoint_save or ag_params_save wrote), held in memory whole and
 * already checked: its parameters, arrays and metadata are read from it by
 * name. A NULL checkpoint is AG_ERROR_ARGUMENT for the functions that
 * return a status. */
typedef struct ag_checkpoint ag_checkpoint;
/** Reads and checks a whole file, as ag_params_load does; NULL on error
 * (message naming the file and what is wrong). Free with ag_checkpoint_free. */
ag_checkpoint *ag_checkpoint_load(const char *path);
/** Whether the file had a checksum ("ag.crc32c"), which then matched: true
 * for every file this ag writes; false for one without (written by an
 * older ag, or by PyTorch), which loads all the same, and for NULL. A
 * program can say so: such a file's damage could not be detected. */
bool ag_checkpoint_verified(const ag_checkpoint *cp);
/** A metadata value, or NULL if the key is absent (or `cp` or `key` is
 * NULL); owned by the checkpoint. */
const char *ag_checkpoint_metadata(const ag_checkpoint *cp, const char *key);
/** An integer metadata value; AG_ERROR_FORMAT if missing or not an integer. */
ag_status ag_checkpoint_get_int(const ag_checkpoint *cp, const char *key, int64_t *value);
/** A generator saved with ag_checkpoint_set_rng; AG_ERROR_FORMAT if missing
 * or malformed (the generator is then unchanged). */
ag_status ag_checkpoint_get_rng(const ag_checkpoint *cp, const char *key, ag_rng *rng);
/** Copies every parameter from the checkpoint by name, after checking that
 * all are present with their shapes (nothing changes otherwise). */
ag_status ag_checkpoint_read_params(const ag_checkpoint *cp, ag_params *params);
/** Copies the 1-D tensor `name` of exactly `size` values into `data`;
 * AG_ERROR_FORMAT if missing, AG_ERROR_SHAPE if of another size. */
ag_status ag_checkpoint_read_array(const ag_checkpoint *cp, const char *name, ag_real *data, int64_t size);
/** Frees a checkpoint (NULL is allowed). */
void ag_checkpoint_free(ag_checkpoint *cp);

/* ------------------------------------------------ atomic files (files.c) */

/** A file written whole or not at all, for checkpoints, CSV and anything
 * else a killed program must not leave half-written: ag_atomic_file_begin
 * opens PATH.tmp.PID beside `path` (and refuses a `path` that exists and is
 * not a regular file, which the rename would replace); write to `file`;
 * ag_atomic_file_commit flushes, fsyncs and renames it over `path`
 * (removing it on any error); ag_atomic_file_abort drops it. */
typedef struct ag_atomic_file {
    FILE *file; /**< open between begin and commit or abort */
    char path[1024], temporary[1100];
    void *stream; /**< internal: the temporary file's descriptor and first write error */
} ag_atomic_file;
/** AG_ERROR_ARGUMENT for an empty or too long path, AG_ERROR_IO when `path`
 * is not a regular file or the temporary file cannot be created. */
ag_status ag_atomic_file_begin(ag_atomic_file *a, const char *path);
/** AG_ERROR_IO naming the step (write, fsync, close, rename) that failed
 * and why (the errno of the first failed write: "No space left on
 * device"); `path` is then as it was. */
ag_status ag_atomic_file_commit(ag_atomic_file *a);
/** Closes and removes the temporary file (nothing if none is open). */
void ag_atomic_file_abort(ag_atomic_file *a);
/** Removes the temporary files PATH.tmp.PID that writers of `path` killed
 * mid-write left, those whose process is gone (kill(PID, 0) fails with
 * ESRCH); a live process's is kept. Best effort: returns how many it
 * removed. Not for a directory that processes of another PID namespace
 * write to. */
int ag_atomic_file_remove_stale(const char *path);

/* --------------------------------------------------- modules (modules.c) */

typedef enum ag_nonlinearity { AG_NONLINEARITY_TANH = 0, AG_NONLINEARITY_RELU = 1 } ag_nonlinearity;

/** y = x W^T + b; W is [out, in] (torch.nn.Linear, named PREFIX.weight and
 * PREFIX.bias); initialised U(-1/sqrt(in), 1/sqrt(in)) like PyTorch. */
typedef struct ag_linear {
    ag_tensor *weight;
    ag_tensor *bias; /**< NULL without bias */
    int in_features, out_features;
} ag_linear;
/** Adds PREFIX.weight (and PREFIX.bias) to `params` and initialises them from `rng`.
 * AG_ERROR_ARGUMENT on a size < 1 or a NULL params/rng; the error of ag_params_add otherwise. */
ag_status ag_linear_init(ag_linear *m, ag_params *params, const char *prefix, int in_features,
                         int out_features, bool bias, ag_rng *rng);
/** x [batch, in] -> [batch, out]; NULL with AG_ERROR_SHAPE if x is not [batch, in]. */
ag_tensor *ag_linear_forward(ag_ctx *ctx, const ag_linear *m, ag_tensor *x);

/** The weights every PyTorch recurrent cell has, for `gates` rows (hidden
 * for RNNCell, 3 hidden for GRUCell, 4 hidden for LSTMCell, the gates
 * stacked): PREFIX.weight_ih [gates, input], PREFIX.weight_hh [gates,
 * hidden] and, with bias, PREFIX.bias_ih and PREFIX.bias_hh [gates], added
 * to `params` in PyTorch's order and drawn from U(-1/sqrt(hidden),
 * 1/sqrt(hidden)) as PyTorch's reset_parameters does. weights[0..3]
 * receive them (the biases NULL without bias). Errors as ag_linear_init. */
ag_status ag_recurrent_weights_init(ag_params *params, const char *prefix, int gates, int input_size,
                                    int hidden_size, bool bias, ag_rng *rng, ag_tensor *weights[4]);

/** h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh) (torch.nn.RNNCell); weights
 * U(-1/sqrt(hidden), 1/sqrt(hidden)). */
typedef struct ag_rnn_cell {
    ag_tensor *weight_ih, *weight_hh; /**< [hidden, input], [hidden, hidden] */
    ag_tensor *bias_ih, *bias_hh;     /**< [hidden], NULL without bias */
    int input_size, hidden_size;
    ag_nonlinearity nonlinearity;
} ag_rnn_cell;
/** Adds PREFIX.weight_ih, PREFIX.weight_hh (and PREFIX.bias_ih, PREFIX.bias_hh) to `params`,
 * initialised from `rng`; errors as ag_linear_init. */
ag_status ag_rnn_cell_init(ag_rnn_cell *cell, ag_params *params, const char *prefix, int input_size,
                           int hidden_size, ag_nonlinearity nonlinearity, bool bias, ag_rng *rng);
/** One step: x [batch, input], h [batch, hidden] -> h' [batch, hidden]; NULL with AG_ERROR_SHAPE on
 * other shapes. */
ag_tensor *ag_rnn_cell_forward(ag_ctx *ctx, const ag_rnn_cell *cell, ag_tensor *x, ag_tensor *h);

/** torch.nn.LSTMCell: gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split in
 * order input, forget, cell, output:
 *   i = sigmoid, f = sigmoid, g = tanh, o = sigmoid
 *   c' = f * c + i * g,  h' = o * tanh(c')
 * W_ih is [4 hidden, input], W_hh [4 hidden, hidden]. */
typedef struct ag_lstm_cell {
    ag_tensor *weight_ih, *weight_hh;
    ag_tensor *bias_ih, *bias_hh; /**< [4 hidden], NULL without bias */
    int input_size, hidden_size;
} ag_lstm_cell;
typedef struct ag_lstm_state {
    ag_tensor *h, *c; /**< both NULL after an error */
} ag_lstm_state;
/** Adds the four PREFIX.* parameters of torch.nn.LSTMCell to `params`, initialised from `rng`;
 * errors as ag_linear_init. */
ag_status ag_lstm_cell_init(ag_lstm_cell *cell, ag_params *params, const char *prefix, int input_size,
                            int hidden_size, bool bias, ag_rng *rng);
/** One step: x [batch, input] and state {h, c} [batch, hidden] -> the next state; {NULL, NULL} with
 * AG_ERROR_SHAPE on other shapes. */
ag_lstm_state ag_lstm_cell_forward(ag_ctx *ctx, const ag_lstm_cell *cell, ag_tensor *x,
                                   ag_lstm_state state);
/** Sets the forget gate's part of bias_ih to `value` and of bias_hh to 0. */
ag_status ag_lstm_cell_set_forget_bias(ag_lstm_cell *cell, double value);

/** torch.nn.GRUCell: gates in order reset, update, candidate:
 *   r  = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
 *   z  = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
 *   n  = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
 *   h' = (1 - z) * n + z * h
 * W_ih = [W_ir; W_iz; W_in] is [3 hidden, input], W_hh [3 hidden, hidden]. */
typedef struct ag_gru_cell {
    ag_tensor *weight_ih, *weight_hh;
    ag_tensor *bias_ih, *bias_hh; /**< [3 hidden], NULL without bias */
    int input_size, hidden_size;
} ag_gru_cell;
/** Adds the four PREFIX.* parameters of torch.nn.GRUCell to `params`, initialised from `rng`
 * (ag_recurrent_weights_init with 3 hidden gates); errors as ag_linear_init. */
ag_status ag_gru_cell_init(ag_gru_cell *cell, ag_params *params, const char *prefix, int input_size,
                           int hidden_size, bool bias, ag_rng *rng);
/** One step: x [batch, input], h [batch, hidden] -> h' [batch, hidden]; NULL with AG_ERROR_SHAPE on
 * other shapes. */
ag_tensor *ag_gru_cell_forward(ag_ctx *ctx, const ag_gru_cell *cell, ag_tensor *x, ag_tensor *h);

/** torch.nn.Embedding: PREFIX.weight [num_embeddings, embedding_dim], drawn
 * from N(0, 1) in row-major order. With a padding index (-1: none) that row
 * is zero-initialised and never gets a gradient, as torch's padding_idx (it
 * is still read forward, so a row set by hand or loaded is returned). */
typedef struct ag_embedding {
    ag_tensor *weight;
    int num_embeddings, embedding_dim;
    int padding_index; /**< -1: none */
} ag_embedding;
/** Adds PREFIX.weight to `params`, initialised from `rng`; AG_ERROR_ARGUMENT on a size < 1, a NULL
 * params/rng or a padding index outside -1..num_embeddings-1; the error of ag_params_add otherwise. */
ag_status ag_embedding_init(ag_embedding *m, ag_params *params, const char *prefix, int num_embeddings,
                            int embedding_dim, int padding_index, ag_rng *rng);
/** Rows weight[indices[i]] for i < n -> [n, embedding_dim] (reshape for [batch, steps, dim]); a row used
 * several times gets the sum of its gradients. NULL with AG_ERROR_ARGUMENT, naming the index and its
 * position, on an index outside 0..num_embeddings-1, or on n < 1. */
ag_tensor *ag_embedding_forward(ag_ctx *ctx, const ag_embedding *m, const int *indices, int n);

/** Inverted dropout (torch.nn.functional.dropout): in training each element
 * of x is zeroed with probability p and the kept ones are scaled by
 * 1 / (1 - p), so the expected value is unchanged; the gradient flows
 * through the same mask. The mask takes one ag_rng_uniform draw per element
 * in row-major order (kept when the draw is >= p), so one seed gives one
 * mask. With training false, or p == 0, it returns x itself (no copy, no
 * draw): evaluation calls it unchanged. NULL with AG_ERROR_ARGUMENT on p
 * outside [0, 1) (whatever `training` is) or a NULL rng in training. */
ag_tensor *ag_dropout(ag_ctx *ctx, ag_tensor *x, double p, bool training, ag_rng *rng);

/** torch.nn.LayerNorm's default eps. */
#define AG_LAYER_NORM_EPS 1e-5
/** torch.nn.LayerNorm(normalized_size) over the last dimension:
 *   y = (x - mean) / sqrt(var + eps) * weight + bias
 * with mean and the biased variance (divided by n) over the last dimension; weight (ones) and
 * bias (zeros) are PREFIX.weight and PREFIX.bias, [normalized_size], absent (NULL) without
 * elementwise_affine. */
typedef struct ag_layer_norm {
    ag_tensor *weight, *bias; /**< [normalized_size], NULL without elementwise_affine */
    int normalized_size;
    double eps;
} ag_layer_norm;
/** Adds PREFIX.weight (ones) and PREFIX.bias (zeros) to `params` with elementwise_affine (nothing
 * without). eps is AG_LAYER_NORM_EPS as PyTorch's default. AG_ERROR_ARGUMENT on a NULL m or
 * params, normalized_size < 1, or eps negative or not finite; the error of ag_params_add otherwise. */
ag_status ag_layer_norm_init(ag_layer_norm *m, ag_params *params, const char *prefix, int normalized_size,
                             bool elementwise_affine, double eps);
/** x [..., normalized_size] (1 to 4 dimensions) -> the same shape, normalised over the last
 * dimension; NULL with AG_ERROR_SHAPE if its last dimension is not normalized_size. */
ag_tensor *ag_layer_norm_forward(ag_ctx *ctx, const ag_layer_norm *m, ag_tensor *x);

/* ---------------------------------- variable-length batches (sequence.c) */

/** A batch of sequences of different lengths, padded to max_length:
 * values[(b * max_length + t) * features + f]. Values past a sequence's
 * length are ignored by every function that reads the batch. */
typedef struct ag_sequence_batch {
    ag_real *values;
    int *lengths; /**< each in 1..max_length */
    int batch, max_length, features;
} ag_sequence_batch;
/** Allocates a zero-filled batch, every length set to max_length; caller-owned, freed by
 * ag_sequence_batch_free. AG_ERROR_ARGUMENT on a size < 1, AG_ERROR_MEMORY. */
ag_status ag_sequence_batch_init(ag_sequence_batch *s, int batch, int max_length, int features);
/** Frees the batch's arrays and zeroes the struct. */
void ag_sequence_batch_free(ag_sequence_batch *s);
/** Step t of every sequence as a [batch, features] tensor (zeros where a
 * sequence has ended). */
ag_tensor *ag_sequence_input(ag_ctx *ctx, const ag_sequence_batch *s, int t);
/** [batch, width] of 1.0 for sequences still running at step t, else 0.0. */
ag_tensor *ag_sequence_mask(ag_ctx *ctx, const ag_sequence_batch *s, int t, int width);
/** The whole batch as one [batch, max_length, features] tensor, the input
 * of ag_rnn_cell_sequence and ag_lstm_cell_sequence. */
ag_tensor *ag_sequence_values(ag_ctx *ctx, const ag_sequence_batch *s);
/** sequence[:, steps - 1, :] as [batch, hidden]: the last state of each row. */
ag_tensor *ag_last_step(ag_ctx *ctx, ag_tensor *sequence);

/* ---------------------------------------- recurrent layers (recurrent.c) */

/** A cell run over whole sequences as one op: the same numbers as calling
 * the cell's forward step by step (up to float rounding), several times
 * faster, because the input projections of all steps and the weight
 * gradients of all steps are one matrix product each, and the rows of the
 * batch run on the threads set by ag_set_num_threads.
 *
 * x is [batch, steps, input] (the layout of ag_sequence_batch.values) and
 * h0 (c0) [batch, hidden]. The result holds the state after every step,
 * [batch, steps, hidden]: result[b, t] is the state after input t of row b.
 * lengths (NULL: every row runs all steps) gives each row's length in
 * 1..steps; past its length a row's state stays as it was, so
 * result[b, steps - 1] is the state after the row's own last input and
 * padding changes no result and no gradient. */
ag_tensor *ag_rnn_cell_sequence(ag_ctx *ctx, const ag_rnn_cell *cell, ag_tensor *x, const int *lengths,
                                ag_tensor *h0);
/** h and c after every step, each [batch, steps, hidden]. */
ag_lstm_state ag_lstm_cell_sequence(ag_ctx *ctx, const ag_lstm_cell *cell, ag_tensor *x, const int *lengths,
                                    ag_lstm_state state0);
/** ag_last_step of ag_rnn_cell_sequence, [batch, hidden], the same bits
 * forward and backward, without writing (or back-propagating through)
 * every step's state: the state after each row's own last input. */
ag_tensor *ag_rnn_cell_sequence_last(ag_ctx *ctx, const ag_rnn_cell *cell, ag_tensor *x, const int *lengths,
                                     ag_tensor *h0);
/** The same for an LSTM cell: the last h and c of each row. */
ag_lstm_state ag_lstm_cell_sequence_last(ag_ctx *ctx, const ag_lstm_cell *cell, ag_tensor *x, const int *lengths,
                                         ag_lstm_state state0);
/** The same for a GRU cell: h after every step, [batch, steps, hidden]. */
ag_tensor *ag_gru_cell_sequence(ag_ctx *ctx, const ag_gru_cell *cell, ag_tensor *x, const int *lengths,
                                ag_tensor *h0);
/** The same for a GRU cell: the last h of each row. */
ag_tensor *ag_gru_cell_sequence_last(ag_ctx *ctx, const ag_gru_cell *cell, ag_tensor *x, const int *lengths,
                                     ag_tensor *h0);
/** Runs a cell over the batch from state h0 ([batch, hidden]); each row of
 * the result is the state after that sequence's own last element, so the
 * padding never changes a result or a gradient. One op
 * (ag_rnn_cell_sequence, ag_lstm_cell_sequence) for the whole sequence. */
ag_tensor *ag_rnn_cell_run(ag_ctx *ctx, const ag_rnn_cell *cell, const ag_sequence_batch *s, ag_tensor *h0);
/** The same for an LSTM cell: the last {h, c} of each row. */
ag_lstm_state ag_lstm_cell_run(ag_ctx *ctx, const ag_lstm_cell *cell, const ag_sequence_batch *s,
                               ag_lstm_state state0);
/** The same for a GRU cell: the last h of each row. */
ag_tensor *ag_gru_cell_run(ag_ctx *ctx, const ag_gru_cell *cell, const ag_sequence_batch *s, ag_tensor *h0);

/* ------------------------------- stacked, bidirectional layers (layers.c) */

/** The most layers of an ag_rnn, ag_lstm or ag_gru. */
#define AG_RECURRENT_MAX_LAYERS 8

/** torch.nn.RNN (tanh or relu) with num_layers, bidirectional and dropout,
 * batch_first=True, bias=True. Cell [l][0] runs layer l forward, cell
 * [l][1] (bidirectional only) backward; layer 0 reads input_size features,
 * a later layer the num_directions * hidden_size of the one before. The
 * parameters have PyTorch's names and order: PREFIX.weight_ih_l0,
 * weight_hh_l0, bias_ih_l0, bias_hh_l0, then the same with _l0_reverse, then
 * _l1, ..., each U(-1/sqrt(hidden), 1/sqrt(hidden)). */
typedef struct ag_rnn {
    ag_rnn_cell cells[AG_RECURRENT_MAX_LAYERS][2];
    int input_size, hidden_size, num_layers, num_directions;
    double dropout;
} ag_rnn;
/** torch.nn.LSTM the same way (its cells' gates as ag_lstm_cell). */
typedef struct ag_lstm {
    ag_lstm_cell cells[AG_RECURRENT_MAX_LAYERS][2];
    int input_size, hidden_size, num_layers, num_directions;
    double dropout;
} ag_lstm;
/** torch.nn.GRU the same way (its cells' gates as ag_gru_cell). */
typedef struct ag_gru {
    ag_gru_cell cells[AG_RECURRENT_MAX_LAYERS][2];
    int input_size, hidden_size, num_layers, num_directions;
    double dropout;
} ag_gru;
/** What a stacked layer returns (all NULL after an error). */
typedef struct ag_recurrent_output {
    /** [batch, steps, num_directions * hidden]: the last layer's h at every
     * step, forward then backward features, zero past each row's length
     * (torch's pad_packed_sequence of the packed output). */
    ag_tensor *output;
    /** [num_layers * num_directions, batch, hidden], index layer *
     * num_directions + direction: each row's final state, the state after
     * its last real input forward, after its input 0 backward. */
    ag_tensor *h_n;
    ag_tensor *c_n; /**< the LSTM's cell states, as h_n; NULL for ag_rnn and ag_gru */
} ag_recurrent_output;
/** Adds the parameters of torch.nn.RNN(input_size, hidden_size, num_layers,
 * nonlinearity, bias=True, batch_first=True, dropout, bidirectional) to
 * `params` and draws them from `rng`. AG_ERROR_ARGUMENT on a NULL m, params
 * or rng, a size < 1, num_layers outside 1..AG_RECURRENT_MAX_LAYERS or
 * dropout outside [0, 1); the error of ag_params_add otherwise. */
ag_status ag_rnn_init(ag_rnn *m, ag_params *params, const char *prefix, int input_size, int hidden_size,
                      int num_layers, ag_nonlinearity nonlinearity, bool bidirectional, double dropout,
                      ag_rng *rng);
/** torch.nn.LSTM's parameters, as ag_rnn_init. */
ag_status ag_lstm_init(ag_lstm *m, ag_params *params, const char *prefix, int input_size, int hidden_size,
                       int num_layers, bool bidirectional, double dropout, ag_rng *rng);
/** torch.nn.GRU's parameters, as ag_rnn_init. */
ag_status ag_gru_init(ag_gru *m, ag_params *params, const char *prefix, int input_size, int hidden_size,
                      int num_layers, bool bidirectional, double dropout, ag_rng *rng);
/** Runs x [batch, steps, input_size] through every layer, as PyTorch runs a
 * pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False):
 * lengths (NULL: all `steps`) gives each row's length in 1..steps, the
 * backward direction runs over each row's own length only (from its last
 * real input to input 0), padding changes no result and no gradient.
 * h0 (NULL: zeros) is [num_layers * num_directions, batch, hidden]. In
 * training, with dropout > 0, each layer's output but the last goes through
 * ag_dropout (draws from rng, one mask per layer, so a seed gives one
 * result); not in training, none (rng may then be NULL). All NULL with
 * AG_ERROR_SHAPE on other shapes, AG_ERROR_ARGUMENT on a bad length. */
ag_recurrent_output ag_rnn_forward(ag_ctx *ctx, const ag_rnn *m, ag_tensor *x, const int *lengths, ag_tensor *h0,
                                   bool training, ag_rng *rng);
/** The same for an LSTM, from h0 and c0 (each NULL: zeros). */
ag_recurrent_output ag_lstm_forward(ag_ctx *ctx, const ag_lstm *m, ag_tensor *x, const int *lengths, ag_tensor *h0,
                                    ag_tensor *c0, bool training, ag_rng *rng);
/** The same for a GRU, from h0 (NULL: zeros). */
ag_recurrent_output ag_gru_forward(ag_ctx *ctx, const ag_gru *m, ag_tensor *x, const int *lengths, ag_tensor *h0,
                                   bool training, ag_rng *rng);

/* ---------------------------------------------- BLAS kernels (blas_kernels.c) */

/** The kernel family OpenBLAS runs, as it names it (openblas_get_corename():
 * "Haswell", "Zen", "SkylakeX", "Sandybridge", "Prescott", ...). */
const char *ag_blas_kernels(void);
/** The best OpenBLAS kernel family this CPU and OS support, from cpuid:
 * "SkylakeX" (AVX-512 F, DQ, BW and VL; "Zen" on AMD, which OpenBLAS 0.3.21
 * has no AVX-512 kernels for), "Haswell" (AVX2 and FMA; "Zen" on AMD),
 * "Sandybridge" (AVX), or NULL (older, or not x86-64). */
const char *ag_cpu_kernels(void);
/** When OpenBLAS runs a weaker family than the CPU supports (it falls back
 * to "Prescott", SSE3, on a CPU model it does not know, as on many cloud
 * VMs: 2-4x slower products) and OPENBLAS_CORETYPE is not set: the family
 * to set it to. NULL otherwise, and always when OPENBLAS_CORETYPE is set
 * (a value the user or the system set is never overridden: some set it on
 * purpose). OpenBLAS reads the variable once, when it loads, so a program
 * acts on it by starting itself again with it set, as the demos do. */
const char *ag_blas_kernels_to_fit(void);

/* -------------------------------------------------- threads (parallel.c) */

/** Threads for the ops that split a batch (the recurrent layers); 1 (the
 * default) runs everything in the calling thread. Results are
 * bit-identical for every number of threads. OpenBLAS runs single-threaded
 * once a context exists: on the small matrices of these models its threads
 * cost more than they gain. Call it between steps, from one thread. */
ag_status ag_set_num_threads(int n);
/** The number of threads set by ag_set_num_threads (1 by default). */
int ag_num_threads(void);

/* ----------------------------------------------------- losses (losses.c) */

/** mean((prediction - target)^2) (torch.nn.MSELoss). */
ag_tensor *ag_mse_loss(ag_ctx *ctx, ag_tensor *prediction, ag_tensor *target);
/** Cross-entropy of logits [n, classes] against integer targets, through
 * log_softmax: mean over the rows whose mask is non-zero (mask NULL: all
 * rows) of -log_softmax(logits)[row, target] (torch.nn.CrossEntropyLoss,
 * the mask as ignore_index). A logit of -inf (a class masked out) is fine
 * anywhere but at a counted row's target, as in PyTorch. */
ag_tensor *ag_cross_entropy_loss(ag_ctx *ctx, ag_tensor *logits, const int *targets, const ag_real *mask);
/** Negative log-likelihood of log-probabilities [n, classes]: mean over the
 * rows whose mask is non-zero of -log_probs[row, target]
 * (torch.nn.functional.nll_loss). Reads only the picked entries. */
ag_tensor *ag_nll_loss(ag_ctx *ctx, ag_tensor *log_probs, const int *targets, const ag_real *mask);

/* ----------------------------------------------------- sampling (sampling.c) */

/** For each row of `t` (every axis but the last; a 1-D tensor is one row),
 * the index along the last axis of its largest value, into indices[row]
 * (t->size / last dimension ints, row-major, like the targets of
 * ag_cross_entropy_loss). As torch.argmax(t, dim=-1): ties give the first
 * index, and a NaN counts as the largest. AG_ERROR_ARGUMENT on a NULL tensor
 * or indices. */
ag_status ag_argmax(const ag_tensor *t, int *indices);
/** One draw per row of `logits` (rows as ag_argmax) from
 * softmax(logits / temperature), into samples[row], using one
 * ag_rng_uniform of `rng` per row in row order (inverse CDF computed in
 * double), so a seed gives the same draws; temperature 0 is ag_argmax and
 * draws nothing. A logit of -inf is a class never drawn. AG_ERROR_ARGUMENT,
 * with nothing drawn or written, on a NULL argument, a temperature that is
 * negative or not finite, a logit that is NaN or +inf, or a row with no
 * finite logit. */
ag_status ag_sample_categorical(const ag_tensor *logits, double temperature, ag_rng *rng, int *samples);

/* -------------------------------------------------- optimizers (optim.c) */

/** torch.optim.SGD: g = grad + weight_decay * p; buf = momentum * buf + g
 * (buf = g on the first step); p -= lr * (momentum ? buf : g). */
typedef struct ag_sgd {
    double lr, momentum, weight_decay;
    ag_real *velocity; /**< NULL without momentum */
    int64_t size, step;
} ag_sgd;
/** Sets up SGD for `params` (set opt->weight_decay after, if wanted); AG_ERROR_ARGUMENT on empty
 * params, lr <= 0 or momentum outside [0, 1), AG_ERROR_MEMORY. Free with ag_sgd_free. On success
 * params is held: ag_params_add refuses further parameters. */
ag_status ag_sgd_init(ag_sgd *opt, ag_params *params, double lr, double momentum);
/** One update of every parameter from its gradient. AG_ERROR_ARGUMENT on a
 * NULL opt or params; AG_ERROR_STATE, with nothing changed, on an optimizer
 * not set up (or freed) or made for another number of values than params
 * holds. Check it: a step that is refused changes no weight. */
AG_MUST_CHECK ag_status ag_sgd_step(ag_sgd *opt, ag_params *params);
/** AG_OK if the momentum buffer is finite; otherwise AG_ERROR_STATE naming
 * the parameter and element ("SGD's momentum buffer of NAME[i] is inf"). */
ag_status ag_sgd_check_finite(const ag_sgd *opt, const ag_params *params);
/** Frees the optimizer's state. */
void ag_sgd_free(ag_sgd *opt);
/** Adds SGD's state to a checkpoint writer: metadata "optimizer" = "sgd" and
 * "optimizer.step", and with momentum the tensor "optimizer.momentum_buffer"
 * over the parameter buffer (read when saved). */
ag_status ag_sgd_save(const ag_sgd *opt, ag_checkpoint_writer *w);
/** Restores SGD's state from a loaded checkpoint; everything is checked
 * first (optimizer kind, step from 0 to 2^53, buffer size), so on error
 * nothing changes. */
ag_status ag_sgd_load(ag_sgd *opt, const ag_checkpoint *cp);

/** torch.optim.Adam (single-tensor path, float arithmetic as PyTorch's):
 * g = grad + weight_decay * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * Defaults: betas 0.9, 0.999, eps 1e-8, weight decay 0; set the fields
 * after ag_adam_init to change them. */
typedef struct ag_adam {
    double lr, beta1, beta2, eps, weight_decay;
    ag_real *m, *v;
    int64_t size, step;
} ag_adam;
/** Sets up Adam for `params` with zero moments; AG_ERROR_ARGUMENT on empty params or lr <= 0,
 * AG_ERROR_MEMORY. Free with ag_adam_free. On success params is held: ag_params_add refuses
 * further parameters. */
ag_status ag_adam_init(ag_adam *opt, ag_params *params, double lr);
/** One update of every parameter from its gradient; errors as ag_sgd_step. */
AG_MUST_CHECK ag_status ag_adam_step(ag_adam *opt, ag_params *params);
/** AG_OK if both moments are finite; otherwise AG_ERROR_STATE naming the
 * moment, parameter and element ("Adam's second moment (exp_avg_sq) of
 * NAME[i] is inf"): v = b2 v + (1-b2) g^2 overflows float when a finite
 * gradient passes about 1e19, and ag_adam_load refuses such a state, so
 * check before saving a checkpoint. */
ag_status ag_adam_check_finite(const ag_adam *opt, const ag_params *params);
/** Frees the optimizer's moments. */
void ag_adam_free(ag_adam *opt);
/** Adds Adam's state to a checkpoint writer: metadata "optimizer" = "adam" and
 * "optimizer.step", tensors "optimizer.exp_avg" and "optimizer.exp_avg_sq"
 * (PyTorch's names for m and v) over the parameter buffer, read when saved.
 * The hyperparameters are the program's settings and are not saved. */
ag_status ag_adam_save(const ag_adam *opt, ag_checkpoint_writer *w);
/** Restores Adam's moments and step from a loaded checkpoint; everything is
 * checked first (optimizer kind, step from 0 to 2^53, sizes), so on error
 * nothing changes. */
ag_status ag_adam_load(ag_adam *opt, const ag_checkpoint *cp);

/* ------------------------------------ learning-rate schedules (schedule.c) */

/** What a schedule does after its warm-up. */
typedef enum ag_lr_kind {
    AG_LR_CONSTANT, /**< base_lr */
    AG_LR_STEP,     /**< torch's StepLR: base_lr gamma^floor(t / step_size) */
    AG_LR_COSINE    /**< torch's CosineAnnealingLR, closed form:
                         eta_min + (base_lr - eta_min) (1 + cos(pi t / t_max)) / 2 */
} ag_lr_kind;
/** A learning-rate schedule for any optimizer with an `lr` field (ag_adam,
 * ag_sgd). Set one up with ag_lr_constant, ag_lr_step_decay or ag_lr_cosine,
 * optionally put a linear warm-up in front with ag_lr_warmup, start the
 * optimizer at ag_lr_schedule_at(&s, 0), and after each optimizer step call
 * ag_lr_schedule_step(&s, &opt.lr), as torch's scheduler.step() after
 * optimizer.step():
 *
 *     ag_lr_cosine(&s, 1e-3, 1000, 1e-5); ag_lr_warmup(&s, 100, 0.1);
 *     ag_adam_init(&opt, params, ag_lr_schedule_at(&s, 0));
 *     for (...) { ...backward...; ag_adam_step(&opt, params); ag_lr_schedule_step(&s, &opt.lr); }
 *
 * With a warm-up of W steps, step t < W has torch's LinearLR(start_factor,
 * 1.0, total_iters=W): base_lr (start_factor + (1 - start_factor) t / W);
 * from t = W on, the schedule runs at t - W (torch's SequentialLR with
 * milestones=[W]). The fields are plain data: copy the struct to keep it. */
typedef struct ag_lr_schedule {
    ag_lr_kind kind;
    double base_lr;
    int64_t step_size; /**< AG_LR_STEP */
    double gamma;      /**< AG_LR_STEP */
    int64_t t_max;     /**< AG_LR_COSINE */
    double eta_min;    /**< AG_LR_COSINE */
    int64_t warmup_steps;       /**< 0: none */
    double warmup_start_factor; /**< in (0, 1] */
    int64_t step; /**< the position: ag_lr_schedule_step calls so far (torch's last_epoch) */
} ag_lr_schedule;
/** A constant schedule at `lr`. These set-up functions return
 * AG_ERROR_ARGUMENT, leaving *s as it was, on a NULL schedule or an lr
 * that is not finite and > 0, and start the position at 0. */
ag_status ag_lr_constant(ag_lr_schedule *s, double lr);
/** torch.optim.lr_scheduler.StepLR(step_size, gamma): also AG_ERROR_ARGUMENT
 * on step_size < 1 or gamma not finite and > 0. */
ag_status ag_lr_step_decay(ag_lr_schedule *s, double lr, int64_t step_size, double gamma);
/** torch.optim.lr_scheduler.CosineAnnealingLR(T_max, eta_min) in its closed
 * form (past t_max it rises again, as torch's); also AG_ERROR_ARGUMENT on
 * t_max < 1 or eta_min not finite and >= 0. */
ag_status ag_lr_cosine(ag_lr_schedule *s, double lr, int64_t t_max, double eta_min);
/** Puts a linear warm-up of `warmup_steps` (0: none) from start_factor *
 * base_lr in front of the schedule; AG_ERROR_ARGUMENT on a NULL schedule,
 * warmup_steps < 0 or start_factor outside (0, 1]. */
ag_status ag_lr_warmup(ag_lr_schedule *s, int64_t warmup_steps, double start_factor);
/** The learning rate at position `step` (>= 0); NaN for a NULL schedule or
 * a negative step. Reads nothing but its arguments. */
double ag_lr_schedule_at(const ag_lr_schedule *s, int64_t step);
/** Advances the position by one and returns the learning rate there, also
 * stored in *lr unless lr is NULL (pass &opt.lr). */
double ag_lr_schedule_step(ag_lr_schedule *s, double *lr);
/** Adds the schedule's position and the current learning rate `lr` (pass
 * opt.lr) to a training checkpoint: metadata "schedule" (its kind's name:
 * "constant", "step", "cosine"), "schedule.step" and "schedule.lr" (%.17g,
 * which reads back to the same double). The settings are the program's and
 * are not saved. */
ag_status ag_lr_schedule_save(const ag_lr_schedule *s, double lr, ag_checkpoint_writer *w);
/** Restores the position into a schedule set up as the saved one was, and
 * the saved learning rate into *lr (pass &opt.lr after ag_adam_load or
 * ag_sgd_load). Everything is checked first (kind, a step >= 0, lr a
 * finite number >= 0), so on error (AG_ERROR_FORMAT; AG_ERROR_ARGUMENT on a
 * NULL argument) nothing changes. */
ag_status ag_lr_schedule_load(ag_lr_schedule *s, double *lr, const ag_checkpoint *cp);

/** Seconds on a monotonic clock (CLOCK_MONOTONIC), for timing: only the
 * difference between two calls means anything. */
double ag_seconds(void);

#ifdef __cplusplus
}
#endif
#endif /* AG_H */
