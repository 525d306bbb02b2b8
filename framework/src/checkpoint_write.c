/* Writing checkpoints: an ag_checkpoint_writer collects tensors (borrowed
 * until ag_checkpoint_save) and metadata, and writes them as one
 * safetensors file with its checksum (the format is described in
 * safetensors.h);
 * ag_params_save is one made, filled and saved at once. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "safetensors.h"

/* ------------------------------------------------------------ the object */

/* A tensor to save: the name is owned, the values are borrowed until
 * ag_checkpoint_save. */
typedef struct saved_tensor {
    char *name;
    int ndim;
    int shape[AG_MAX_DIMS];
    int64_t size;
    const ag_real *data;
} saved_tensor;

struct ag_checkpoint_writer {
    saved_tensor *tensors;
    int n_tensors, tensors_capacity;
    char **metadata; /* key, value, key, value, ... (owned) */
    int n_metadata, metadata_capacity;
};

ag_checkpoint_writer *ag_checkpoint_writer_create(void) {
    ag_checkpoint_writer *w = calloc(1, sizeof *w);
    if (!w) ag_error_set(AG_ERROR_MEMORY, "ag_checkpoint_writer_create: out of memory");
    return w;
}

void ag_checkpoint_writer_free(ag_checkpoint_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->tensors);
    for (int i = 0; i < 2 * w->n_metadata; i++) free(w->metadata[i]);
    free(w->metadata);
    free(w);
}

static ag_status add_tensor(ag_checkpoint_writer *w, const char *who, const char *name, int ndim, const int *shape,
                            int64_t size, const ag_real *data) {
    if (strcmp(name, SAFETENSORS_METADATA_KEY) == 0)
        return ag_error_set(AG_ERROR_ARGUMENT, "%s: a tensor named '" SAFETENSORS_METADATA_KEY "' cannot be saved",
                            who);
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return ag_error_set(AG_ERROR_ARGUMENT, "%s: a tensor named '%s' is already in the checkpoint", who, name);
    if (w->n_tensors == w->tensors_capacity) {
        int capacity = w->tensors_capacity ? 2 * w->tensors_capacity : 16;
        saved_tensor *grown = realloc(w->tensors, (size_t)capacity * sizeof *grown);
        if (!grown) return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", who);
        w->tensors = grown;
        w->tensors_capacity = capacity;
    }
    saved_tensor *t = &w->tensors[w->n_tensors];
    t->name = strdup(name);
    if (!t->name) return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", who);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->size = size;
    t->data = data;
    w->n_tensors++;
    return AG_OK;
}

ag_status ag_checkpoint_add_params(ag_checkpoint_writer *w, const ag_params *params) {
    if (!w) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_add_params: writer is NULL");
    if (!params) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_add_params: params is NULL");
    ag_status status = AG_OK;
    for (int i = 0; i < ag_params_count(params) && status == AG_OK; i++) {
        const ag_tensor *t = ag_params_get(params, i);
        status = add_tensor(w, "ag_checkpoint_add_params", ag_params_name(params, i), t->ndim, t->shape, t->size,
                            t->data);
    }
    return status;
}

ag_status ag_checkpoint_add_array(ag_checkpoint_writer *w, const char *name, const ag_real *data, int64_t size) {
    if (!w) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_add_array: writer is NULL");
    if (!name || !*name || (!data && size > 0) || size < 0 || size > INT_MAX)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_add_array: '%s': name, data or size %lld is invalid",
                            name ? name : "(null)", (long long)size);
    return add_tensor(w, "ag_checkpoint_add_array", name, 1, (int[]){(int)size}, size, data);
}

