/* The run directory: creating a new one or resuming one, the run's id,
 * the settings recorded for params.csv, and what is saved through the run
 * (params.csv, model.safetensors, checkpoint.safetensors and the checks of
 * a resumed or diverging run). metrics.csv is run_metrics.c's. */
#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
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

/* ----------------------------------------------------------- the run id */

#define RUN_ID_PARAM "run_id"       /* its row in params.csv */
#define RUN_ID_METADATA "ag.run_id" /* its entry in a checkpoint */

static bool valid_run_id(const char *text) {
    if (strlen(text) != AG_RUN_ID_LENGTH) return false;
    for (const char *c = text; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return false;
    return true;
}

/* 64 bits from the kernel's random source: two runs with the same flags
 * (and seed) get different ids. Without /dev/urandom, the clock, the
 * process id and an address, mixed (splitmix64): still one run's own. */
static void make_run_id(char id[AG_RUN_ID_LENGTH + 1]) {
    uint64_t bits = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    bool got = fd >= 0 && read(fd, &bits, sizeof bits) == (ssize_t)sizeof bits;
    if (fd >= 0) close(fd);
    if (!got) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        bits = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        bits ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)id;
        bits += 0x9e3779b97f4a7c15u;
        bits = (bits ^ (bits >> 30)) * 0xbf58476d1ce4e5b9u;
        bits = (bits ^ (bits >> 27)) * 0x94d049bb133111ebu;
        bits ^= bits >> 31;
    }
    snprintf(id, AG_RUN_ID_LENGTH + 1, "%016llx", (unsigned long long)bits);
}

const char *ag_run_id(const ag_run *run) { return run->run_id[0] ? run->run_id : NULL; }

/* params.csv's run_id row, read with libcsv: the name in the first field,
 * the id in the second. */
typedef struct params_reader {
    int field;
    bool in_run_id_row;
    int rows_found;
    char value[AG_RUN_ID_LENGTH + 8];
    bool value_too_long;
} params_reader;

static void params_field(void *field, size_t length, void *context) {
    params_reader *r = context;
    if (r->field == 0) {
        r->in_run_id_row = length == strlen(RUN_ID_PARAM) && memcmp(field, RUN_ID_PARAM, length) == 0;
    } else if (r->field == 1 && r->in_run_id_row) {
        r->rows_found++;
        r->value_too_long = length >= sizeof r->value || (length > 0 && memchr(field, '\0', length));
        size_t kept = r->value_too_long ? 0 : length;
        if (kept > 0) memcpy(r->value, field, kept);
        r->value[kept] = '\0';
    }
    r->field++;
}

static void params_row(int terminator, void *context) {
    params_reader *r = context;
    r->field = 0;
    r->in_run_id_row = false;
}

/* Reads DIR/params.csv's run id into run->run_id ("" if the file has no
 * run_id row; run->params_found false if there is no file). */
static ag_status read_run_id(ag_run *run) {
    char path[1100];
    snprintf(path, sizeof path, "%s/params.csv", run->dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return AG_OK;
        return ag_error_set(AG_ERROR_IO, "ag_run_resume: cannot open %s: %s", path, strerror(errno));
    }
    run->params_found = true;
    params_reader r = {0};
    struct csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fclose(f);
        return ag_error_set(AG_ERROR_MEMORY, "ag_run_resume: out of memory");
    }
    char chunk[4096];
    size_t n;
    bool parsed = true;
    while (parsed && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        parsed = csv_parse(&parser, chunk, n, params_field, params_row, &r) == n;
    bool read_failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (parsed) parsed = csv_fini(&parser, params_field, params_row, &r) == 0;
    const char *why = parsed ? NULL : csv_strerror(csv_error(&parser));
    csv_free(&parser);
    if (read_failed) return ag_error_set(AG_ERROR_IO, "ag_run_resume: cannot read %s: %s", path, strerror(saved));
    if (!parsed) return ag_error_set(AG_ERROR_FORMAT, "ag_run_resume: %s is not CSV: %s", path, why);
    if (r.rows_found > 1)
        return ag_error_set(AG_ERROR_FORMAT, "ag_run_resume: %s has %d " RUN_ID_PARAM " rows", path, r.rows_found);
    if (r.rows_found == 1 && (r.value_too_long || !valid_run_id(r.value))) {
        char shown[40];
        return ag_error_set(AG_ERROR_FORMAT, "ag_run_resume: %s: " RUN_ID_PARAM " '%s' is not %d hex digits", path,
                            r.value_too_long ? "..." : ag_printable(r.value, shown, sizeof shown), AG_RUN_ID_LENGTH);
    }
    if (r.rows_found == 1) snprintf(run->run_id, sizeof run->run_id, "%s", r.value);
    return AG_OK;
}

