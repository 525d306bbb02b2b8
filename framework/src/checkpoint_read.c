/* Reading checkpoints: ag_checkpoint_load reads a whole safetensors file
 * (the format is described in safetensors.h) and checks it, structure and
 * checksum, before anything is read from it; the getters then copy parameters, arrays and metadata
 * out of it. ag_params_load is one loaded, read and freed at once. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ag.h"
#include "safetensors.h"

/* -------------------------------------------------------------- the file */

typedef struct entry {
    const char *name;
    const cJSON *shape;
    uint64_t begin, end;
} entry;

/* A file being read, checked as a whole before anyone copies from it. */
typedef struct load_state {
    const char *who; /* the public function, for messages */
    const char *path;
    unsigned char *file;
    size_t file_size;
    const unsigned char *data; /* the data section */
    uint64_t data_size;
    cJSON *root;
    const cJSON *metadata; /* NULL if the file has none */
    entry *entries;
    size_t n_entries;
    bool verified; /* the file has a checksum, and it matched */
} load_state;

/* ------------------------------------------------------------------ load */

static ag_status load_error(const load_state *st, ag_status code, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static ag_status load_error(const load_state *st, ag_status code, const char *format, ...) {
    char what[400];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof what, format, args);
    va_end(args);
    return ag_error_set(code, "%s: %s: %s", st->who, st->path, what);
}