ag_status ag_checkpoint_set_metadata(ag_checkpoint_writer *w, const char *key, const char *value) {
    if (!w) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_set_metadata: writer is NULL");
    if (!key || !value) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_set_metadata: key or value is NULL");
    /* The checksum is the writer's own; a key one bit from it would read
     * back as a damaged checksum. */
    if (strcmp(key, SAFETENSORS_CRC_KEY) == 0 || safetensors_near_crc_key(key)) {
        char shown[40];
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "ag_checkpoint_set_metadata: metadata key '%s' is reserved for the checksum "
                            "(" SAFETENSORS_CRC_KEY ")",
                            ag_printable(key, shown, sizeof shown));
    }
    char *value_copy = strdup(value);
    if (!value_copy) return ag_error_set(AG_ERROR_MEMORY, "ag_checkpoint_set_metadata: out of memory");
    /* A JSON object with a key twice reads back differently in different
     * readers: setting a key again replaces its value. */
    for (int i = 0; i < w->n_metadata; i++)
        if (strcmp(w->metadata[2 * i], key) == 0) {
            free(w->metadata[2 * i + 1]);
            w->metadata[2 * i + 1] = value_copy;
            return AG_OK;
        }
    if (w->n_metadata == w->metadata_capacity) {
        int capacity = w->metadata_capacity ? 2 * w->metadata_capacity : 16;
        char **grown = realloc(w->metadata, (size_t)(2 * capacity) * sizeof *grown);
        if (!grown) {
            free(value_copy);
            return ag_error_set(AG_ERROR_MEMORY, "ag_checkpoint_set_metadata: out of memory");
        }
        w->metadata = grown;
        w->metadata_capacity = capacity;
    }
    char *key_copy = strdup(key);
    if (!key_copy) {
        free(value_copy);
        return ag_error_set(AG_ERROR_MEMORY, "ag_checkpoint_set_metadata: out of memory");
    }
    w->metadata[2 * w->n_metadata] = key_copy;
    w->metadata[2 * w->n_metadata + 1] = value_copy;
    w->n_metadata++;
    return AG_OK;
}

ag_status ag_checkpoint_set_int(ag_checkpoint_writer *w, const char *key, int64_t value) {
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)value);
    return ag_checkpoint_set_metadata(w, key, text);
}

/* Both words in full: a generator restored from them continues exactly. */
ag_status ag_checkpoint_set_rng(ag_checkpoint_writer *w, const char *key, const ag_rng *rng) {
    if (!rng) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_set_rng: rng is NULL");
    char text[48];
    snprintf(text, sizeof text, "%llu,%llu", (unsigned long long)rng->state, (unsigned long long)rng->increment);
    return ag_checkpoint_set_metadata(w, key, text);
}

/* ------------------------------------------------------------------ save */

/* Offsets as raw JSON text: cJSON prints some large doubles in exponent
 * form ("1e+15"), which other safetensors readers reject as an integer. */
static bool add_uint(cJSON *array, uint64_t value) {
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    cJSON *item = cJSON_CreateRaw(text);
    return item && cJSON_AddItemToArray(array, item);
}

/* The header, with the checksum's placeholder first in the metadata. */
static cJSON *build_header(const ag_checkpoint_writer *w) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON *meta = cJSON_AddObjectToObject(root, SAFETENSORS_METADATA_KEY);
    if (!meta || !cJSON_AddStringToObject(meta, SAFETENSORS_CRC_KEY, SAFETENSORS_CRC_PLACEHOLDER)) goto fail;
    for (int i = 0; i < w->n_metadata; i++)
        if (!cJSON_AddStringToObject(meta, w->metadata[2 * i], w->metadata[2 * i + 1])) goto fail;
    uint64_t offset = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const saved_tensor *t = &w->tensors[i];
        cJSON *item = cJSON_AddObjectToObject(root, t->name);
        if (!item || !cJSON_AddStringToObject(item, "dtype", "F32")) goto fail;
        cJSON *shape = cJSON_AddArrayToObject(item, "shape");
        if (!shape) goto fail;
        for (int d = 0; d < t->ndim; d++)
            if (!add_uint(shape, (uint64_t)t->shape[d])) goto fail;
        cJSON *offsets = cJSON_AddArrayToObject(item, "data_offsets");
        uint64_t end = offset + 4 * (uint64_t)t->size;
        if (!offsets || !add_uint(offsets, offset) || !add_uint(offsets, end)) goto fail;
        offset = end;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* Writes `size` bytes and takes them into the checksum. */
static bool put(FILE *f, const void *bytes, size_t size, uint32_t *crc) {
    *crc = ag_crc32c(*crc, bytes, size);
    return fwrite(bytes, 1, size, f) == size;
}

/* The whole file, with the checksum's placeholder at header offset
 * `crc_at`, which is then overwritten with the CRC of what was written. */
static ag_status write_file(FILE *f, const ag_checkpoint_writer *w, const char *header, size_t header_len,
                            size_t padded_len, size_t crc_at) {
    unsigned char chunk[4096];
    uint32_t crc = 0;
    safetensors_put_u64(chunk, padded_len);
    if (!put(f, chunk, 8, &crc) || !put(f, header, header_len, &crc)) return AG_ERROR_IO;
    memset(chunk, ' ', 8);
    if (!put(f, chunk, padded_len - header_len, &crc)) return AG_ERROR_IO;
    for (int i = 0; i < w->n_tensors; i++) {
        const saved_tensor *t = &w->tensors[i];
        size_t used = 0;
        for (int64_t k = 0; k < t->size; k++) {
            safetensors_put_f32(chunk + used, t->data[k]);
            used += 4;
            if (used == sizeof chunk || k == t->size - 1) {
                if (!put(f, chunk, used, &crc)) return AG_ERROR_IO;
                used = 0;
            }
        }
    }
    char value[9];
    snprintf(value, sizeof value, "%08x", (unsigned)crc);
    if (fseek(f, (long)(8 + crc_at), SEEK_SET) != 0 || fwrite(value, 1, 8, f) != 8) return AG_ERROR_IO;
    return AG_OK;
}

