/* The run lifecycle every demo shares, written once: the common flags
 * (--threads, --run-dir, --checkpoint-every, --resume, --quiet), a new run
 * or a resumed one (settings, weights, optimizer and the demo's own state
 * from the checkpoint, checked before anything on disk changes), metrics,
 * periodic checkpoints, signals, the finite check, the final message and
 * the exit code. A demo's main keeps only its recipe:
 *
 *     demo d;
 *     demo_init(&d, "adding", "adding", DEMO_STEPS, 1000);
 *     flag_spec specs[] = {... the demo's flags ..., DEMO_RUN_FLAGS(&d)};
 *     if (!demo_parse(&d, SUMMARY, specs, n, argc, argv)) return d.exit_code;
 *     ... data, model, optimizer ...
 *     if (!demo_open(&d, &(demo_training){...})) return d.exit_code;
 *     while (demo_running(&d)) {
 *         ... forward, backward ...
 *         if (!demo_finite(&d, loss)) break;
 *         ... gradient clipping, if any ...
 *         if (!demo_step(&d)) break;
 *         d.step++;
 *         if (!demo_log(&d, (double[]){loss, ...})) break;
 *     }
 *     if (demo_finish(&d) && demo_save_model(&d)) demo_summary(&d, "key=%d ...", ...);
 *     ... free the demo's memory ...
 *     return demo_close(&d);
 *
 * Every function that can fail prints one line "PROGRAM: what: why" to
 * stderr, sets d->exit_code (1 for a failure, 2 for a bad flag, 128 +
 * signal after SIGINT/SIGTERM) and returns false.
 *
 * Data-parallel (ag_mpi.h): a demo that trains on batches declares
 * DEMO_CHUNKS_FLAG and gives demo_open its batch's rows; its step then
 * runs the forward and backward pass of each of this process's chunks
 * (demo_chunk_rows) and sums them with demo_sum_chunks:
 *
 *     for (int k = d.first_chunk; k < d.first_chunk + d.my_chunks; k++) {
 *         ... rows [first, first + rows) of the batch: loss_k = mean * rows / batch ...
 *         if (!demo_keep_chunk(&d, k, loss_k)) ...
 *     }
 *     if (!demo_sum_chunks(&d, &loss)) break;  // every process: the batch's gradients
 *
 * Started by `mpirun -np N`, every process runs main; process 0 alone
 * writes the run directory and prints; the others' stdout is discarded
 * and their stderr kept, shown only when one of them fails alone. The
 * processes agree at demo_parse, demo_open and every demo_running, so a
 * signal to any of them stops all cleanly; a failure after demo_open in
 * one process ends the job (MPI_Abort) and the checkpoint on disk stays
 * good. */
#ifndef AG_DEMO_HARNESS_H
#define AG_DEMO_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ag.h"
#include "ag_mpi.h"
#include "ag_run.h"
#include "flags.h"

/* What a demo counts: training steps, or epochs (digitsum). It names the
 * checkpoint's counter (train.step or train.epoch) and the messages. */
typedef enum demo_unit { DEMO_STEPS, DEMO_EPOCHS } demo_unit;

/* Adam or SGD, chosen by name (--optim): one state to step, save and load. */
typedef struct demo_optimizer {
    bool sgd;
    ag_sgd sgd_state;
    ag_adam adam;
} demo_optimizer;

/* name: "adam" or "sgd" (SGD without momentum); AG_ERROR_ARGUMENT naming
 * both otherwise. */
ag_status demo_optimizer_init(demo_optimizer *opt, const char *name, ag_params *params, double lr);
/* One update of params; the optimizer's status (a refused step changes nothing). */
ag_status demo_optimizer_step(demo_optimizer *opt, ag_params *params);
void demo_optimizer_free(demo_optimizer *opt);

/* The demo's own state besides the weights and the optimizer (generators,
 * position in the data, ...): added to every checkpoint after the step
 * counter, and read back on --resume after the counter (`step`) has been
 * read and checked. restore may be NULL when there is nothing to read. */
typedef struct demo_state {
    void *data;
    ag_status (*save)(const void *data, ag_checkpoint_writer *w);
    ag_status (*restore)(void *data, const ag_checkpoint *cp, int64_t step);
    /* Data-parallel, for a state kept per chunk: called in every process
     * before each checkpoint after the first (which only process 0
     * writes, from the initial state), to bring the chunks' state to
     * process 0 (ag_mpi_gather_chunks) for its save. May be NULL. */
    ag_status (*gather)(void *data);
} demo_state;

