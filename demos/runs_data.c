#include "runs_data.h"

#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The first problem found is the one shown. */
static void note_problem(run_record *r, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note_problem(run_record *r, const char *format, ...) {
    if (r->problem[0]) return;
    va_list args;
    va_start(args, format);
    vsnprintf(r->problem, sizeof r->problem, format, args);
    va_end(args);
}

static char *path_join(const char *dir, const char *name) {
    size_t length = strlen(dir) + strlen(name) + 2;
    char *path = malloc(length);
    if (path) snprintf(path, length, "%s/%s", dir, name);
    return path;
}

static bool exists_in(const char *dir, const char *name, struct stat *st) {
    char *path = path_join(dir, name);
    struct stat ignored;
    bool found = path && stat(path, st ? st : &ignored) == 0;
    free(path);
    return found;
}

bool run_dir_looks_like_run(const char *dir) {
    static const char *const files[] = {"params.csv", "metrics.csv", "status.json", "checkpoint.safetensors",
                                        "model.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (exists_in(dir, files[i], NULL)) return true;
    return false;
}

/* ------------------------------------------------------------ params.csv */

typedef struct params_parse {
    run_record *record;
    char *fields[2];
    int n_fields, row;
    bool malformed, out_of_memory;
} params_parse;

static void params_field(void *data, size_t length, void *context) {
    params_parse *p = context;
    if (p->n_fields < 2 && !memchr(data, '\0', length)) {
        char *copy = malloc(length + 1);
        if (!copy) p->out_of_memory = true;
        else {
            memcpy(copy, data, length);
            copy[length] = '\0';
            p->fields[p->n_fields] = copy;
        }
    } else {
        p->malformed = true;
    }
    p->n_fields++;
}

static void params_row(int terminator, void *context) {
    params_parse *p = context;
    run_record *r = p->record;
    bool header = p->row++ == 0;
    if (p->n_fields != 2 || !p->fields[0] || !p->fields[1]) p->malformed = true;
    else if (header) p->malformed |= strcmp(p->fields[0], "name") != 0;
    else if (strcmp(p->fields[0], "run_id") != 0) {
        char **names = realloc(r->param_names, (size_t)(r->n_params + 1) * sizeof *names);
        if (names) r->param_names = names;
        char **values = realloc(r->param_values, (size_t)(r->n_params + 1) * sizeof *values);
        if (values) r->param_values = values;
        if (names && values) {
            r->param_names[r->n_params] = p->fields[0];
            r->param_values[r->n_params] = p->fields[1];
            r->n_params++;
            p->fields[0] = p->fields[1] = NULL;
        } else {
            p->out_of_memory = true;
        }
    }
    free(p->fields[0]);
    free(p->fields[1]);
    p->fields[0] = p->fields[1] = NULL;
    p->n_fields = 0;
}

static void load_params(run_record *r) {
    char *path = path_join(r->path, "params.csv");
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (!f) {
        note_problem(r, "params.csv: %s", errno == ENOENT ? "missing" : strerror(errno));
        return;
    }
    params_parse p = {.record = r};
    struct csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fclose(f);
        note_problem(r, "params.csv: out of memory");
        return;
    }
    char chunk[8192];
    size_t n;
    bool parsed = true;
    while (parsed && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        parsed = csv_parse(&parser, chunk, n, params_field, params_row, &p) == n;
    if (parsed) parsed = csv_fini(&parser, params_field, params_row, &p) == 0;
    csv_free(&parser);
    fclose(f);
    free(p.fields[0]);
    free(p.fields[1]);
    if (!parsed || p.malformed || p.row == 0) note_problem(r, "params.csv: not a name,value file");
    if (p.out_of_memory) note_problem(r, "params.csv: out of memory");
}

const char *run_param(const run_record *r, const char *name) {
    for (int i = 0; i < r->n_params; i++)
        if (strcmp(r->param_names[i], name) == 0) return r->param_values[i];
    return NULL;
}

/* ----------------------------------------------------------- metrics.csv */

static bool parse_number(const char *text, size_t length, double *value) {
    char buf[64];
    if (length == 0 || length >= sizeof buf) return false;
    memcpy(buf, text, length);
    buf[length] = '\0';
    char *end;
    *value = strtod(buf, &end);
    return *end == '\0' && isfinite(*value);
}

/* One data line, from its end: the fields must be as many as the header's
 * and the step a number; each metric not yet found takes its value. */
static int take_line(run_record *r, const char *line, size_t length, bool *found) {
    size_t starts[256], ends[256];
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= length; i++)
        if (i == length || line[i] == ',') {
            if (n == 256) return 0;
            starts[n] = start;
            ends[n] = i;
            n++;
            start = i + 1;
        }
    double step;
    if (n != r->n_columns + 1 || !parse_number(line, ends[0], &step)) return 0;
    if (r->last_step < 0) r->last_step = (long long)step;
    int newly = 0;
    for (int k = 0; k < r->n_columns; k++) {
        double value;
        if (found[k] || !parse_number(line + starts[k + 1], ends[k + 1] - starts[k + 1], &value)) continue;
        r->final_values[k] = value;
        found[k] = true;
        newly++;
    }
    return newly;
}

/* The header from the start; the last values from the end, reading a
 * growing tail until every column has one or the file is read: a long
 * run's file (megabytes) costs a few kilobytes when every column is logged
 * every step. */
static void load_metrics(run_record *r) {
    char *path = path_join(r->path, "metrics.csv");
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (!f) {
        note_problem(r, "metrics.csv: %s", errno == ENOENT ? "missing" : strerror(errno));
        return;
    }
    char header[4096];
    if (!fgets(header, sizeof header, f) || !strchr(header, '\n')) {
        note_problem(r, "metrics.csv: %s", feof(f) && !header[0] ? "empty" : "no header line");
        fclose(f);
        return;
    }
    header[strcspn(header, "\r\n")] = '\0';
    if (strncmp(header, "step,", 5) != 0 && strcmp(header, "step") != 0) {
        note_problem(r, "metrics.csv: its header does not start with step");
        fclose(f);
        return;
    }
    long header_length = ftell(f);
    for (char *name = strtok(header + 4, ","); name; name = strtok(NULL, ",")) {
        char **columns = realloc(r->columns, (size_t)(r->n_columns + 1) * sizeof *columns);
        if (!columns) break;
        r->columns = columns;
        r->columns[r->n_columns] = strdup(name);
        if (!r->columns[r->n_columns]) break;
        r->n_columns++;
    }
    r->final_values = malloc((size_t)(r->n_columns ? r->n_columns : 1) * sizeof *r->final_values);
    bool *found = calloc((size_t)(r->n_columns ? r->n_columns : 1), sizeof *found);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (!r->final_values || !found) {
        note_problem(r, "metrics.csv: out of memory");
        free(found);
        fclose(f);
        return;
    }
    for (int k = 0; k < r->n_columns; k++) r->final_values[k] = NAN;
    int missing = r->n_columns;
    for (long window = 16384;; window *= 4) {
        long from = size - window > header_length ? size - window : header_length;
        size_t length = (size_t)(size - from);
        char *text = malloc(length + 1);
        if (!text || fseek(f, from, SEEK_SET) != 0 || fread(text, 1, length, f) != length) {
            free(text);
            note_problem(r, "metrics.csv: cannot read");
            break;
        }
        /* Complete lines only: a last line without its newline is a row a
         * kill cut short, and a window's first line may be a row's tail. */
        r->last_step = -1;
        missing = r->n_columns;
        memset(found, 0, (size_t)r->n_columns * sizeof *found);
        size_t end = length;
        while (end > 0 && text[end - 1] != '\n') end--;
        while (end > 0 && missing > 0) {
            size_t line_end = end - 1; /* the '\n' */
            size_t line_start = line_end;
            while (line_start > 0 && text[line_start - 1] != '\n') line_start--;
            bool whole = line_start > 0 || from == header_length;
            size_t line_length = line_end - line_start;
            if (line_length > 0 && text[line_start + line_length - 1] == '\r') line_length--;
            if (whole) missing -= take_line(r, text + line_start, line_length, found);
            end = line_start;
        }
        free(text);
        if (missing == 0 || from == header_length) break;
    }
    if (r->last_step < 0 && !r->problem[0]) note_problem(r, "metrics.csv: no complete row");
    free(found);
    fclose(f);
}

int run_column(const run_record *r, const char *name) {
    for (int k = 0; k < r->n_columns; k++)
        if (strcmp(r->columns[k], name) == 0) return k;
    return -1;
}

/* ----------------------------------------------------------- status.json */

/* How the run ended, in one word: status.json's state, with a run whose
 * file says "running" but whose lock is free called "killed" (SIGKILL, a
 * crash, a power cut: nothing could write its end). */
static void settle_status(run_record *r, bool status_read) {
    const ag_run_info *info = &r->info;
    const char *status = "unknown";
    if (info->live) status = "running";
    else if (!status_read) status = "damaged";
    else if (!info->found) {
        status = "unknown";
        note_problem(r, "no status.json (a run of an older ag, or killed before its first step)");
    } else {
        switch (info->state) {
        case AG_RUN_RUNNING:
            status = "killed";
            break;
        case AG_RUN_FINISHED:
            status = info->converged == 1 ? "converged" : info->converged == 0 ? "not-converged" : "finished";
            break;
        case AG_RUN_STOPPED: status = "stopped"; break;
        case AG_RUN_NON_FINITE: status = "non-finite"; break;
        case AG_RUN_FAILED: status = "failed"; break;
        }
    }
    snprintf(r->status, sizeof r->status, "%s", status);
}

/* The duration: status.json's time (to its last write); a run still going
 * or killed also counts from then to metrics.csv's last write (or now). */
static void settle_times(run_record *r) {
    struct stat status_stat, metrics_stat, params_stat;
    bool has_status = exists_in(r->path, "status.json", &status_stat);
    bool has_metrics = exists_in(r->path, "metrics.csv", &metrics_stat);
    r->started = r->info.started;
    if (!isfinite(r->started) && exists_in(r->path, "params.csv", &params_stat)) r->started = (double)params_stat.st_mtime;
    r->duration = r->info.seconds;
    bool going = r->info.live || (r->info.found && r->info.state == AG_RUN_RUNNING);
    if (going && has_status && isfinite(r->duration)) {
        double last = r->info.live ? (double)time(NULL) : has_metrics ? (double)metrics_stat.st_mtime : 0;
        if (last > (double)status_stat.st_mtime) r->duration += last - (double)status_stat.st_mtime;
    }
    r->steps = r->info.step >= 0 ? r->info.step : r->last_step;
    if (going && r->last_step > r->steps) r->steps = r->last_step;
}

void run_record_load(run_record *r, const char *dir) {
    memset(r, 0, sizeof *r);
    r->last_step = -1;
    r->path = strdup(dir);
    const char *slash = strrchr(dir, '/');
    while (slash && slash[1] == '\0' && slash > dir) { /* "runs/a/" */
        const char *before = slash - 1;
        while (before > dir && *before != '/') before--;
        slash = *before == '/' ? before : NULL;
    }
    r->name = strdup(slash ? slash + 1 : dir);
    if (r->name) r->name[strcspn(r->name, "/")] = '\0';
    if (!r->path || !r->name) {
        note_problem(r, "out of memory");
        return;
    }
    load_params(r);
    load_metrics(r);
    bool status_read = ag_run_read_status(dir, &r->info) == AG_OK;
    if (!status_read) {
        /* The problem names the file and why; the directory is the run's. */
        const char *message = ag_error_message();
        const char *base = strstr(message, "status.json");
        note_problem(r, "%s", base ? base : message);
    }
    settle_status(r, status_read);
    settle_times(r);
    const char *demo = run_param(r, "demo");
    if (demo) r->demo = strdup(demo);
    else {
        r->demo = strdup(r->name);
        if (r->demo) r->demo[strcspn(r->demo, "-")] = '\0';
    }
}

void run_record_free(run_record *r) {
    for (int i = 0; i < r->n_params; i++) {
        free(r->param_names[i]);
        free(r->param_values[i]);
    }
    for (int k = 0; k < r->n_columns; k++) free(r->columns[k]);
    free(r->param_names);
    free(r->param_values);
    free(r->columns);
    free(r->final_values);
    free(r->path);
    free(r->name);
    free(r->demo);
    ag_run_info_free(&r->info);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

run_record *runs_load_dir(const char *runs_dir, int *n) {
    *n = -1;
    DIR *d = opendir(runs_dir);
    if (!d) return NULL;
    /* A run directory itself, given where a directory of runs goes: that run. */
    if (run_dir_looks_like_run(runs_dir)) {
        closedir(d);
        run_record *one = calloc(1, sizeof *one);
        if (!one) return NULL;
        run_record_load(one, runs_dir);
        *n = 1;
        return one;
    }
    char **names = NULL;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char *path = path_join(runs_dir, entry->d_name);
        struct stat st;
        if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode) && run_dir_looks_like_run(path)) {
            char **grown = realloc(names, (size_t)(count + 1) * sizeof *names);
            if (grown) {
                names = grown;
                names[count++] = path;
                path = NULL;
            }
        }
        free(path);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof *names, by_name);
    run_record *runs = calloc((size_t)(count ? count : 1), sizeof *runs);
    for (int i = 0; i < count; i++) {
        if (runs) run_record_load(&runs[i], names[i]);
        free(names[i]);
    }
    free(names);
    if (!runs) {
        errno = ENOMEM;
        return NULL;
    }
    *n = count;
    return runs;
}

void runs_free(run_record *runs, int n) {
    for (int i = 0; i < n; i++) run_record_free(&runs[i]);
    free(runs);
}

/* ------------------------------------------------------------ formatting */

void format_duration(double seconds, char *buf, size_t size) {
    if (!isfinite(seconds) || seconds < 0) snprintf(buf, size, "-");
    else if (seconds < 60) snprintf(buf, size, "%.1fs", seconds);
    else {
        long s = (long)(seconds + 0.5);
        if (s < 3600) snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
        else snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
}

void format_when(double unix_time, char *buf, size_t size) {
    if (!isfinite(unix_time)) {
        snprintf(buf, size, "-");
        return;
    }
    time_t t = (time_t)unix_time;
    struct tm local;
    localtime_r(&t, &local);
    strftime(buf, size, "%Y-%m-%dT%H:%M", &local);
}

void format_value(double value, char *buf, size_t size) {
    if (isfinite(value)) snprintf(buf, size, "%.6g", value);
    else snprintf(buf, size, "-");
}
