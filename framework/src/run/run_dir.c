/* The run directory: creating a new one or resuming one, the settings
 * recorded for params.csv, and what is saved through the run (params.csv,
 * model.safetensors, checkpoint.safetensors and the checks of a resumed or
 * diverging run). metrics.csv is run_metrics.c's. */
#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run_internal.h"

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

/* One process at a time in a run directory: a write lock (fcntl) on
 * DIR/.lock, which the kernel drops when the process ends, kill -9
 * included, so no stale lock is ever left to clean by hand. A POSIX lock
 * rather than flock, because F_GETLK tells the next process who holds it;
 * the file stays empty, so a directory's files do not change with it. */
static ag_status lock_directory(ag_run *run, const char *who) {
    char path[1100];
    snprintf(path, sizeof path, "%s/.lock", run->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return ag_error_set(AG_ERROR_IO, "%s: cannot open %s: %s", who, path, strerror(errno));
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &lock) != 0) {
        int saved = errno;
        struct flock holder = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        bool known = fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK;
        close(fd);
        if (saved != EACCES && saved != EAGAIN)
            return ag_error_set(AG_ERROR_IO, "%s: cannot lock %s: %s", who, path, strerror(saved));
        if (known) return ag_error_set(AG_ERROR_STATE, "%s is in use by process %ld", run->dir, (long)holder.l_pid);
        return ag_error_set(AG_ERROR_STATE, "%s is in use by another process", run->dir);
    }
    run->lock_fd = fd;
    return AG_OK;
}

ag_run *ag_run_create(const char *demo, const char *dir) {
    ag_run *run = calloc(1, sizeof *run);
    if (!run) {
        ag_error_set(AG_ERROR_MEMORY, "ag_run_create: out of memory");
        return NULL;
    }
    run->lock_fd = -1;
    if (dir) {
        if (strlen(dir) >= sizeof run->dir - 32) {
            ag_error_set(AG_ERROR_ARGUMENT, "ag_run_create: run directory name is too long");
            goto fail;
        }
        snprintf(run->dir, sizeof run->dir, "%s", dir);
        if (!make_directory(run->dir)) {
            ag_error_set(AG_ERROR_IO, "ag_run_create: cannot create directory %s: %s", run->dir, strerror(errno));
            goto fail;
        }
        if (!is_directory(run->dir)) {
            ag_error_set(AG_ERROR_IO, "ag_run_create: %s exists and is not a directory", run->dir);
            goto fail;
        }
        /* Locked before the check: two runs started into one directory
         * at once cannot both find it free. */
        if (lock_directory(run, "ag_run_create") != AG_OK) goto fail;
        /* A run's first file is its checkpoint (or metrics.csv, for a
         * program that saves none): any of them means a run lives here. */
        static const char *const run_files[] = {"metrics.csv", "checkpoint.safetensors", "model.safetensors"};
        for (int i = 0; i < 3; i++)
            if (file_exists(run->dir, run_files[i])) {
                ag_error_set(AG_ERROR_IO, "ag_run_create: %s already holds a run (%s); choose another --run-dir",
                             run->dir, run_files[i]);
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
        if (lock_directory(run, "ag_run_create") != AG_OK) goto fail;
    }
    return run;
fail:
    if (run->lock_fd >= 0) close(run->lock_fd);
    free(run);
    return NULL;
}

/* A run killed (SIGKILL) while it wrote a file leaves that file's
 * temporary copy, NAME.tmp.PID, beside the complete one it was to replace;
 * the run that goes on removes them. */
static void remove_stale_temporaries(const char *dir) {
    static const char *const names[] = {"params.csv", "metrics.csv", "checkpoint.safetensors", "model.safetensors"};
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t length = strlen(names[i]);
            const char *rest = entry->d_name + length;
            if (strncmp(entry->d_name, names[i], length) != 0 || strncmp(rest, ".tmp.", 5) != 0 || !rest[5] ||
                strspn(rest + 5, "0123456789") != strlen(rest + 5))
                continue;
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
            unlink(path);
        }
    closedir(d);
}

ag_run *ag_run_resume(const char *dir) {
    if (!dir || !*dir) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_run_resume: the run directory is NULL or empty");
        return NULL;
    }
    ag_run *run = calloc(1, sizeof *run);
    if (!run) {
        ag_error_set(AG_ERROR_MEMORY, "ag_run_resume: out of memory");
        return NULL;
    }
    if (strlen(dir) >= sizeof run->dir - 32) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_run_resume: run directory name is too long");
        free(run);
        return NULL;
    }
    snprintf(run->dir, sizeof run->dir, "%s", dir);
    run->lock_fd = -1;
    if (!is_directory(run->dir)) {
        ag_error_set(AG_ERROR_IO, "ag_run_resume: %s is not a directory", run->dir);
        free(run);
        return NULL;
    }
    /* Locked first: the temporaries of a run still going are its own. */
    if (lock_directory(run, "ag_run_resume") != AG_OK) {
        free(run);
        return NULL;
    }
    remove_stale_temporaries(run->dir);
    return run;
}

const char *ag_run_dir(const ag_run *run) { return run->dir; }