/* What demo_open needs to know of the training. */
typedef struct demo_training {
    ag_params *params;
    demo_optimizer *optimizer;
    demo_state state;
    const char *const *columns; /* metrics.csv's columns after "step"; the first is the loss */
    int n_columns;
    const double *first_row; /* a new run's row at step 0, logged before the first checkpoint (NULL: none) */
    int batch_rows;          /* with DEMO_CHUNKS_FLAG: the rows of a step's batch (at most) */
    int64_t total;           /* steps (or epochs) of the whole run */
    int64_t progress_every;  /* steps between plain progress lines when stdout is not a terminal */
} demo_training;

enum { DEMO_MAX_EXTRA_PARAMS = 8 };

typedef struct demo {
    const char *program; /* in messages: "adding", "digitsum train" */
    const char *name;    /* the demo, as checkpoints and runs/ name it */
    demo_unit unit;
    /* The common flags, set by DEMO_RUN_FLAGS. */
    long threads, checkpoint_every;
    const char *run_dir, *resume_dir;
    bool quiet;
    long chunks; /* DEMO_CHUNKS_FLAG; 0 until demo_open resolves it */
    /* Data-parallel: this process's chunks of the batch (all of them in one process). */
    int rank, processes, first_chunk, my_chunks;
    /* The run, for the demo to read. */
    ag_checkpoint *resume; /* --resume's checkpoint (settings already applied), else NULL */
    bool restart;          /* --resume of a run stopped at step 0: it starts afresh in its directory */
    ag_checkpoint *settings; /* that run's checkpoint, kept for the settings taken from it */
    int64_t step;          /* steps (or epochs) done; the demo counts them */
    int64_t first_step;    /* where this process started */
    double seconds;        /* this process's training time, set by demo_finish */
    ag_run *run;
    ag_progress progress;
    int exit_code;
    /* The harness's own. */
    demo_training training;
    const flag_spec *specs;
    int n_specs;
    int64_t saved_step; /* the step the checkpoint on disk holds */
    /* How the run ended, for status.json: the first cause noted wins. */
    bool outcome_noted;
    ag_run_state outcome;
    char outcome_detail[400];
    double start;
    int n_extra;
    struct {
        char name[32], value[528]; /* a vocabulary in hex (charlm) takes 512 */
    } extra[DEMO_MAX_EXTRA_PARAMS];
    char run_dir_help[80], checkpoint_help[160];
    bool uses_chunks, opened;
    bool ended_together; /* every process knows the run ends here */
    int stop_signal;     /* the signal that stopped the run, in any process */
    ag_mpi_exchange *exchange;
    int *codes; /* agree's: one a process */
    FILE *own_stderr;    /* processes after 0: their stderr, kept aside */
    FILE *terminal_stderr;
} demo;

/* program: the name in messages; name: the demo's (checkpoints, runs/);
 * checkpoint_every: --checkpoint-every's default. */
void demo_init(demo *d, const char *program, const char *name, demo_unit unit, long checkpoint_every);

/* First thing in a demo's main: when OpenBLAS runs weaker kernels than
 * the CPU supports and OPENBLAS_CORETYPE is not set
 * (ag_blas_kernels_to_fit), starts the program again, same arguments,
 * with OPENBLAS_CORETYPE set to the fitting family, which OpenBLAS reads
 * only when it loads; the run's params.csv then names both
 * (blas_kernels, blas_kernels_before). Returns when nothing is to be done,
 * or when the program cannot be started again (no /proc). */
void demo_fit_blas_kernels(char **argv);

/* The number of online cores (1 to 64): what --threads 0 means. */
long demo_default_threads(void);

/* The common flags, last in a demo's table. */
#define DEMO_RUN_FLAGS(d)                                                                                              \
    {"threads", FLAG_INT, &(d)->threads, 0, 64, false,                                                                 \
     "threads for the rows of a batch (0: one a core); results do not depend on it", true},                           \
        {"run-dir", FLAG_STRING, &(d)->run_dir, 0, 0, false, (d)->run_dir_help, true},                                 \
        {"checkpoint-every", FLAG_INT, &(d)->checkpoint_every, 1, 1e10, false, (d)->checkpoint_help, true},            \
        {"resume", FLAG_STRING, &(d)->resume_dir, 0, 0, false,                                                         \
         "go on with the run in this directory from its checkpoint, with its settings", true},                        \
        {"quiet", FLAG_BOOL, &(d)->quiet, 0, 0, false, "no progress line", true}