static ag_status read_whole_file(load_state *st) {
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer before
     * fstat could reject it; it changes nothing for regular files. */
    int fd = open(st->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return load_error(st, AG_ERROR_IO, "cannot open: %s", strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int e = errno;
        close(fd);
        return load_error(st, AG_ERROR_IO, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return load_error(st, AG_ERROR_IO, "is %s, not a regular file",
                          S_ISDIR(info.st_mode) ? "a directory" : "something else");
    }
    if ((uintmax_t)info.st_size > SIZE_MAX - 1) {
        close(fd);
        return load_error(st, AG_ERROR_MEMORY, "file of %jd bytes is too large to read", (intmax_t)info.st_size);
    }
    size_t size = (size_t)info.st_size;
    st->file = malloc(size ? size : 1);
    if (!st->file) {
        close(fd);
        return load_error(st, AG_ERROR_MEMORY, "out of memory reading %zu bytes", size);
    }
    /* A file that shrinks while it is read is handled as the shorter file
     * it now is. */
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, st->file + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return load_error(st, AG_ERROR_IO, "read failed: %s", strerror(e));
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    close(fd);
    st->file_size = got;
    return AG_OK;
}

static ag_status parse_header(load_state *st) {
    if (st->file_size == 0) return load_error(st, AG_ERROR_FORMAT, "file is empty");
    if (st->file_size < 8)
        return load_error(st, AG_ERROR_FORMAT,
                          "file is truncated: %zu bytes, too short for the 8-byte header length", st->file_size);
    uint64_t header_len = safetensors_get_u64(st->file);
    uint64_t available = st->file_size - 8;
    if (header_len > SAFETENSORS_HEADER_LIMIT)
        return load_error(st, AG_ERROR_FORMAT,
                          "header length %llu is over the limit of %llu bytes (file corrupt or not safetensors)",
                          (unsigned long long)header_len, (unsigned long long)SAFETENSORS_HEADER_LIMIT);
    if (header_len > available)
        return load_error(st, AG_ERROR_FORMAT,
                          "header length %llu is more than the %llu bytes that follow it (file truncated or corrupt)",
                          (unsigned long long)header_len, (unsigned long long)available);

    /* cJSON gets a NUL-terminated copy, so that no malformed string or
     * number can lead it past the header; a NUL inside the header stops
     * the parse early and is caught as trailing garbage below. */
    char *text = malloc((size_t)header_len + 1);
    if (!text) return load_error(st, AG_ERROR_MEMORY, "out of memory for a %llu-byte header",
                                 (unsigned long long)header_len);
    memcpy(text, st->file + 8, (size_t)header_len);
    text[header_len] = '\0';
    const char *end = NULL;
    st->root = cJSON_ParseWithOpts(text, &end, 0);
    size_t end_pos = end ? (size_t)(end - text) : 0;
    if (!st->root) {
        free(text);
        return load_error(st, AG_ERROR_FORMAT, "header is not valid JSON (error near byte %zu of %llu)", end_pos,
                          (unsigned long long)header_len);
    }
    size_t i = end_pos;
    while (i < header_len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    free(text);
    if (i < header_len)
        return load_error(st, AG_ERROR_FORMAT, "header is not valid JSON (unexpected byte after the object at %zu)",
                          i);
    if (!cJSON_IsObject(st->root)) return load_error(st, AG_ERROR_FORMAT, "header is not a JSON object");
    st->data = st->file + 8 + header_len;
    st->data_size = available - header_len;
    return AG_OK;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object of strings, each key once: a key twice reads back differently
 * in different readers (cJSON finds the first, Python keeps the last). */
static ag_status check_metadata(const load_state *st, const cJSON *meta) {
    if (!cJSON_IsObject(meta))
        return load_error(st, AG_ERROR_FORMAT, "'" SAFETENSORS_METADATA_KEY "' is not an object of strings");
    const cJSON *item;
    size_t count = 0;
    char key[80];
    cJSON_ArrayForEach(item, meta) {
        if (!cJSON_IsString(item))
            return load_error(st, AG_ERROR_FORMAT, "'" SAFETENSORS_METADATA_KEY "' value of '%s' is not a string",
                              ag_printable(item->string, key, sizeof key));
        count++;
    }
    const char **keys = malloc((count ? count : 1) * sizeof *keys);
    if (!keys) return load_error(st, AG_ERROR_MEMORY, "out of memory for %zu metadata keys", count);
    count = 0;
    cJSON_ArrayForEach(item, meta) keys[count++] = item->string;
    qsort(keys, count, sizeof *keys, compare_strings);
    for (size_t i = 1; i < count; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            ag_printable(keys[i], key, sizeof key);
            free(keys);
            return load_error(st, AG_ERROR_FORMAT, "metadata key '%s' appears twice in the header", key);
        }
    free(keys);
    return AG_OK;
}

/* A JSON number that is an integer in [0, max]. JSON has no integer type,
 * so 2.5, -1, 1e300 and inf all arrive here as doubles; above 2^53 a double
 * no longer holds every integer, and converting one of 2^64 or more to
 * uint64_t is undefined, so those are refused too. */
static bool get_uint(const cJSON *item, uint64_t max, uint64_t *value) {
    if (!cJSON_IsNumber(item)) return false;
    double v = item->valuedouble;
    if (!isfinite(v) || v < 0 || v != floor(v) || v > 9007199254740992.0) return false;
    *value = (uint64_t)v;
    return *value <= max;
}

/* "[2, 3]" from a shape that has already been checked. */
static const char *json_shape_string(const cJSON *shape, char *buf, size_t size) {
    size_t used = 0;
    const cJSON *dim;
    buf[0] = '\0';
    int n = snprintf(buf, size, "[");
    used = (size_t)n;
    cJSON_ArrayForEach(dim, shape) {
        if (used + 24 >= size) {
            snprintf(buf + used, size - used, "...");
            used += 3;
            break;
        }
        n = snprintf(buf + used, size - used, "%s%.0f", dim == shape->child ? "" : ", ", dim->valuedouble);
        used += (size_t)n;
    }
    snprintf(buf + used, size - used, "]");
    return buf;
}

static ag_status check_entry(const load_state *st, const cJSON *item, entry *e) {
    char name[80], text[80];
    ag_printable(item->string, name, sizeof name);
    if (!cJSON_IsObject(item)) return load_error(st, AG_ERROR_FORMAT, "tensor '%s' is not a JSON object", name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dtype))
        return load_error(st, AG_ERROR_FORMAT, "tensor '%s' has no dtype string", name);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return load_error(st, AG_ERROR_FORMAT, "tensor '%s' has dtype %s; only F32 is supported", name,
                          ag_printable(dtype->valuestring, text, sizeof text));

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape)) return load_error(st, AG_ERROR_FORMAT, "tensor '%s' has no shape array", name);
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t size;
        if (!get_uint(dim, INT_MAX, &size))
            return load_error(st, AG_ERROR_FORMAT, "tensor '%s' has a shape entry that is not an integer in [0, %d]",
                              name, INT_MAX);
    }

    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
        return load_error(st, AG_ERROR_FORMAT, "tensor '%s' has no data_offsets array of two numbers", name);
    /* An offset past the data section can never be valid, so that is also
     * the bound that keeps every later sum and product from overflowing. */
    uint64_t begin = 0, end = 0; /* set by get_uint; zero keeps -Wmaybe-uninitialized quiet */
    const cJSON *first = offsets->child, *second = first->next;
    bool begin_ok = get_uint(first, UINT64_MAX, &begin), end_ok = get_uint(second, UINT64_MAX, &end);
    if (!begin_ok || !end_ok)
        return load_error(st, AG_ERROR_FORMAT, "tensor '%s' has data_offsets that are not two non-negative integers",
                          name);
    if (begin > end)
        return load_error(st, AG_ERROR_FORMAT, "tensor '%s' has data_offsets [%llu, %llu] that end before they begin",
                          name, (unsigned long long)begin, (unsigned long long)end);
    if (end > st->data_size)
        return load_error(st, AG_ERROR_FORMAT,
                          "tensor '%s' has data_offsets [%llu, %llu] out of range: the data section has %llu bytes "
                          "(file truncated or corrupt)",
                          name, (unsigned long long)begin, (unsigned long long)end,
                          (unsigned long long)st->data_size);

    /* Multiplying only while the product stays within the tensor's bytes
     * keeps it from overflowing; a zero anywhere makes it empty. */
    uint64_t bytes = end - begin, elements = 1;
    bool fits = true, empty = false;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t d = (uint64_t)dim->valuedouble;
        if (d == 0) empty = true;
        else if (elements > bytes / 4 / d) fits = false;
        else elements *= d;
    }
    if (empty) elements = 0;
    if ((!fits && !empty) || 4 * elements != bytes) {
        char shape_text[80];
        return load_error(st, AG_ERROR_FORMAT,
                          "tensor '%s' has shape %s, which does not match its data_offsets [%llu, %llu] (%llu bytes)",
                          name, json_shape_string(shape, shape_text, sizeof shape_text), (unsigned long long)begin,
                          (unsigned long long)end, (unsigned long long)bytes);
    }
    e->name = item->string;
    e->shape = shape;
    e->begin = begin;
    e->end = end;
    return AG_OK;
}

