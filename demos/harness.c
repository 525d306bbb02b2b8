#include "harness.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- optimizer */

ag_status demo_optimizer_init(demo_optimizer *opt, const char *name, ag_params *params, double lr) {
    memset(opt, 0, sizeof *opt);
    opt->sgd = strcmp(name, "sgd") == 0;
    if (!opt->sgd && strcmp(name, "adam") != 0) {
        char shown[64];
        return ag_error_set(AG_ERROR_ARGUMENT, "'%s' is not one of adam, sgd", ag_printable(name, shown, sizeof shown));
    }
    return opt->sgd ? ag_sgd_init(&opt->sgd_state, params, lr, 0) : ag_adam_init(&opt->adam, params, lr);
}

ag_status demo_optimizer_step(demo_optimizer *opt, ag_params *params) {
    return opt->sgd ? ag_sgd_step(&opt->sgd_state, params) : ag_adam_step(&opt->adam, params);
}

void demo_optimizer_free(demo_optimizer *opt) {
    ag_sgd_free(&opt->sgd_state);
    ag_adam_free(&opt->adam);
}

/* ---------------------------------------------------------------- messages */

static const char *counter_key(const demo *d) { return d->unit == DEMO_EPOCHS ? "train.epoch" : "train.step"; }

static const char *signal_name(int signal_number) { return signal_number == SIGINT ? "SIGINT" : "SIGTERM"; }

/* The first cause of the end wins: a non-finite loss that then fails to
 * save stays "non_finite". */
