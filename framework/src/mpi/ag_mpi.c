/* The MPI layer (ag_mpi.h): joining an Open MPI job, the chunks of a batch,
 * and the gradient exchange that sums chunks in chunk order, so that the
 * bytes do not depend on the number of processes. */
#include "ag_mpi.h"

#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define AG_MPI_REAL MPI_DOUBLE
#else
#define AG_MPI_REAL MPI_FLOAT
#endif

static bool joined;   /* MPI_Init was called by ag_mpi_start */
static bool finished; /* MPI_Finalize was called by ag_mpi_stop */
static int rank = 0, size = 1;
static MPI_Comm comm;

/* mpirun (or another PMIx launcher) leaves these in every process's
 * environment; a program started by hand has none of them, and then never
 * pays MPI_Init's singleton start-up. */
static bool started_by_mpirun(void) { return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK"); }

ag_status ag_mpi_start(int *argc, char ***argv) {
    if (joined) return ag_error_set(AG_ERROR_STATE, "ag_mpi_start: called twice");
    if (!started_by_mpirun()) return AG_OK;
    /* ag's own threads never call MPI: only the main thread does. */
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return ag_error_set(AG_ERROR_STATE, "ag_mpi_start: MPI_Init failed");
    joined = true;
    /* A communicator of ag's own: a program's own messages on
     * MPI_COMM_WORLD never match the exchange's. */
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    return AG_OK;
}

void ag_mpi_stop(void) {
    if (!joined || finished) return;
    finished = true;
    MPI_Comm_free(&comm);
    MPI_Finalize();
}

int ag_mpi_rank(void) { return rank; }
int ag_mpi_size(void) { return size; }

int ag_mpi_local_size(void) {
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int n = local && joined ? atoi(local) : 1;
    return n < 1 ? 1 : n;
}

void ag_mpi_chunks(int n_chunks, int *first, int *count) {
    int64_t begin = (int64_t)rank * n_chunks / size, end = (int64_t)(rank + 1) * n_chunks / size;
    *first = (int)begin;
    *count = (int)(end - begin);
}

/* ------------------------------------------------------ the exchange */

struct ag_mpi_exchange {
    ag_params *params;
    int n_chunks, n_values, first, mine;
    int next;       /* the chunk to keep next */
    bool leads;     /* this process holds chunk 0: it starts the sum */
    int64_t width;  /* parameters + values: one chunk's row */
    ag_real *kept;  /* [mine][width]: this process's chunks (not the leader's) */
    ag_real *total; /* [width]: the running sum, then the total */
    ag_real *values; /* [n_values]: one process, one chunk: its values */
    MPI_Request *broadcasts; /* one a segment */
};

/* Segments of the chain: small enough that the next process starts adding
 * while this one still sends, large enough that a message's latency is
 * paid rarely (256 KiB of floats). */
enum { SEGMENT = 65536 };

static int chunks_of(int r, int n_chunks) {
    return (int)((int64_t)(r + 1) * n_chunks / size - (int64_t)r * n_chunks / size);
}

/* One process and one chunk: the gradients are the batch's already. */
static bool single(const ag_mpi_exchange *x) { return size == 1 && x->n_chunks == 1; }

ag_mpi_exchange *ag_mpi_exchange_create(ag_params *params, int n_chunks, int n_values) {
    if (!params || n_chunks < 1 || n_values < 0) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_mpi_exchange_create: params %s, %d chunks, %d values",
                     params ? "given" : "NULL", n_chunks, n_values);
        return NULL;
    }
    ag_mpi_exchange *x = calloc(1, sizeof *x);
    if (!x) {
        ag_error_set(AG_ERROR_MEMORY, "ag_mpi_exchange_create: out of memory");
        return NULL;
    }
    x->params = params;
    x->n_chunks = n_chunks;
    x->n_values = n_values;
    ag_mpi_chunks(n_chunks, &x->first, &x->mine);
    x->next = x->first;
    x->leads = x->first == 0 && x->mine > 0;
    x->width = ag_params_size(params) + n_values;
    size_t kept = x->leads || single(x) ? 0 : (size_t)x->mine * (size_t)x->width;
    x->kept = kept ? malloc(kept * sizeof *x->kept) : NULL;
    x->total = single(x) ? NULL : malloc((size_t)x->width * sizeof *x->total);
    x->values = malloc((size_t)(n_values + 1) * sizeof *x->values);
    x->broadcasts = malloc((size_t)(x->width / SEGMENT + 1) * sizeof *x->broadcasts);
    if ((kept && !x->kept) || (!single(x) && !x->total) || !x->values || !x->broadcasts) {
        ag_error_set(AG_ERROR_MEMORY, "ag_mpi_exchange_create: out of memory for %d chunks of %lld values",
                     x->mine, (long long)x->width);
        ag_mpi_exchange_free(x);
        return NULL;
    }
    return x;
}