static int compare_by_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static int compare_by_offsets(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static ag_status collect_entries(load_state *st) {
    size_t count = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, st->root) count++;
    st->entries = malloc((count ? count : 1) * sizeof *st->entries);
    if (!st->entries) return load_error(st, AG_ERROR_MEMORY, "out of memory for %zu header entries", count);
    cJSON_ArrayForEach(item, st->root) {
        bool is_metadata = strcmp(item->string, SAFETENSORS_METADATA_KEY) == 0;
        if (is_metadata && st->metadata)
            return load_error(st, AG_ERROR_FORMAT, "'" SAFETENSORS_METADATA_KEY "' appears twice in the header");
        if (is_metadata) st->metadata = item;
        ag_status status =
            is_metadata ? check_metadata(st, item) : check_entry(st, item, &st->entries[st->n_entries++]);
        if (status != AG_OK) return status;
    }

    /* The tensors must tile the data section: sorted by offset, each begins
     * where the previous ended, the first at 0, the last at the end. */
    qsort(st->entries, st->n_entries, sizeof *st->entries, compare_by_offsets);
    uint64_t expected = 0;
    char name_a[80], name_b[80];
    for (size_t i = 0; i < st->n_entries; i++) {
        const entry *e = &st->entries[i];
        if (e->begin < expected)
            return load_error(st, AG_ERROR_FORMAT, "tensors '%s' and '%s' overlap (data_offsets ending at %llu and "
                              "beginning at %llu)",
                              ag_printable(st->entries[i - 1].name, name_a, sizeof name_a),
                              ag_printable(e->name, name_b, sizeof name_b), (unsigned long long)expected,
                              (unsigned long long)e->begin);
        if (e->begin > expected) {
            if (i == 0)
                return load_error(st, AG_ERROR_FORMAT, "gap of %llu bytes before the first tensor '%s'",
                                  (unsigned long long)e->begin, ag_printable(e->name, name_b, sizeof name_b));
            return load_error(st, AG_ERROR_FORMAT, "gap of %llu bytes between tensors '%s' and '%s'",
                              (unsigned long long)(e->begin - expected),
                              ag_printable(st->entries[i - 1].name, name_a, sizeof name_a),
                              ag_printable(e->name, name_b, sizeof name_b));
        }
        expected = e->end;
    }
    if (expected != st->data_size)
        return load_error(st, AG_ERROR_FORMAT, "%llu trailing bytes after the last tensor's data",
                          (unsigned long long)(st->data_size - expected));

    qsort(st->entries, st->n_entries, sizeof *st->entries, compare_by_name);
    for (size_t i = 1; i < st->n_entries; i++)
        if (strcmp(st->entries[i - 1].name, st->entries[i].name) == 0)
            return load_error(st, AG_ERROR_FORMAT, "tensor '%s' appears twice in the header",
                              ag_printable(st->entries[i].name, name_a, sizeof name_a));
    return AG_OK;
}