ag_status ag_run_check_identity(ag_run *run, const ag_checkpoint *cp) {
    const char *saved = ag_checkpoint_metadata(cp, RUN_ID_METADATA);
    char shown[40];
    if (saved && !valid_run_id(saved))
        return ag_error_set(AG_ERROR_FORMAT, "%s/checkpoint.safetensors: " RUN_ID_METADATA " '%s' is not %d hex digits",
                            run->dir, ag_printable(saved, shown, sizeof shown), AG_RUN_ID_LENGTH);
    if (!run->params_found) {
        /* Stopped between its first checkpoint and params.csv: the
         * checkpoint is all the run wrote, and says whose it is. */
        snprintf(run->run_id, sizeof run->run_id, "%s", saved ? saved : "");
        return AG_OK;
    }
    if (saved && run->run_id[0] && strcmp(saved, run->run_id) == 0) return AG_OK;
    if (!saved && !run->run_id[0]) return AG_OK; /* begun by an older ag: nothing to compare */
    const char *copied = "(a checkpoint copied from another run?)";
    if (saved && run->run_id[0])
        return ag_error_set(AG_ERROR_STATE,
                            "%s/checkpoint.safetensors belongs to run %s but %s/params.csv to run %s %s", run->dir,
                            saved, run->dir, run->run_id, copied);
    if (saved)
        return ag_error_set(AG_ERROR_STATE,
                            "%s/checkpoint.safetensors belongs to run %s but %s/params.csv has no run id %s", run->dir,
                            saved, run->dir, copied);
    return ag_error_set(AG_ERROR_STATE,
                        "%s/checkpoint.safetensors has no run id but %s/params.csv belongs to run %s %s", run->dir,
                        run->dir, run->run_id, copied);
}

/* ------------------------------------------------------------ the directory */

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
    make_run_id(run->run_id);
    run_status_init(run, false);
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
    static const char *const names[] = {"params.csv", "metrics.csv", "checkpoint.safetensors", "model.safetensors",
                                        "status.json"};
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
    if (read_run_id(run) != AG_OK) {
        close(run->lock_fd);
        free(run);
        return NULL;
    }
    run_status_init(run, true);
    return run;
}

const char *ag_run_dir(const ag_run *run) { return run->dir; }

static ag_status set_param(ag_run *run, const char *name, bool is_option, const char *format, va_list args) {
    if (strcmp(name, RUN_ID_PARAM) == 0)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_run_set_param: '" RUN_ID_PARAM "' is the run's id, not a setting");
    char value[1024];
    vsnprintf(value, sizeof value, format, args);
    /* A setting recorded again replaces its value: one row per name. */
    int index = run_pairs_set(&run->params, is_option ? "ag_run_set_option" : "ag_run_set_param", name, value);
    if (index < 0) return ag_error_code();
    run->params.flags[index] = is_option;
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
    if (ok && run->run_id[0]) ok = fprintf(f, "\"" RUN_ID_PARAM "\",\"%s\"\n", run->run_id) > 0;
    /* csv_fwrite quotes each field, so a value with a comma stays one field. */
    for (int i = 0; ok && i < run->params.count; i++)
        ok = csv_fwrite(f, run->params.names[i], strlen(run->params.names[i])) == 0 && fputc(',', f) != EOF &&
             csv_fwrite(f, run->params.values[i], strlen(run->params.values[i])) == 0 && fputc('\n', f) != EOF;
    return ag_atomic_file_commit(&out); /* a failed write shows in the stream's error flag */
}

ag_status ag_run_save_model(ag_run *run, const ag_params *params) {
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", run->dir);
    const char **metadata = malloc((size_t)(2 * run->params.count + 1) * sizeof *metadata);
    if (!metadata) return ag_error_set(AG_ERROR_MEMORY, "ag_run_save_model: out of memory");
    int n = 0;
    for (int i = 0; i < run->params.count; i++) {
        if (run->params.flags[i]) continue;
        metadata[2 * n] = run->params.names[i];
        metadata[2 * n + 1] = run->params.values[i];
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
    for (int i = 0; i < run->params.count; i++) {
        ag_status status = run->params.flags[i] ? AG_OK : ag_checkpoint_set_metadata(w, run->params.names[i], run->params.values[i]);
        if (status != AG_OK) return status;
    }
    if (run->run_id[0]) {
        ag_status status = ag_checkpoint_set_metadata(w, RUN_ID_METADATA, run->run_id);
        if (status != AG_OK) return status;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run->dir);
    ag_status status = ag_checkpoint_save(w, path);
    /* status.json's step and time follow the checkpoints, so a run killed
     * later still says how far it got. */
    return status == AG_OK ? run_status_refresh(run) : status;
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
    for (int i = 0; i < run->params.count; i++) {
        const char *saved = ag_checkpoint_metadata(cp, run->params.names[i]);
        if (run->params.flags[i] || !saved) continue;
        char before[64], now[64];
        if (strcmp(saved, run->params.values[i]) != 0)
            return ag_error_set(AG_ERROR_STATE, "%s/checkpoint.safetensors was made with %s=%s, this run has %s=%s",
                                run->dir, run->params.names[i], ag_printable(saved, before, sizeof before), run->params.names[i],
                                ag_printable(run->params.values[i], now, sizeof now));
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
    /* A program that did not say how the run ended: it ended by itself,
     * or on the signal it caught. */
    if (run->status_begun && !run->status_ended) {
        int stop = ag_run_stop_signal();
        ag_status ended = ag_run_end(run, stop ? AG_RUN_STOPPED : AG_RUN_FINISHED,
                                     stop == SIGINT ? "SIGINT" : stop ? "SIGTERM" : NULL);
        if (status == AG_OK) status = ended;
    }
    run_status_free(run);
    run_pairs_free(&run->params);
    if (run->lock_fd >= 0) close(run->lock_fd);
    free(run);
    return status;
}