void ag_mpi_exchange_free(ag_mpi_exchange *x) {
    if (!x) return;
    free(x->kept);
    free(x->total);
    free(x->values);
    free(x->broadcasts);
    free(x);
}

ag_status ag_mpi_exchange_keep(ag_mpi_exchange *x, int chunk, const ag_real *values) {
    if (!x || (x->n_values > 0 && !values))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_mpi_exchange_keep: NULL %s", x ? "values" : "exchange");
    if (chunk != x->next || chunk >= x->first + x->mine) {
        if (x->mine == 0)
            return ag_error_set(AG_ERROR_ARGUMENT, "ag_mpi_exchange_keep: chunk %d: this process has no chunk", chunk);
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "ag_mpi_exchange_keep: chunk %d, expected %d (this process's are %d to %d, in order)",
                            chunk, x->next, x->first, x->first + x->mine - 1);
    }
    x->next++;
    int64_t n = ag_params_size(x->params);
    const ag_real *grad = ag_params_grad(x->params);
    if (single(x)) {
        if (x->n_values > 0) memcpy(x->values, values, (size_t)x->n_values * sizeof *values);
        return AG_OK;
    }
    if (!x->leads) {
        ag_real *row = x->kept + (int64_t)(chunk - x->first) * x->width;
        memcpy(row, grad, (size_t)n * sizeof *row);
        if (x->n_values > 0) memcpy(row + n, values, (size_t)x->n_values * sizeof *row);
        return AG_OK;
    }
    /* The leader adds as it goes: g_0, then + g_1, + g_2, ... */
    ag_real *total = x->total;
    if (chunk == 0) {
        memcpy(total, grad, (size_t)n * sizeof *total);
        if (x->n_values > 0) memcpy(total + n, values, (size_t)x->n_values * sizeof *total);
    } else {
        for (int64_t e = 0; e < n; e++) total[e] += grad[e];
        for (int v = 0; v < x->n_values; v++) total[n + v] += values[v];
    }
    return AG_OK;
}

ag_status ag_mpi_exchange_sum(ag_mpi_exchange *x, ag_real *sums) {
    if (!x) return ag_error_set(AG_ERROR_ARGUMENT, "ag_mpi_exchange_sum: NULL exchange");
    if (x->next != x->first + x->mine)
        return ag_error_set(AG_ERROR_STATE, "ag_mpi_exchange_sum: chunk %d of this process's %d to %d was not kept",
                            x->next, x->first, x->first + x->mine - 1);
    x->next = x->first;
    int64_t n = ag_params_size(x->params);
    if (single(x)) {
        if (x->n_values > 0 && sums) memcpy(sums, x->values, (size_t)x->n_values * sizeof *sums);
        return AG_OK;
    }
    /* The processes that hold chunks, in order, form a chain: the sum of
     * element e, ((g_0[e] + g_1[e]) + g_2[e]) + ..., starts at the leader
     * and each process adds its chunks in order and hands it on. */
    int previous = -1, following = -1, last = -1;
    for (int r = 0; r < size; r++) {
        if (chunks_of(r, x->n_chunks) == 0) continue;
        if (r < rank) previous = r;
        if (r > rank && following < 0) following = r;
        last = r;
    }
    /* Each segment's total goes back to every process as soon as the last
     * process of the chain has it, while later segments still travel
     * forward: the two directions of each link work at once. */
    int segments = 0;
    for (int64_t offset = 0; offset < x->width; offset += SEGMENT, segments++) {
        int count = (int)(x->width - offset < SEGMENT ? x->width - offset : SEGMENT);
        ag_real *total = x->total + offset;
        if (x->mine > 0 && !x->leads) {
            MPI_Recv(total, count, AG_MPI_REAL, previous, 0, comm, MPI_STATUS_IGNORE);
            for (int k = 0; k < x->mine; k++) {
                const ag_real *part = x->kept + (int64_t)k * x->width + offset;
                for (int e = 0; e < count; e++) total[e] += part[e];
            }
        }
        if (x->mine > 0 && following >= 0) MPI_Send(total, count, AG_MPI_REAL, following, 0, comm);
        if (size > 1) MPI_Ibcast(total, count, AG_MPI_REAL, last, comm, &x->broadcasts[segments]);
    }
    if (size > 1) MPI_Waitall(segments, x->broadcasts, MPI_STATUSES_IGNORE);
    memcpy(ag_params_grad(x->params), x->total, (size_t)n * sizeof *x->total);
    if (x->n_values > 0 && sums) memcpy(sums, x->total + n, (size_t)x->n_values * sizeof *sums);
    return AG_OK;
}

