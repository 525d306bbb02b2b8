/* Shared by the libFuzzer harnesses (fuzz/fuzz_NAME.c, built and run by
 * `make fuzz`): the loaders take a path, so each input is written to a file
 * of this process's own first; plus the checks that every loader promises.
 *
 * A new target is fuzz/fuzz_NAME.c defining LLVMFuzzerTestOneInput (with
 * these helpers it is a few lines), seeds in fuzz/corpus/NAME/, and NAME
 * added to FUZZ_TARGETS in the Makefile. */
#ifndef AG_FUZZ_H
#define AG_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"

/* Stops the run with a message; libFuzzer saves the input as a crash. */
#define FUZZ_FAIL(...)                                                      \
    do {                                                                    \
        fprintf(stderr, "fuzz: %s:%d: ", __FILE__, __LINE__);               \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        abort();                                                            \
    } while (0)

static char fuzz_path_buf[512];
static int fuzz_fd = -1;

static void fuzz_remove_input(void) {
    if (fuzz_fd >= 0) close(fuzz_fd);
    unlink(fuzz_path_buf);
}

/* The input's bytes, as the file this returns (the same path every call):
 * $FUZZ_TMPDIR, else /dev/shm (memory), else $TMPDIR, else /tmp, named
 * with the target and the pid so that parallel runs do not share it. */
static inline const char *fuzz_input_file(const char *target, const uint8_t *data, size_t size) {
    if (fuzz_fd < 0) {
        const char *dir = getenv("FUZZ_TMPDIR");
        struct stat info;
        if (!dir || !*dir) dir = stat("/dev/shm", &info) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
        if (!dir) dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
        snprintf(fuzz_path_buf, sizeof fuzz_path_buf, "%s/ag_fuzz_%s_%ld", dir, target, (long)getpid());
        fuzz_fd = open(fuzz_path_buf, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fuzz_fd < 0) FUZZ_FAIL("cannot create %s", fuzz_path_buf);
        atexit(fuzz_remove_input);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fuzz_fd, data + done, size - done, (off_t)done);
        if (n <= 0) FUZZ_FAIL("write %s", fuzz_path_buf);
        done += (size_t)n;
    }
    /* Cut what a longer input left behind (after the write: truncating to
     * 0 first would free and reallocate the file's pages every time). */
    if (ftruncate(fuzz_fd, (off_t)size) != 0) FUZZ_FAIL("ftruncate %s", fuzz_path_buf);
    return fuzz_path_buf;
}

/* A failed call leaves a status that is an error and a message on one
 * printable line (no control character: file bytes must not reach a
 * terminal raw). */
static inline void fuzz_check_error(const char *who, ag_status status) {
    if (status == AG_OK) FUZZ_FAIL("%s: expected an error status", who);
    if (ag_error_code() != status)
        FUZZ_FAIL("%s: returned %d but ag_error_code() is %d", who, (int)status, (int)ag_error_code());
    const char *message = ag_error_message();
    if (!message || !*message) FUZZ_FAIL("%s: status %d with an empty error message", who, (int)status);
    for (const unsigned char *p = (const unsigned char *)message; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            FUZZ_FAIL("%s: error message has control byte 0x%02x at %zu: %s", who, *p,
                      (size_t)(p - (const unsigned char *)message), message);
}

/* The parameters of the digit-sum LSTM with the sizes the brief's tests
 * use (LSTMCell(10, 16) "lstm.*", Linear(16, 10) "linear.*"), so that
 * well-formed inputs get past the name and shape checks. */
static inline ag_params *fuzz_model_params(void) {
    ag_params *params = ag_params_create();
    ag_rng rng;
    ag_rng_seed(&rng, 42, 0);
    ag_lstm_cell lstm;
    ag_linear linear;
    if (!params || ag_lstm_cell_init(&lstm, params, "lstm", 10, 16, true, &rng) != AG_OK ||
        ag_linear_init(&linear, params, "linear", 16, 10, true, &rng) != AG_OK)
        FUZZ_FAIL("building the parameters: %s", ag_error_message());
    return params;
}

/* A recognisable pattern in every value before a load, so that a failed
 * load that wrote anything is caught. Copied and compared with memcpy and
 * memcmp: a loop over the values here, instrumented for coverage, would
 * cost more than the load itself. */
static ag_real *fuzz_pattern;

static inline void fuzz_fill_params(ag_params *params) {
    size_t bytes = (size_t)ag_params_size(params) * sizeof(ag_real);
    if (!fuzz_pattern) {
        fuzz_pattern = malloc(bytes ? bytes : 1);
        if (!fuzz_pattern) FUZZ_FAIL("out of memory");
        for (int64_t i = 0; i < ag_params_size(params); i++) fuzz_pattern[i] = (ag_real)(1000 + i);
    }
    memcpy(ag_params_data(params), fuzz_pattern, bytes);
}

static inline void fuzz_check_params_unchanged(const char *who, ag_params *params) {
    size_t bytes = (size_t)ag_params_size(params) * sizeof(ag_real);
    if (memcmp(ag_params_data(params), fuzz_pattern, bytes) != 0)
        FUZZ_FAIL("%s failed (%s) but changed the parameters' values", who, ag_error_message());
}

#endif
