/* The gradient exchange's cost (ag_mpi_exchange_sum), against Open MPI's
 * own all-reduce of the same floats (MPI_Allreduce, MPI_SUM: faster on
 * many hosts, but its order of additions depends on the number of
 * processes), for the parameter counts of the demos and larger. Run under
 * mpirun: one chunk per process; process 0 prints one line per size:
 * parameters, MB, median microseconds of each, and the bytes each process
 * moved per second. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "ag.h"
#include "ag_mpi.h"

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (ag_mpi_start(&argc, &argv) != AG_OK) return 1;
    int rank = ag_mpi_rank(), size = ag_mpi_size();
    /* The demos' default models (adding IRNN H=100, digit-sum LSTM H=128, char LM), then larger ones. */
    const int sizes[] = {10501, 74252, 892658, 4000000, 16000000};
    const char *names[] = {"adding H=100", "digitsum LSTM", "charlm", "4M", "16M"};
    enum { ROUNDS = 30 };
    if (rank == 0)
        printf("%d processes, one chunk each\n%-14s %10s %8s %14s %14s %12s\n", size, "model", "params", "MB",
               "exchange us", "allreduce us", "exchange GB/s");
    for (int i = 0; i < 5; i++) {
        ag_params *params = ag_params_create();
        ag_tensor *w = ag_params_add(params, "w", 1, (int[]){sizes[i]});
        if (!w) return 1;
        for (int e = 0; e < sizes[i]; e++) ag_params_grad(params)[e] = (ag_real)(e % 7 + rank);
        ag_mpi_exchange *x = ag_mpi_exchange_create(params, size, 1);
        float *buffer = malloc((size_t)sizes[i] * sizeof *buffer);
        double exchange[ROUNDS], allreduce[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            ag_real loss = 1, total;
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            ag_mpi_exchange_keep(x, rank, &loss);
            ag_mpi_exchange_sum(x, &total);
            exchange[r] = MPI_Wtime() - start;
            MPI_Barrier(MPI_COMM_WORLD);
            start = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buffer, sizes[i], MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            allreduce[r] = MPI_Wtime() - start;
        }
        qsort(exchange, ROUNDS, sizeof *exchange, compare);
        qsort(allreduce, ROUNDS, sizeof *allreduce, compare);
        double mb = 4.0 * sizes[i] / 1e6, t = exchange[ROUNDS / 2];
        if (rank == 0)
            printf("%-14s %10d %8.2f %14.1f %14.1f %12.2f\n", names[i], sizes[i], mb, 1e6 * t,
                   1e6 * allreduce[ROUNDS / 2], size > 1 ? 2.0 * mb / 1e3 / t : 0.0);
        free(buffer);
        ag_mpi_exchange_free(x);
        ag_params_free(params);
    }
    ag_mpi_stop();
    return 0;
}
