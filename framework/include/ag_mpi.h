/* ag_mpi.h: data-parallel training over Open MPI, with the same bytes for
 * any number of processes.
 *
 * An optional layer on top of the core (libag_mpi, built with mpicc; the
 * core library and ag.h need no MPI). A program linked with it runs as
 * one process when started without mpirun (MPI is then never
 * initialised, and nothing is slower), and as one of `mpirun -np N`'s
 * processes otherwise.
 *
 * Why the result does not depend on N. A step's batch is cut into a
 * fixed number of chunks, chosen by the program and never by N. Each
 * process runs the forward and backward pass of its own chunks (a
 * contiguous run of them, ag_mpi_chunks) and keeps each chunk's gradient
 * apart (ag_mpi_exchange_keep). ag_mpi_exchange_sum then adds the chunks'
 * gradients in chunk order, 0 + g_0 + g_1 + ... + g_{K-1}, element by
 * element, the same additions in the same order whether one process holds
 * every chunk or each holds one: the partial sum travels from process to
 * process in segments (a pipelined chain, so a step moves about 2 x 4P
 * bytes per process for P parameters, like a ring all-reduce), and the
 * last process broadcasts the total. Every process then holds the same
 * gradients, takes the same optimizer step and keeps the same weights.
 *
 * The recipe, for a model whose loss is a mean over the rows of a batch:
 *
 *     ag_mpi_start(&argc, &argv);
 *     int first, mine;
 *     ag_mpi_chunks(K, &first, &mine);
 *     ag_mpi_exchange *x = ag_mpi_exchange_create(params, K, 1);
 *     for each step:
 *         for (int k = first; k < first + mine; k++) {
 *             ag_params_zero_grad(params);
 *             loss_k = (the mean loss over chunk k's rows) * rows_k / rows;
 *             ag_backward(ctx, loss_k);
 *             ag_mpi_exchange_keep(x, k, &loss_k->data[0]);
 *         }
 *         ag_real loss;
 *         ag_mpi_exchange_sum(x, &loss); // params' gradients: the batch's
 *         ... clip, optimizer step: the same on every process ...
 *     ag_mpi_exchange_free(x);
 *     ag_mpi_stop();
 *
 * With K = 1 this is the ordinary step, bit for bit. Only process 0
 * should write files (ag_mpi_rank). */
#ifndef AG_MPI_H
#define AG_MPI_H

#include <stdbool.h>

#include "ag.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Joins the job when the program was started by mpirun (Open MPI's
 * OMPI_COMM_WORLD_SIZE, or PMIX_RANK, in the environment): MPI_Init.
 * Otherwise does nothing: one process, rank 0. AG_ERROR_STATE if called
 * twice. */
ag_status ag_mpi_start(int *argc, char ***argv);
/** Leaves the job (MPI_Finalize) when ag_mpi_start joined one; safe to
 * call when it did not, or twice. */
void ag_mpi_stop(void);
/** This process's number, 0 to ag_mpi_size() - 1 (0 without mpirun). */
int ag_mpi_rank(void);
/** The number of processes (1 without mpirun). */
int ag_mpi_size(void);
/** The processes on this host (OMPI_COMM_WORLD_LOCAL_SIZE; 1 without
 * mpirun): to share the cores among them. */
int ag_mpi_local_size(void);

/** This process's chunks of n_chunks: *first and the *count after it
 * (0 when there are more processes than chunks). Process r takes chunks
 * [r K / N, (r + 1) K / N). */
void ag_mpi_chunks(int n_chunks, int *first, int *count);

typedef struct ag_mpi_exchange ag_mpi_exchange;

/** The gradient exchange of `params` for steps of n_chunks chunks, each
 * chunk also bringing n_values numbers (its share of the loss, ...) that
 * are summed the same way. Memory: one copy of the gradients in the
 * process that holds chunk 0 (it adds as it goes), one per chunk in the
 * others, none for one process with one chunk. NULL (error set) on bad
 * arguments or no memory. */
ag_mpi_exchange *ag_mpi_exchange_create(ag_params *params, int n_chunks, int n_values);
/** After chunk `chunk`'s backward pass: keeps params' gradients and the
 * n_values `values` as that chunk's. Every chunk of this process, in
 * order, every step (a chunk with no rows: zeroed gradients and values);
 * AG_ERROR_ARGUMENT, naming the chunk expected, otherwise. */
ag_status ag_mpi_exchange_keep(ag_mpi_exchange *x, int chunk, const ag_real *values);
/** Collective: every process calls it once a step, after keeping all of
 * its chunks (AG_ERROR_STATE naming the first not kept, otherwise). Sets
 * params' gradients, on every process, to the sum of the chunks'
 * gradients in chunk order, and sums[0..n_values-1] (NULL: not wanted)
 * to the sum of their values. With one process and one chunk the
 * gradients stay as the backward pass left them. */
ag_status ag_mpi_exchange_sum(ag_mpi_exchange *x, ag_real *sums);
/** NULL is a no-op. */
void ag_mpi_exchange_free(ag_mpi_exchange *x);

/** Collective: process 0 receives every chunk's block of chunk_bytes
 * bytes, in chunk order, into all[0 .. n_chunks * chunk_bytes) (another
 * process's `all` is not touched and may be NULL); `mine` holds this
 * process's chunks' blocks, in order (ag_mpi_chunks). For a state kept
 * per chunk (a language model's carried state) that a checkpoint written
 * by process 0 must hold whole. One process: a copy. */
ag_status ag_mpi_gather_chunks(const void *mine, void *all, int64_t chunk_bytes, int n_chunks);
/** Collective, for run control: every process's `value`, into
 * all[0..ag_mpi_size()-1], on every process. */
ag_status ag_mpi_gather_int(int value, int *all);
/** Collective: AG_OK when the n values at `data` are the same bytes on
 * every process; otherwise AG_ERROR_STATE naming `what` and the first
 * process whose bytes differ from process 0's. */
ag_status ag_mpi_check_same(const ag_real *data, int64_t n, const char *what);
/** Ends every process of the job with exit code `code` (MPI_Abort), or
 * this one (exit) without mpirun. */
void ag_mpi_abort(int code);

#ifdef __cplusplus
}
#endif

#endif
