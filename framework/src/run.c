/* Run directories, metrics logging and the progress line. */
#include <csv.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
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
    bool *is_option; /* recorded by ag_run_set_option */
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
        if (!make_directory(run->dir)) {
            ag_error_set(AG_ERROR_IO, "ag_run_create: cannot create directory %s: %s", run->dir, strerror(errno));
            goto fail;
        }
        if (!is_directory(run->dir)) {
            ag_error_set(AG_ERROR_IO, "ag_run_create: %s exists and is not a directory", run->dir);
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
    if (!is_directory(run->dir)) {
        ag_error_set(AG_ERROR_IO, "ag_run_resume: %s is not a directory", run->dir);
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
                    r->failed = true;
                    snprintf(r->error, sizeof r->error, "line %lld, column %d: '%.24s' is not a number", (long long)r->line,
                             i + 1, field);
                }
            }
            for (int i = 0; i < r->n_fields && !r->failed; i++)
                if ((i > 0 && !append_text(r, ",")) || !append_text(r, r->fields[i])) r->failed = true;
            if (!r->failed && !append_text(r, "\n")) r->failed = true;
            if (r->failed) snprintf(r->error, sizeof r->error, "out of memory");
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
    return AG_OK;
}

/* printf's "%.9g" (nine digits bring any float back exactly; metrics.csv
 * has always been written so) without printf, which took a tenth of an
 * L1-RNN training step for its four numbers. The same bytes as glibc: the
 * value times a power of ten is computed exactly in 128-bit integers and
 * rounded half to even. Values whose product does not fit (beyond about
 * 1e-25..1e27 for a float's 24 bits) go to snprintf. */
#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 uint128;

static int bit_length(uint128 x) {
    uint64_t high = (uint64_t)(x >> 64), low = (uint64_t)x;
    return high ? 128 - __builtin_clzll(high) : low ? 64 - __builtin_clzll(low) : 0;
}

/* round(|value| 10^(8 - exponent)) when it lies in [1e8, 1e9]; -1 below,
 * -2 above, -3 when the integers would overflow. */
static int64_t nine_digits(uint64_t mantissa, int binary_exponent, int exponent) {
    static const uint64_t powers[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                                        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
                                        1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
                                        1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
                                        1000000000000000000ULL, 10000000000000000000ULL};
    int scale = 8 - exponent;
    uint128 numerator = mantissa, denominator = 1;
    if (scale > 38 || scale < -19) return -3;
    if (scale > 0) {
        uint128 power = scale <= 19 ? powers[scale] : (uint128)powers[19] * powers[scale - 19];
        if (bit_length(numerator) + bit_length(power) > 127) return -3;
        numerator *= power;
    } else if (scale < 0) {
        denominator = powers[-scale];
    }
    if (binary_exponent > 0) {
        if (bit_length(numerator) + binary_exponent > 127) return -3;
        numerator <<= binary_exponent;
    } else if (binary_exponent < 0) {
        if (bit_length(denominator) - binary_exponent > 127) return -3;
        denominator <<= -binary_exponent;
    }
    uint128 quotient, remainder;
    if (scale >= 0) { /* the denominator is a power of two */
        quotient = numerator >> (bit_length(denominator) - 1);
        remainder = numerator & (denominator - 1);
    } else {
        quotient = numerator / denominator;
        remainder = numerator % denominator;
    }
    if (quotient < 100000000) return -1;
    if (quotient >= 1000000000) return -2;
    if (remainder > denominator - remainder || (remainder == denominator - remainder && (quotient & 1))) quotient++;
    return (int64_t)quotient;
}

