/* Run directories, metrics logging and the progress line. */
#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ag_run.h"

struct ag_run {
    char dir[1024];
    FILE *metrics;
    int n_columns;
    double last_flush;
    bool write_failed;
    char **names, **values;
    int n_params, params_capacity;
};

double ag_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool make_directory(const char *path) { return mkdir(path, 0777) == 0 || errno == EEXIST; }

static bool is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool file_exists(const char *dir, const char *name) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

ag_run *ag_run_create(const char *demo, const char *dir) {
    ag_run *run = calloc(1, sizeof *run);
    if (!run) {
        ag_error_set(AG_ERROR_MEMORY, "ag_run_create: out of memory");
        return NULL;
    }
    if (dir) {
        if (strlen(dir) >= sizeof run->dir - 32) {
            ag_error_set(AG_ERROR_ARGUMENT, "ag_run_create: run directory name is too long");
            goto fail;
        }
        snprintf(run->dir, sizeof run->dir, "%s", dir);
        if (!make_directory(run->dir) || !is_directory(run->dir)) {
            ag_error_set(AG_ERROR_IO, "ag_run_create: cannot create directory %s: %s", run->dir,
                         errno ? strerror(errno) : "not a directory");
            goto fail;
        }
        if (file_exists(run->dir, "metrics.csv")) {
            ag_error_set(AG_ERROR_IO, "ag_run_create: %s already holds a run (metrics.csv); choose another --run-dir",
                         run->dir);
            goto fail;
        }
    } else {
        if (!make_directory("runs")) {
            ag_error_set(AG_ERROR_IO, "ag_run_create: cannot create directory runs: %s", strerror(errno));
            goto fail;
        }
        time_t now = time(NULL);
        struct tm local;
        localtime_r(&now, &local);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
        for (int attempt = 1;; attempt++) {
            if (attempt == 1)
                snprintf(run->dir, sizeof run->dir, "runs/%s-%s", demo, stamp);
            else
                snprintf(run->dir, sizeof run->dir, "runs/%s-%s-%d", demo, stamp, attempt);
            if (mkdir(run->dir, 0777) == 0) break;
            if (errno != EEXIST || attempt == 1000) {
                ag_error_set(AG_ERROR_IO, "ag_run_create: cannot create directory %s: %s", run->dir, strerror(errno));
                goto fail;
            }
        }
    }
    return run;
fail:
    free(run);
    return NULL;
}

const char *ag_run_dir(const ag_run *run) { return run->dir; }

