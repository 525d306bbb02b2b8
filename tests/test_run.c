/* ag_run: run directories, params.csv and metrics.csv (read back with
 * libcsv, as any CSV reader would), flushing, refusals, the checkpoint and
 * the default runs/<demo>-DATE-TIME names. */
#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ag_run.h"
#include "test_util.h"

/* ------------------------------------------------------------ fixture */

/* One temporary directory for the whole test case, made and removed by an
 * unchecked fixture (in the parent process), so it is removed even when a
 * test fails. Each test works in its own subdirectory. */
static char run_tmpdir[64];

static void remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (dir) {
            struct dirent *d;
            while ((d = readdir(dir)) != NULL) {
                if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
                char child[2048];
                snprintf(child, sizeof child, "%s/%s", path, d->d_name);
                remove_tree(child);
            }
            closedir(dir);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void run_setup(void) {
    snprintf(run_tmpdir, sizeof run_tmpdir, "/tmp/ag_run_test_XXXXXX");
    if (!mkdtemp(run_tmpdir)) {
        fprintf(stderr, "test_run: mkdtemp: %s\n", strerror(errno));
        abort();
    }
}

static void run_teardown(void) {
    if (run_tmpdir[0]) remove_tree(run_tmpdir);
    run_tmpdir[0] = '\0';
}

static const char *tmp_path(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", run_tmpdir, name);
    return buf;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *read_text(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    if (size) *size = (size_t)n;
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* No file of the directory has ".tmp." in its name (an atomic write that
 * left its temporary file behind). */
static void assert_no_temporaries(const char *dir_path) {
    DIR *dir = opendir(dir_path);
    ck_assert_msg(dir != NULL, "%s: %s", dir_path, strerror(errno));
    struct dirent *d;
    char leftover[512] = "";
    while ((d = readdir(dir)) != NULL)
        if (strstr(d->d_name, ".tmp") && !leftover[0]) snprintf(leftover, sizeof leftover, "%s", d->d_name);
    closedir(dir);
    ck_assert_msg(leftover[0] == '\0', "temporary file left in %s: %s", dir_path, leftover);
}

/* ------------------------------------------------------------ CSV via libcsv */

/* A parsed CSV file: rows of fields. With CSV_EMPTY_IS_NULL an empty,
 * unquoted field is a NULL pointer (a quoted "" is an empty string). */
typedef struct csv_row {
    char **fields;
    int n_fields, capacity;
} csv_row;

typedef struct csv_table {
    csv_row *rows;
    int n_rows, capacity;
    csv_row current;
} csv_table;

static void on_field(void *s, size_t len, void *data) {
    csv_table *t = data;
    csv_row *r = &t->current;
    if (r->n_fields == r->capacity) {
        r->capacity = r->capacity ? 2 * r->capacity : 8;
        r->fields = realloc(r->fields, (size_t)r->capacity * sizeof *r->fields);
        ck_assert_ptr_nonnull(r->fields);
    }
    char *copy = NULL;
    if (s) { /* the buffer is not NUL-terminated */
        copy = malloc(len + 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    r->fields[r->n_fields++] = copy;
}

static void on_row(int terminator, void *data) {
    (void)terminator;
    csv_table *t = data;
    if (t->n_rows == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 16;
        t->rows = realloc(t->rows, (size_t)t->capacity * sizeof *t->rows);
        ck_assert_ptr_nonnull(t->rows);
    }
    t->rows[t->n_rows++] = t->current;
    memset(&t->current, 0, sizeof t->current);
}

static void csv_table_free(csv_table *t) {
    for (int i = 0; i < t->n_rows; i++) {
        for (int j = 0; j < t->rows[i].n_fields; j++) free(t->rows[i].fields[j]);
        free(t->rows[i].fields);
    }
    for (int j = 0; j < t->current.n_fields; j++) free(t->current.fields[j]);
    free(t->current.fields);
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* Parses the file strictly; fails the test on a malformed file. */
static csv_table read_csv(const char *path) {
    size_t size;
    char *text = read_text(path, &size);
    struct csv_parser parser;
    ck_assert_int_eq(csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL), 0);
    csv_table table;
    memset(&table, 0, sizeof table);
    size_t parsed = csv_parse(&parser, text, size, on_field, on_row, &table);
    int error = csv_error(&parser);
    ck_assert_msg(parsed == size, "%s: libcsv stopped at byte %zu of %zu: %s", path, parsed, size,
                  csv_strerror(error));
    /* Without csv_fini a last row without its newline would be lost. */
    ck_assert_msg(csv_fini(&parser, on_field, on_row, &table) == 0, "%s: csv_fini: %s", path,
                  csv_strerror(csv_error(&parser)));
    csv_free(&parser);
    free(text);
    return table;
}

static const char *field(const csv_table *t, int row, int column) {
    ck_assert_int_lt(row, t->n_rows);
    ck_assert_msg(column < t->rows[row].n_fields, "row %d has %d fields, wanted field %d", row,
                  t->rows[row].n_fields, column);
    return t->rows[row].fields[column];
}

/* Row `row` is exactly the given fields (NULL: an empty, unquoted field). */
static void assert_row(const csv_table *t, int row, int n, const char *const *expected) {
    ck_assert_msg(row < t->n_rows, "only %d rows, wanted row %d", t->n_rows, row);
    ck_assert_msg(t->rows[row].n_fields == n, "row %d has %d fields, expected %d", row, t->rows[row].n_fields, n);
    for (int j = 0; j < n; j++) {
        const char *got = t->rows[row].fields[j];
        if (!expected[j])
            ck_assert_msg(got == NULL, "row %d field %d: expected an empty field, got '%s'", row, j, got ? got : "");
        else
            ck_assert_msg(got && strcmp(got, expected[j]) == 0, "row %d field %d: expected '%s', got '%s'", row, j,
                          expected[j], got ? got : "(empty)");
    }
}

/* ------------------------------------------------------------ params.csv */

START_TEST(test_params_csv) {
    char dir[256], path[512];
    tmp_path("params_run", dir, sizeof dir);
    ck_assert(!exists(dir));
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "ag_run_create: %s", ag_error_message());
    ck_assert_msg(is_dir(dir), "ag_run_create did not create %s", dir);
    ck_assert_str_eq(ag_run_dir(run), dir);

    /* name, format, value expected in the file */
    const char *const names[] = {"demo", "lr", "comma", "quote", "newline", "all", "with space", "name,with\"odd"};
    const char *const values[] = {"l1norm", "0.001", "a,b", "say \"hi\"", "line1\nline2", "x,\"y\"\nz,",
                                  "  padded  ", "v"};
    const int n = (int)(sizeof names / sizeof names[0]);
    ck_assert_int_eq(ag_run_set_param(run, names[0], "%s", "l1norm"), AG_OK);
    ck_assert_int_eq(ag_run_set_param(run, names[1], "%g", 1e-3), AG_OK);
    for (int i = 2; i < n; i++) ck_assert_int_eq(ag_run_set_param(run, names[i], "%s", values[i]), AG_OK);
    ck_assert_int_eq(ag_run_write_params(run), AG_OK);
    assert_no_temporaries(dir);

    csv_table t = read_csv(tmp_path("params_run/params.csv", path, sizeof path));
    ck_assert_int_eq(t.n_rows, 2 + n);
    assert_row(&t, 0, 2, (const char *[]){"name", "value"});
    /* The run's id first. */
    const char *id = ag_run_id(run);
    ck_assert_ptr_nonnull(id);
    ck_assert_uint_eq(strlen(id), AG_RUN_ID_LENGTH);
    ck_assert_uint_eq(strspn(id, "0123456789abcdef"), AG_RUN_ID_LENGTH);
    assert_row(&t, 1, 2, (const char *[]){"run_id", id});
    for (int i = 0; i < n; i++) assert_row(&t, 2 + i, 2, (const char *[]){names[i], values[i]});
    csv_table_free(&t);

    /* Writing again replaces the file (still atomically) with all settings. */
    ck_assert_int_eq(ag_run_set_param(run, "steps", "%d", 42), AG_OK);
    ck_assert_int_eq(ag_run_write_params(run), AG_OK);
    assert_no_temporaries(dir);
    t = read_csv(path);
    ck_assert_int_eq(t.n_rows, 3 + n);
    assert_row(&t, 2 + n, 2, (const char *[]){"steps", "42"});
    csv_table_free(&t);

    ck_assert_int_eq(ag_run_close(run), AG_OK);
    /* A run that never began its metrics writes no metrics.csv. */
    ck_assert(!exists(tmp_path("params_run/metrics.csv", path, sizeof path)));
}
END_TEST

/* ------------------------------------------------------------ metrics.csv */

/* The value of row i, column j of the test's metrics: NaN now and then. */
static double metric_value(int i, int j) {
    if (j == 1 && i % 3 == 1) return NAN;        /* acc measured only now and then */
    if (j == 0 && i == 4) return NAN;            /* and one missing loss */
    if (j == 0) return (double)(float)(10.0 / (i + 1) + 1e-7 * i); /* a float, as the demos log */
    return 0.123456789012345 * i - 1e-12;        /* a double with more digits than %.9g keeps */
}

START_TEST(test_metrics_csv) {
    char dir[256], path[512];
    tmp_path("metrics_run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "ag_run_create: %s", ag_error_message());
    const char *const columns[] = {"loss", "acc"};
    ck_assert_int_eq(ag_run_begin_metrics(run, columns, 2), AG_OK);
    enum { N = 25 };
    for (int i = 0; i < N; i++) {
        double values[2] = {metric_value(i, 0), metric_value(i, 1)};
        ck_assert_int_eq(ag_run_log(run, 10 * (i + 1), values), AG_OK);
    }
    ck_assert_int_eq(ag_run_close(run), AG_OK);

    tmp_path("metrics_run/metrics.csv", path, sizeof path);
    size_t size;
    char *text = read_text(path, &size);
    int newlines = 0;
    for (size_t k = 0; k < size; k++) newlines += text[k] == '\n';
    ck_assert_msg(newlines == N + 1, "metrics.csv has %d lines, expected %d (no blank lines)", newlines, N + 1);
    ck_assert_msg(size > 0 && text[size - 1] == '\n', "metrics.csv does not end with a newline");
    free(text);

    csv_table t = read_csv(path);
    ck_assert_int_eq(t.n_rows, 1 + N);
    assert_row(&t, 0, 3, (const char *[]){"step", "loss", "acc"});
    for (int i = 0; i < N; i++) {
        int row = 1 + i;
        ck_assert_int_eq(t.rows[row].n_fields, 3);
        const char *step = field(&t, row, 0);
        ck_assert_ptr_nonnull(step);
        char expected_step[32];
        snprintf(expected_step, sizeof expected_step, "%d", 10 * (i + 1));
        ck_assert_str_eq(step, expected_step);
        for (int j = 0; j < 2; j++) {
            double v = metric_value(i, j);
            const char *f = field(&t, row, 1 + j);
            if (isnan(v)) {
                ck_assert_msg(f == NULL, "row %d column %d: NaN should leave an empty field, got '%s'", row, 1 + j, f);
                continue;
            }
            ck_assert_msg(f != NULL, "row %d column %d is empty, expected %.9g", row, 1 + j, v);
            char *end;
            double parsed = strtod(f, &end);
            ck_assert_msg(*f && *end == '\0', "row %d column %d: '%s' is not a number", row, 1 + j, f);
            /* As precise as %.9g: the same double as the value printed so. */
            char reference[64];
            snprintf(reference, sizeof reference, "%.9g", v);
            ck_assert_msg(parsed == strtod(reference, NULL), "row %d column %d: '%s' is not %s", row, 1 + j, f,
                          reference);
            ck_assert_msg(fabs(parsed - v) <= 1e-8 * fabs(v), "row %d column %d: %.17g vs %.17g", row, 1 + j, parsed, v);
            if (j == 0) ck_assert_msg((float)parsed == (float)v, "a float does not round-trip: '%s'", f);
        }
    }
    csv_table_free(&t);
}
END_TEST

/* ag_run_log formats numbers itself (printf was a tenth of an L1-RNN
 * step): every line must be byte for byte the one "%lld" and ",%.9g"
 * give, for floats (what the demos log) and doubles of every magnitude,
 * halfway cases (rounded half to even), zeros, infinities and the values
 * that round up to the next power of ten. */
static double printf_case(uint64_t *state, int i) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    uint64_t r = *state;
    double special[] = {0.0, -0.0, 1.0, -1.5, 100000000.5, 100000001.5, 999999999.5, 9999999995.0, 1e-4, 9.99999999e-5,
                        99999.99995, 1e9, 1e-5, 5e-324, 1e300, -1e27, 1e28, INFINITY, -INFINITY, 6.51224e-12, 0.1};
    int n_special = (int)(sizeof special / sizeof *special);
    float f;
    uint32_t low = (uint32_t)r;
    switch (i % 6) {
    case 0: return i / 6 < n_special ? special[i / 6] : ldexp((double)(r >> 40), (int)(r % 200) - 130);
    case 1: memcpy(&f, &low, sizeof f); return isnan(f) ? 0.25 : f;      /* any float */
    case 2: return (double)(int64_t)(r >> 30) / 1024.0;                 /* many halfway cases */
    case 3: return (float)(exp(-30.0 * (double)(r >> 11) * 0x1p-53));    /* losses */
    case 4: return (double)(int32_t)low + 0.5;
    default: { double d; memcpy(&d, &r, sizeof d); return isnan(d) ? -2.0 : d; } /* any double */
    }
}

START_TEST(test_metrics_text_is_printf) {
    char dir[256], path[512];
    tmp_path("printf_run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "ag_run_create: %s", ag_error_message());
    enum { ROWS = 30000, COLUMNS = 6 };
    const char *const columns[COLUMNS] = {"a", "b", "c", "d", "e", "f"};
    ck_assert_int_eq(ag_run_begin_metrics(run, columns, COLUMNS), AG_OK);
    uint64_t state = 88172645463325252ULL;
    int64_t steps[] = {0, 7, 10, 99, 1000000007, INT64_MAX, -1, INT64_MIN};
    for (int row = 0; row < ROWS; row++) {
        double values[COLUMNS];
        for (int j = 0; j < COLUMNS; j++) values[j] = printf_case(&state, row * COLUMNS + j);
        ck_assert_int_eq(ag_run_log(run, row < 8 ? steps[row] : row, values), AG_OK);
    }
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    tmp_path("printf_run/metrics.csv", path, sizeof path);
    size_t size;
    char *text = read_text(path, &size);
    char *line = strchr(text, '\n') + 1; /* after the header */
    state = 88172645463325252ULL;
    for (int row = 0; row < ROWS; row++) {
        char expected[512];
        int length = snprintf(expected, sizeof expected, "%lld", (long long)(row < 8 ? steps[row] : row));
        for (int j = 0; j < COLUMNS; j++)
            length += snprintf(expected + length, sizeof expected - (size_t)length, ",%.9g",
                               printf_case(&state, row * COLUMNS + j));
        char *end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end);
        *end = '\0';
        ck_assert_str_eq(line, expected);
        line = end + 1;
    }
    ck_assert_int_eq(line - text, (long)size);
    free(text);
}
END_TEST

START_TEST(test_metrics_flushed) {
    char dir[256], path[512];
    tmp_path("flush_run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "ag_run_create: %s", ag_error_message());
    const char *const columns[] = {"loss"};
    ck_assert_int_eq(ag_run_begin_metrics(run, columns, 1), AG_OK);
    enum { N = 20 };
    for (int i = 1; i <= N; i++) ck_assert_int_eq(ag_run_log(run, i, (double[]){1.0 / i}), AG_OK);
    struct timespec pause = {1, 150 * 1000 * 1000};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
    ck_assert_int_eq(ag_run_log(run, N + 1, (double[]){0.5}), AG_OK);

    /* Read while the run is still open, as after a kill. */
    csv_table t = read_csv(tmp_path("flush_run/metrics.csv", path, sizeof path));
    int rows = t.n_rows;
    ck_assert_msg(rows == N + 2, "metrics.csv holds %d data rows while the run is open, expected %d: not flushed",
                  rows - 1, N + 1);
    assert_row(&t, 0, 2, (const char *[]){"step", "loss"});
    assert_row(&t, 1, 2, (const char *[]){"1", "1"});
    assert_row(&t, N + 1, 2, (const char *[]){"21", "0.5"});
    csv_table_free(&t);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
}
END_TEST

/* ------------------------------------------------------------ refusals */

START_TEST(test_refuses_existing_run) {
    char dir[256], path[512];
    tmp_path("old_run", dir, sizeof dir);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    tmp_path("old_run/metrics.csv", path, sizeof path);
    write_text(path, "step,loss\n1,2\n");
    ag_error_clear();
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run == NULL, "ag_run_create accepted a directory that already holds a run");
    ck_assert_int_eq(ag_error_code(), AG_ERROR_IO);
    const char *message = ag_error_message();
    ck_assert_msg(strstr(message, dir) != NULL, "message does not name the directory: '%s'", message);
    ck_assert_msg(strchr(message, '\n') == NULL, "message is not one line: '%s'", message);
    char *text = read_text(path, NULL);
    ck_assert_str_eq(text, "step,loss\n1,2\n");
    free(text);

    /* An existing directory without metrics.csv is fine. */
    char empty[256];
    tmp_path("empty_dir", empty, sizeof empty);
    ck_assert_int_eq(mkdir(empty, 0777), 0);
    run = ag_run_create("test", empty);
    ck_assert_msg(run != NULL, "ag_run_create refused an empty directory: %s", ag_error_message());
    ck_assert_int_eq(ag_run_close(run), AG_OK);

    /* A path that is a file, not a directory. */
    char file[256];
    tmp_path("a_file", file, sizeof file);
    write_text(file, "x");
    ag_error_clear();
    run = ag_run_create("test", file);
    ck_assert_msg(run == NULL, "ag_run_create accepted a regular file as its directory");
    ck_assert_int_eq(ag_error_code(), AG_ERROR_IO);
    ck_assert_msg(strstr(ag_error_message(), file) != NULL, "message does not name the path: '%s'",
                  ag_error_message());
}
END_TEST

START_TEST(test_metrics_errors) {
    char dir[256];
    tmp_path("errors_run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "ag_run_create: %s", ag_error_message());

    ag_error_clear();
    ck_assert_int_eq(ag_run_log(run, 1, (double[]){1.0}), AG_ERROR_STATE);
    ck_assert_int_eq(ag_error_code(), AG_ERROR_STATE);
    ck_assert_msg(strstr(ag_error_message(), "ag_run_log") != NULL, "message: '%s'", ag_error_message());

    const char *const bad[] = {"a,b"};
    ag_error_clear();
    ck_assert_int_eq(ag_run_begin_metrics(run, bad, 1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "a,b") != NULL, "message does not name the column: '%s'",
                  ag_error_message());
    const char *const bad2[] = {"loss", "acc uracy"};
    ck_assert_int_eq(ag_run_begin_metrics(run, bad2, 2), AG_ERROR_ARGUMENT);
    const char *const bad3[] = {""};
    ck_assert_int_eq(ag_run_begin_metrics(run, bad3, 1), AG_ERROR_ARGUMENT);
    /* Still no metrics after the refusals. */
    ck_assert_int_eq(ag_run_log(run, 1, (double[]){1.0}), AG_ERROR_STATE);

    const char *const good[] = {"loss_2", "Acc"};
    ck_assert_int_eq(ag_run_begin_metrics(run, good, 2), AG_OK);
    ck_assert_int_eq(ag_run_log(run, 1, (double[]){1.0, 2.0}), AG_OK);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
}
END_TEST

/* ------------------------------------------------------------ checkpoint */

START_TEST(test_save_model) {
    char dir[256], path[512];
    tmp_path("model_run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "ag_run_create: %s", ag_error_message());
    ck_assert_int_eq(ag_run_set_param(run, "seed", "%d", 7), AG_OK);
    ck_assert_int_eq(ag_run_set_param(run, "note", "%s", "a \"quoted\", odd\nvalue"), AG_OK);

    ag_params *saved = ag_params_create(), *loaded = ag_params_create();
    ck_assert_ptr_nonnull(saved);
    ck_assert_ptr_nonnull(loaded);
    ck_assert_ptr_nonnull(ag_params_add(saved, "rnn.weight_ih", 2, (int[]){3, 2}));
    ck_assert_ptr_nonnull(ag_params_add(saved, "rnn.bias", 1, (int[]){3}));
    ck_assert_ptr_nonnull(ag_params_add(loaded, "rnn.weight_ih", 2, (int[]){3, 2}));
    ck_assert_ptr_nonnull(ag_params_add(loaded, "rnn.bias", 1, (int[]){3}));
    ag_rng rng;
    ag_rng_seed(&rng, 11, 0);
    ag_real *data = ag_params_data(saved);
    for (int64_t i = 0; i < ag_params_size(saved); i++) data[i] = (ag_real)ag_rng_normal(&rng);
    data[0] = (ag_real)1e-30; /* tiny and exact values too */
    data[1] = 1;

    ck_assert_msg(ag_run_save_model(run, saved) == AG_OK, "ag_run_save_model: %s", ag_error_message());
    assert_no_temporaries(dir);
    tmp_path("model_run/model.safetensors", path, sizeof path);
    ck_assert(exists(path));
    ck_assert_msg(ag_params_load(loaded, path) == AG_OK, "ag_params_load: %s", ag_error_message());
    ck_assert_int_eq(ag_params_size(loaded), ag_params_size(saved));
    ck_assert_msg(memcmp(ag_params_data(loaded), ag_params_data(saved),
                         (size_t)ag_params_size(saved) * sizeof(ag_real)) == 0,
                  "loaded values differ from the saved ones");

    /* The settings travel as metadata (JSON-escaped, so the file loads). */
    char *text = read_text(path, NULL);
    ck_assert_msg(strstr(text + 8, "\"seed\"") != NULL, "no 'seed' in the checkpoint's metadata");
    free(text);

    ag_params_free(saved);
    ag_params_free(loaded);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
}
END_TEST

/* ------------------------------------------------------------ default directory */

/* Splits "runs/<demo>-YYYYmmdd-HHMMSS[-K]" into the stamp and K (1 without
 * a suffix); false if the name has another form. */
static bool parse_run_name(const char *name, const char *demo, char *stamp, int *suffix) {
    char prefix[128];
    snprintf(prefix, sizeof prefix, "runs/%s-", demo);
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0) return false;
    const char *s = name + n;
    for (int i = 0; i < 15; i++)
        if (i == 8 ? s[i] != '-' : (s[i] < '0' || s[i] > '9')) return false;
    memcpy(stamp, s, 15);
    stamp[15] = '\0';
    if (s[15] == '\0') {
        *suffix = 1;
        return true;
    }
    if (s[15] != '-' || s[16] < '2' || s[16] > '9') return false;
    char *end;
    long k = strtol(s + 16, &end, 10);
    if (*end != '\0') return false;
    *suffix = (int)k;
    return true;
}

static void local_stamp(char *buf, size_t size) {
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    strftime(buf, size, "%Y%m%d-%H%M%S", &local);
}

START_TEST(test_default_directory) {
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    /* Everything is recorded first and checked after going back, so that a
     * failure never leaves the process in the temporary directory. */
    char first[1100] = "", second[1100] = "", before[32], after[32], message[512] = "";
    bool created = false, same_second = false;
    int chdir_status = chdir(run_tmpdir);
    for (int attempt = 0; chdir_status == 0 && attempt < 3 && !same_second; attempt++) {
        local_stamp(before, sizeof before);
        ag_run *a = ag_run_create("demo", NULL);
        ag_run *b = a ? ag_run_create("demo", NULL) : NULL;
        local_stamp(after, sizeof after);
        created = a && b;
        if (!created) snprintf(message, sizeof message, "%s", ag_error_message());
        if (a) snprintf(first, sizeof first, "%s", ag_run_dir(a));
        if (b) snprintf(second, sizeof second, "%s", ag_run_dir(b));
        ag_run_close(a);
        ag_run_close(b);
        if (!created) break;
        same_second = strcmp(before, after) == 0; /* else the second run may fairly get a new stamp */
    }
    int back = chdir(cwd);
    ck_assert_int_eq(chdir_status, 0);
    ck_assert_int_eq(back, 0);
    ck_assert_msg(created, "ag_run_create(\"demo\", NULL) failed: %s", message);
    ck_assert_msg(same_second, "three attempts straddled a second; cannot check the -2 suffix");

    char stamp_a[16], stamp_b[16];
    int suffix_a, suffix_b;
    ck_assert_msg(parse_run_name(first, "demo", stamp_a, &suffix_a), "'%s' is not runs/demo-YYYYmmdd-HHMMSS", first);
    ck_assert_msg(parse_run_name(second, "demo", stamp_b, &suffix_b), "'%s' is not runs/demo-YYYYmmdd-HHMMSS[-K]",
                  second);
    ck_assert_msg(strcmp(stamp_a, before) == 0, "'%s' is not stamped with the local time %s", first, before);
    ck_assert_str_eq(stamp_a, stamp_b);
    ck_assert_str_ne(first, second);
    ck_assert_msg(suffix_b == suffix_a + 1, "second run in the same second is '%s' after '%s'", second, first);
    if (suffix_a == 1) {
        char expected[1200];
        snprintf(expected, sizeof expected, "%s-2", first);
        ck_assert_str_eq(second, expected);
    }

    char path[2048];
    snprintf(path, sizeof path, "%s/%s", run_tmpdir, first);
    ck_assert_msg(is_dir(path), "%s does not exist", path);
    snprintf(path, sizeof path, "%s/%s", run_tmpdir, second);
    ck_assert_msg(is_dir(path), "%s does not exist", path);
}
END_TEST

/* DIR/status.json: nothing before the metrics begin, "running" then, how
 * the run ended after ag_run_end (with its results, the build and the
 * BLAS kernel), "finished" from ag_run_close when the program says
 * nothing, the first start kept across a resume; a damaged file is an
 * error, a missing one is not. Read after ag_run_close or in a directory
 * this process does not hold: reading closes a descriptor of DIR/.lock,
 * which would drop this process's own lock. */
START_TEST(test_status_file) {
    char dir[256], path[512];
    tmp_path("status_run", dir, sizeof dir);
    tmp_path("status_run/status.json", path, sizeof path);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "%s", ag_error_message());
    ck_assert_msg(!exists(path), "status.json before the metrics begin");
    ck_assert_int_eq(ag_run_end(run, AG_RUN_FAILED, "too early"), AG_OK);
    ck_assert_msg(!exists(path), "ag_run_end before the metrics begin wrote status.json");
    const char *columns[] = {"loss"};
    ck_assert_int_eq(ag_run_begin_metrics(run, columns, 1), AG_OK);
    ag_run_info info;
    ck_assert_int_eq(ag_run_read_status(dir, &info), AG_OK);
    ck_assert(info.found);
    ck_assert_int_eq(info.state, AG_RUN_RUNNING);
    ck_assert(!isfinite(info.ended));
    double started = info.started;
    ck_assert(isfinite(started));
    ag_run_info_free(&info);
    ck_assert_int_eq(ag_run_log(run, 1, (double[]){0.5}), AG_OK);
    ck_assert_int_eq(ag_run_log(run, 2, (double[]){0.25}), AG_OK);
    ck_assert_int_eq(ag_run_set_result(run, "loss", "%g", 0.25), AG_OK);
    ck_assert_int_eq(ag_run_set_result(run, "loss", "%g", 0.125), AG_OK); /* replaces */
    ag_run_set_converged(run, true);
    ck_assert_int_eq(ag_run_end(run, AG_RUN_FINISHED, NULL), AG_OK);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    ck_assert_int_eq(ag_run_read_status(dir, &info), AG_OK);
    ck_assert_int_eq(info.state, AG_RUN_FINISHED);
    ck_assert(!info.live);
    ck_assert_int_eq(info.converged, 1);
    ck_assert_int_eq(info.step, 2);
    ck_assert(isfinite(info.ended) && info.ended >= info.started);
    ck_assert_int_eq(info.n_results, 1);
    ck_assert_str_eq(info.result_names[0], "loss");
    ck_assert_str_eq(info.result_values[0], "0.125");
    ck_assert_msg(info.blas[0] != '\0', "no BLAS kernel recorded");
    ag_run_info_free(&info);
    assert_no_temporaries(dir);

    /* Resumed: running again, resumed once, its first start kept; closed
     * without ag_run_end: finished. */
    run = ag_run_resume(dir);
    ck_assert_msg(run != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_run_resume_metrics(run, columns, 1, 2), AG_OK);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    ck_assert_int_eq(ag_run_read_status(dir, &info), AG_OK);
    ck_assert_int_eq(info.state, AG_RUN_FINISHED);
    ck_assert_int_eq(info.resumes, 1);
    ck_assert_int_eq(info.converged, -1);
    ck_assert(fabs(info.started - started) < 1e-3);
    ag_run_info_free(&info);

    write_text(path, "{\"status\": ");
    ck_assert_int_eq(ag_run_read_status(dir, &info), AG_ERROR_FORMAT);
    ck_assert_msg(strstr(ag_error_message(), "status.json") != NULL, "'%s'", ag_error_message());
    ag_run_info_free(&info);
    write_text(path, "{\"status\": \"done\"}");
    ck_assert_int_eq(ag_run_read_status(dir, &info), AG_ERROR_FORMAT);
    ag_run_info_free(&info);
    unlink(path);
    ck_assert_int_eq(ag_run_read_status(dir, &info), AG_OK);
    ck_assert(!info.found);
    ag_run_info_free(&info);
    ck_assert_str_eq(ag_run_state_name(AG_RUN_NON_FINITE), "non_finite");
}
END_TEST

AG_TEST_SUITE(run_suite)
static Suite *run_suite(void) {
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_add_unchecked_fixture(tc, run_setup, run_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_params_csv);
    tcase_add_test(tc, test_metrics_csv);
    tcase_add_test(tc, test_metrics_text_is_printf);
    tcase_add_test(tc, test_metrics_flushed);
    tcase_add_test(tc, test_refuses_existing_run);
    tcase_add_test(tc, test_metrics_errors);
    tcase_add_test(tc, test_save_model);
    tcase_add_test(tc, test_default_directory);
    tcase_add_test(tc, test_status_file);
    suite_add_tcase(s, tc);
    return s;
}
