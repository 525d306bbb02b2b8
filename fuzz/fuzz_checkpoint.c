/* libFuzzer harness for the checkpoint readers of framework/src/checkpoint_read.c,
 * which treat their file as hostile: every input goes through
 *  - ag_params_load (a model's parameters from a safetensors file), and
 *  - ag_checkpoint_load (a training checkpoint) with what a resuming demo
 *    does with one: ag_checkpoint_read_params, ag_adam_load, get_int,
 *    get_rng, read_array, metadata.
 *
 * Checks beyond "no crash, no leak, no sanitizer report":
 *  - a failed call returns an error status with a one-line message and has
 *    changed nothing (the parameters, the optimizer's moments and step,
 *    the generator, the array keep their values: all-or-nothing);
 *  - a successful parameter load holds, bit for bit, the F32 values that the
 *    file's header points at for each parameter's name (found here with
 *    cJSON, independently of the loader);
 *  - both readers agree: the parameters load through ag_checkpoint_load +
 *    ag_checkpoint_read_params exactly when ag_params_load succeeds, with
 *    the same status;
 *  - a loaded checkpoint is verified exactly when it has a checksum entry.
 * The corpus holds ag's files with their checksums and without (which load
 * unverified), so that mutations also reach the readers past the checksum.
 *
 * Another reader of the same format is one more check_* function called
 * from LLVMFuzzerTestOneInput (see fuzz/fuzz.h for a target of its own). */
#include <cjson/cJSON.h>
#include <math.h>

#include "fuzz.h"

static ag_params *params;
static ag_real *loaded; /* the values after a successful ag_params_load */
static ag_adam adam; /* for params, with lr 1e-3 */

/* The value bits the file holds for `name`, from its header; NULL if the
 * header does not name it with two integer offsets inside the data. */
static const uint8_t *file_values(const uint8_t *data, size_t size, const cJSON *root, uint64_t header_len,
                                  const char *name, int64_t count) {
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(root, name);
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (cJSON_GetArraySize(offsets) != 2) return NULL;
    double begin = cJSON_GetArrayItem(offsets, 0)->valuedouble, end = cJSON_GetArrayItem(offsets, 1)->valuedouble;
    if (!(begin >= 0 && end - begin == 4.0 * (double)count && 8 + (double)header_len + end <= (double)size))
        return NULL;
    return data + 8 + header_len + (uint64_t)begin;
}

static bool little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void check_loaded_values(const uint8_t *data, size_t size) {
    if (size < 8) FUZZ_FAIL("loaded a file of %zu bytes", size);
    uint64_t header_len = 0;
    for (int i = 0; i < 8; i++) header_len |= (uint64_t)data[i] << (8 * i);
    if (header_len > size - 8) FUZZ_FAIL("loaded a file whose header length %llu is past its end",
                                         (unsigned long long)header_len);
    cJSON *root = cJSON_ParseWithLength((const char *)data + 8, (size_t)header_len);
    if (!root) FUZZ_FAIL("loaded a file whose header cJSON cannot parse");
    for (int p = 0; p < ag_params_count(params); p++) {
        const ag_tensor *t = ag_params_get(params, p);
        const char *name = ag_params_name(params, p);
        const uint8_t *src = file_values(data, size, root, header_len, name, t->size);
        if (!src) FUZZ_FAIL("loaded, but the header has no usable entry for '%s'", name);
        /* The common case at memcmp's speed: the loop below, instrumented
         * for coverage, costs more than the load. */
        if (sizeof(ag_real) == 4 && little_endian() && memcmp(t->data, src, 4 * (size_t)t->size) == 0) continue;
        for (int64_t k = 0; k < t->size; k++) {
            uint32_t want = (uint32_t)src[4 * k] | (uint32_t)src[4 * k + 1] << 8 | (uint32_t)src[4 * k + 2] << 16 |
                            (uint32_t)src[4 * k + 3] << 24;
            float got_f = (float)t->data[k];
            uint32_t got;
            memcpy(&got, &got_f, sizeof got);
            if (got != want)
                FUZZ_FAIL("'%s'[%lld] is 0x%08x after the load, the file holds 0x%08x", name, (long long)k, got,
                          want);
        }
    }
    cJSON_Delete(root);
}

/* Returns the status, for the comparison with the other reader. */
static ag_status check_params_load(const uint8_t *data, size_t size, const char *path) {
    fuzz_fill_params(params);
    ag_error_clear();
    ag_status status = ag_params_load(params, path);
    if (status == AG_OK) {
        check_loaded_values(data, size);
        memcpy(loaded, ag_params_data(params), (size_t)ag_params_size(params) * sizeof *loaded);
        return status;
    }
    fuzz_check_error("ag_params_load", status);
    if (status != AG_ERROR_FORMAT && status != AG_ERROR_SHAPE)
        FUZZ_FAIL("ag_params_load: status %d on a readable file: %s", (int)status, ag_error_message());
    fuzz_check_params_unchanged("ag_params_load", params);
    return status;
}

/* A failed accessor: an error with a one-line message; FORMAT or SHAPE,
 * since the checkpoint itself was read. */
static void check_accessor_error(const char *who, ag_status status) {
    fuzz_check_error(who, status);
    if (status != AG_ERROR_FORMAT && status != AG_ERROR_SHAPE)
        FUZZ_FAIL("%s: status %d on a loaded checkpoint: %s", who, (int)status, ag_error_message());
}

/* 0.5 everywhere: what the moments hold before each ag_adam_load. */
static ag_real *adam_pattern;

