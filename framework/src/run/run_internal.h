/* Internal to the run layer (libag_run): the run that run_dir.c creates,
 * fills with settings and saves through, and run_metrics.c writes
 * metrics.csv for. Programs see only the opaque ag_run of ag_run.h. */
#ifndef AG_RUN_INTERNAL_H
#define AG_RUN_INTERNAL_H

#include "ag_run.h"

struct ag_run {
    char dir[1024];
    int lock_fd; /* DIR/.lock, held while the run is open; -1 if none */
    FILE *metrics;
    int n_columns;
    double last_flush;
    bool write_failed;
    char **names, **values;
    bool *is_option; /* recorded by ag_run_set_option */
    int n_params, params_capacity;
    /* The run's identity (16 hex digits; "" for a run begun by an older ag,
     * which has none): made by ag_run_create, read back from params.csv by
     * ag_run_resume; written to params.csv and every checkpoint. */
    char run_id[AG_RUN_ID_LENGTH + 1];
    bool params_found; /* ag_run_resume found DIR/params.csv */
};

#endif