static ag_status set_param(ag_run *run, const char *name, bool is_option, const char *format, va_list args) {
    char value[1024];
    vsnprintf(value, sizeof value, format, args);
    /* A setting recorded again replaces its value: one row per name. */
    for (int i = 0; i < run->n_params; i++)
        if (strcmp(run->names[i], name) == 0) {
            char *value_copy = strdup(value);
            if (!value_copy) return ag_error_set(AG_ERROR_MEMORY, "ag_run_set_param: out of memory");
            free(run->values[i]);
            run->values[i] = value_copy;
            run->is_option[i] = is_option;
            return AG_OK;
        }
    if (run->n_params == run->params_capacity) {
        int capacity = run->params_capacity ? 2 * run->params_capacity : 16;
        char **names = realloc(run->names, (size_t)capacity * sizeof *names);
        if (names) run->names = names;
        char **values = realloc(run->values, (size_t)capacity * sizeof *values);
        if (values) run->values = values;
        bool *options = realloc(run->is_option, (size_t)capacity * sizeof *options);
        if (options) run->is_option = options;
        if (!names || !values || !options) return ag_error_set(AG_ERROR_MEMORY, "ag_run_set_param: out of memory");
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
    run->is_option[run->n_params] = is_option;
    run->n_params++;
    return AG_OK;
}

ag_status ag_run_set_param(ag_run *run, const char *name, const char *format, ...) {
    va_list args;
    va_start(args, format);
    ag_status status = set_param(run, name, false, format, args);
    va_end(args);
    return status;
}

ag_status ag_run_set_option(ag_run *run, const char *name, const char *format, ...) {
    va_list args;
    va_start(args, format);
    ag_status status = set_param(run, name, true, format, args);
    va_end(args);
    return status;
}

ag_status ag_run_write_params(ag_run *run) {
    char path[1100];
    snprintf(path, sizeof path, "%s/params.csv", run->dir);
    ag_atomic_file out;
    if (ag_atomic_file_begin(&out, path) != AG_OK) return ag_error_code();
    FILE *f = out.file;
    bool ok = fputs("name,value\n", f) >= 0;
    /* csv_fwrite quotes each field, so a value with a comma stays one field. */
    for (int i = 0; ok && i < run->n_params; i++)
        ok = csv_fwrite(f, run->names[i], strlen(run->names[i])) == 0 && fputc(',', f) != EOF &&
             csv_fwrite(f, run->values[i], strlen(run->values[i])) == 0 && fputc('\n', f) != EOF;
    return ag_atomic_file_commit(&out); /* a failed write shows in the stream's error flag */
}

ag_status ag_run_save_model(ag_run *run, const ag_params *params) {
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", run->dir);
    const char **metadata = malloc((size_t)(2 * run->n_params + 1) * sizeof *metadata);
    if (!metadata) return ag_error_set(AG_ERROR_MEMORY, "ag_run_save_model: out of memory");
    int n = 0;
    for (int i = 0; i < run->n_params; i++) {
        if (run->is_option[i]) continue;
        metadata[2 * n] = run->names[i];
        metadata[2 * n + 1] = run->values[i];
        n++;
    }
    ag_status status = ag_params_save(params, path, metadata, n);
    free(metadata);
    return status;
}

ag_status ag_run_save_checkpoint(ag_run *run, ag_checkpoint_writer *w) {
    /* Rows first, synced: after a crash the checkpoint never runs ahead of
     * the curve, so a resume finds every row up to its step. */
    if (ag_run_flush(run) != AG_OK) return ag_error_code();
    if (run->metrics && fsync(fileno(run->metrics)) != 0)
        return ag_error_set(AG_ERROR_IO, "ag_run_save_checkpoint: cannot sync %s/metrics.csv: %s", run->dir,
                            strerror(errno));
    for (int i = 0; i < run->n_params; i++) {
        ag_status status = run->is_option[i] ? AG_OK : ag_checkpoint_set_metadata(w, run->names[i], run->values[i]);
        if (status != AG_OK) return status;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run->dir);
    return ag_checkpoint_save(w, path);
}

ag_status ag_run_check_finite(const ag_run *run, double loss, const ag_params *params) {
    bool loss_finite = isfinite(loss);
    if (ag_params_check_finite(params, true) == AG_OK) {
        if (loss_finite) return AG_OK;
        ag_error_set(AG_ERROR_STATE, "the loss is not finite");
    }
    char what[300];
    snprintf(what, sizeof what, "%s", ag_error_message());
    return ag_error_set(AG_ERROR_STATE,
                        "loss %g, %s: training stopped; %s/checkpoint.safetensors keeps the last good state", loss,
                        what, run->dir);
}

ag_status ag_run_check_params(const ag_run *run, const ag_checkpoint *cp) {
    for (int i = 0; i < run->n_params; i++) {
        const char *saved = ag_checkpoint_metadata(cp, run->names[i]);
        if (run->is_option[i] || !saved) continue;
        char before[64], now[64];
        if (strcmp(saved, run->values[i]) != 0)
            return ag_error_set(AG_ERROR_STATE, "%s/checkpoint.safetensors was made with %s=%s, this run has %s=%s",
                                run->dir, run->names[i], ag_printable(saved, before, sizeof before), run->names[i],
                                ag_printable(run->values[i], now, sizeof now));
    }
    return AG_OK;
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
    free(run->is_option);
    if (run->lock_fd >= 0) close(run->lock_fd);
    free(run);
    return status;
}