static void check_adam_load(const ag_checkpoint *cp) {
    size_t bytes = (size_t)adam.size * sizeof(ag_real);
    if (!adam_pattern) {
        adam_pattern = malloc(bytes);
        if (!adam_pattern) FUZZ_FAIL("out of memory");
        for (int64_t i = 0; i < adam.size; i++) adam_pattern[i] = (ag_real)0.5;
    }
    memcpy(adam.m, adam_pattern, bytes);
    memcpy(adam.v, adam_pattern, bytes);
    adam.step = 12345;
    ag_error_clear();
    ag_status status = ag_adam_load(&adam, cp);
    if (status == AG_OK) {
        if (adam.step < 0) FUZZ_FAIL("ag_adam_load: step %lld", (long long)adam.step);
        for (int64_t i = 0; i < adam.size; i++)
            if (!isfinite(adam.m[i]) || !isfinite(adam.v[i]) || adam.v[i] < 0)
                FUZZ_FAIL("ag_adam_load: moments %g, %g at %lld", (double)adam.m[i], (double)adam.v[i], (long long)i);
        return;
    }
    check_accessor_error("ag_adam_load", status);
    if (adam.step != 12345) FUZZ_FAIL("ag_adam_load failed but set the step to %lld", (long long)adam.step);
    if (memcmp(adam.m, adam_pattern, bytes) != 0 || memcmp(adam.v, adam_pattern, bytes) != 0)
        FUZZ_FAIL("ag_adam_load failed but changed the moments");
}

static void check_checkpoint_load(const uint8_t *data, size_t size, const char *path, ag_status params_status) {
    ag_error_clear();
    ag_checkpoint *cp = ag_checkpoint_load(path);
    if (!cp) {
        ag_status status = ag_error_code();
        fuzz_check_error("ag_checkpoint_load", status);
        if (status != AG_ERROR_FORMAT)
            FUZZ_FAIL("ag_checkpoint_load: status %d on a readable file: %s", (int)status, ag_error_message());
        if (params_status != AG_ERROR_FORMAT)
            FUZZ_FAIL("ag_checkpoint_load refused a file (%s) that ag_params_load did not (status %d)",
                      ag_error_message(), (int)params_status);
        return;
    }

    /* Verified exactly when the file has a checksum entry: a file that
     * claims one loads only if it matched. */
    if (ag_checkpoint_verified(cp) != (ag_checkpoint_metadata(cp, "ag.crc32c") != NULL))
        FUZZ_FAIL("ag_checkpoint_verified is %d for a file %s an ag.crc32c entry", (int)ag_checkpoint_verified(cp),
                  ag_checkpoint_metadata(cp, "ag.crc32c") ? "with" : "without");

    fuzz_fill_params(params);
    ag_error_clear();
    ag_status status = ag_checkpoint_read_params(cp, params);
    if (status != params_status)
        FUZZ_FAIL("ag_checkpoint_read_params: status %d (%s), ag_params_load: %d", (int)status,
                  ag_error_message(), (int)params_status);
    if (status == AG_OK) {
        /* The same values as ag_params_load's, which the header was checked for. */
        if (memcmp(ag_params_data(params), loaded, (size_t)ag_params_size(params) * sizeof *loaded) != 0)
            FUZZ_FAIL("ag_checkpoint_read_params and ag_params_load read different values");
    } else {
        check_accessor_error("ag_checkpoint_read_params", status);
        fuzz_check_params_unchanged("ag_checkpoint_read_params", params);
    }

    check_adam_load(cp);

    int64_t value = 777;
    ag_error_clear();
    status = ag_checkpoint_get_int(cp, "train.epoch", &value);
    if (status != AG_OK) {
        check_accessor_error("ag_checkpoint_get_int", status);
        if (value != 777) FUZZ_FAIL("ag_checkpoint_get_int failed but set the value");
    }

    ag_rng rng = {.state = 3, .increment = 5}, before = rng;
    ag_error_clear();
    status = ag_checkpoint_get_rng(cp, "train.rng.order", &rng);
    if (status == AG_OK && rng.increment % 2 == 0) FUZZ_FAIL("ag_checkpoint_get_rng: even increment");
    if (status != AG_OK) {
        check_accessor_error("ag_checkpoint_get_rng", status);
        if (rng.state != before.state || rng.increment != before.increment)
            FUZZ_FAIL("ag_checkpoint_get_rng failed but changed the generator");
    }

    ag_real recent[100];
    for (int i = 0; i < 100; i++) recent[i] = (ag_real)i;
    ag_error_clear();
    status = ag_checkpoint_read_array(cp, "train.recent_loss", recent, 100);
    if (status != AG_OK) {
        check_accessor_error("ag_checkpoint_read_array", status);
        for (int i = 0; i < 100; i++)
            if (recent[i] != (ag_real)i) FUZZ_FAIL("ag_checkpoint_read_array failed but changed value %d", i);
    }

    const char *text = ag_checkpoint_metadata(cp, "train.loss");
    if (text) (void)strlen(text);
    ag_checkpoint_free(cp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!params) { /* kept for the whole run; LSan ignores them (still reachable) */
        params = fuzz_model_params();
        if (ag_adam_init(&adam, params, 1e-3) != AG_OK) FUZZ_FAIL("ag_adam_init: %s", ag_error_message());
        loaded = malloc((size_t)ag_params_size(params) * sizeof *loaded);
        if (!loaded) FUZZ_FAIL("out of memory");
    }
    const char *path = fuzz_input_file("checkpoint", data, size);
    ag_status params_status = check_params_load(data, size, path);
    check_checkpoint_load(data, size, path, params_status);
    return 0;
}
