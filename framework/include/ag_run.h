/** @file
 * ag_run: what every training program needs around the model: a run
 * directory with params.csv, metrics.csv and model.safetensors, and a
 * progress line. Optional: the core (ag.h, libag) does not use it. It is
 * its own library, libag_run, which needs libag and libcsv: link with
 * `-lag_run -lag -lcsv` (build/libag_run.a before build/libag.a), or, once
 * installed, with `pkg-config --cflags --libs ag-run`.
 */
#ifndef AG_RUN_H
#define AG_RUN_H

#include "ag.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_run ag_run;

/** The length of a run id: 16 lowercase hex digits (64 random bits). */
#define AG_RUN_ID_LENGTH 16

/** Creates the run directory `dir`, or `runs/<demo>-<YYYYmmdd>-<HHMMSS>` when
 * dir is NULL (with -2, -3, ... appended if two runs start in the same
 * second), and gives the run a new random id (ag_run_id; from the system's
 * random source, never from a seed). Refuses an existing directory that
 * already holds a run (metrics.csv, checkpoint.safetensors or
 * model.safetensors), so no run is overwritten, and one that another
 * process holds (see ag_run_resume). */
ag_run *ag_run_create(const char *demo, const char *dir);
/** Opens the existing run directory `dir` to go on with a run from its
 * checkpoint (see ag_run_resume_metrics), removing the temporary files
 * (NAME.tmp.PID) that a run killed mid-write leaves, and reads the run's id
 * back from DIR/params.csv (none if the file or its run_id row is absent);
 * NULL if `dir` is not a directory or params.csv cannot be read or holds
 * a malformed run_id. Both this and ag_run_create take a lock on
 * DIR/.lock until ag_run_close (dropped by the kernel if the process
 * dies): while another process holds it they fail with AG_ERROR_STATE,
 * "DIR is in use by process PID". */
ag_run *ag_run_resume(const char *dir);
/** The run's directory. */
const char *ag_run_dir(const ag_run *run);
/** The run's id: AG_RUN_ID_LENGTH lowercase hex digits, recorded as the
 * first row of params.csv ("run_id") and as metadata "ag.run_id" in every
 * checkpoint ag_run_save_checkpoint saves (not in model.safetensors, so
 * two runs with the same flags write the same model). NULL for a run begun
 * by an older ag, which has none (it keeps none when resumed). */
const char *ag_run_id(const ag_run *run);

/** Records one setting for params.csv (name,value); recording a name
 * again replaces its value. AG_ERROR_ARGUMENT for "run_id", the run's id. */