/* Writes value as "%.9g" into out (at least 32 bytes); returns the length. */
static int format_nine_digits(double value, char *out) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    int biased = (int)(bits >> 52 & 0x7ff);
    uint64_t mantissa = bits & ((1ULL << 52) - 1);
    if (biased == 0x7ff || (biased == 0 && mantissa == 0)) return snprintf(out, 32, "%.9g", value);
    int binary_exponent = biased == 0 ? -1074 : biased - 1075;
    if (biased != 0) mantissa |= 1ULL << 52;
    int zeros = __builtin_ctzll(mantissa);
    mantissa >>= zeros;
    binary_exponent += zeros;
    /* floor(log10 |value|), perhaps one too low or high: corrected below. */
    int log2_value = 63 - __builtin_clzll(mantissa) + binary_exponent;
    /* floor(log2_value log10(2)) (78913 / 2^18), kept positive to floor */
    int exponent = (log2_value * 78913 + (1 << 30)) / (1 << 18) - (1 << 12);
    int64_t digits = nine_digits(mantissa, binary_exponent, exponent);
    for (int tries = 0; digits < 0 && digits != -3 && tries < 2; tries++) {
        exponent += digits == -1 ? -1 : 1;
        digits = nine_digits(mantissa, binary_exponent, exponent);
    }
    if (digits < 0) return snprintf(out, 32, "%.9g", value);
    if (digits == 1000000000) { /* rounded up to the next power of ten */
        digits = 100000000;
        exponent++;
    }
    char d[9];
    for (int i = 8; i >= 0; i--, digits /= 10) d[i] = (char)('0' + digits % 10);
    int n_digits = 9; /* %g drops trailing zeros */
    while (n_digits > 1 && d[n_digits - 1] == '0') n_digits--;
    int length = 0;
    if (bits >> 63) out[length++] = '-';
    if (exponent < -4 || exponent >= 9) {
        out[length++] = d[0];
        if (n_digits > 1) out[length++] = '.';
        for (int i = 1; i < n_digits; i++) out[length++] = d[i];
        int magnitude = abs(exponent);
        out[length++] = 'e';
        out[length++] = exponent < 0 ? '-' : '+';
        if (magnitude >= 100) out[length++] = (char)('0' + magnitude / 100);
        out[length++] = (char)('0' + magnitude / 10 % 10);
        out[length++] = (char)('0' + magnitude % 10);
    } else if (exponent >= 0) {
        for (int i = 0; i <= exponent; i++) out[length++] = d[i];
        if (n_digits > exponent + 1) out[length++] = '.';
        for (int i = exponent + 1; i < n_digits; i++) out[length++] = d[i];
    } else {
        out[length++] = '0';
        out[length++] = '.';
        for (int i = -1; i > exponent; i--) out[length++] = '0';
        for (int i = 0; i < n_digits; i++) out[length++] = d[i];
    }
    out[length] = '\0';
    return length;
}
#else
static int format_nine_digits(double value, char *out) { return snprintf(out, 32, "%.9g", value); }
#endif

ag_status ag_run_log(ag_run *run, int64_t step, const double *values) {
    if (!run->metrics) return ag_error_set(AG_ERROR_STATE, "ag_run_log: call ag_run_begin_metrics first");
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
        length = isnan(values[i]) ? 1 : 1 + format_nine_digits(values[i], text + 1);
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

ag_status ag_run_save_checkpoint(ag_run *run, ag_checkpoint *cp) {
    /* Rows first, synced: after a crash the checkpoint never runs ahead of
     * the curve, so a resume finds every row up to its step. */
    if (ag_run_flush(run) != AG_OK) return ag_error_code();
    if (run->metrics && fsync(fileno(run->metrics)) != 0)
        return ag_error_set(AG_ERROR_IO, "ag_run_save_checkpoint: cannot sync %s/metrics.csv: %s", run->dir,
                            strerror(errno));
    for (int i = 0; i < run->n_params; i++) {
        ag_status status = run->is_option[i] ? AG_OK : ag_checkpoint_set_metadata(cp, run->names[i], run->values[i]);
        if (status != AG_OK) return status;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run->dir);
    return ag_checkpoint_save(cp, path);
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

/* -------------------------------------------------------------- signals */

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int signal_number) { stop_signal = signal_number; }

ag_status ag_run_catch_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    /* The handler is needed once: a second Ctrl-C stops the program at
     * once, for a user who does not want to wait for the checkpoint. */
    action.sa_flags = SA_RESETHAND;
    if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0)
        return ag_error_set(AG_ERROR_STATE, "ag_run_catch_signals: sigaction failed: %s", strerror(errno));
    return AG_OK;
}

int ag_run_stop_signal(void) { return stop_signal; }

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

void ag_progress_resume_at(ag_progress *p, int64_t step) { p->first_step = step; }

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
    double elapsed = now - p->start,
           rate = step > p->first_step && elapsed > 0 ? (double)(step - p->first_step) / elapsed : 0;
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
