/* The L1-norm RNN's forward pass over one sequence of length 10,000 (the
 * demo's test), timed apart from training: the first call, which also
 * allocates and faults in its memory, and the median of 20 later calls
 * with the memory in place. One thread. */
#include <stdio.h>
#include <stdlib.h>

#include "ag_run.h"
#include "l1norm.h"

enum { LENGTH = 10000, CALLS = 21 };

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    ag_rng rng;
    ag_rng_seed(&rng, 42, 2);
    l1norm_model model;
    ag_ctx *ctx = ag_ctx_create();
    if (!ctx || l1norm_model_init(&model, false, &rng) != AG_OK) {
        fprintf(stderr, "l1norm_forward: %s\n", ag_error_message());
        return 1;
    }
    model.cell.weight_ih->data[0] = 1;
    model.cell.weight_hh->data[0] = 1;
    static ag_real values[LENGTH];
    for (int i = 0; i < LENGTH; i++) values[i] = (ag_real)ag_rng_normal(&rng);
    double ms[CALLS], prediction = 0;
    for (int k = 0; k < CALLS; k++) {
        double start = ag_seconds();
        if (l1norm_predict(ctx, &model, values, LENGTH, &prediction) != AG_OK) {
            fprintf(stderr, "l1norm_forward: %s\n", ag_error_message());
            return 1;
        }
        ms[k] = (ag_seconds() - start) * 1e3;
    }
    double first = ms[0];
    qsort(ms + 1, CALLS - 1, sizeof ms[0], compare);
    printf("l1norm forward over %d steps: first call %.3f ms, then %.3f ms (median of %d)\n", LENGTH, first,
           ms[CALLS / 2], CALLS - 1);
    l1norm_model_free(&model);
    ag_ctx_free(ctx);
    return 0;
}