static ag_status save(const ag_checkpoint_writer *w, const char *path, const char *who) {
    cJSON *root = build_header(w);
    char *header = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!header) return ag_error_set(AG_ERROR_MEMORY, "%s: %s: out of memory building the header", who, path);
    size_t header_len = strlen(header);
    size_t padded_len = (header_len + 7) / 8 * 8;
    if (padded_len > SAFETENSORS_HEADER_LIMIT) {
        free(header);
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "%s: %s: the header would be %zu bytes, more than the %llu that the loader accepts", who,
                            path, padded_len, (unsigned long long)SAFETENSORS_HEADER_LIMIT);
    }

    /* build_header put the only unescaped occurrence there (a key in the
     * metadata is never the checksum's, and text inside a JSON string has
     * its quotes escaped). */
    const char *crc_text = strstr(header, SAFETENSORS_CRC_TEXT SAFETENSORS_CRC_PLACEHOLDER "\"");
    if (!crc_text) {
        free(header);
        return ag_error_set(AG_ERROR_STATE, "%s: %s: the header lacks its checksum entry", who, path);
    }
    size_t crc_at = (size_t)(crc_text - header) + strlen(SAFETENSORS_CRC_TEXT);

    ag_atomic_file out;
    ag_status status = ag_atomic_file_begin(&out, path);
    if (status == AG_OK && write_file(out.file, w, header, header_len, padded_len, crc_at) != AG_OK) {
        status = ag_error_set(AG_ERROR_IO, "%s: write of temporary file %s failed: %s", path, out.temporary,
                              strerror(errno));
        ag_atomic_file_abort(&out);
    } else if (status == AG_OK) {
        status = ag_atomic_file_commit(&out);
    }
    free(header);
    return status;
}

ag_status ag_checkpoint_save(const ag_checkpoint_writer *w, const char *path) {
    if (!w) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_save: writer is NULL");
    if (!path || !*path) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_save: path is NULL or empty");
    return save(w, path, "ag_checkpoint_save");
}

static ag_status check_save_arguments(const ag_params *params, const char *path, const char *const *metadata,
                                      int n_metadata) {
    if (!params || !path || !*path)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_params_save: params or path is NULL or empty");
    if (n_metadata < 0 || (n_metadata > 0 && !metadata))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_params_save: %s: %d metadata pairs with metadata %s", path,
                            n_metadata, metadata ? "given" : "NULL");
    if (n_metadata > INT_MAX / 2)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_params_save: %s: %d metadata pairs is too many", path,
                            n_metadata);
    for (int i = 0; i < n_metadata; i++) {
        if (!metadata[2 * i] || !metadata[2 * i + 1])
            return ag_error_set(AG_ERROR_ARGUMENT, "ag_params_save: %s: metadata pair %d has a NULL key or value",
                                path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(metadata[2 * i], metadata[2 * j]) == 0)
                return ag_error_set(AG_ERROR_ARGUMENT, "ag_params_save: %s: metadata key '%s' given twice", path,
                                    metadata[2 * i]);
    }
    if (ag_params_find(params, SAFETENSORS_METADATA_KEY))
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "ag_params_save: %s: a parameter named '" SAFETENSORS_METADATA_KEY "' cannot be saved",
                            path);
    return AG_OK;
}

ag_status ag_params_save(const ag_params *params, const char *path, const char *const *metadata, int n_metadata) {
    ag_status status = check_save_arguments(params, path, metadata, n_metadata);
    if (status != AG_OK) return status;
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    if (!w) return ag_error_set(AG_ERROR_MEMORY, "ag_params_save: %s: out of memory", path);
    status = ag_checkpoint_add_params(w, params);
    for (int i = 0; i < n_metadata && status == AG_OK; i++)
        status = ag_checkpoint_set_metadata(w, metadata[2 * i], metadata[2 * i + 1]);
    if (status == AG_OK) status = save(w, path, "ag_params_save");
    ag_checkpoint_writer_free(w);
    return status;
}
