/* One run directory as bin/runs sees it: its settings (params.csv), the
 * last value of each metric (metrics.csv, read from its end), how it ended
 * (status.json, through ag_run_read_status) and what is wrong with it. A
 * damaged or missing file is a problem to show, never a reason to stop. */
#ifndef AG_RUNS_DATA_H
#define AG_RUNS_DATA_H

#include <stdbool.h>

#include "ag_run.h"

typedef struct run_record {
    char *path; /* the directory, as found or given */
    char *name; /* its last component */
    char *demo; /* params.csv's "demo", else the name up to its first '-' */
    int n_params;
    char **param_names, **param_values; /* params.csv's rows but run_id, in order */
    int n_columns;
    char **columns;       /* metrics.csv's columns after step */
    double *final_values; /* the last value of each column (NAN if none) */
    long long last_step;  /* metrics.csv's last complete row (-1 if none) */
    ag_run_info info;
    char status[24];   /* running, killed, finished, converged, not-converged, stopped, non-finite, failed, unknown */
    double started;    /* Unix time (NAN if unknown) */
    double duration;   /* seconds (NAN if unknown) */
    long long steps;   /* -1 if unknown */
    char problem[400]; /* "" when nothing is wrong */
} run_record;

/* Whether `dir` looks like a run directory (any of a run's files). */
bool run_dir_looks_like_run(const char *dir);

/* Reads the run in `dir` (never fails: what cannot be read becomes
 * record->problem). */
void run_record_load(run_record *record, const char *dir);
void run_record_free(run_record *record);

/* The value of a setting, or NULL. */
const char *run_param(const run_record *record, const char *name);
/* The index of a metric column, or -1. */
int run_column(const run_record *record, const char *name);

/* The runs in `runs_dir` (its subdirectories that look like runs), sorted
 * by name, or the run `runs_dir` is if it is one; NULL with *n = -1 if the
 * directory cannot be read (errno). */
run_record *runs_load_dir(const char *runs_dir, int *n);
void runs_free(run_record *runs, int n);

/* "12.3s", "4:05", "1:02:03" */
void format_duration(double seconds, char *buf, size_t size);
/* "2026-12-06T09:30" local time (one word, for awk), or "-" */
void format_when(double unix_time, char *buf, size_t size);
/* %.6g, or "-" for NAN */
void format_value(double value, char *buf, size_t size);

#endif