/* The batch's cut for data-parallel training: a setting of the run, so
 * that the result is the same for any number of processes. A checkpoint
 * from before it existed resumes with 1, the one chunk it trained on. */
#define DEMO_CHUNKS_FLAG(d)                                                                                            \
    {"chunks", FLAG_INT, &(d)->chunks, 0, 4096, false,                                                                 \
     "chunks of each batch, split over mpirun's processes (0: one per 64 rows, at most 64); the result depends on "  \
     "it, not on the number of processes", false}

/* Parses the flags; with --resume DIR, loads DIR's checkpoint and takes
 * every setting not given from it; sets the threads and catches SIGINT and
 * SIGTERM (from here on they end the run cleanly). False after --help
 * (exit code 0) or an error. */
bool demo_parse(demo *d, const char *summary, const flag_spec *specs, int n_specs, int argc, char **argv);

/* A setting beyond the flags (total_steps, the data's rows, ...), for
 * params.csv and every checkpoint; call before demo_open. */
void demo_set_param(demo *d, const char *name, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Starts the run. Resumed: reads the weights, the optimizer, the step and
 * the demo's state from the checkpoint, checks that the checkpoint is the
 * run's own (its run id params.csv's: ag_run_check_identity; a run of an
 * older ag, with no run id or checksum, goes on with a one-line note) and
 * its settings, all before the directory changes, then cuts metrics.csv
 * back to the checkpoint's step. New (or
 * restarted from step 0): creates the run directory, saves a checkpoint
 * before any other file, then params.csv and metrics.csv (with
 * first_row), so a run stopped at any moment can go on. A signal that
 * came before this starts nothing. */
bool demo_open(demo *d, const demo_training *training);

/* Whether to take another step: not all done, no signal (in any
 * process), no failure. */
bool demo_running(demo *d);

/* Chunk k's rows of a batch of `rows`: [*first, *first + *count); as even
 * as the rows allow, the first chunks a row longer; *count may be 0. */
void demo_chunk_rows(const demo *d, int rows, int k, int *first, int *count);

/* After chunk k's backward pass: keeps its gradients and its share of
 * the loss (the chunk's mean times its share of the rows). */
bool demo_keep_chunk(demo *d, int k, ag_real loss_share);

/* Once a step, in every process, after keeping its chunks: the weights'
 * gradients become the batch's (the chunks' summed in chunk order), and
 * *loss the sum of the chunks' shares. */
bool demo_sum_chunks(demo *d, ag_real *loss);

/* After a step's backward pass: false (with the message naming the step and
 * the first non-finite value) if the loss or any weight or gradient is not
 * finite; the last good checkpoint stays, the curve up to here is kept. */
bool demo_finite(demo *d, double loss);

/* After demo_finite: the optimizer's update of the weights given to
 * demo_open; false (with the message naming the step and why) if the
 * optimizer refuses it. */
bool demo_step(demo *d);

/* After d->step was counted: checks that the optimizer's state is finite
 * (false, naming the moment and element, if not), appends the metrics row
 * (values in the columns' order), updates the progress line with
 * values[0] and saves a checkpoint every --checkpoint-every steps. */
bool demo_log(demo *d, const double *values);

/* After the loop: ends the progress line, saves the last checkpoint (unless
 * the one on disk holds this step) and, after a signal, says how to go on.
 * True when training ended by itself and the demo should report. */
bool demo_finish(demo *d);

/* Saves RUN_DIR/model.safetensors and prints "run: RUN_DIR". */
bool demo_save_model(demo *d);

/* Prints the last line on stdout, "summary: " and the formatted key=value
 * pairs, and records the pairs and "finished" in RUN_DIR/status.json. */
void demo_summary(demo *d, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* For a demo that has a goal (l1norm's exact weights, adding's
 * --stop-below): whether it reached it, for status.json. */
void demo_set_converged(demo *d, bool converged);

/* Prints "PROGRAM: what: <the library's last error>" and returns
 * demo_close's exit code (1). */
int demo_fail(demo *d, const char *what);

/* Records how the run ended in RUN_DIR/status.json (finished, stopped by a
 * signal, stopped on a non-finite value, failed), closes the run (flushing
 * metrics.csv) and frees what the harness holds; returns the exit code. */
int demo_close(demo *d);

#endif