/* ------------------------------------------------------- run control */

ag_status ag_mpi_gather_chunks(const void *mine, void *all, int64_t chunk_bytes, int n_chunks) {
    if (chunk_bytes < 0 || n_chunks < 1 || (rank == 0 && !all))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_mpi_gather_chunks: %lld bytes, %d chunks%s",
                            (long long)chunk_bytes, n_chunks, rank == 0 && !all ? ", NULL destination" : "");
    int first, count;
    ag_mpi_chunks(n_chunks, &first, &count);
    if (size == 1) {
        memcpy(all, mine, (size_t)(chunk_bytes * n_chunks));
        return AG_OK;
    }
    /* One message from each process, its blocks in order: its own offset. */
    if (rank > 0) {
        for (int64_t offset = 0; offset < count * chunk_bytes; offset += INT32_MAX / 2) {
            int n = (int)(count * chunk_bytes - offset < INT32_MAX / 2 ? count * chunk_bytes - offset : INT32_MAX / 2);
            MPI_Send((const char *)mine + offset, n, MPI_BYTE, 0, 1, comm);
        }
        return AG_OK;
    }
    memcpy(all, mine, (size_t)(count * chunk_bytes));
    for (int r = 1; r < size; r++) {
        int64_t begin = (int64_t)r * n_chunks / size, end = (int64_t)(r + 1) * n_chunks / size;
        char *to = (char *)all + begin * chunk_bytes;
        for (int64_t offset = 0; offset < (end - begin) * chunk_bytes; offset += INT32_MAX / 2) {
            int64_t left = (end - begin) * chunk_bytes - offset;
            MPI_Recv(to + offset, (int)(left < INT32_MAX / 2 ? left : INT32_MAX / 2), MPI_BYTE, r, 1, comm,
                     MPI_STATUS_IGNORE);
        }
    }
    return AG_OK;
}

ag_status ag_mpi_gather_int(int value, int *all) {
    if (size == 1) {
        all[0] = value;
        return AG_OK;
    }
    MPI_Allgather(&value, 1, MPI_INT, all, 1, MPI_INT, comm);
    return AG_OK;
}

ag_status ag_mpi_check_same(const ag_real *data, int64_t n, const char *what) {
    if (size == 1) return AG_OK;
    unsigned mine = (unsigned)ag_crc32c(0, data, (size_t)n * sizeof *data);
    unsigned *all = malloc((size_t)size * sizeof *all);
    if (!all) return ag_error_set(AG_ERROR_MEMORY, "ag_mpi_check_same: out of memory");
    MPI_Allgather(&mine, 1, MPI_UNSIGNED, all, 1, MPI_UNSIGNED, comm);
    int differs = 0;
    for (int r = 1; r < size && !differs; r++)
        if (all[r] != all[0]) differs = r;
    free(all);
    if (differs)
        return ag_error_set(AG_ERROR_STATE, "%s of process %d differ from process 0's (%d processes)", what, differs,
                            size);
    return AG_OK;
}

void ag_mpi_abort(int code) {
    if (joined && !finished) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
