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
/* The same for ops of up to AG_MAX_INPUTS inputs, some of which may be NULL
 * (an absent bias); backward skips the NULL ones. */
ag_tensor *ag_node_inputs(ag_ctx *ctx, const ag_op *op, int ndim, const int *shape, int n_inputs,
                          ag_tensor *const *inputs);

/* C[m, n] = beta C + op(A) op(B), row-major with leading dimensions (so a
 * block of rows of a larger matrix can take part); CBLAS, or a direct loop
 * where the call overhead would dominate. */
void ag_gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const ag_real *a, int lda, const ag_real *b,
             int ldb, ag_real beta, ag_real *c, int ldc);

/* For the hot loops: an AVX2/FMA clone beside the baseline one, picked
 * when the program loads (GCC's function multi-versioning, x86-64 only). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define AG_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define AG_TARGET_CLONES
#endif

/* True when a recurrent layer's product of `rows` rows (the most of any
 * chunk) with B [k, n] goes to ag_gemm_accumulate's own kernel (B packed
 * once per op with ag_gemm_pack); otherwise to OpenBLAS with B as it is.
 * The shapes where the kernel was measured faster
 * (bench/recurrent_gemm.c). It depends on the shapes alone, not on the
 * number of threads, so neither do the bits. */
bool ag_gemm_accumulate_in_place(int rows, int k, int n);

/* B [k, n] laid out for ag_gemm_accumulate: element (p, j) is
 * b[p * row_stride + j * column_stride] (so a transposed matrix packs
 * without a copy), into ag_gemm_packed_size(k, n) values at `packed`. */
int64_t ag_gemm_packed_size(int k, int n);
void ag_gemm_pack(int k, int n, const ag_real *b, int64_t row_stride, int64_t column_stride, ag_real *packed);

/* C[m, n] += A[m, k] B[k, n], B packed by ag_gemm_pack: the per-step
 * product of a recurrent layer, without OpenBLAS's packing of B on every
 * call. Each element's sum runs over p in order, so the bits do not depend
 * on how the rows are split between calls. */
void ag_gemm_accumulate(int m, int n, int k, const ag_real *a, int lda, const ag_real *packed_b, ag_real *c,
                        int ldc);
int ag_gemm_padded_width(int n);

/* Runs task(arg, 0..n_tasks-1), on the worker threads when there are some
 * (ag_set_num_threads), and returns when all are done. Tasks must not
 * depend on which thread runs them. */
void ag_parallel_run(int n_tasks, void (*task)(void *arg, int index), void *arg);
/* Sets OpenBLAS to one thread, once; every context calls it. */
void ag_threads_init(void);

/* The gradient buffer of `t`, zero-filled on first use; NULL on no memory. */
ag_real *ag_grad_buffer(ag_ctx *ctx, ag_tensor *t);

/* ag_params_check_finite for an array laid out as the parameter buffer
 * (an optimizer's state): AG_ERROR_STATE "WHAT of NAME[i] is inf". */
ag_status ag_params_check_finite_array(const ag_params *p, const ag_real *values, const char *what);
/* Marks params as held by an optimizer (ag_adam_init, ag_sgd_init): from
 * then on ag_params_add refuses, since the optimizer's state has one value
 * per parameter value. */
void ag_params_hold(ag_params *p);

/* Validates ndim and sizes; sets an error naming `who` and returns false. */
bool ag_valid_shape(const char *who, int ndim, const int *shape);

/* True if backward needs the gradient of this input; false for NULL (an
 * absent optional input). */
static inline bool ag_needs_grad(const ag_tensor *t) { return t && t->requires_grad; }

#endif
