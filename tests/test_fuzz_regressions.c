/* Regression inputs for the file loaders: every file in
 * tests/fixtures/fuzz/checkpoint/ goes through ag_params_load and through
 * ag_checkpoint_load + ag_checkpoint_read_params, every file in
 * tests/fixtures/fuzz/csv/ through digitsum_load_csv, every file in
 * tests/fixtures/fuzz/metrics/ (first byte: the checkpoint's step; the
 * rest: a run's metrics.csv) through ag_run_resume_metrics. They are malformed
 * files written by fuzz/make_seeds.c (`make fuzz-seeds`) and inputs that
 * `make fuzz` found (crash-*: copied from build-fuzz/artifacts/), and each
 * must be refused: an error status, a message on one printable line, and
 * nothing changed (the parameters keep their values; the data set stays
 * empty). A training checkpoint may load where the file is well-formed
 * but does not fit the model; reading the parameters from it must then be
 * refused as ag_params_load refuses the file. A file named valid-* must
 * load instead.
 *
 * The paths are relative to the repository root, where `make check` runs
 * the tests. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "ag_run.h"
#include "digitsum.h"
#include "test_util.h"

#define CHECKPOINT_DIR "tests/fixtures/fuzz/checkpoint"
#define CSV_DIR "tests/fixtures/fuzz/csv"
#define METRICS_DIR "tests/fixtures/fuzz/metrics"

static int not_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

/* The sorted names in `dir`; at least `min_count` of them, so that a
 * missing directory (or a run from elsewhere) fails instead of testing
 * nothing. */
static int list_fixtures(const char *dir, struct dirent ***names, int min_count) {
    int n = scandir(dir, names, not_hidden, alphasort);
    ck_assert_msg(n >= min_count, "%s: %d files, expected at least %d (run from the repository root)", dir, n,
                  min_count);
    return n;
}

static void free_names(struct dirent **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static bool is_valid_name(const char *name) { return strncmp(name, "valid-", 6) == 0; }

/* The refusal of `path`: status and message. */
static void check_refused(const char *path, ag_status status) {
    ck_assert_msg(status != AG_OK, "%s: loaded, but it is malformed", path);
    ck_assert_msg(ag_error_code() == status, "%s: returned %d, ag_error_code() is %d", path, status,
                  ag_error_code());
    const char *message = ag_error_message();
    ck_assert_msg(message && *message, "%s: status %d with an empty message", path, status);
    for (const unsigned char *p = (const unsigned char *)message; *p; p++)
        ck_assert_msg(*p >= 0x20 && *p != 0x7f, "%s: message has the control byte 0x%02x: %s", path, *p, message);
}

/* The model the fuzzer loads into (fuzz/fuzz.h): LSTMCell(10, 16) and
 * Linear(16, 10). */
static ag_params *fuzz_model(void) {
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    ag_rng rng;
    ag_rng_seed(&rng, 42, 0);
    ag_lstm_cell lstm;
    ag_linear linear;
    ck_assert_int_eq(ag_lstm_cell_init(&lstm, params, "lstm", 10, 16, true, &rng), AG_OK);
    ck_assert_int_eq(ag_linear_init(&linear, params, "linear", 16, 10, true, &rng), AG_OK);
    return params;
}

START_TEST(test_checkpoint_regressions_are_refused) {
    struct dirent **names;
    int n = list_fixtures(CHECKPOINT_DIR, &names, 10);
    ag_params *params = fuzz_model();
    ag_real *values = ag_params_data(params);
    int64_t size = ag_params_size(params);
    for (int f = 0; f < n; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CHECKPOINT_DIR, names[f]->d_name);
        for (int64_t i = 0; i < size; i++) values[i] = (ag_real)(1000 + i);
        ag_error_clear();
        ag_status status = ag_params_load(params, path);
        if (is_valid_name(names[f]->d_name)) {
            ck_assert_msg(status == AG_OK, "%s: %s", path, ag_error_message());
            continue;
        }
        check_refused(path, status);
        ck_assert_msg(status == AG_ERROR_FORMAT || status == AG_ERROR_SHAPE, "%s: status %d: %s", path, status,
                      ag_error_message());
        for (int64_t i = 0; i < size; i++)
            ck_assert_msg(values[i] == (ag_real)(1000 + i), "%s: refused (%s) but value %lld changed", path,
                          ag_error_message(), (long long)i);

        /* The training checkpoint reader on the same file. */
        ag_error_clear();
        ag_checkpoint *cp = ag_checkpoint_load(path);
        if (!cp) {
            check_refused(path, ag_error_code());
            ck_assert_msg(ag_error_code() == AG_ERROR_FORMAT, "%s: ag_checkpoint_load: status %d: %s", path,
                          ag_error_code(), ag_error_message());
            continue;
        }
        ag_status read = ag_checkpoint_read_params(cp, params);
        ag_checkpoint_free(cp);
        ck_assert_msg(read == status, "%s: ag_checkpoint_read_params: status %d, ag_params_load: %d", path, read,
                      status);
        check_refused(path, read);
        for (int64_t i = 0; i < size; i++)
            ck_assert_msg(values[i] == (ag_real)(1000 + i), "%s: read_params refused (%s) but value %lld changed",
                          path, ag_error_message(), (long long)i);
    }
    ag_params_free(params);
    free_names(names, n);
}
END_TEST