static const entry *find_entry(const load_state *st, const char *name) {
    entry key = {.name = name};
    return bsearch(&key, st->entries, st->n_entries, sizeof *st->entries, compare_by_name);
}

static bool same_shape(const ag_tensor *t, const cJSON *shape) {
    if (cJSON_GetArraySize(shape) != t->ndim) return false;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        if (dim->valuedouble != (double)t->shape[d++]) return false;
    }
    return true;
}

static ag_status check_params(const load_state *st, const ag_params *params) {
    for (int i = 0; i < ag_params_count(params); i++) {
        const char *name = ag_params_name(params, i);
        const ag_tensor *t = ag_params_get(params, i);
        const entry *e = find_entry(st, name);
        if (!e) return load_error(st, AG_ERROR_FORMAT, "tensor '%s' is missing from the file", name);
        if (!same_shape(t, e->shape)) {
            char found[80], expected[80];
            return load_error(st, AG_ERROR_SHAPE, "tensor '%s' has shape %s, expected %s", name,
                              json_shape_string(e->shape, found, sizeof found),
                              ag_shape_string(t, expected, sizeof expected));
        }
    }
    return AG_OK;
}

static void copy_values(ag_real *out, const unsigned char *src, int64_t size) {
    for (int64_t k = 0; k < size; k++) out[k] = safetensors_get_f32(src + 4 * k);
}

static ag_status read_params(const load_state *st, ag_params *params) {
    ag_status status = check_params(st, params);
    if (status != AG_OK) return status;
    for (int i = 0; i < ag_params_count(params); i++) {
        ag_tensor *t = ag_params_get(params, i);
        copy_values(t->data, st->data + find_entry(st, ag_params_name(params, i))->begin, t->size);
    }
    return AG_OK;
}

/* The checksum (safetensors.h), once the structure is known to be sound:
 * the CRC-32C of the whole file with the entry's value read as the
 * placeholder. */