ag_status ag_run_set_param(ag_run *run, const char *name, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/** Records a setting that says how the program ran, not what it computed
 * (threads, say): written to params.csv, but left out of checkpoints and
 * free to change when a run is resumed. */
ag_status ag_run_set_option(ag_run *run, const char *name, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/** Writes params.csv atomically. */
ag_status ag_run_write_params(ag_run *run);

/** Starts metrics.csv with the header "step,<columns...>" (column names of
 * letters, digits and '_'). */
ag_status ag_run_begin_metrics(ag_run *run, const char *const *columns, int n_columns);
/** For a resumed run: reads DIR/metrics.csv back (libcsv), keeps its
 * header and the rows up to and including `step` (the checkpoint's), drops
 * later rows and a last line torn by a kill, rewrites the file atomically
 * and appends from there, so the curve has no duplicated or missing rows.
 * AG_ERROR_FORMAT (with the line) if the file is not this run's: another
 * header, steps out of order, or no row for `step`. */
ag_status ag_run_resume_metrics(ag_run *run, const char *const *columns, int n_columns, int64_t step);
/** Appends one row; a NaN value leaves its field empty (for columns that are
 * only measured now and then). Flushed at least once a second, so a killed
 * run keeps its curve. */
ag_status ag_run_log(ag_run *run, int64_t step, const double *values);

/** Writes the logged rows to disk now (call it when training ends, before
 * a long evaluation). */
ag_status ag_run_flush(ag_run *run);

/** Saves DIR/model.safetensors (atomically) with params.csv's settings (not its options) as
 * metadata. */
ag_status ag_run_save_model(ag_run *run, const ag_params *params);

/** Saves the training checkpoint that `w` holds as DIR/checkpoint.safetensors
 * (atomically), with params.csv's settings (not its options) and the run's
 * id ("ag.run_id") added to it as metadata. metrics.csv is flushed and
 * synced first, so the curve on disk always reaches the checkpoint's step. */
ag_status ag_run_save_checkpoint(ag_run *run, ag_checkpoint_writer *w);

/** After a step's backward pass: AG_OK if the loss and every parameter
 * value and gradient are finite; otherwise AG_ERROR_STATE with the message
 * "loss L, gradient of NAME[i] is nan: training stopped;
 * DIR/checkpoint.safetensors keeps the last good state", for the program to
 * print before it stops without saving. */
ag_status ag_run_check_finite(const ag_run *run, double loss, const ag_params *params);

/** For a resumed run: AG_ERROR_STATE, naming the setting, if a setting
 * recorded with ag_run_set_param has another value in the checkpoint's
 * metadata (options from ag_run_set_option may differ). The run id is no
 * setting: ag_run_check_identity compares it. */
ag_status ag_run_check_params(const ag_run *run, const ag_checkpoint *cp);

/** For a resumed run, before anything in its directory changes: whether
 * the checkpoint `cp` (DIR/checkpoint.safetensors) is this run's. Its
 * "ag.run_id" must be the run id of DIR/params.csv; otherwise
 * AG_ERROR_STATE, "DIR/checkpoint.safetensors belongs to run X but
 * DIR/params.csv to run Y (a checkpoint copied from another run?)", and
 * the same when only one of them has a run id. A run stopped before it
 * wrote params.csv takes the checkpoint's id; a run begun by an older ag,
 * with no id in either, passes and keeps none (ag_run_id is NULL: the
 * program may say that it could not be checked). */
ag_status ag_run_check_identity(ag_run *run, const ag_checkpoint *cp);

/** Installs handlers for SIGINT and SIGTERM that only note the signal, so a
 * training loop can save a checkpoint and stop cleanly; a second signal of
 * the same kind stops the program at once. */
ag_status ag_run_catch_signals(void);
/** The signal caught (SIGINT or SIGTERM), or 0 while none has come. */
int ag_run_stop_signal(void);

/** How a run ended (or that it has not): DIR/status.json's "status". */
typedef enum ag_run_state {
    AG_RUN_RUNNING = 0, /**< "running": going on, or killed without a word (see ag_run_info.live) */
    AG_RUN_FINISHED,    /**< "finished": training ended by itself */
    AG_RUN_STOPPED,     /**< "stopped": by a signal (SIGINT, SIGTERM), after its checkpoint */
    AG_RUN_NON_FINITE,  /**< "non_finite": stopped on a value that is not finite */
    AG_RUN_FAILED       /**< "failed": any other error */
} ag_run_state;

/** The state's name in status.json ("running", "finished", "stopped",
 * "non_finite", "failed"). */
const char *ag_run_state_name(ag_run_state state);

/** Records one of the run's results (the summary's key=value pairs) for
 * status.json; recording a name again replaces its value. */
ag_status ag_run_set_result(ag_run *run, const char *name, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/** Records whether the run reached its goal (a program that has one: a
 * loss or an error below a target); status.json says "converged". */
void ag_run_set_converged(ag_run *run, bool converged);

/** Records how the run ended in DIR/status.json, written atomically:
 * `detail` (may be NULL) says why in words ("SIGTERM", the error). The
 * file is begun, as "running", when ag_run_begin_metrics or
 * ag_run_resume_metrics succeed, and refreshed (step, time) at every
 * ag_run_save_checkpoint; before that this records nothing (a resume
 * refused by its checks leaves the directory as it was). ag_run_close
 * calls it for a program that did not: "finished", or "stopped" after a
 * signal. A run killed with SIGKILL stays "running": ag_run_read_status
 * tells it from a live one by DIR/.lock. */
ag_status ag_run_end(ag_run *run, ag_run_state state, const char *detail);

/** What DIR/status.json says, for tools (bin/runs), with whether the run's
 * process still lives. */
typedef struct ag_run_info {
    bool found;         /**< DIR/status.json exists and was read */
    ag_run_state state; /**< as recorded (AG_RUN_RUNNING when !found) */
    bool live;          /**< DIR/.lock is held: a process has the run open now */
    long pid;           /**< that process (0 when not live) */
    int converged;      /**< 1, 0, or -1 when the program did not say */
    char detail[512];   /**< why it stopped or failed ("" if nothing) */
    double started;     /**< the run's first start, Unix time (NAN if unknown) */
    double ended;       /**< when it ended, Unix time (NAN while running) */
    double seconds;     /**< wall time of all its processes (to the last checkpoint while running) */
    long long step;     /**< the last step logged (-1 if none) */
    int resumes;        /**< how many times it was resumed */
    int n_results;      /**< the summary's key=value pairs */
    char **result_names, **result_values;
    char version[32], commit[48], blas[64]; /**< the build that ran it and OpenBLAS's kernel family */
} ag_run_info;

/** Reads DIR/status.json into `info` and checks DIR/.lock with F_GETLK
 * (only another process's lock shows: a process does not see its own).
 * Not for a process that has DIR open as a run: closing the descriptor it
 * opens on DIR/.lock would drop that process's own lock (POSIX locks).
 * AG_OK with info->found false if there is no status.json (a run of an
 * older ag, or one killed before its first step); AG_ERROR_FORMAT (with
 * why) if it is not a status file, info->live still set. Free with
 * ag_run_info_free. */
ag_status ag_run_read_status(const char *dir, ag_run_info *info);
/** Frees what ag_run_read_status allocated (the results). */
void ag_run_info_free(ag_run_info *info);

/** Flushes and closes metrics.csv, records how the run ended if the
 * program did not (ag_run_end) and frees the run. Returns an error if a
 * write failed at any point (a full disk, say). */
ag_status ag_run_close(ag_run *run);

/** The progress line: on a terminal, one line rewritten in place at most 10
 * times a second (step, loss, steps/s, elapsed, remaining); otherwise a
 * plain line every `plain_every` steps; nothing when quiet. */
typedef struct ag_progress {
    FILE *out;
    bool terminal, quiet, line_open;
    int64_t total, plain_every;
    int64_t first_step; /**< the step a resumed run started from (for steps/s) */
    double start, last_print;
} ag_progress;
/** Starts the clock of a progress line for `total_steps` steps on `out`
 * (a terminal is detected with isatty). */
void ag_progress_start(ag_progress *p, FILE *out, int64_t total_steps, int64_t plain_every, bool quiet);
/** For a resumed run: steps/s and the time left count from `step`. */
void ag_progress_resume_at(ag_progress *p, int64_t step);
/** Reports that `step` is done with this loss; prints only when due. */
void ag_progress_update(ag_progress *p, int64_t step, double loss);
/** Ends the line on a terminal, so later output starts on a fresh one. */
void ag_progress_end(ag_progress *p);

#ifdef __cplusplus
}
#endif
#endif
