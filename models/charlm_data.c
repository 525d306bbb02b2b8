/* The char LM's text, vocabulary and streams. */
#include "charlm_data.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ text */

/* Appends the whole file at path to text (growing its buffer). */
static ag_status append_file(charlm_text *text, int64_t *capacity, const char *path) {
    char shown[1100];
    FILE *f = fopen(path, "rb");
    if (!f) return ag_error_set(AG_ERROR_IO, "%s: %s", ag_printable(path, shown, sizeof shown), strerror(errno));
    ag_status status = AG_OK;
    for (;;) {
        if (text->size == *capacity) {
            int64_t grown = *capacity ? 2 * *capacity : 1 << 16;
            unsigned char *bytes = realloc(text->bytes, (size_t)grown);
            if (!bytes) {
                status = ag_error_set(AG_ERROR_MEMORY, "%s: out of memory after %lld bytes",
                                      ag_printable(path, shown, sizeof shown), (long long)text->size);
                break;
            }
            text->bytes = bytes;
            *capacity = grown;
        }
        size_t n = fread(text->bytes + text->size, 1, (size_t)(*capacity - text->size), f);
        text->size += (int64_t)n;
        if (n == 0) {
            /* A directory opens but reads EISDIR: the caller lists it instead. */
            if (ferror(f))
                status = ag_error_set(AG_ERROR_IO, "%s: cannot read: %s", ag_printable(path, shown, sizeof shown),
                                      strerror(errno));
            break;
        }
    }
    fclose(f);
    return status;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_text_file(const char *dir, const char *name, char *path, size_t size) {
    size_t n = strlen(name);
    if (name[0] == '.' || (n >= 4 && strcmp(name + n - 4, ".dat") == 0)) return false;
    snprintf(path, size, "%s/%s", dir, name);
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory's text files in name order. */
static ag_status append_directory(charlm_text *text, int64_t *capacity, const char *dir) {
    char shown[1100], path[4200];
    DIR *d = opendir(dir);
    if (!d) return ag_error_set(AG_ERROR_IO, "%s: %s", ag_printable(dir, shown, sizeof shown), strerror(errno));
    char **names = NULL;
    size_t count = 0, capacity_names = 0;
    ag_status status = AG_OK;
    for (struct dirent *e; status == AG_OK && (e = readdir(d));) {
        if (!is_text_file(dir, e->d_name, path, sizeof path)) continue;
        if (count == capacity_names) {
            capacity_names = capacity_names ? 2 * capacity_names : 64;
            char **grown = realloc(names, capacity_names * sizeof *names);
            if (!grown) status = ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", dir);
            else names = grown;
        }
        if (status == AG_OK && !(names[count++] = strdup(e->d_name)))
            status = ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", dir);
    }
    closedir(d);
    /* qsort's array must not be NULL, even for no names (a directory with no
     * text file in it: UBSan's nonnull-attribute check). */
    if (status == AG_OK && count > 0) qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (status == AG_OK) status = append_file(text, capacity, path);
        free(names[i]);
    }
    free(names);
    if (status == AG_OK && count == 0)
        status = ag_error_set(AG_ERROR_FORMAT, "%s: a directory with no text file in it",
                              ag_printable(dir, shown, sizeof shown));
    return status;
}

ag_status charlm_text_load(const char *path, charlm_text *text) {
    memset(text, 0, sizeof *text);
    char shown[1100];
    struct stat st;
    if (stat(path, &st) != 0) return ag_error_set(AG_ERROR_IO, "%s: %s", ag_printable(path, shown, sizeof shown), strerror(errno));
    /* A device (/dev/zero, /dev/urandom) never ends: it was read until
     * memory ran out (2 GiB and 13 s under a 4 GiB limit, the whole machine
     * without one). A FIFO (a pipe, /dev/stdin) is read to its end. */
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode))
        return ag_error_set(AG_ERROR_IO, "%s: is a %s, not a text file", ag_printable(path, shown, sizeof shown),
                            S_ISSOCK(st.st_mode) ? "socket" : "device");
    int64_t capacity = 0;
    ag_status status = S_ISDIR(st.st_mode) ? append_directory(text, &capacity, path) : append_file(text, &capacity, path);
    if (status == AG_OK && text->size == 0)
        status = ag_error_set(AG_ERROR_FORMAT, "%s: the text is empty", ag_printable(path, shown, sizeof shown));
    if (status != AG_OK) {
        charlm_text_free(text);
        return status;
    }
    uint64_t hash = 0xcbf29ce484222325u;
    for (int64_t i = 0; i < text->size; i++) hash = (hash ^ text->bytes[i]) * 0x100000001b3u;
    text->fingerprint = hash;
    return AG_OK;
}