static ag_status check_checksum(load_state *st) {
    const cJSON *item, *crc_entry = NULL;
    char shown[80];
    cJSON_ArrayForEach(item, st->metadata) {
        if (strcmp(item->string, SAFETENSORS_CRC_KEY) == 0)
            crc_entry = item;
        else if (safetensors_near_crc_key(item->string))
            return load_error(st, AG_ERROR_FORMAT,
                              "metadata key '%s' is a damaged '" SAFETENSORS_CRC_KEY "' (one bit off): the file is "
                              "damaged",
                              ag_printable(item->string, shown, sizeof shown));
    }
    if (!crc_entry) return AG_OK; /* an older ag's file, or another program's: unverified */
    const char *value = crc_entry->valuestring;
    uint32_t expected = 0;
    bool hex = strlen(value) == 8;
    for (int i = 0; hex && i < 8; i++) {
        char c = value[i];
        hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (hex) expected = expected << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (!hex)
        return load_error(st, AG_ERROR_FORMAT,
                          "checksum '" SAFETENSORS_CRC_KEY "' is '%s', not 8 lowercase hex digits: the file is damaged",
                          ag_printable(value, shown, sizeof shown));
    /* Where the value lies in the header text: the one place where the key
     * is followed by it (quotes inside JSON strings are escaped, so the
     * text cannot hide in another string). */
    const char *header = (const char *)st->file + 8, *header_end = (const char *)st->data;
    size_t pattern_len = strlen(SAFETENSORS_CRC_TEXT), need = pattern_len + 9, found = 0, at = 0;
    const char *p = header;
    while ((size_t)(header_end - p) >= need) {
        const char *quote = memchr(p, '"', (size_t)(header_end - p) - need + 1);
        if (!quote) break;
        if (memcmp(quote, SAFETENSORS_CRC_TEXT, pattern_len) == 0 && memcmp(quote + pattern_len, value, 8) == 0 &&
            quote[pattern_len + 8] == '"') {
            found++;
            at = (size_t)(quote - (const char *)st->file) + pattern_len;
        }
        p = quote + 1;
    }
    if (found != 1)
        return load_error(st, AG_ERROR_FORMAT,
                          "checksum '" SAFETENSORS_CRC_KEY "' is not written as \"" SAFETENSORS_CRC_KEY "\":\"%s\" "
                          "once in the header (%zu times)",
                          value, found);
    uint32_t crc = ag_crc32c(0, st->file, at);
    crc = ag_crc32c(crc, SAFETENSORS_CRC_PLACEHOLDER, 8);
    crc = ag_crc32c(crc, st->file + at + 8, st->file_size - at - 8);
    if (crc != expected)
        return load_error(st, AG_ERROR_FORMAT, "checksum mismatch: the file is damaged (CRC-32C %08x, expected %08x)",
                          (unsigned)crc, (unsigned)expected);
    st->verified = true;
    return AG_OK;
}

static ag_status load(load_state *st) {
    ag_status status = read_whole_file(st);
    if (status == AG_OK) status = parse_header(st);
    if (status == AG_OK) status = collect_entries(st);
    if (status == AG_OK) status = check_checksum(st);
    return status;
}

ag_status ag_params_load(ag_params *params, const char *path) {
    if (!params || !path) return ag_error_set(AG_ERROR_ARGUMENT, "ag_params_load: params or path is NULL");
    load_state st = {.who = "ag_params_load", .path = path};
    ag_status status = load(&st);
    if (status == AG_OK) status = read_params(&st, params);
    cJSON_Delete(st.root);
    free(st.entries);
    free(st.file);
    return status;
}

/* -------------------------------------------------------- the checkpoint */

struct ag_checkpoint {
    load_state st;
    char path[1]; /* of the file; grows with the allocation */
};

void ag_checkpoint_free(ag_checkpoint *cp) {
    if (!cp) return;
    cJSON_Delete(cp->st.root);
    free(cp->st.entries);
    free(cp->st.file);
    free(cp);
}

ag_checkpoint *ag_checkpoint_load(const char *path) {
    if (!path || !*path) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_load: path is NULL or empty");
        return NULL;
    }
    size_t length = strlen(path);
    ag_checkpoint *cp = calloc(1, sizeof *cp + length);
    if (!cp) {
        ag_error_set(AG_ERROR_MEMORY, "ag_checkpoint_load: %s: out of memory", path);
        return NULL;
    }
    memcpy(cp->path, path, length + 1);
    cp->st.who = "ag_checkpoint_load";
    cp->st.path = cp->path;
    if (load(&cp->st) != AG_OK) {
        ag_checkpoint_free(cp);
        return NULL;
    }
    return cp;
}

bool ag_checkpoint_verified(const ag_checkpoint *cp) { return cp && cp->st.verified; }

static ag_status check_readable(const ag_checkpoint *cp, const char *who) {
    return cp ? AG_OK : ag_error_set(AG_ERROR_ARGUMENT, "%s: checkpoint is NULL", who);
}