START_TEST(test_csv_regressions_are_refused) {
    struct dirent **names;
    int n = list_fixtures(CSV_DIR, &names, 10);
    for (int f = 0; f < n; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CSV_DIR, names[f]->d_name);
        digitsum_dataset data;
        memset(&data, 0x5a, sizeof data);
        ag_error_clear();
        ag_status status = digitsum_load_csv(path, &data);
        if (is_valid_name(names[f]->d_name)) {
            ck_assert_msg(status == AG_OK, "%s: %s", path, ag_error_message());
            digitsum_dataset_free(&data);
            continue;
        }
        check_refused(path, status);
        ck_assert_msg(status == AG_ERROR_FORMAT, "%s: status %d: %s", path, status, ag_error_message());
        ck_assert_msg(data.examples == NULL && data.count == 0, "%s: refused but returned %lld examples", path,
                      (long long)data.count);
    }
    free_names(names, n);
}
END_TEST

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    unsigned char *buf = malloc(1 << 16);
    *size = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

START_TEST(test_metrics_regressions_are_refused) {
    struct dirent **names;
    int n = list_fixtures(METRICS_DIR, &names, 5);
    char dir[] = "/tmp/ag_metrics_XXXXXX", metrics[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", dir);
    const char *const columns[] = {"loss", "acc"};
    for (int f = 0; f < n; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", METRICS_DIR, names[f]->d_name);
        size_t size, after_size;
        unsigned char *input = read_all(path, &size);
        ck_assert_msg(size >= 1, "%s is empty: its first byte is the step", path);
        FILE *out = fopen(metrics, "wb");
        ck_assert_uint_eq(fwrite(input + 1, 1, size - 1, out), size - 1);
        fclose(out);
        ag_run *run = ag_run_resume(dir);
        ck_assert_ptr_nonnull(run);
        ag_error_clear();
        ag_status status = ag_run_resume_metrics(run, columns, 2, input[0] % 16);
        check_refused(path, status);
        ck_assert_msg(status == AG_ERROR_FORMAT, "%s: status %d: %s", path, status, ag_error_message());
        ag_run_close(run);
        unsigned char *after = read_all(metrics, &after_size);
        ck_assert_msg(after_size == size - 1 && memcmp(after, input + 1, after_size) == 0,
                      "%s: refused, but metrics.csv was changed", path);
        free(after);
        free(input);
    }
    unlink(metrics);
    rmdir(dir);
    free_names(names, n);
}
END_TEST

AG_TEST_SUITE(fuzz_regressions_suite)
static Suite *fuzz_regressions_suite(void) {
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("fuzz_regressions");
    tcase_add_test(tc, test_checkpoint_regressions_are_refused);
    tcase_add_test(tc, test_csv_regressions_are_refused);
    tcase_add_test(tc, test_metrics_regressions_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
