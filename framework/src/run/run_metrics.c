/* metrics.csv: written a row a step (numbers through format_number.c's
 * %.9g), and read back with libcsv when a run resumes. */
#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format_number.h"
#include "run_internal.h"

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
    return run_status_begin(run);
}

/* Reading metrics.csv back with libcsv: rows of fields, each kept as text
 * so that the rows that stay are written back byte for byte. */
typedef struct metrics_reader {
    char **fields; /* of the current row */
    int n_fields, capacity;
    bool failed;
    char *out;     /* the rows kept, as text */
    size_t out_length, out_capacity;
    int64_t line, keep_through, last_step;
    int expected_fields;
    bool header_done;
    const char *const *columns;
    char error[300];
} metrics_reader;

static void metrics_field(void *field, size_t length, void *context) {
    metrics_reader *r = context;
    if (r->failed) return;
    if (memchr(field, '\0', length)) {
        r->failed = true;
        snprintf(r->error, sizeof r->error, "line %lld has a NUL byte (not a text file?)", (long long)r->line + 1);
        return;
    }
    if (r->n_fields == r->capacity) {
        int capacity = r->capacity ? 2 * r->capacity : 8;
        char **grown = realloc(r->fields, (size_t)capacity * sizeof *grown);
        if (!grown) {
            r->failed = true;
            snprintf(r->error, sizeof r->error, "out of memory");
            return;
        }
        r->fields = grown;
        r->capacity = capacity;
    }
    char *copy = malloc(length + 1);
    if (!copy) {
        r->failed = true;
        snprintf(r->error, sizeof r->error, "out of memory");
        return;
    }
    memcpy(copy, field, length);
    copy[length] = '\0';
    r->fields[r->n_fields++] = copy;
}

static bool append_text(metrics_reader *r, const char *text) {
    size_t length = strlen(text);
    if (r->out_length + length + 1 > r->out_capacity) {
        size_t capacity = (r->out_length + length + 1) * 2;
        char *grown = realloc(r->out, capacity);
        if (!grown) return false;
        r->out = grown;
        r->out_capacity = capacity;
    }
    memcpy(r->out + r->out_length, text, length + 1);
    r->out_length += length;
    return true;
}

static void metrics_row(int terminator, void *context) {
    metrics_reader *r = context;
    r->line++;
    if (!r->failed && r->n_fields != r->expected_fields) {
        r->failed = true;
        snprintf(r->error, sizeof r->error, "line %lld has %d fields, expected %d", (long long)r->line, r->n_fields,
                 r->expected_fields);
    }
    if (!r->failed && !r->header_done) {
        for (int i = 0; i < r->n_fields && !r->failed; i++) {
            const char *expected = i == 0 ? "step" : r->columns[i - 1];
            if (strcmp(r->fields[i], expected) != 0) {
                char text[48];
                r->failed = true;
                snprintf(r->error, sizeof r->error, "the header's column %d is '%s', expected '%s'", i + 1,
                         ag_printable(r->fields[i], text, sizeof text), expected);
            }
        }
        r->header_done = true;
    } else if (!r->failed) {
        char *end;
        errno = 0;
        long long step = strtoll(r->fields[0], &end, 10);
        if (*r->fields[0] == '\0' || *end != '\0' || errno == ERANGE || step < 0 || step <= r->last_step) {
            char text[32];
            r->failed = true;
            snprintf(r->error, sizeof r->error, "line %lld: step '%s' is not an integer above the previous row's",
                     (long long)r->line, ag_printable(r->fields[0], text, sizeof text));
        } else if (step <= r->keep_through) {
            r->last_step = step;
            /* Values are numbers or empty, as ag_run_log writes them: a row
             * kept is written back as it is, and must stay one CSV row. */
            for (int i = 1; i < r->n_fields && !r->failed; i++) {
                const char *field = r->fields[i];
                strtod(field, &end);
                if (*field != '\0' && (*end != '\0' || strpbrk(field, " \t\r\n\"") || isspace((unsigned char)*field))) {
                    char text[32];
                    r->failed = true;
                    snprintf(r->error, sizeof r->error, "line %lld, column %d: '%s' is not a number", (long long)r->line,
                             i + 1, ag_printable(field, text, sizeof text));
                }
            }
            /* Only a row whose fields all passed is copied: a failed append
             * is then the one error. */
            bool copied = !r->failed;
            for (int i = 0; i < r->n_fields && copied; i++)
                copied = (i == 0 || append_text(r, ",")) && append_text(r, r->fields[i]);
            if (copied) copied = append_text(r, "\n");
            if (!r->failed && !copied) {
                r->failed = true;
                snprintf(r->error, sizeof r->error, "out of memory");
            }
        }
    }
    for (int i = 0; i < r->n_fields; i++) free(r->fields[i]);
    r->n_fields = 0;
    (void)terminator;
}

/* Reads metrics.csv whole; a last line without its newline is a row torn
 * by a kill mid-write, and is dropped. */
