/* DIR/status.json: how a run ended, for tools that list runs (bin/runs)
 * rather than read stdout. Written atomically by the run, read back by
 * ag_run_read_status, which also tells a live run from one killed without
 * a word by whether DIR/.lock is still held. JSON through cJSON, which the
 * core already uses for checkpoint headers. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run_internal.h"

/* The Makefile passes the version and the git commit of the checkout it
 * built (empty outside a git checkout). */
#ifndef AG_BUILD_VERSION
#define AG_BUILD_VERSION ""
#endif
#ifndef AG_BUILD_COMMIT
#define AG_BUILD_COMMIT ""
#endif

#define STATUS_FILE "status.json"
/* Larger is not a status file: the reader refuses it rather than read it. */
#define STATUS_MAX_BYTES (1 << 20)

static const char *const state_names[] = {"running", "finished", "stopped", "non_finite", "failed"};

const char *ag_run_state_name(ag_run_state state) {
    return (unsigned)state < sizeof state_names / sizeof state_names[0] ? state_names[state] : "unknown";
}

static double unix_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* "2026-12-06T09:24:14Z", for people; the Unix time goes beside it for tools. */
static void iso_time(double unix_time, char *buf, size_t size) {
    time_t seconds = (time_t)unix_time;
    struct tm utc;
    gmtime_r(&seconds, &utc);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

static void status_path(const char *dir, char *path, size_t size) { snprintf(path, size, "%s/" STATUS_FILE, dir); }

/* The whole file, NUL-terminated, or NULL (errno set; EFBIG if too large). */
static char *read_small_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = malloc(STATUS_MAX_BYTES + 1);
    size_t length = text ? fread(text, 1, STATUS_MAX_BYTES + 1, f) : 0;
    bool failed = !text || ferror(f);
    fclose(f);
    if (failed || length > STATUS_MAX_BYTES) {
        free(text);
        errno = failed ? EIO : EFBIG;
        return NULL;
    }
    text[length] = '\0';
    return text;
}

/* ------------------------------------------------------------- writing */

static ag_status read_status_file(const char *dir, ag_run_info *info);

void run_status_init(ag_run *run, bool resumed) {
    run->process_start = run->started = unix_now();
    run->last_step = -1;
    run->converged = -1;
    if (!resumed) return;
    /* The first start and the time so far go on from the previous
     * process's file; a missing or damaged one starts the count afresh. */
    ag_run_info previous;
    if (read_status_file(run->dir, &previous) == AG_OK && previous.found) {
        if (isfinite(previous.started)) run->started = previous.started;
        if (isfinite(previous.seconds) && previous.seconds > 0) run->seconds_before = previous.seconds;
        run->resumes = previous.resumes + 1;
    } else {
        run->resumes = 1;
    }
    ag_run_info_free(&previous);
}

static ag_status write_status(ag_run *run, ag_run_state state, const char *detail, bool ended) {
    double now = unix_now();
    char started[32], ended_text[32];
    iso_time(run->started, started, sizeof started);
    iso_time(now, ended_text, sizeof ended_text);
    cJSON *root = cJSON_CreateObject(), *results = cJSON_CreateObject(), *build = cJSON_CreateObject();
    if (!root || !results || !build) {
        cJSON_Delete(root);
        cJSON_Delete(results);
        cJSON_Delete(build);
        return ag_error_set(AG_ERROR_MEMORY, "status.json: out of memory");
    }
    cJSON_AddStringToObject(root, "status", ag_run_state_name(state));
    cJSON_AddStringToObject(root, "detail", detail ? detail : "");
    if (run->converged >= 0) cJSON_AddBoolToObject(root, "converged", run->converged == 1);
    cJSON_AddStringToObject(root, "started", started);
    cJSON_AddNumberToObject(root, "started_unix", run->started);
    if (ended) {
        cJSON_AddStringToObject(root, "ended", ended_text);
        cJSON_AddNumberToObject(root, "ended_unix", now);
    } else {
        cJSON_AddNullToObject(root, "ended");
    }
    cJSON_AddNumberToObject(root, "seconds", run->seconds_before + (now - run->process_start));
    cJSON_AddNumberToObject(root, "step", (double)run->last_step);
    cJSON_AddNumberToObject(root, "resumes", run->resumes);
    cJSON_AddNumberToObject(root, "pid", (double)getpid());
    for (int i = 0; i < run->results.count; i++) cJSON_AddStringToObject(results, run->results.names[i], run->results.values[i]);
    cJSON_AddItemToObject(root, "results", results);
    cJSON_AddStringToObject(build, "version", AG_BUILD_VERSION);
    cJSON_AddStringToObject(build, "commit", AG_BUILD_COMMIT);
    cJSON_AddItemToObject(root, "build", build);
    const char *corename = openblas_get_corename();
    cJSON_AddStringToObject(root, "blas", corename ? corename : "");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return ag_error_set(AG_ERROR_MEMORY, "status.json: out of memory");

    char path[1100];
    status_path(run->dir, path, sizeof path);
    ag_atomic_file out;
    ag_status status = ag_atomic_file_begin(&out, path);
    if (status == AG_OK) {
        fputs(text, out.file);
        fputc('\n', out.file);
        status = ag_atomic_file_commit(&out); /* a failed write shows in the stream's error flag */
    }
    cJSON_free(text);
    return status;
}