ag_status ag_run_set_param(ag_run *run, const char *name, const char *format, ...) {
    char value[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(value, sizeof value, format, args);
    va_end(args);
    /* A setting recorded again replaces its value: one row per name. */
    for (int i = 0; i < run->n_params; i++)
        if (strcmp(run->names[i], name) == 0) {
            char *value_copy = strdup(value);
            if (!value_copy) return ag_error_set(AG_ERROR_MEMORY, "ag_run_set_param: out of memory");
            free(run->values[i]);
            run->values[i] = value_copy;
            return AG_OK;
        }
    if (run->n_params == run->params_capacity) {
        int capacity = run->params_capacity ? 2 * run->params_capacity : 16;
        char **names = realloc(run->names, (size_t)capacity * sizeof *names);
        if (names) run->names = names;
        char **values = realloc(run->values, (size_t)capacity * sizeof *values);
        if (values) run->values = values;
        if (!names || !values) return ag_error_set(AG_ERROR_MEMORY, "ag_run_set_param: out of memory");
        run->params_capacity = capacity;
    }
    char *name_copy = strdup(name), *value_copy = strdup(value);
    if (!name_copy || !value_copy) {
        free(name_copy);
        free(value_copy);
        return ag_error_set(AG_ERROR_MEMORY, "ag_run_set_param: out of memory");
    }
    run->names[run->n_params] = name_copy;
    run->values[run->n_params] = value_copy;
    run->n_params++;
    return AG_OK;
}

ag_status ag_run_write_params(ag_run *run) {
    char path[1100], temporary[1200];
    snprintf(path, sizeof path, "%s/params.csv", run->dir);
    snprintf(temporary, sizeof temporary, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(temporary, "w");
    if (!f) return ag_error_set(AG_ERROR_IO, "ag_run_write_params: cannot create %s: %s", temporary, strerror(errno));
    bool ok = fputs("name,value\n", f) >= 0;
    /* csv_fwrite quotes each field, so a value with a comma stays one field. */
    for (int i = 0; ok && i < run->n_params; i++)
        ok = csv_fwrite(f, run->names[i], strlen(run->names[i])) == 0 && fputc(',', f) != EOF &&
             csv_fwrite(f, run->values[i], strlen(run->values[i])) == 0 && fputc('\n', f) != EOF;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(temporary, path) != 0) {
        int saved = errno;
        unlink(temporary);
        return ag_error_set(AG_ERROR_IO, "ag_run_write_params: cannot write %s: %s", path, strerror(saved));
    }
    return AG_OK;
}

static bool valid_column(const char *name) {
    if (!name || !*name) return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

ag_status ag_run_begin_metrics(ag_run *run, const char *const *columns, int n_columns) {
    for (int i = 0; i < n_columns; i++)
        if (!valid_column(columns[i]))
            return ag_error_set(AG_ERROR_ARGUMENT, "ag_run_begin_metrics: column name '%s' is not an identifier",
                                columns[i] ? columns[i] : "(null)");
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.csv", run->dir);
    run->metrics = fopen(path, "w");
    if (!run->metrics) return ag_error_set(AG_ERROR_IO, "ag_run_begin_metrics: cannot create %s: %s", path, strerror(errno));
    run->n_columns = n_columns;
    fputs("step", run->metrics);
    for (int i = 0; i < n_columns; i++) fprintf(run->metrics, ",%s", columns[i]);
    fputc('\n', run->metrics);
    fflush(run->metrics);
    run->last_flush = ag_seconds();
    return AG_OK;
}

ag_status ag_run_log(ag_run *run, int64_t step, const double *values) {
    if (!run->metrics) return ag_error_set(AG_ERROR_STATE, "ag_run_log: call ag_run_begin_metrics first");
    /* Plain numbers need no quoting, and gnuplot reads them as they are. */
    fprintf(run->metrics, "%lld", (long long)step);
    for (int i = 0; i < run->n_columns; i++) {
        if (isnan(values[i]))
            fputc(',', run->metrics);
        else
            fprintf(run->metrics, ",%.9g", values[i]);
    }
    if (fputc('\n', run->metrics) == EOF) run->write_failed = true;
    double now = ag_seconds();
    if (now - run->last_flush >= 1.0) {
        if (fflush(run->metrics) != 0) run->write_failed = true;
        run->last_flush = now;
    }
    if (run->write_failed)
        return ag_error_set(AG_ERROR_IO, "ag_run_log: cannot write %s/metrics.csv: %s", run->dir, strerror(errno));
    return AG_OK;
}

ag_status ag_run_flush(ag_run *run) {
    if (run->metrics && fflush(run->metrics) != 0) run->write_failed = true;
    run->last_flush = ag_seconds();
    if (run->write_failed)
        return ag_error_set(AG_ERROR_IO, "ag_run_flush: cannot write %s/metrics.csv: %s", run->dir, strerror(errno));
    return AG_OK;
}

ag_status ag_run_save_model(ag_run *run, const ag_params *params) {
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", run->dir);
    const char **metadata = malloc((size_t)(2 * run->n_params + 1) * sizeof *metadata);
    if (!metadata) return ag_error_set(AG_ERROR_MEMORY, "ag_run_save_model: out of memory");
    for (int i = 0; i < run->n_params; i++) {
        metadata[2 * i] = run->names[i];
        metadata[2 * i + 1] = run->values[i];
    }
    ag_status status = ag_params_save(params, path, metadata, run->n_params);
    free(metadata);
    return status;
}

ag_status ag_run_close(ag_run *run) {
    if (!run) return AG_OK;
    ag_status status = AG_OK;
    if (run->metrics) {
        if (fclose(run->metrics) != 0 || run->write_failed)
            status = ag_error_set(AG_ERROR_IO, "ag_run_close: writing %s/metrics.csv failed", run->dir);
    }
    for (int i = 0; i < run->n_params; i++) {
        free(run->names[i]);
        free(run->values[i]);
    }
    free(run->names);
    free(run->values);
    free(run);
    return status;
}

/* -------------------------------------------------------------- progress */

void ag_progress_start(ag_progress *p, FILE *out, int64_t total_steps, int64_t plain_every, bool quiet) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->terminal = isatty(fileno(out));
    p->quiet = quiet;
    p->total = total_steps;
    p->plain_every = plain_every > 0 ? plain_every : 1000;
    p->start = p->last_print = ag_seconds();
}

static void format_duration(char *buf, size_t size, double seconds) {
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, size, "?");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void ag_progress_update(ag_progress *p, int64_t step, double loss) {
    if (p->quiet) return;
    double now = ag_seconds();
    if (p->terminal ? now - p->last_print < 0.1 : step % p->plain_every != 0) return;
    p->last_print = now;
    double elapsed = now - p->start, rate = step > 0 && elapsed > 0 ? (double)step / elapsed : 0;
    char elapsed_text[32], left_text[32];
    format_duration(elapsed_text, sizeof elapsed_text, elapsed);
    format_duration(left_text, sizeof left_text, rate > 0 ? (double)(p->total - step) / rate : NAN);
    fprintf(p->out, "%sstep %lld/%lld  loss %.4e  %.0f steps/s  elapsed %s  left %s%s", p->terminal ? "\r" : "",
            (long long)step, (long long)p->total, loss, rate, elapsed_text, left_text,
            p->terminal ? "\033[K" : "\n");
    fflush(p->out);
    p->line_open = p->terminal;
}

void ag_progress_end(ag_progress *p) {
    if (p->line_open) fputc('\n', p->out);
    p->line_open = false;
}
