/* The core: error state, the step arena, contexts, tensor creation, and
 * backward over the tape. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ag_internal.h"

/* ---------------------------------------------------------------- errors */

/* Thread-local so that two threads training two models never see each
 * other's messages. */
static _Thread_local char error_message[512];
static _Thread_local ag_status error_code = AG_OK;

const char *ag_error_message(void) { return error_message; }
ag_status ag_error_code(void) { return error_code; }
void ag_error_clear(void) {
    error_code = AG_OK;
    error_message[0] = '\0';
}

/* Bytes from a file may be control characters, C1 controls or broken
 * UTF-8: a message quoting them stays one short line of printable ASCII. */
const char *ag_printable(const char *text, char *buf, size_t size) {
    size_t limit = size - 4, n = 0;
    for (; n < limit && text[n]; n++) {
        unsigned char c = (unsigned char)text[n];
        buf[n] = c >= 0x20 && c < 0x7f ? text[n] : '?';
    }
    if (text[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

ag_status ag_error_set(ag_status code, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(error_message, sizeof error_message, format, args);
    va_end(args);
    /* A path or any text from outside may hold bytes that are not
     * printable ASCII (a high byte of a file name, an escape sequence, a
     * newline): a message stays one line of printable ASCII, as
     * ag_printable makes it. */
    for (char *c = error_message; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
    error_code = code;
    return code;
}

/* ----------------------------------------------------------------- arena */

enum { ARENA_ALIGN = 64, ARENA_MIN_BLOCK = 1 << 16 };

typedef struct arena_block {
    struct arena_block *next;
    size_t capacity, used;
    unsigned char *base; /* first aligned byte */
} arena_block;

struct ag_ctx {
    arena_block *blocks; /* newest first */
    size_t arena_capacity;
    uint64_t arena_allocations;
    ag_tensor **tape;
    size_t tape_length, tape_capacity;
    bool grad_enabled;
    bool backward_done;
};

static arena_block *arena_block_new(ag_ctx *ctx, size_t capacity) {
    arena_block *block = malloc(sizeof *block + capacity + ARENA_ALIGN);
    if (!block) return NULL;
    uintptr_t start = (uintptr_t)(block + 1);
    block->base = (unsigned char *)((start + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
    block->capacity = capacity;
    block->used = 0;
    block->next = NULL;
    ctx->arena_allocations++;
    return block;
}

void *ag_arena_alloc(ag_ctx *ctx, size_t bytes) {
    size_t rounded = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (rounded < bytes) {
        ag_error_set(AG_ERROR_MEMORY, "ag_arena_alloc: %zu bytes is too large", bytes);
        return NULL;
    }
    arena_block *block = ctx->blocks;
    if (!block || block->capacity - block->used < rounded) {
        /* Doubling keeps the number of blocks of a step logarithmic; reset
         * merges them into one, so the next step fits in a single block. */
        size_t capacity = ctx->arena_capacity > ARENA_MIN_BLOCK ? ctx->arena_capacity : ARENA_MIN_BLOCK;
        if (capacity < rounded) capacity = rounded;
        block = arena_block_new(ctx, capacity);
        if (!block) {
            ag_error_set(AG_ERROR_MEMORY, "ag_arena_alloc: out of memory allocating %zu bytes", capacity);
            return NULL;
        }
        block->next = ctx->blocks;
        ctx->blocks = block;
        ctx->arena_capacity += capacity;
    }
    void *p = block->base + block->used;
    block->used += rounded;
    return p;
}

ag_ctx *ag_ctx_create(void) {
    ag_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        ag_error_set(AG_ERROR_MEMORY, "ag_ctx_create: out of memory");
        return NULL;
    }
    ctx->grad_enabled = true;
    ag_threads_init();
    return ctx;
}

static void free_blocks(arena_block *block) {
    while (block) {
        arena_block *next = block->next;
        free(block);
        block = next;
    }
}

void ag_ctx_free(ag_ctx *ctx) {
    if (!ctx) return;
    free_blocks(ctx->blocks);
    free(ctx->tape);
    free(ctx);
}

void ag_ctx_reset(ag_ctx *ctx) {
    if (!ctx) return;
    if (ctx->blocks && ctx->blocks->next) {
        /* The step needed several blocks: replace them by one that holds
         * them all, so the same step next time needs no allocation. */
        size_t total = ctx->arena_capacity;
        free_blocks(ctx->blocks);
        ctx->blocks = arena_block_new(ctx, total);
        ctx->arena_capacity = ctx->blocks ? total : 0;
    } else if (ctx->blocks) {
        ctx->blocks->used = 0;
    }
    ctx->tape_length = 0;
    ctx->backward_done = false;
}

bool ag_set_grad_enabled(ag_ctx *ctx, bool enabled) {
    bool previous = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return previous;
}

bool ag_grad_enabled(const ag_ctx *ctx) { return ctx->grad_enabled; }
size_t ag_ctx_arena_bytes(const ag_ctx *ctx) { return ctx->arena_capacity; }
uint64_t ag_ctx_arena_allocations(const ag_ctx *ctx) { return ctx->arena_allocations; }

/* --------------------------------------------------------------- tensors */

bool ag_valid_shape(const char *who, int ndim, const int *shape) {
    if (ndim < 1 || ndim > AG_MAX_DIMS) {
        ag_error_set(AG_ERROR_SHAPE, "%s: %d dimensions; ag tensors have 1 to %d", who, ndim, AG_MAX_DIMS);
        return false;
    }
    if (!shape) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: shape is NULL", who);
        return false;
    }
    int64_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) {
            ag_error_set(AG_ERROR_SHAPE, "%s: dimension %d has size %d; sizes must be >= 1", who, i, shape[i]);
            return false;
        }
        size *= shape[i];
        if (size > ((int64_t)1 << 40)) {
            ag_error_set(AG_ERROR_SHAPE, "%s: tensor of more than 2^40 elements", who);
            return false;
        }
    }
    return true;
}

static void set_shape(ag_tensor *t, int ndim, const int *shape) {
    t->ndim = ndim;
    t->size = 1;
    for (int i = 0; i < AG_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    for (int i = 0; i < ndim; i++) t->size *= shape[i];
}

static ag_tensor *arena_tensor(ag_ctx *ctx, const char *who, int ndim, const int *shape) {
    if (!ctx) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: context is NULL", who);
        return NULL;
    }
    if (!ag_valid_shape(who, ndim, shape)) return NULL;
    ag_tensor *t = ag_arena_alloc(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    set_shape(t, ndim, shape);
    t->data = ag_arena_alloc(ctx, (size_t)t->size * sizeof(ag_real));
    return t->data ? t : NULL;
}

ag_tensor *ag_node(ag_ctx *ctx, const ag_op *op, int ndim, const int *shape, int n_inputs, ag_tensor *a,
                   ag_tensor *b, ag_tensor *c) {
    ag_tensor *inputs[3] = {a, b, c};
    return ag_node_inputs(ctx, op, ndim, shape, n_inputs, inputs);
}

ag_tensor *ag_node_inputs(ag_ctx *ctx, const ag_op *op, int ndim, const int *shape, int n_inputs,
                          ag_tensor *const *inputs) {
    ag_tensor *t = arena_tensor(ctx, op ? op->name : "ag_node", ndim, shape);
    if (!t) return NULL;
    bool needs_grad = false;
    for (int i = 0; i < n_inputs; i++) needs_grad |= ag_needs_grad(inputs[i]);
    if (!op || !ctx->grad_enabled || !needs_grad) return t; /* a constant */
    if (ctx->tape_length == ctx->tape_capacity) {
        size_t capacity = ctx->tape_capacity ? 2 * ctx->tape_capacity : 1024;
        ag_tensor **tape = realloc(ctx->tape, capacity * sizeof *tape);
        if (!tape) {
            ag_error_set(AG_ERROR_MEMORY, "%s: out of memory growing the tape", op->name);
            return NULL;
        }
        ctx->tape = tape;
        ctx->tape_capacity = capacity;
    }
    ctx->tape[ctx->tape_length++] = t;
    t->op = op;
    t->requires_grad = true;
    t->n_inputs = n_inputs;
    for (int i = 0; i < n_inputs; i++) t->inputs[i] = inputs[i];
    return t;
}

ag_real *ag_grad_buffer(ag_ctx *ctx, ag_tensor *t) {
    if (!t->grad) {
        t->grad = ag_arena_alloc(ctx, (size_t)t->size * sizeof(ag_real));
        if (t->grad) memset(t->grad, 0, (size_t)t->size * sizeof(ag_real));
    }
    return t->grad;
}

static ag_tensor *filled(ag_ctx *ctx, const char *who, int ndim, const int *shape, ag_real value) {
    ag_tensor *t = arena_tensor(ctx, who, ndim, shape);
    if (t)
        for (int64_t i = 0; i < t->size; i++) t->data[i] = value;
    return t;
}

ag_tensor *ag_full(ag_ctx *ctx, int ndim, const int *shape, ag_real value) {
    return filled(ctx, "ag_full", ndim, shape, value);
}
ag_tensor *ag_zeros(ag_ctx *ctx, int ndim, const int *shape) { return filled(ctx, "ag_zeros", ndim, shape, 0); }
ag_tensor *ag_ones(ag_ctx *ctx, int ndim, const int *shape) { return filled(ctx, "ag_ones", ndim, shape, 1); }
ag_tensor *ag_scalar(ag_ctx *ctx, ag_real value) { return filled(ctx, "ag_scalar", 1, (int[]){1}, value); }

ag_tensor *ag_from_array(ag_ctx *ctx, int ndim, const int *shape, const ag_real *values) {
    if (!values) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_from_array: values is NULL");
        return NULL;
    }
    ag_tensor *t = arena_tensor(ctx, "ag_from_array", ndim, shape);
    if (t) memcpy(t->data, values, (size_t)t->size * sizeof(ag_real));
    return t;
}

ag_tensor *ag_rand_uniform(ag_ctx *ctx, ag_rng *rng, int ndim, const int *shape, double low, double high) {
    ag_tensor *t = arena_tensor(ctx, "ag_rand_uniform", ndim, shape);
    if (t) ag_init_uniform(t, rng, low, high);
    return t;
}

ag_tensor *ag_randn(ag_ctx *ctx, ag_rng *rng, int ndim, const int *shape, double mean, double std) {
    ag_tensor *t = arena_tensor(ctx, "ag_randn", ndim, shape);
    if (t) ag_init_normal(t, rng, mean, std);
    return t;
}

ag_tensor *ag_copy(ag_ctx *ctx, const ag_tensor *t) {
    if (!t) return NULL;
    return ag_from_array(ctx, t->ndim, t->shape, t->data);
}

void ag_set_requires_grad(ag_tensor *t, bool requires_grad) {
    if (t) t->requires_grad = requires_grad;
}

ag_tensor *ag_tensor_new(int ndim, const int *shape) {
    if (!ag_valid_shape("ag_tensor_new", ndim, shape)) return NULL;
    ag_tensor *t = calloc(1, sizeof *t);
    if (!t) goto out_of_memory;
    set_shape(t, ndim, shape);
    t->data = calloc((size_t)t->size, sizeof(ag_real));
    if (t->data) return t;
    free(t);
out_of_memory:
    ag_error_set(AG_ERROR_MEMORY, "ag_tensor_new: out of memory");
    return NULL;
}

void ag_tensor_free(ag_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t->grad);
    free(t);
}

ag_status ag_detach_into(ag_tensor *keep, const ag_tensor *t) {
    if (!t) {
        if (ag_error_code() != AG_OK) return ag_error_code(); /* keep the failing op's message */
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_detach_into: tensor is NULL");
    }
    if (!keep) return ag_error_set(AG_ERROR_ARGUMENT, "ag_detach_into: keep is NULL");
    if (!ag_same_shape(keep, t)) {
        char shape_keep[64], shape_t[64];
        return ag_error_set(AG_ERROR_SHAPE, "ag_detach_into: keep has shape %s, the tensor %s",
                            ag_shape_string(keep, shape_keep, sizeof shape_keep),
                            ag_shape_string(t, shape_t, sizeof shape_t));
    }
    memmove(keep->data, t->data, (size_t)t->size * sizeof(ag_real));
    return AG_OK;
}

bool ag_same_shape(const ag_tensor *a, const ag_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

int64_t ag_offset(const ag_tensor *t, const int *index) {
    int64_t offset = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (index[i] < 0 || index[i] >= t->shape[i]) return -1;
        offset = offset * t->shape[i] + index[i];
    }
    return offset;
}

const char *ag_shape_string(const ag_tensor *t, char *buf, size_t buf_size) {
    size_t used = 0;
    if (buf_size == 0) return buf;
    buf[0] = '\0';
    if (!t) {
        snprintf(buf, buf_size, "(null)");
        return buf;
    }
    for (int i = 0; i < t->ndim && used < buf_size; i++) {
        int n = snprintf(buf + used, buf_size - used, "%s%d", i ? ", " : "[", t->shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < buf_size) snprintf(buf + used, buf_size - used, "]");
    return buf;
}

void ag_print(FILE *out, const char *name, const ag_tensor *t, int max_values) {
    char shape[64];
    fprintf(out, "%s %s:", name ? name : "tensor", ag_shape_string(t, shape, sizeof shape));
    if (!t) {
        fputc('\n', out);
        return;
    }
    int64_t n = max_values > 0 && max_values < t->size ? max_values : t->size;
    int64_t row = t->shape[t->ndim - 1];
    for (int64_t i = 0; i < n; i++) fprintf(out, "%s%.6g", i % row == 0 ? "\n  " : " ", (double)t->data[i]);
    fprintf(out, "%s\n", n < t->size ? " ..." : "");
}

/* -------------------------------------------------------------- backward */

ag_status ag_backward(ag_ctx *ctx, ag_tensor *loss) {
    char shape[64];
    if (!ctx) return ag_error_set(AG_ERROR_ARGUMENT, "ag_backward: context is NULL");
    if (!loss) {
        if (ag_error_code() != AG_OK) return ag_error_code(); /* keep the failing op's message */
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_backward: loss is NULL");
    }
    if (loss->size != 1)
        return ag_error_set(AG_ERROR_SHAPE, "ag_backward: loss has shape %s; backward needs a scalar (size 1)",
                            ag_shape_string(loss, shape, sizeof shape));
    if (!loss->requires_grad)
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "ag_backward: the loss depends on no tensor that requires a gradient "
                            "(or was computed with gradients disabled)");
    if (ctx->backward_done)
        return ag_error_set(AG_ERROR_STATE,
                            "ag_backward: this graph was already backpropagated; call ag_ctx_reset and "
                            "build it again");
    ag_real *seed = ag_grad_buffer(ctx, loss);
    if (!seed) return AG_ERROR_MEMORY;
    seed[0] += 1;
    /* The tape is in creation order, a topological order: walking it
     * backwards visits every node after all of its consumers. */
    for (size_t i = ctx->tape_length; i-- > 0;) {
        ag_tensor *t = ctx->tape[i];
        if (!t->grad) continue; /* the loss does not depend on it */
        for (int k = 0; k < t->n_inputs; k++)
            if (ag_needs_grad(t->inputs[k]) && !ag_grad_buffer(ctx, t->inputs[k]))
                return AG_ERROR_MEMORY;
        ag_status status = t->op->backward(ctx, t);
        if (status != AG_OK) return status;
    }
    ctx->backward_done = true;
    return AG_OK;
}