const char *ag_checkpoint_metadata(const ag_checkpoint *cp, const char *key) {
    if (!cp || !key || !cp->st.metadata) return NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(cp->st.metadata, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Messages name the file and key, and quote at most a short, printable
 * part of what the file holds. */
static const char *get_metadata(const ag_checkpoint *cp, const char *who, const char *key, ag_status *status) {
    *status = check_readable(cp, who);
    if (*status != AG_OK) return NULL;
    const char *text = key ? ag_checkpoint_metadata(cp, key) : NULL;
    if (!text) *status = ag_error_set(AG_ERROR_FORMAT, "%s: %s: metadata '%s' is missing", who, cp->path,
                                      key ? key : "(null)");
    return text;
}

ag_status ag_checkpoint_get_int(const ag_checkpoint *cp, const char *key, int64_t *value) {
    ag_status status;
    const char *text = get_metadata(cp, "ag_checkpoint_get_int", key, &status);
    if (!text) return status;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno == ERANGE) {
        char shown[40];
        return ag_error_set(AG_ERROR_FORMAT, "ag_checkpoint_get_int: %s: metadata '%s' is '%s', not an integer",
                            cp->path, key, ag_printable(text, shown, sizeof shown));
    }
    *value = (int64_t)v;
    return AG_OK;
}

static bool parse_u64(const char *text, const char **end, uint64_t *value) {
    if (*text < '0' || *text > '9') return false;
    char *stop;
    errno = 0;
    unsigned long long v = strtoull(text, &stop, 10);
    if (errno == ERANGE) return false;
    *end = stop;
    *value = (uint64_t)v;
    return true;
}

ag_status ag_checkpoint_get_rng(const ag_checkpoint *cp, const char *key, ag_rng *rng) {
    ag_status status;
    const char *text = get_metadata(cp, "ag_checkpoint_get_rng", key, &status);
    if (!text) return status;
    const char *end = text;
    uint64_t state, increment;
    /* PCG needs an odd increment; an even one is a corrupt file. */
    if (!parse_u64(text, &end, &state) || *end != ',' || !parse_u64(end + 1, &end, &increment) || *end != '\0' ||
        increment % 2 == 0) {
        char shown[60];
        return ag_error_set(AG_ERROR_FORMAT,
                            "ag_checkpoint_get_rng: %s: metadata '%s' is '%s', not STATE,INCREMENT (odd)", cp->path,
                            key, ag_printable(text, shown, sizeof shown));
    }
    rng->state = state;
    rng->increment = increment;
    return AG_OK;
}

ag_status ag_checkpoint_read_params(const ag_checkpoint *cp, ag_params *params) {
    ag_status status = check_readable(cp, "ag_checkpoint_read_params");
    if (status != AG_OK) return status;
    if (!params) return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_read_params: params is NULL");
    load_state st = cp->st;
    st.who = "ag_checkpoint_read_params";
    return read_params(&st, params);
}

ag_status ag_checkpoint_read_array(const ag_checkpoint *cp, const char *name, ag_real *data, int64_t size) {
    ag_status status = check_readable(cp, "ag_checkpoint_read_array");
    if (status != AG_OK) return status;
    if (!name || (!data && size > 0) || size < 0)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_checkpoint_read_array: name, data or size %lld is invalid",
                            (long long)size);
    load_state st = cp->st;
    st.who = "ag_checkpoint_read_array";
    const entry *e = find_entry(&st, name);
    char shown[80];
    if (!e)
        return load_error(&st, AG_ERROR_FORMAT, "tensor '%s' is missing from the file",
                          ag_printable(name, shown, sizeof shown));
    if (cJSON_GetArraySize(e->shape) != 1 || e->shape->child->valuedouble != (double)size) {
        char found[80];
        return load_error(&st, AG_ERROR_SHAPE, "tensor '%s' has shape %s, expected [%lld]",
                          ag_printable(name, shown, sizeof shown), json_shape_string(e->shape, found, sizeof found),
                          (long long)size);
    }
    copy_values(data, st.data + e->begin, size);
    return AG_OK;
}
