/* libFuzzer harness for the resume path of a run directory: what a program
 * does with DIR/params.csv, DIR/metrics.csv and DIR/checkpoint.safetensors
 * together before it goes on with a run (demos/harness.c's order):
 * ag_checkpoint_load, ag_run_resume (which reads the run id back from
 * params.csv), ag_run_check_identity, ag_run_check_params, the checkpoint's
 * train.step, ag_run_resume_metrics; then, on success, params.csv is
 * rewritten and a row appended.
 *
 * An input is params.csv, metrics.csv and the checkpoint: its first two
 * bytes give params.csv's length, the next two metrics.csv's (little
 * endian, cut to what is there), the rest is the checkpoint. Checks beyond
 * "no crash, no leak, no sanitizer report":
 *  - every failure returns an error status with one printable line and
 *    leaves the three files as they were;
 *  - a success keeps the run id of the checkpoint (if it has one), writes
 *    it back as params.csv's first row, and the run appends and closes. */
#include <errno.h>
#include <math.h>

#include "ag_run.h"
#include "fuzz.h"

static char run_dir[256];
static const char *const names[3] = {"params.csv", "metrics.csv", "checkpoint.safetensors"};

static const char *file_path(int i) {
    static char paths[3][300];
    snprintf(paths[i], sizeof paths[i], "%s/%s", run_dir, names[i]);
    return paths[i];
}

static void remove_run_dir(void) {
    for (int i = 0; i < 3; i++) unlink(file_path(i));
    char lock[300];
    snprintf(lock, sizeof lock, "%s/.lock", run_dir);
    unlink(lock);
    rmdir(run_dir);
}

static void make_run_dir(void) {
    if (run_dir[0]) return;
    const char *dir = getenv("FUZZ_TMPDIR");
    struct stat info;
    if (!dir || !*dir) dir = stat("/dev/shm", &info) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/ag_fuzz_resume_%ld", dir, (long)getpid());
    if (mkdir(run_dir, 0700) != 0 && errno != EEXIST) FUZZ_FAIL("cannot create %s", run_dir);
    atexit(remove_run_dir);
}

static void write_part(int i, const uint8_t *data, size_t size) {
    FILE *f = fopen(file_path(i), "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) FUZZ_FAIL("cannot write %s", names[i]);
}

static bool part_unchanged(int i, const uint8_t *data, size_t size) {
    FILE *f = fopen(file_path(i), "rb");
    if (!f) return false;
    bool same = true;
    size_t at = 0;
    int c;
    while ((c = fgetc(f)) != EOF && same) same = at < size && data[at++] == (uint8_t)c;
    fclose(f);
    return same && at == size;
}

static void check_unchanged(const char *what, const uint8_t *const *parts, const size_t *sizes) {
    for (int i = 0; i < 3; i++)
        if (!part_unchanged(i, parts[i], sizes[i])) FUZZ_FAIL("%s failed but changed %s", what, names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    make_run_dir();
    size_t params_size = (size_t)data[0] | (size_t)data[1] << 8, metrics_size = (size_t)data[2] | (size_t)data[3] << 8;
    const uint8_t *rest = data + 4;
    size_t left = size - 4;
    if (params_size > left) params_size = left;
    left -= params_size;
    if (metrics_size > left) metrics_size = left;
    left -= metrics_size;
    const uint8_t *parts[3] = {rest, rest + params_size, rest + params_size + metrics_size};
    size_t sizes[3] = {params_size, metrics_size, left};
    for (int i = 0; i < 3; i++) write_part(i, parts[i], sizes[i]);

    ag_error_clear();
    ag_checkpoint *cp = ag_checkpoint_load(file_path(2));
    if (!cp) {
        fuzz_check_error("ag_checkpoint_load", ag_error_code());
        check_unchanged("ag_checkpoint_load", parts, sizes);
        return 0;
    }
    ag_run *run = ag_run_resume(run_dir);
    if (!run) {
        fuzz_check_error("ag_run_resume", ag_error_code());
        check_unchanged("ag_run_resume", parts, sizes);
        ag_checkpoint_free(cp);
        return 0;
    }
    /* Two settings of an l1norm run, the seeds' (fuzz/corpus/resume). */
    ag_run_set_param(run, "demo", "l1norm");
    ag_run_set_param(run, "lr", "0.001");
    ag_run_set_option(run, "threads", "1");
    const char *const columns[] = {"loss", "w_ih", "w_hh"};
    int64_t step = 0;
    const char *stage = "ag_run_check_identity";
    ag_status status = ag_run_check_identity(run, cp);
    if (status == AG_OK) stage = "ag_run_check_params", status = ag_run_check_params(run, cp);
    if (status == AG_OK) stage = "ag_checkpoint_get_int", status = ag_checkpoint_get_int(cp, "train.step", &step);
    if (status == AG_OK && (step < 0 || step > 1000000))
        stage = "the step's range", status = ag_error_set(AG_ERROR_FORMAT, "train.step %lld is out of range",
                                                          (long long)step);
    if (status == AG_OK) stage = "ag_run_resume_metrics", status = ag_run_resume_metrics(run, columns, 3, step);
    if (status != AG_OK) {
        fuzz_check_error(stage, status);
        check_unchanged(stage, parts, sizes);
        ag_run_close(run);
        ag_checkpoint_free(cp);
        return 0;
    }
    const char *saved_id = ag_checkpoint_metadata(cp, "ag.run_id");
    if (saved_id && (!ag_run_id(run) || strcmp(saved_id, ag_run_id(run)) != 0))
        FUZZ_FAIL("the resumed run's id is not the checkpoint's");
    if (ag_run_write_params(run) != AG_OK || ag_run_log(run, step + 1, (double[]){0.5, NAN, 1}) != AG_OK ||
        ag_run_close(run) != AG_OK)
        FUZZ_FAIL("going on after a resume: %s", ag_error_message());
    if (saved_id) { /* written back as params.csv's run_id row */
        char want[64], text[4096] = "";
        snprintf(want, sizeof want, "\"run_id\",\"%s\"", saved_id);
        FILE *f = fopen(file_path(0), "rb");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f) fclose(f);
        text[n] = '\0';
        if (!strstr(text, want)) FUZZ_FAIL("params.csv lost the run id %s", saved_id);
    }
    ag_checkpoint_free(cp);
    return 0;
}