static void note_outcome(demo *d, ag_run_state state, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void note_outcome(demo *d, ag_run_state state, const char *format, ...) {
    if (d->outcome_noted) return;
    d->outcome_noted = true;
    d->outcome = state;
    va_list args;
    va_start(args, format);
    vsnprintf(d->outcome_detail, sizeof d->outcome_detail, format, args);
    va_end(args);
}

/* ------------------------------------------------- processes (ag_mpi.h) */

/* A process after the first shows what it wrote to stderr only when it
 * failed alone: a failure every process meets (a bad flag) is told once,
 * by process 0. */
static void show_own_stderr(demo *d) {
    if (!d->own_stderr || !d->terminal_stderr) return;
    fflush(stderr);
    rewind(d->own_stderr);
    char line[2048];
    while (fgets(line, sizeof line, d->own_stderr))
        fprintf(d->terminal_stderr, "(process %d of %d) %s", d->rank, d->processes, line);
    fflush(d->terminal_stderr);
}

/* Every process's code (0: go on; -1 for --help): the run's is process 0's
 * if it has one, else the first other process's. */
static int agree(demo *d, int code) {
    if (d->processes == 1) return code;
    int *all = d->codes; /* made once: agree runs every step */
    ag_mpi_gather_int(code, all);
    int agreed = 0, from = 0;
    for (int r = 0; r < d->processes && !agreed; r++)
        if (all[r] != 0) agreed = all[r], from = r;
    bool failure = agreed > 0 && agreed < 128;
    if (failure && from > 0 && d->rank == from) show_own_stderr(d);
    if (failure && from > 0 && d->rank == 0)
        fprintf(stderr, "%s: process %d of %d failed alone: its message is the one marked '(process %d of %d)'\n",
                d->program, from, d->processes, from, d->processes);
    return agreed;
}

/* The run ends here in every process: they agree on the exit code once. */
static void end_together(demo *d) {
    if (d->ended_together) return;
    d->ended_together = true;
    int code = d->exit_code;
    if (code == 0 && !d->opened) code = -1; /* --help, or a demo's own early return */
    int agreed = agree(d, code);
    d->exit_code = agreed < 0 ? 0 : agreed;
}

/* Process r > 0: its stdout discarded, its stderr kept aside. */
static void join_processes(demo *d, int argc, char **argv) {
    /* Going on alone would have every process write the same run. */
    if (ag_mpi_start(&argc, &argv) != AG_OK) {
        fprintf(stderr, "%s: joining the MPI job: %s\n", d->program, ag_error_message());
        exit(1);
    }
    atexit(ag_mpi_stop);
    d->rank = ag_mpi_rank();
    d->processes = ag_mpi_size();
    if (d->processes > 1 && !(d->codes = malloc((size_t)d->processes * sizeof *d->codes))) {
        fprintf(stderr, "%s: out of memory for %d processes\n", d->program, d->processes);
        ag_mpi_abort(1);
    }
    if (d->rank == 0) return;
    fflush(NULL);
    int terminal = dup(2);
    d->terminal_stderr = terminal >= 0 ? fdopen(terminal, "w") : NULL;
    d->own_stderr = tmpfile();
    if (d->own_stderr) dup2(fileno(d->own_stderr), 2);
    if (!freopen("/dev/null", "w", stdout)) fclose(stdout);
}

void demo_set_converged(demo *d, bool converged) {
    if (d->run) ag_run_set_converged(d->run, converged);
}

void demo_summary(demo *d, const char *format, ...) {
    char line[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    printf("summary: %s\n", line);
    fflush(stdout);
    /* The pairs as printed: "key=value" words. */
    for (char *word = strtok(line, " "); word && d->run; word = strtok(NULL, " ")) {
        char *equals = strchr(word, '=');
        if (!equals || equals == word) continue;
        *equals = '\0';
        ag_run_set_result(d->run, word, "%s", equals + 1);
    }
    note_outcome(d, AG_RUN_FINISHED, "%s", "");
}

int demo_close(demo *d) {
    end_together(d);
    ag_mpi_exchange_free(d->exchange);
    d->exchange = NULL;
    free(d->codes);
    d->codes = NULL;
    if (d->run) {
        if (!d->outcome_noted) note_outcome(d, d->exit_code == 0 ? AG_RUN_FINISHED : AG_RUN_FAILED, "%s", "");
        ag_status ended = ag_run_end(d->run, d->outcome, d->outcome_detail);
        if (ended != AG_OK && d->exit_code == 0) {
            fprintf(stderr, "%s: recording how the run ended: %s\n", d->program, ag_error_message());
            d->exit_code = 1;
        }
        ag_status closed = ag_run_close(d->run);
        d->run = NULL;
        if (closed != AG_OK && d->exit_code == 0) {
            fprintf(stderr, "%s: closing the run: %s\n", d->program, ag_error_message());
            d->exit_code = 1;
        }
    }
    ag_checkpoint_free(d->resume);
    ag_checkpoint_free(d->settings);
    d->resume = d->settings = NULL;
    return d->exit_code;
}

int demo_fail(demo *d, const char *what) {
    fprintf(stderr, "%s: %s: %s\n", d->program, what, ag_error_message());
    if (d->processes > 1 && d->opened && !d->ended_together) {
        /* The others wait in the step's exchange: the job ends, the
         * checkpoint on disk (written atomically) stays good. */
        fprintf(stderr, "%s: ending all %d processes%s\n", d->program, d->processes,
                d->run ? "; go on with --resume from the last checkpoint" : "");
        show_own_stderr(d);
        ag_mpi_abort(1);
    }
    note_outcome(d, AG_RUN_FAILED, "%s: %s", what, ag_error_message());
    d->exit_code = 1;
    return demo_close(d);
}

/* --------------------------------------------------------------- the flags */

void demo_init(demo *d, const char *program, const char *name, demo_unit unit, long checkpoint_every) {
    memset(d, 0, sizeof *d);
    d->program = program;
    d->name = name;
    d->unit = unit;
    d->checkpoint_every = checkpoint_every;
    d->processes = 1;
    snprintf(d->run_dir_help, sizeof d->run_dir_help, "where to write the run (default runs/%s-DATE-TIME)", name);
    snprintf(d->checkpoint_help, sizeof d->checkpoint_help,
             "%s between checkpoints (RUN_DIR/checkpoint.safetensors; also at the start, the end and on "
             "SIGINT/SIGTERM)",
             unit == DEMO_EPOCHS ? "epochs" : "steps");
}

void demo_fit_blas_kernels(char **argv) {
    const char *family = ag_blas_kernels_to_fit();
    if (!family) return;
    /* The child finds OPENBLAS_CORETYPE set, so it never starts again. */
    if (setenv("AG_BLAS_KERNELS_BEFORE", ag_blas_kernels(), 1) != 0 || setenv("OPENBLAS_CORETYPE", family, 1) != 0)
        return;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* No /proc: go on with OpenBLAS's own choice. */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("AG_BLAS_KERNELS_BEFORE");
}

long demo_default_threads(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN) / ag_mpi_local_size();
    return cores < 1 ? 1 : cores > 64 ? 64 : cores;
}

static bool parse(demo *d, const char *summary, const flag_spec *specs, int n_specs, int argc, char **argv);

bool demo_parse(demo *d, const char *summary, const flag_spec *specs, int n_specs, int argc, char **argv) {
    join_processes(d, argc, argv);
    for (int i = 0; i < n_specs; i++) d->uses_chunks |= specs[i].target == &d->chunks;
    if (parse(d, summary, specs, n_specs, argc, argv)) return true;
    end_together(d);
    return false;
}

static bool parse(demo *d, const char *summary, const flag_spec *specs, int n_specs, int argc, char **argv) {
    d->specs = specs;
    d->n_specs = n_specs;
    int parsed = flags_parse(d->program, summary, specs, n_specs, argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) {
        d->exit_code = parsed == FLAGS_HELP ? 0 : 2;
        return false;
    }
    if (d->resume_dir && d->run_dir) {
        char shown[1100];
        fprintf(stderr, "%s: --run-dir: not with --resume (the run goes on in %s)\n", d->program,
                ag_printable(d->resume_dir, shown, sizeof shown));
        d->exit_code = 2;
        return false;
    }
    if (d->resume_dir) {
        d->resume = flags_resume(d->program, d->name, d->resume_dir, specs, n_specs, argc, argv, &d->exit_code);
        if (!d->resume) return false;
        d->exit_code = 0; /* flags_resume sets it for a failure only */
        /* A checkpoint at step 0 holds the settings and the initial state,
         * which the settings make again: a run stopped there starts afresh
         * in its directory, rows and all. */
        int64_t step = -1;
        if (ag_checkpoint_get_int(d->resume, counter_key(d), &step) == AG_OK && step == 0) {
            d->settings = d->resume; /* the string flags point into it */
            d->resume = NULL;
            d->restart = true;
        }
    }
    if (d->threads == 0) d->threads = demo_default_threads();
    if (ag_set_num_threads((int)d->threads) != AG_OK) return demo_fail(d, "--threads"), false;
    /* From here on a signal ends the run cleanly, even during a long load. */
    if (ag_run_catch_signals() != AG_OK) return demo_fail(d, "signals"), false;
    return true;
}

void demo_set_param(demo *d, const char *name, const char *format, ...) {
    if (d->n_extra == DEMO_MAX_EXTRA_PARAMS) abort(); /* a demo's own mistake, caught by any run of it */
    snprintf(d->extra[d->n_extra].name, sizeof d->extra[0].name, "%s", name);
    va_list args;
    va_start(args, format);
    vsnprintf(d->extra[d->n_extra].value, sizeof d->extra[0].value, format, args);
    va_end(args);
    d->n_extra++;
}

/* ------------------------------------------------------------- checkpoints */

/* The optimizer's state can overflow while the weights and gradients stay
 * finite (Adam's v takes the square of a gradient past 1e19), and
 * ag_adam_load refuses such a state: it is checked every step and before
 * every checkpoint, so no checkpoint holds one. */
static bool optimizer_finite(demo *d) {
    const demo_optimizer *opt = d->training.optimizer;
    ag_status status = opt->sgd ? ag_sgd_check_finite(&opt->sgd_state, d->training.params)
                                : ag_adam_check_finite(&opt->adam, d->training.params);
    if (status == AG_OK) return true;
    ag_progress_end(&d->progress);
    d->ended_together = true; /* the same state in every process */
    fprintf(stderr, "%s: %s %lld: %s: training stopped; %s/checkpoint.safetensors keeps the last good state\n",
            d->program, d->unit == DEMO_EPOCHS ? "epoch" : "step", (long long)d->step, ag_error_message(),
            d->run ? ag_run_dir(d->run) : "RUN_DIR");
    note_outcome(d, AG_RUN_NON_FINITE, "%s %lld: %s", d->unit == DEMO_EPOCHS ? "epoch" : "step", (long long)d->step,
                 ag_error_message());
    d->exit_code = 1;
    return false;
}

static bool save_checkpoint(demo *d) {
    const demo_training *t = &d->training;
    if (!optimizer_finite(d)) return false;
    if (d->opened && t->state.gather && t->state.gather(t->state.data) != AG_OK)
        return demo_fail(d, "checkpoint"), false;
    if (d->rank > 0) {
        d->saved_step = d->step;
        return true;
    }
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    if (!w) return demo_fail(d, "checkpoint"), false;
    ag_status status = ag_checkpoint_add_params(w, t->params);
    if (status == AG_OK)
        status = t->optimizer->sgd ? ag_sgd_save(&t->optimizer->sgd_state, w) : ag_adam_save(&t->optimizer->adam, w);
    if (status == AG_OK) status = ag_checkpoint_set_int(w, counter_key(d), d->step);
    if (status == AG_OK && t->state.save) status = t->state.save(t->state.data, w);
    if (status == AG_OK) status = ag_run_save_checkpoint(d->run, w);
    ag_checkpoint_writer_free(w);
    if (status != AG_OK) return demo_fail(d, "checkpoint"), false;
    d->saved_step = d->step;
    return true;
}

/* Everything the checkpoint holds, checked, before the directory changes. */
static ag_status restore_checkpoint(demo *d) {
    const demo_training *t = &d->training;
    const ag_checkpoint *cp = d->resume;
    ag_status status = ag_checkpoint_read_params(cp, t->params);
    if (status == AG_OK) status = ag_params_check_finite(t->params, false);
    if (status == AG_OK)
        status = t->optimizer->sgd ? ag_sgd_load(&t->optimizer->sgd_state, cp) : ag_adam_load(&t->optimizer->adam, cp);
    if (status == AG_OK) status = ag_checkpoint_get_int(cp, counter_key(d), &d->step);
    if (status == AG_OK && (d->step < 0 || d->step > t->total))
        status = ag_error_set(AG_ERROR_FORMAT, "%s %lld is out of range", counter_key(d), (long long)d->step);
    if (status == AG_OK && t->state.restore) status = t->state.restore(t->state.data, cp, d->step);
    return status;
}

/* ----------------------------------------------------------------- the run */

/* --resume: the checkpoint must be the run's own (its run id that of
 * params.csv), before anything in the directory changes. A run begun by an
 * older ag (no run id, no checksum) goes on, with a note that it could not
 * be checked. */
static bool check_identity(demo *d) {
    const ag_checkpoint *cp = d->resume ? d->resume : d->settings;
    if (ag_run_check_identity(d->run, cp) != AG_OK) {
        fprintf(stderr, "%s: --resume %s: %s\n", d->program, d->resume_dir, ag_error_message());
        d->exit_code = 1;
        demo_close(d);
        return false;
    }
    bool verified = ag_checkpoint_verified(cp), identified = ag_run_id(d->run) != NULL;
    const char *dir = ag_run_dir(d->run);
    if (!verified && !identified)
        fprintf(stderr,
                "%s: note: %s/checkpoint.safetensors was written by an older ag: with no checksum and no run id, "
                "it could not be checked for damage nor matched to %s/params.csv\n",
                d->program, dir, dir);
    else if (!verified)
        fprintf(stderr,
                "%s: note: %s/checkpoint.safetensors has no checksum (written by an older ag, or rewritten by another "
                "program): it could not be checked for damage\n",
                d->program, dir);
    else if (!identified)
        fprintf(stderr,
                "%s: note: the run in %s was begun by an older ag and has no run id: its checkpoint could not be "
                "matched to %s/params.csv\n",
                d->program, dir, dir);
    return true;
}

/* --chunks 0: one chunk per 64 rows, at most 64; the gradient exchange. */
static void plan_chunks(demo *d) {
    if (!d->uses_chunks) {
        if (d->processes == 1) return;
        fprintf(stderr, "%s: trains in one process: run it without mpirun (here %d processes)\n", d->program,
                d->processes);
        d->exit_code = 2;
        return;
    }
    int rows = d->training.batch_rows > 0 ? d->training.batch_rows : 1;
    if (d->chunks == 0) d->chunks = rows / 64 < 1 ? 1 : rows / 64 > 64 ? 64 : rows / 64;
    ag_mpi_chunks((int)d->chunks, &d->first_chunk, &d->my_chunks);
    d->exchange = ag_mpi_exchange_create(d->training.params, (int)d->chunks, 1);
    if (!d->exchange) {
        fprintf(stderr, "%s: data-parallel step: %s\n", d->program, ag_error_message());
        d->exit_code = 1;
    }
}

static bool open_run(demo *d);

bool demo_open(demo *d, const demo_training *training) {
    d->training = *training;
    /* Every process: the signals, the chunks, the checkpoint; then they
     * agree before process 0 touches the run directory. */
    int stop = ag_run_stop_signal();
    if (stop) {
        fprintf(stderr, "%s: %s before training began: %s\n", d->program, signal_name(stop),
                d->resume_dir ? "the run is as it was" : "nothing was written");
        d->exit_code = 128 + stop;
    }
    if (d->exit_code == 0) plan_chunks(d);
    if (d->exit_code == 0 && d->resume && restore_checkpoint(d) != AG_OK) {
        char shown[1100];
        fprintf(stderr, "%s: --resume %s: %s\n", d->program, ag_printable(d->resume_dir, shown, sizeof shown),
                ag_error_message());
        d->exit_code = 1;
    }
    int agreed = agree(d, d->exit_code);
    if (agreed != 0) {
        d->exit_code = agreed;
        d->ended_together = true;
        demo_close(d);
        return false;
    }
    if (d->rank == 0 && !open_run(d)) return false;
    /* Process 0 opened the run (a failure there agrees in demo_close). */
    if (d->processes > 1) {
        d->opened = true;
        if ((agreed = agree(d, 0)) != 0) {
            d->exit_code = agreed;
            d->ended_together = true;
            demo_close(d);
            return false;
        }
        if (ag_mpi_check_same(ag_params_data(training->params), ag_params_size(training->params),
                              "the weights") != AG_OK) {
            fprintf(stderr, "%s: %s (does every host see the same checkpoint and data?)\n", d->program,
                    ag_error_message());
            d->exit_code = 1;
            d->ended_together = true;
            demo_close(d);
            return false;
        }
        if (d->rank == 0 && d->chunks < d->processes)
            fprintf(stderr, "%s: note: --chunks %ld for %d processes: %d of them have no part of the batch "
                    "(--chunks %d or more puts every process to work)\n",
                    d->program, d->chunks, d->processes, d->processes - (int)d->chunks, d->processes);
    }
    d->opened = true;
    d->saved_step = d->first_step = d->step;
    ag_progress_start(&d->progress, stdout, training->total, training->progress_every, d->quiet);
    /* mpirun gives its processes a pseudo-terminal whatever its own stdout
     * is: plain lines, right in a file and readable on a terminal. */
    if (getenv("OMPI_COMM_WORLD_SIZE")) d->progress.terminal = false;
    ag_progress_resume_at(&d->progress, d->step);
    d->start = ag_seconds();
    return true;
}

/* Process 0: the run directory, new or resumed. */
static bool open_run(demo *d) {
    const demo_training *training = &d->training;
    d->run = d->resume_dir ? ag_run_resume(d->resume_dir) : ag_run_create(d->name, d->run_dir);
    if (!d->run) return demo_fail(d, "run directory"), false;
    ag_run_set_param(d->run, "demo", "%s", d->name);
    flags_record(d->specs, d->n_specs, d->run);
    for (int i = 0; i < d->n_extra; i++) ag_run_set_param(d->run, d->extra[i].name, "%s", d->extra[i].value);
    ag_run_set_option(d->run, "threads", "%ld", d->threads);
    ag_run_set_option(d->run, "processes", "%d", d->processes);
    ag_run_set_option(d->run, "blas_kernels", "%s", ag_blas_kernels());
    const char *before = getenv("AG_BLAS_KERNELS_BEFORE");
    if (before) ag_run_set_option(d->run, "blas_kernels_before", "%s (OPENBLAS_CORETYPE set by ag)", before);
    ag_status status;
    if (d->resume_dir && !check_identity(d)) return false;
    if (d->resume) {
        if (ag_run_check_params(d->run, d->resume) != AG_OK) {
            fprintf(stderr, "%s: --resume: %s\n", d->program, ag_error_message());
            d->exit_code = 2;
            demo_close(d);
            return false;
        }
        /* metrics.csv first: a resume that finds it is not this run's
         * changes nothing in the directory. */
        status = ag_run_resume_metrics(d->run, training->columns, training->n_columns, d->step);
        if (status == AG_OK) status = ag_run_write_params(d->run);
        if (status != AG_OK) return demo_fail(d, "run files"), false;
    } else {
        /* The checkpoint before any other file: a directory that holds
         * anything of the run holds a checkpoint, so a run stopped at any
         * moment goes on with --resume (from step 0: afresh). */
        if (!save_checkpoint(d)) return false;
        status = ag_run_begin_metrics(d->run, training->columns, training->n_columns);
        if (status == AG_OK) status = ag_run_write_params(d->run);
        if (status != AG_OK) return demo_fail(d, "run files"), false;
        if (training->first_row && ag_run_log(d->run, 0, training->first_row) != AG_OK)
            return demo_fail(d, "metrics"), false;
    }
    return true;
}

bool demo_running(demo *d) {
    if (d->exit_code != 0 || d->ended_together) return false;
    if (d->step >= d->training.total) return d->ended_together = true, false;
    int stop = ag_run_stop_signal();
    /* A signal to any process stops them all, at the same step. */
    int agreed = agree(d, stop ? 128 + stop : 0);
    if (agreed == 0) return true;
    d->stop_signal = agreed - 128;
    d->ended_together = true;
    return false;
}

void demo_chunk_rows(const demo *d, int rows, int k, int *first, int *count) {
    int chunks = d->chunks > 0 ? (int)d->chunks : 1, base = rows / chunks, extra = rows % chunks;
    *count = base + (k < extra);
    *first = k * base + (k < extra ? k : extra);
}

bool demo_keep_chunk(demo *d, int k, ag_real loss_share) {
    if (ag_mpi_exchange_keep(d->exchange, k, &loss_share) == AG_OK) return true;
    return demo_fail(d, "data-parallel step"), false;
}

bool demo_sum_chunks(demo *d, ag_real *loss) {
    if (ag_mpi_exchange_sum(d->exchange, loss) == AG_OK) return true;
    return demo_fail(d, "data-parallel step"), false;
}

bool demo_finite(demo *d, double loss) {
    /* Process 0 names the run's checkpoint; the others hold the same
     * numbers and stop with it. */
    ag_status status = d->run ? ag_run_check_finite(d->run, loss, d->training.params)
                              : ag_params_check_finite(d->training.params, true);
    if (status == AG_OK && !d->run && !isfinite(loss)) status = ag_error_set(AG_ERROR_STATE, "the loss is not finite");
    if (status == AG_OK) return true;
    d->ended_together = true;
    ag_progress_end(&d->progress);
    fprintf(stderr, "%s: %s %lld: %s\n", d->program, d->unit == DEMO_EPOCHS ? "epoch" : "step", (long long)d->step + 1,
            ag_error_message());
    note_outcome(d, AG_RUN_NON_FINITE, "%s %lld: %s", d->unit == DEMO_EPOCHS ? "epoch" : "step", (long long)d->step + 1,
                 ag_error_message());
    d->exit_code = 1;
    return false;
}

bool demo_step(demo *d) {
    if (demo_optimizer_step(d->training.optimizer, d->training.params) == AG_OK) return true;
    d->ended_together = true; /* the same refusal in every process */
    ag_progress_end(&d->progress);
    fprintf(stderr, "%s: %s %lld: optimizer: %s\n", d->program, d->unit == DEMO_EPOCHS ? "epoch" : "step",
            (long long)d->step + 1, ag_error_message());
    note_outcome(d, AG_RUN_FAILED, "%s %lld: optimizer: %s", d->unit == DEMO_EPOCHS ? "epoch" : "step",
                 (long long)d->step + 1, ag_error_message());
    d->exit_code = 1;
    return false;
}

bool demo_log(demo *d, const double *values) {
    if (!optimizer_finite(d)) return false;
    if (d->run && ag_run_log(d->run, d->step, values) != AG_OK) return demo_fail(d, "metrics"), false;
    ag_progress_update(&d->progress, d->step, values[0]);
    if (d->step % d->checkpoint_every == 0) return save_checkpoint(d);
    return true;
}

bool demo_finish(demo *d) {
    ag_progress_end(&d->progress);
    d->seconds = ag_seconds() - d->start;
    if (d->exit_code != 0) return false;
    if (d->step != d->saved_step && !save_checkpoint(d)) return false;
    int stop = d->stop_signal ? d->stop_signal : d->processes == 1 ? ag_run_stop_signal() : 0;
    if (stop) {
        fprintf(stderr, "%s: %s %s %lld: checkpoint saved; go on with: %s --resume %s\n", d->program,
                signal_name(stop), d->unit == DEMO_EPOCHS ? "after epoch" : "at step", (long long)d->step, d->program,
                d->run ? ag_run_dir(d->run) : "RUN_DIR");
        d->exit_code = 128 + stop;
        note_outcome(d, AG_RUN_STOPPED, "%s", signal_name(stop));
        return false;
    }
    return true;
}

bool demo_save_model(demo *d) {
    if (d->rank > 0) return true;
    if (ag_run_save_model(d->run, d->training.params) != AG_OK) return demo_fail(d, "model"), false;
    printf("run: %s\n", ag_run_dir(d->run));
    return true;
}
