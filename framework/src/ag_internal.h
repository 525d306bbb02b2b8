/* Internal to the framework core: what an op needs to create its result
 * and take part in backward. Modules and models use ag.h only. */
#ifndef AG_INTERNAL_H
#define AG_INTERNAL_H

#include "ag.h"

/* One op: its name (for messages) and its backward, which adds out->grad's
 * contribution to the gradient of each input that requires one. The forward
 * is the public ag_<name> function written beside it. */
struct ag_op {
    const char *name;
    ag_status (*backward)(ag_ctx *ctx, ag_tensor *out);
};

/* Step memory, 64-byte aligned, freed by ag_ctx_reset. NULL (and an error
 * set) if the system is out of memory. */
void *ag_arena_alloc(ag_ctx *ctx, size_t bytes);

/* A result tensor of `shape` with uninitialised data. If gradients are
 * enabled and an input requires one, it is recorded on the tape with `op`
 * and its inputs; otherwise it is a constant. `op` may be NULL for
 * results with no gradient (masks). */
ag_tensor *ag_node(ag_ctx *ctx, const ag_op *op, int ndim, const int *shape, int n_inputs,
                   ag_tensor *a, ag_tensor *b, ag_tensor *c);

/* The gradient buffer of `t`, zero-filled on first use; NULL on no memory. */
ag_real *ag_grad_buffer(ag_ctx *ctx, ag_tensor *t);

/* Validates ndim and sizes; sets an error naming `who` and returns false. */
bool ag_valid_shape(const char *who, int ndim, const int *shape);

/* True if backward needs the gradient of this input. */
static inline bool ag_needs_grad(const ag_tensor *t) { return t->requires_grad; }

#endif