ag_status run_status_begin(ag_run *run) {
    run->status_begun = true;
    run->status_ended = false;
    return write_status(run, AG_RUN_RUNNING, NULL, false);
}

ag_status run_status_refresh(ag_run *run) {
    if (!run->status_begun || run->status_ended) return AG_OK;
    return write_status(run, AG_RUN_RUNNING, NULL, false);
}

ag_status ag_run_end(ag_run *run, ag_run_state state, const char *detail) {
    if (!run->status_begun) return AG_OK;
    run->status_ended = true;
    return write_status(run, state, detail, state != AG_RUN_RUNNING);
}

void ag_run_set_converged(ag_run *run, bool converged) { run->converged = converged ? 1 : 0; }

ag_status ag_run_set_result(ag_run *run, const char *name, const char *format, ...) {
    char value[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(value, sizeof value, format, args);
    va_end(args);
    return run_pairs_set(&run->results, "ag_run_set_result", name, value) < 0 ? ag_error_code() : AG_OK;
}

void run_status_free(ag_run *run) { run_pairs_free(&run->results); }

/* ------------------------------------------------------------- reading */

/* Whether another process holds DIR/.lock (ag_run_create's and
 * ag_run_resume's fcntl lock, which the kernel drops when the process
 * dies, kill -9 included). Opened read-only: the reader creates nothing.
 * Closing any descriptor of the file drops the locks this process holds
 * on it, so the run's own reading of its previous status.json
 * (run_status_init) must not come here. */
static bool lock_held(const char *dir, long *pid) {
    char path[1100];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    bool held = fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
    close(fd);
    if (held) *pid = (long)lock.l_pid;
    return held;
}

static void copy_string(const cJSON *object, const char *key, char *out, size_t size) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    snprintf(out, size, "%s", cJSON_IsString(item) && item->valuestring ? item->valuestring : "");
}

static double number_or_nan(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsNumber(item) ? item->valuedouble : NAN;
}

ag_status ag_run_read_status(const char *dir, ag_run_info *info) {
    long pid = 0;
    bool live = lock_held(dir, &pid);
    ag_status status = read_status_file(dir, info);
    info->live = live;
    info->pid = live ? pid : 0;
    return status;
}

static ag_status read_status_file(const char *dir, ag_run_info *info) {
    memset(info, 0, sizeof *info);
    info->converged = -1;
    info->started = info->ended = info->seconds = NAN;
    info->step = -1;
    char path[1100];
    status_path(dir, path, sizeof path);
    char *text = read_small_file(path);
    if (!text) {
        if (errno == ENOENT) return AG_OK;
        return ag_error_set(errno == EFBIG ? AG_ERROR_FORMAT : AG_ERROR_IO, "%s: cannot read: %s", path,
                            errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ag_error_set(AG_ERROR_FORMAT, "%s: not a JSON object", path);
    }
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "status");
    int found_state = -1;
    for (int i = 0; cJSON_IsString(state) && i < (int)(sizeof state_names / sizeof state_names[0]); i++)
        if (strcmp(state->valuestring, state_names[i]) == 0) found_state = i;
    if (found_state < 0) {
        cJSON_Delete(root);
        return ag_error_set(AG_ERROR_FORMAT, "%s: no known \"status\"", path);
    }
    info->found = true;
    info->state = (ag_run_state)found_state;
    copy_string(root, "detail", info->detail, sizeof info->detail);
    const cJSON *converged = cJSON_GetObjectItemCaseSensitive(root, "converged");
    if (cJSON_IsBool(converged)) info->converged = cJSON_IsTrue(converged) ? 1 : 0;
    info->started = number_or_nan(root, "started_unix");
    info->ended = number_or_nan(root, "ended_unix");
    info->seconds = number_or_nan(root, "seconds");
    double step = number_or_nan(root, "step");
    info->step = isfinite(step) && step >= -1 && step < 9e18 ? (long long)step : -1;
    double resumes = number_or_nan(root, "resumes");
    info->resumes = isfinite(resumes) && resumes >= 0 && resumes < 1e9 ? (int)resumes : 0;
    const cJSON *build = cJSON_GetObjectItemCaseSensitive(root, "build");
    copy_string(build, "version", info->version, sizeof info->version);
    copy_string(build, "commit", info->commit, sizeof info->commit);
    copy_string(root, "blas", info->blas, sizeof info->blas);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
    int n = cJSON_IsObject(results) ? cJSON_GetArraySize(results) : 0;
    if (n > 0) {
        info->result_names = calloc((size_t)n, sizeof *info->result_names);
        info->result_values = calloc((size_t)n, sizeof *info->result_values);
        if (!info->result_names || !info->result_values) {
            cJSON_Delete(root);
            ag_run_info_free(info);
            return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", path);
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, results) {
            if (!item->string || !cJSON_IsString(item)) continue;
            char *name = strdup(item->string), *value = strdup(item->valuestring);
            if (!name || !value) {
                free(name);
                free(value);
                break;
            }
            info->result_names[info->n_results] = name;
            info->result_values[info->n_results] = value;
            info->n_results++;
        }
    }
    cJSON_Delete(root);
    return AG_OK;
}

void ag_run_info_free(ag_run_info *info) {
    for (int i = 0; i < info->n_results; i++) {
        free(info->result_names[i]);
        free(info->result_values[i]);
    }
    free(info->result_names);
    free(info->result_values);
    info->result_names = info->result_values = NULL;
    info->n_results = 0;
}
