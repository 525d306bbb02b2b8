/* libFuzzer harness for ag_run_resume_metrics (framework/src/run/run_metrics.c), the
 * libcsv-based reader that cuts a run's metrics.csv back to its
 * checkpoint's step before a resumed run appends to it.
 *
 * The first byte of an input picks the checkpoint's step (0 to 15); the
 * rest is metrics.csv, for the columns loss and acc. Checks beyond "no
 * crash, no leak, no sanitizer report":
 *  - a failure returns an error status with a one-line message and leaves
 *    metrics.csv as it was;
 *  - a success leaves the header and rows of three fields with steps
 *    rising to exactly the checkpoint's step (none if it is 0), and the
 *    run can append a row and close. */
#include <csv.h>
#include <errno.h>
#include <math.h>

#include "ag_run.h"
#include "fuzz.h"

static char run_dir[256], metrics_path[300];

static void remove_run_dir(void) {
    unlink(metrics_path);
    rmdir(run_dir);
}

static void make_run_dir(void) {
    if (run_dir[0]) return;
    const char *dir = getenv("FUZZ_TMPDIR");
    struct stat info;
    if (!dir || !*dir) dir = stat("/dev/shm", &info) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/ag_fuzz_metrics_%ld", dir, (long)getpid());
    if (mkdir(run_dir, 0700) != 0 && errno != EEXIST) FUZZ_FAIL("cannot create %s", run_dir);
    snprintf(metrics_path, sizeof metrics_path, "%s/metrics.csv", run_dir);
    atexit(remove_run_dir);
}

static void write_file(const uint8_t *data, size_t size) {
    FILE *f = fopen(metrics_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) FUZZ_FAIL("cannot write %s", metrics_path);
}

static uint8_t *read_file(size_t *size) {
    FILE *f = fopen(metrics_path, "rb");
    if (!f) FUZZ_FAIL("cannot open %s after the call", metrics_path);
    size_t capacity = 4096, used = 0;
    uint8_t *buf = malloc(capacity);
    size_t n;
    while (buf && (n = fread(buf + used, 1, capacity - used, f)) > 0) {
        used += n;
        if (used == capacity) buf = realloc(buf, capacity *= 2);
    }
    fclose(f);
    if (!buf) FUZZ_FAIL("out of memory");
    *size = used;
    return buf;
}

/* The rows a successful call kept, checked with libcsv on their own. */
typedef struct kept {
    int fields, row;
    long long last_step;
    const char *bad;
} kept;

static void on_field(void *field, size_t length, void *context) {
    kept *k = context;
    if (k->row > 0 && k->fields == 0) {
        char *text = calloc(1, length + 1), *end;
        if (!text) FUZZ_FAIL("out of memory");
        memcpy(text, field, length);
        long long step = strtoll(text, &end, 10);
        if (length == 0 || *end || step <= k->last_step) k->bad = "steps do not rise";
        k->last_step = step;
        free(text);
    }
    k->fields++;
}

static void on_row(int terminator, void *context) {
    kept *k = context;
    if (k->fields != 3) k->bad = "a row has other than 3 fields";
    k->fields = 0;
    k->row++;
    (void)terminator;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    make_run_dir();
    int64_t step = data[0] % 16;
    write_file(data + 1, size - 1);
    const char *const columns[] = {"loss", "acc"};
    ag_run *run = ag_run_resume(run_dir);
    if (!run) FUZZ_FAIL("ag_run_resume: %s", ag_error_message());
    ag_error_clear();
    ag_status status = ag_run_resume_metrics(run, columns, 2, step);
    if (status != AG_OK) {
        fuzz_check_error("ag_run_resume_metrics", status);
        size_t after_size;
        uint8_t *after = read_file(&after_size);
        if (after_size != size - 1 || memcmp(after, data + 1, after_size) != 0)
            FUZZ_FAIL("ag_run_resume_metrics failed but changed metrics.csv");
        free(after);
        ag_run_close(run);
        return 0;
    }
    if (ag_run_log(run, step + 1, (double[]){0.5, NAN}) != AG_OK || ag_run_close(run) != AG_OK)
        FUZZ_FAIL("appending after a resume: %s", ag_error_message());
    size_t after_size;
    uint8_t *after = read_file(&after_size);
    const char header[] = "step,loss,acc\n";
    if (after_size < sizeof header - 1 || memcmp(after, header, sizeof header - 1) != 0)
        FUZZ_FAIL("the resumed metrics.csv does not start with its header");
    struct csv_parser parser;
    kept k = {.last_step = -1};
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) FUZZ_FAIL("csv_init");
    if (csv_parse(&parser, after, after_size, on_field, on_row, &k) != after_size ||
        csv_fini(&parser, on_field, on_row, &k) != 0)
        FUZZ_FAIL("the resumed metrics.csv is not valid CSV");
    csv_free(&parser);
    if (k.bad) FUZZ_FAIL("the resumed metrics.csv: %s", k.bad);
    /* The appended row is the last; the one before it is the checkpoint's. */
    if (k.last_step != step + 1) FUZZ_FAIL("the appended row is not last");
    free(after);
    return 0;
}