static char *read_complete_lines(const char *path, size_t *length, char *error, size_t error_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(error, error_size, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t capacity = 1 << 16, used = 0;
    char *text = malloc(capacity);
    while (text) {
        size_t n = fread(text + used, 1, capacity - used, f);
        used += n;
        if (used < capacity) break;
        char *grown = realloc(text, capacity * 2);
        if (!grown) {
            free(text);
            text = NULL;
        } else {
            text = grown;
            capacity *= 2;
        }
    }
    bool read_error = ferror(f);
    int saved = errno;
    fclose(f);
    if (!text || read_error) {
        snprintf(error, error_size, "%s%s", text ? "cannot read: " : "out of memory", text ? strerror(saved) : "");
        free(text);
        return NULL;
    }
    while (used > 0 && text[used - 1] != '\n') used--;
    *length = used;
    return text;
}

ag_status ag_run_resume_metrics(ag_run *run, const char *const *columns, int n_columns, int64_t step) {
    for (int i = 0; i < n_columns; i++)
        if (!valid_column(columns[i]))
            return ag_error_set(AG_ERROR_ARGUMENT, "ag_run_resume_metrics: column name '%s' is not an identifier",
                                columns[i] ? columns[i] : "(null)");
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.csv", run->dir);
    metrics_reader r = {.keep_through = step, .last_step = -1, .expected_fields = n_columns + 1, .columns = columns};
    size_t length = 0;
    char *text = read_complete_lines(path, &length, r.error, sizeof r.error);
    if (!text) return ag_error_set(AG_ERROR_IO, "ag_run_resume_metrics: %s: %s", path, r.error);
    struct csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        free(text);
        return ag_error_set(AG_ERROR_MEMORY, "ag_run_resume_metrics: out of memory");
    }
    if (csv_parse(&parser, text, length, metrics_field, metrics_row, &r) != length && !r.failed) {
        r.failed = true;
        snprintf(r.error, sizeof r.error, "line %lld: %s", (long long)r.line + 1, csv_strerror(csv_error(&parser)));
    }
    if (!r.failed && csv_fini(&parser, metrics_field, metrics_row, &r) != 0) {
        r.failed = true;
        snprintf(r.error, sizeof r.error, "%s", csv_strerror(csv_error(&parser)));
    }
    csv_free(&parser);
    free(text);
    for (int i = 0; i < r.n_fields; i++) free(r.fields[i]);
    free(r.fields);
    if (!r.failed && !r.header_done) {
        r.failed = true;
        snprintf(r.error, sizeof r.error, "no header line");
    }
    /* Rows are flushed before every checkpoint, so the checkpoint's own step
     * must be there: otherwise the file is not this run's. */
    if (!r.failed && step > 0 && r.last_step != step) {
        r.failed = true;
        if (r.last_step < 0)
            snprintf(r.error, sizeof r.error, "has no rows, but the checkpoint is at step %lld", (long long)step);
        else
            snprintf(r.error, sizeof r.error, "ends at step %lld, before the checkpoint's step %lld",
                     (long long)r.last_step, (long long)step);
    }
    if (r.failed) {
        free(r.out);
        return ag_error_set(AG_ERROR_FORMAT, "ag_run_resume_metrics: %s: %s", path, r.error);
    }

    /* The kept rows replace the file atomically, then new rows append. */
    ag_atomic_file out;
    if (ag_atomic_file_begin(&out, path) != AG_OK) {
        free(r.out);
        return ag_error_code();
    }
    fputs("step", out.file);
    for (int i = 0; i < n_columns; i++) fprintf(out.file, ",%s", columns[i]);
    fputc('\n', out.file);
    if (r.out_length > 0) fwrite(r.out, 1, r.out_length, out.file);
    free(r.out);
    if (ag_atomic_file_commit(&out) != AG_OK) return ag_error_code(); /* write errors show in the error flag */
    run->metrics = fopen(path, "a");
    if (!run->metrics) return ag_error_set(AG_ERROR_IO, "ag_run_resume_metrics: cannot append to %s: %s", path, strerror(errno));
    run->n_columns = n_columns;
    run->last_flush = ag_seconds();
    run->last_step = step;
    return run_status_begin(run);
}

ag_status ag_run_log(ag_run *run, int64_t step, const double *values) {
    if (!run->metrics) return ag_error_set(AG_ERROR_STATE, "ag_run_log: call ag_run_begin_metrics first");
    run->last_step = step;
    /* Plain numbers need no quoting, and gnuplot reads them as they are. */
    char text[32];
    int length = 0;
    if (step >= 0) {
        char reversed[24];
        int n = 0;
        for (uint64_t rest = (uint64_t)step; n == 0 || rest > 0; rest /= 10) reversed[n++] = (char)('0' + rest % 10);
        while (n > 0) text[length++] = reversed[--n];
    } else {
        length = snprintf(text, sizeof text, "%lld", (long long)step);
    }
    fwrite(text, 1, (size_t)length, run->metrics);
    for (int i = 0; i < run->n_columns; i++) {
        text[0] = ',';
        length = isnan(values[i]) ? 1 : 1 + ag_format_nine_digits(values[i], text + 1);
        fwrite(text, 1, (size_t)length, run->metrics);
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