void charlm_text_free(charlm_text *text) {
    free(text->bytes);
    memset(text, 0, sizeof *text);
}

/* ------------------------------------------------------------ vocabulary */

static void index_bytes(charlm_vocab *vocab) {
    for (int b = 0; b < 256; b++) vocab->index[b] = -1;
    for (int i = 0; i < vocab->size; i++) vocab->index[vocab->bytes[i]] = (int16_t)i;
}

void charlm_vocab_build(charlm_vocab *vocab, const unsigned char *bytes, int64_t size) {
    bool seen[256] = {false};
    for (int64_t i = 0; i < size; i++) seen[bytes[i]] = true;
    vocab->size = 0;
    for (int b = 0; b < 256; b++)
        if (seen[b]) vocab->bytes[vocab->size++] = (unsigned char)b;
    index_bytes(vocab);
}

void charlm_vocab_to_hex(const charlm_vocab *vocab, char hex[CHARLM_VOCAB_HEX]) {
    for (int i = 0; i < vocab->size; i++) snprintf(hex + 2 * i, 3, "%02x", vocab->bytes[i]);
    hex[2 * vocab->size] = '\0';
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

ag_status charlm_vocab_from_hex(charlm_vocab *vocab, const char *hex) {
    size_t n = strlen(hex);
    if (n < 2 || n > 512 || n % 2 != 0)
        return ag_error_set(AG_ERROR_FORMAT, "the vocabulary holds %zu hex digits, not 2 to 512 in pairs", n);
    vocab->size = (int)(n / 2);
    for (int i = 0; i < vocab->size; i++) {
        int high = hex_digit(hex[2 * i]), low = hex_digit(hex[2 * i + 1]);
        if (high < 0 || low < 0)
            return ag_error_set(AG_ERROR_FORMAT, "the vocabulary has '%.2s' at %d, not two lowercase hex digits",
                                hex + 2 * i, 2 * i);
        vocab->bytes[i] = (unsigned char)(16 * high + low);
        if (i > 0 && vocab->bytes[i] <= vocab->bytes[i - 1])
            return ag_error_set(AG_ERROR_FORMAT, "the vocabulary's bytes are not in increasing order at byte %d", i);
    }
    index_bytes(vocab);
    return AG_OK;
}

/* --------------------------------------------------------------- streams */

ag_status charlm_streams_init(charlm_streams *s, const charlm_text *text, int64_t start, int64_t size, int streams,
                              const charlm_vocab *vocab) {
    memset(s, 0, sizeof *s);
    if (streams < 1 || size / streams < 2)
        return ag_error_set(AG_ERROR_ARGUMENT, "%lld bytes make %d streams of %lld bytes, fewer than 2", (long long)size,
                            streams, streams > 0 ? (long long)(size / streams) : 0LL);
    s->streams = streams;
    s->length = size / streams;
    s->tokens = malloc((size_t)(streams * s->length));
    if (!s->tokens) return ag_error_set(AG_ERROR_MEMORY, "out of memory for %lld bytes", (long long)size);
    for (int64_t i = 0; i < streams * s->length; i++) {
        int index = vocab->index[text->bytes[start + i]];
        if (index < 0) {
            charlm_streams_free(s);
            return ag_error_set(AG_ERROR_ARGUMENT, "byte 0x%02x at offset %lld is not in the vocabulary",
                                text->bytes[start + i], (long long)(start + i));
        }
        s->tokens[i] = (unsigned char)index;
    }
    return AG_OK;
}

void charlm_streams_free(charlm_streams *s) {
    free(s->tokens);
    memset(s, 0, sizeof *s);
}

int64_t charlm_streams_chunks(const charlm_streams *s, int steps) { return (s->length - 1) / steps; }

void charlm_streams_chunk(const charlm_streams *s, int64_t position, int steps, int *inputs, int *targets) {
    for (int b = 0; b < s->streams; b++) {
        const unsigned char *stream = s->tokens + b * s->length + position;
        for (int t = 0; t < steps; t++) {
            inputs[b * steps + t] = stream[t];
            targets[b * steps + t] = stream[t + 1];
        }
    }
}
