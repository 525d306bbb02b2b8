/* The monotonic clock: for timing steps and runs, in the core so that a
 * program needs no run layer to time itself. */
#include <time.h>

#include "ag.h"

double ag_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
