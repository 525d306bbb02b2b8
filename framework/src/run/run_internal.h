/* Internal to the run layer (libag_run): the run that run_dir.c creates,
 * fills with settings and saves through, and run_metrics.c writes
 * metrics.csv for. Programs see only the opaque ag_run of ag_run.h. */
#ifndef AG_RUN_INTERNAL_H
#define AG_RUN_INTERNAL_H

#include "ag_run.h"

/* Names with a text value each, in the order first set (run_pairs.c);
 * flags: one bool a name (the settings' "is a run option"). */
typedef struct run_pairs {
    char **names, **values;
    bool *flags;
    int count, capacity;
} run_pairs;
/* Sets name to value, replacing an earlier value; the name's index, or -1
 * (message naming `who`) when out of memory. A new name's flag is false. */
int run_pairs_set(run_pairs *p, const char *who, const char *name, const char *value);
void run_pairs_free(run_pairs *p);

struct ag_run {
    char dir[1024];
    int lock_fd; /* DIR/.lock, held while the run is open; -1 if none */
    FILE *metrics;
    int n_columns;
    double last_flush;
    bool write_failed;
    run_pairs params; /* the settings; flags: recorded by ag_run_set_option */
    /* The run's identity (16 hex digits; "" for a run begun by an older ag,
     * which has none): made by ag_run_create, read back from params.csv by
     * ag_run_resume; written to params.csv and every checkpoint. */
    char run_id[AG_RUN_ID_LENGTH + 1];
    bool params_found; /* ag_run_resume found DIR/params.csv */
    /* DIR/status.json (run_status.c): written once the run's metrics
     * begin, refreshed at every checkpoint, finished by ag_run_end. */
    bool status_begun, status_ended;
    double started;        /* the run's first start, Unix time */
    double process_start;  /* this process's, Unix time */
    double seconds_before; /* wall time of the processes before this one */
    int resumes;
    int64_t last_step; /* the last row logged (or the resumed checkpoint's step); -1: none */
    int converged;     /* 1, 0, or -1 when the program did not say */
    run_pairs results; /* the summary's key=value pairs */
};

/* run_status.c: called by ag_run_create (resumed false) and ag_run_resume
 * (true, reading the previous status.json for the first start and the time
 * so far); run_status_begin when metrics.csv is open; run_status_refresh
 * at each checkpoint; run_status_free by ag_run_close. */
void run_status_init(ag_run *run, bool resumed);
ag_status run_status_begin(ag_run *run);
ag_status run_status_refresh(ag_run *run);
void run_status_free(ag_run *run);

#endif
