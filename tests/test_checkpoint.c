/* Checkpoints: exact round trips, the safetensors layout byte for byte,
 * atomic saves, and a loader that rejects every malformed file without
 * touching a parameter. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

/* ------------------------------------------------------------ fixture */

static char tmpdir[64];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ag_checkpoint_XXXXXX");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void remove_tmpdir(void) {
    DIR *dir = opendir(tmpdir);
    if (!dir) return;
    struct dirent *d;
    char path[512];
    while ((d = readdir(dir)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, d->d_name);
        if (unlink(path) != 0) rmdir(path);
    }
    closedir(dir);
    rmdir(tmpdir);
}

static const char *in_tmpdir(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

/* Names of the entries of the temporary directory, sorted, joined by ' '. */
static void list_tmpdir(char *buf, size_t size) {
    struct dirent **names;
    int n = scandir(tmpdir, &names, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            if (buf[0]) strncat(buf, " ", size - strlen(buf) - 1);
            strncat(buf, names[i]->d_name, size - strlen(buf) - 1);
        }
        free(names[i]);
    }
    free(names);
}

/* ------------------------------------------------------------ file helpers */

static unsigned char *read_bytes(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Overwrites the byte at `at` of an existing file in place (much faster
 * here than truncating and writing it again, for loops over every bit). */
static void put_byte(const char *path, size_t at, unsigned char byte) {
    FILE *f = fopen(path, "r+b");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, (long)at, SEEK_SET), 0);
    ck_assert_int_ne(fputc(byte, f), EOF);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_bytes(const char *path, const void *buf, size_t size) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(buf, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static uint64_t get_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_u64_le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static float get_f32_le(const unsigned char *p) {
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void put_f32_le(unsigned char *p, float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(bits >> (8 * i));
}

/* A safetensors file from a header written by hand and `data_size` bytes
 * of data: the floats -1, -2, -3, ... (so that a load which copied
 * anything would be seen). */
static void write_safetensors_n(const char *path, const char *header, size_t header_len, size_t data_size) {
    size_t size = 8 + header_len + data_size;
    unsigned char *buf = calloc(1, size);
    ck_assert_ptr_nonnull(buf);
    put_u64_le(buf, header_len);
    memcpy(buf + 8, header, header_len);
    for (size_t i = 0; i + 4 <= data_size; i += 4) put_f32_le(buf + 8 + header_len + i, -1.0f - (float)(i / 4));
    write_bytes(path, buf, size);
    free(buf);
}

static void write_safetensors(const char *path, const char *header, size_t data_size) {
    write_safetensors_n(path, header, strlen(header), data_size);
}

/* The JSON of a file's header, parsed; the padding must be spaces. */
static cJSON *read_header(const unsigned char *file, size_t size) {
    ck_assert_uint_ge(size, 8);
    uint64_t n = get_u64_le(file);
    ck_assert_uint_le(n, size - 8);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)file + 8, (size_t)n, &end, 0);
    ck_assert_msg(root != NULL, "header is not JSON");
    for (const char *p = end; p < (const char *)file + 8 + n; p++) ck_assert_int_eq(*p, ' ');
    return root;
}

/* ------------------------------------------------------------ models */

/* "a" [2, 3] and "b" [4], holding 100, 101, ...: the model of the
 * rejection tests, whose files hold other values. */
static ag_params *small_model(void) {
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    ck_assert_ptr_nonnull(ag_params_add(params, "a", 2, (int[]){2, 3}));
    ck_assert_ptr_nonnull(ag_params_add(params, "b", 1, (int[]){4}));
    ag_real *data = ag_params_data(params);
    for (int64_t i = 0; i < ag_params_size(params); i++) data[i] = (ag_real)(100 + i);
    return params;
}

#define TENSOR_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"
#define TENSOR_B "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}"

/* The small model's file with tensor b's entry replaced by `b_entry`. */
static void write_small_file(const char *path, const char *b_entry, size_t data_size) {
    char header[1024];
    snprintf(header, sizeof header, "{" TENSOR_A ",\"b\":%s}", b_entry);
    write_safetensors(path, header, data_size);
}

/* Loading `path` fails with `code`, a one-line message naming the file and
 * containing `keyword`, and leaves every value as it was. */
static void expect_load_fails(ag_params *params, const char *path, ag_status code, const char *keyword) {
    int64_t n = ag_params_size(params);
    ag_real *before = malloc((size_t)(n ? n : 1) * sizeof *before);
    ck_assert_ptr_nonnull(before);
    memcpy(before, ag_params_data(params), (size_t)n * sizeof *before);
    ag_error_clear();
    ag_status status = ag_params_load(params, path);
    const char *message = ag_error_message();
    ck_assert_msg(status == code, "expected status %d (%s), got %d: '%s'", code, keyword, status, message);
    ck_assert_int_eq(ag_error_code(), code);
    ck_assert_msg(strstr(message, path) != NULL, "message does not name the file: '%s'", message);
    ck_assert_msg(strstr(message, keyword) != NULL, "message lacks '%s': '%s'", keyword, message);
    ck_assert_msg(strchr(message, '\n') == NULL, "message is not one line: '%s'", message);
    ck_assert_msg(memcmp(before, ag_params_data(params), (size_t)n * sizeof *before) == 0,
                  "a failed load changed parameter values ('%s')", message);
    free(before);
}

/* ------------------------------------------------------------ saving */

static const int shapes[][5] = {
    /* ndim, sizes */
    {2, 5, 3}, {2, 8, 3}, {2, 8, 8}, {1, 8}, {3, 2, 3, 4}, {4, 1, 2, 3, 2}, {1, 1},
};
static const char *const shape_names[] = {"embedding", "rnn.weight_ih", "rnn.weight_hh", "rnn.bias",
                                          "conv",      "x4",            "scalar"};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* Parameters of several shapes, added in order or in reverse. */
static ag_params *varied_model(bool reverse) {
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(params);
    for (int k = 0; k < N_SHAPES; k++) {
        int i = reverse ? N_SHAPES - 1 - k : k;
        ck_assert_ptr_nonnull(ag_params_add(params, shape_names[i], shapes[i][0], &shapes[i][1]));
    }
    return params;
}

START_TEST(test_round_trip_is_bitwise_exact) {
    ag_params *saved = varied_model(false);
    ag_rng rng;
    ag_rng_seed(&rng, 7, 0);
    const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, FLT_MIN, -FLT_MIN / 8, FLT_MAX, -FLT_MAX,
                             FLT_EPSILON, INFINITY, -INFINITY, NAN};
    int n_special = (int)(sizeof special / sizeof special[0]);
    ag_real *data = ag_params_data(saved);
    for (int64_t i = 0; i < ag_params_size(saved); i++) {
        float magnitude = (float)pow(10.0, ag_rng_uniform(&rng) * 76 - 38);
        float value = ag_rng_uniform(&rng) < 0.5 ? -magnitude : magnitude;
        data[i] = i < n_special ? special[i] : value;
    }
    char path[256];
    in_tmpdir("model.safetensors", path, sizeof path);
    const char *const metadata[] = {"epoch", "12", "note", "h\xc3\xa9llo \"quoted\"\n\\"};
    ck_assert_msg(ag_params_save(saved, path, metadata, 2) == AG_OK, "%s", ag_error_message());

    /* Loaded by name into a model that lists its parameters in another order. */
    ag_params *loaded = varied_model(true);
    ck_assert_msg(ag_params_load(loaded, path) == AG_OK, "%s", ag_error_message());
    for (int i = 0; i < N_SHAPES; i++) {
        const ag_tensor *a = ag_params_find(saved, shape_names[i]), *b = ag_params_find(loaded, shape_names[i]);
        ck_assert_int_eq(a->size, b->size);
        ck_assert_msg(memcmp(a->data, b->data, (size_t)a->size * sizeof *a->data) == 0, "'%s' differs",
                      shape_names[i]);
    }

    size_t size;
    unsigned char *file = read_bytes(path, &size);
    cJSON *root = read_header(file, size);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    ck_assert(cJSON_IsObject(meta));
    ck_assert_int_eq(cJSON_GetArraySize(meta), 3); /* and the checksum, first */
    ck_assert_str_eq(meta->child->string, "ag.crc32c");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "epoch")), "12");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "note")), metadata[3]);
    cJSON_Delete(root);
    free(file);
    ag_params_free(saved);
    ag_params_free(loaded);
}
END_TEST

START_TEST(test_file_has_the_safetensors_layout) {
    ag_params *params = ag_params_create();
    ag_tensor *w = ag_params_add(params, "w", 2, (int[]){3, 5});
    ag_tensor *b = ag_params_add(params, "b", 1, (int[]){5});
    ag_tensor *c = ag_params_add(params, "c", 1, (int[]){1});
    for (int64_t i = 0; i < ag_params_size(params); i++) ag_params_data(params)[i] = (ag_real)(0.5 * (double)i - 3);
    char path[256];
    in_tmpdir("layout.safetensors", path, sizeof path);
    ck_assert_msg(ag_params_save(params, path, NULL, 0) == AG_OK, "%s", ag_error_message());

    size_t size;
    unsigned char *file = read_bytes(path, &size);
    uint64_t n = get_u64_le(file);
    ck_assert_uint_eq((8 + n) % 8, 0);
    ck_assert_uint_eq(size, 8 + n + 4 * (3 * 5 + 5 + 1));
    cJSON *root = read_header(file, size);
    /* No metadata was given: the checksum's is the only entry, first, and
     * the CRC-32C of the file with its value read as 00000000. */
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    ck_assert_ptr_eq(root->child, meta);
    ck_assert_int_eq(cJSON_GetArraySize(meta), 1);
    ck_assert_str_eq(meta->child->string, "ag.crc32c");
    ck_assert_int_eq(memcmp(file + 8, "{\"__metadata__\":{\"ag.crc32c\":\"", 30), 0);
    char stored[9], computed[9];
    memcpy(stored, file + 8 + 30, 8);
    stored[8] = '\0';
    memcpy(file + 8 + 30, "00000000", 8);
    snprintf(computed, sizeof computed, "%08x", (unsigned)ag_crc32c(0, file, size));
    ck_assert_str_eq(stored, computed);
    ck_assert_int_eq(cJSON_GetArraySize(root), 4);
    const struct {
        const char *name;
        const ag_tensor *t;
        int begin, end;
    } expected[] = {{"w", w, 0, 60}, {"b", b, 60, 80}, {"c", c, 80, 84}};
    for (int i = 0; i < 3; i++) {
        const cJSON *entry = cJSON_GetObjectItemCaseSensitive(root, expected[i].name);
        ck_assert(cJSON_IsObject(entry));
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "dtype")), "F32");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
        ck_assert_int_eq(cJSON_GetArraySize(shape), expected[i].t->ndim);
        for (int d = 0; d < expected[i].t->ndim; d++)
            ck_assert_int_eq(cJSON_GetArrayItem(shape, d)->valueint, expected[i].t->shape[d]);
        const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
        ck_assert_int_eq(cJSON_GetArraySize(offsets), 2);
        ck_assert_int_eq(cJSON_GetArrayItem(offsets, 0)->valueint, expected[i].begin);
        ck_assert_int_eq(cJSON_GetArrayItem(offsets, 1)->valueint, expected[i].end);
        const unsigned char *values = file + 8 + n + expected[i].begin;
        for (int64_t k = 0; k < expected[i].t->size; k++)
            ck_assert_float_eq(get_f32_le(values + 4 * k), (float)expected[i].t->data[k]);
    }
    cJSON_Delete(root);
    free(file);
    ag_params_free(params);
}
END_TEST

START_TEST(test_save_leaves_no_temporary_file) {
    ag_params *params = small_model();
    char path[256], listing[512];
    in_tmpdir("model.safetensors", path, sizeof path);
    ck_assert_msg(ag_params_save(params, path, NULL, 0) == AG_OK, "%s", ag_error_message());
    ag_params_data(params)[0] = 42;
    ck_assert_msg(ag_params_save(params, path, NULL, 0) == AG_OK, "%s", ag_error_message());
    list_tmpdir(listing, sizeof listing);
    ck_assert_str_eq(listing, "model.safetensors");

    /* The second save replaced the first. */
    ag_params_data(params)[0] = 0;
    ck_assert_int_eq(ag_params_load(params, path), AG_OK);
    ck_assert_float_eq(ag_params_data(params)[0], 42);
    ag_params_free(params);
}
END_TEST

START_TEST(test_save_into_missing_directory_fails) {
    ag_params *params = small_model();
    char path[256], listing[512];
    in_tmpdir("no/such/dir/model.safetensors", path, sizeof path);
    ck_assert_int_eq(ag_params_save(params, path, NULL, 0), AG_ERROR_IO);
    ck_assert_int_eq(ag_error_code(), AG_ERROR_IO);
    ck_assert_msg(strstr(ag_error_message(), path) != NULL, "%s", ag_error_message());
    ck_assert_msg(strstr(ag_error_message(), strerror(ENOENT)) != NULL, "%s", ag_error_message());
    list_tmpdir(listing, sizeof listing);
    ck_assert_str_eq(listing, "");
    ag_params_free(params);
}
END_TEST

/* A save onto a directory is refused before anything is written; a rename
 * that fails after the temporary file was written (a directory appeared
 * at the path meanwhile) removes it. */
START_TEST(test_failed_save_removes_its_temporary_file) {
    ag_params *params = small_model();
    char path[256], listing[512];
    in_tmpdir("taken", path, sizeof path);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(ag_params_save(params, path, NULL, 0), AG_ERROR_IO);
    ck_assert_msg(strstr(ag_error_message(), path) != NULL, "%s", ag_error_message());
    list_tmpdir(listing, sizeof listing);
    ck_assert_str_eq(listing, "taken");

    in_tmpdir("late", path, sizeof path);
    ag_atomic_file out;
    ck_assert_int_eq(ag_atomic_file_begin(&out, path), AG_OK);
    fputs("content", out.file);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(ag_atomic_file_commit(&out), AG_ERROR_IO);
    ck_assert_msg(strstr(ag_error_message(), path) != NULL, "%s", ag_error_message());
    ck_assert_msg(strstr(ag_error_message(), "rename") != NULL, "%s", ag_error_message());
    list_tmpdir(listing, sizeof listing);
    ck_assert_str_eq(listing, "late taken");
    ag_params_free(params);
}
END_TEST

START_TEST(test_save_and_load_check_arguments) {
    ag_params *params = small_model();
    char path[256], listing[512];
    in_tmpdir("model.safetensors", path, sizeof path);
    const char *const duplicate[] = {"k", "1", "k", "2"};
    const char *const null_value[] = {"k", NULL};
    ck_assert_int_eq(ag_params_save(NULL, path, NULL, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_save(params, NULL, NULL, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_save(params, "", NULL, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_save(params, path, NULL, 1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_save(params, path, duplicate, -1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_save(params, path, duplicate, 2), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "'k'") != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_params_save(params, path, null_value, 1), AG_ERROR_ARGUMENT);
    list_tmpdir(listing, sizeof listing);
    ck_assert_str_eq(listing, "");
    ck_assert_int_eq(ag_params_load(NULL, path), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_load(params, NULL), AG_ERROR_ARGUMENT);
    ag_params_free(params);
}
END_TEST

/* ------------------------------------------------------------ loading */

START_TEST(test_load_ignores_tensors_the_model_lacks) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("extra.safetensors", path, sizeof path);
    /* "z" is empty although its sizes multiply past 2^64: a zero among them
     * makes it so, and it takes no bytes. */
    write_safetensors(path,
                      "{\"extra\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[40,52]}," TENSOR_A
                      ",\"z\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,0],"
                      "\"data_offsets\":[52,52]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]},"
                      "\"__metadata__\":{\"format\":\"pt\"}}",
                      52);
    ck_assert_msg(ag_params_load(params, path) == AG_OK, "%s", ag_error_message());
    for (int64_t i = 0; i < ag_params_size(params); i++)
        ck_assert_float_eq(ag_params_data(params)[i], -1.0f - (float)i);
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_truncated_files) {
    ag_params *params = small_model();
    char path[256], cut_path[256];
    in_tmpdir("model.safetensors", path, sizeof path);
    in_tmpdir("cut.safetensors", cut_path, sizeof cut_path);
    ck_assert_int_eq(ag_params_save(params, path, NULL, 0), AG_OK);
    size_t size;
    unsigned char *file = read_bytes(path, &size);
    size_t header_end = 8 + (size_t)get_u64_le(file);
    for (int64_t i = 0; i < ag_params_size(params); i++) ag_params_data(params)[i] = -7;

    const size_t cuts[] = {1, 3, 7, 8, 9, 8 + (header_end - 8) / 2, header_end - 1, header_end,
                           header_end + 10, size - 4, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(cut_path, file, cuts[i]);
        expect_load_fails(params, cut_path, AG_ERROR_FORMAT, "truncated");
    }
    free(file);
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_empty_file) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("empty.safetensors", path, sizeof path);
    write_bytes(path, "", 0);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "empty");
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_broken_json) {
    ag_params *params = small_model();
    char path[256], bad_path[256];
    in_tmpdir("model.safetensors", path, sizeof path);
    in_tmpdir("bad.safetensors", bad_path, sizeof bad_path);
    ck_assert_int_eq(ag_params_save(params, path, NULL, 0), AG_OK);
    size_t size;
    unsigned char *file = read_bytes(path, &size);
    size_t header_end = 8 + (size_t)get_u64_le(file);
    size_t json_end = header_end;
    while (file[json_end - 1] == ' ') json_end--;
    for (int64_t i = 0; i < ag_params_size(params); i++) ag_params_data(params)[i] = -7;

    /* One flipped bit in each of these bytes leaves no valid JSON. */
    const size_t positions[] = {8, 9, (size_t)((unsigned char *)memchr(file + 8, ':', size - 8) - file),
                                json_end - 1, json_end - 2};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        unsigned char *bad = malloc(size);
        memcpy(bad, file, size);
        bad[positions[i]] ^= 0x01;
        write_bytes(bad_path, bad, size);
        expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "JSON");
        free(bad);
    }

    /* Garbage after a complete object. */
    const char garbage[] = "{" TENSOR_A "," TENSOR_B "} x";
    write_safetensors(bad_path, garbage, 40);
    expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "JSON");
    write_safetensors_n(bad_path, garbage, sizeof garbage - 3, 40);
    ck_assert_int_eq(ag_params_load(params, bad_path), AG_OK);
    const char nul_after[] = "{" TENSOR_A "," TENSOR_B "}\0  ";
    write_safetensors_n(bad_path, nul_after, sizeof nul_after - 1, 40);
    expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "JSON");
    for (int64_t i = 0; i < ag_params_size(params); i++) ag_params_data(params)[i] = -7;

    /* Damage at the end of the padding, a NUL inside the JSON, an empty
     * header, and JSON that is not an object. */
    unsigned char *bad = malloc(size);
    memcpy(bad, file, size);
    bad[header_end - 1] = 'x';
    write_bytes(bad_path, bad, size);
    expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "JSON");
    memcpy(bad, file, size);
    bad[json_end - 10] = '\0';
    write_bytes(bad_path, bad, size);
    expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "JSON");
    free(bad);
    write_safetensors(bad_path, "", 0);
    expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "JSON");
    write_safetensors(bad_path, "[1, 2]", 0);
    expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "object");
    write_safetensors(bad_path, "{\"a\": [0, 24]}", 0);
    expect_load_fails(params, bad_path, AG_ERROR_FORMAT, "'a'");
    free(file);
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_header_length_past_end) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("model.safetensors", path, sizeof path);
    ck_assert_int_eq(ag_params_save(params, path, NULL, 0), AG_OK);
    size_t size;
    unsigned char *file = read_bytes(path, &size);
    const uint64_t lengths[] = {size - 7, size, (uint64_t)1 << 32, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        put_u64_le(file, lengths[i]);
        write_bytes(path, file, size);
        expect_load_fails(params, path, AG_ERROR_FORMAT, "header length");
    }
    free(file);
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_wrong_dtype) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("f16.safetensors", path, sizeof path);
    write_small_file(path, "{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]}", 32);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "'b' has dtype F16");
    write_small_file(path, "{\"shape\":[4],\"data_offsets\":[24,40]}", 40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "dtype");
    write_small_file(path, "{\"dtype\":32,\"shape\":[4],\"data_offsets\":[24,40]}", 40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "dtype");
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_wrong_shape) {
    ag_params *params = small_model();
    char path[256], expected[512];
    in_tmpdir("shape.safetensors", path, sizeof path);
    write_small_file(path, "{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]}", 40);
    expect_load_fails(params, path, AG_ERROR_SHAPE, "shape");
    snprintf(expected, sizeof expected, "ag_params_load: %s: tensor 'b' has shape [2, 2], expected [4]", path);
    ck_assert_str_eq(ag_error_message(), expected);

    write_small_file(path, "{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]}", 28);
    expect_load_fails(params, path, AG_ERROR_SHAPE, "shape [], expected [4]");
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_malformed_shapes) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("shape.safetensors", path, sizeof path);
    const char *const bad[] = {
        "[-4]", "[4.5]", "[1e10]", "[\"4\"]", "[4, null]", "4", "{}", "[2147483648]",
    };
    char entry[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(entry, sizeof entry, "{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[24,40]}", bad[i]);
        write_small_file(path, entry, 40);
        expect_load_fails(params, path, AG_ERROR_FORMAT, "shape");
    }
    /* Sizes whose product overflows 64 bits. */
    write_small_file(path,
                     "{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,4],\"data_offsets\":[24,40]}",
                     40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "does not match");
    /* 2^30 * 2^30 * 4 floats are 2^64 bytes, which a 64-bit product would
     * wrap to 0. */
    write_safetensors(path,
                      "{" TENSOR_A "," TENSOR_B ",\"huge\":{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824,4],"
                      "\"data_offsets\":[40,40]}}",
                      40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "'huge' has shape [1073741824, 1073741824, 4], which does not match");
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_missing_tensor) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("missing.safetensors", path, sizeof path);
    write_safetensors(path, "{" TENSOR_A "}", 24);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "'b' is missing");
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_duplicate_names_and_bad_metadata) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("dup.safetensors", path, sizeof path);
    write_safetensors(path,
                      "{" TENSOR_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[40,56]}}",
                      56);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "twice");
    write_safetensors(path, "{\"__metadata__\":{\"epoch\":12}," TENSOR_A "," TENSOR_B "}", 40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "__metadata__");
    write_safetensors(path, "{\"__metadata__\":[\"epoch\"]," TENSOR_A "," TENSOR_B "}", 40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "__metadata__");
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_bad_offsets) {
    ag_params *params = small_model();
    char path[256], entry[256];
    in_tmpdir("offsets.safetensors", path, sizeof path);
    const struct {
        const char *offsets;
        size_t data_size;
        const char *keyword;
    } cases[] = {
        {"[16,32]", 32, "overlap"},
        {"[0,16]", 24, "overlap"},
        {"[28,44]", 44, "gap"},
        {"[24,40]", 48, "trailing"},
        {"[1000,1016]", 40, "out of range"},
        {"[24,1016]", 40, "out of range"},
        {"[40,24]", 40, "data_offsets"},
        {"[24,36]", 36, "does not match"},
        {"[24,44]", 44, "does not match"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(entry, sizeof entry, "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":%s}", cases[i].offsets);
        write_small_file(path, entry, cases[i].data_size);
        expect_load_fails(params, path, AG_ERROR_FORMAT, cases[i].keyword);
    }
    /* Tensor a after a gap at the start of the data. */
    write_safetensors(path,
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[4,28]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[28,44]}}",
                      44);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "gap");
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_offsets_that_are_not_integers) {
    ag_params *params = small_model();
    char path[256], entry[256];
    in_tmpdir("numbers.safetensors", path, sizeof path);
    const char *const bad[] = {
        "[-16,40]", "[24,-40]", "[24.5,40]", "[24,40.25]", "[1e300,40]", "[24,1e30]", "[24,-1e400]",
        "[24,18446744073709551656]", "[\"24\",40]", "[24,null]", "[24]", "[24,40,56]", "[]", "{}", "40",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(entry, sizeof entry, "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":%s}", bad[i]);
        write_small_file(path, entry, 40);
        expect_load_fails(params, path, AG_ERROR_FORMAT, "data_offsets");
    }
    ag_params_free(params);
}
END_TEST

START_TEST(test_load_rejects_paths_that_are_not_files) {
    ag_params *params = small_model();
    char path[256];
    expect_load_fails(params, tmpdir, AG_ERROR_IO, "directory");
    in_tmpdir("does-not-exist.safetensors", path, sizeof path);
    expect_load_fails(params, path, AG_ERROR_IO, strerror(ENOENT));
    in_tmpdir("fifo", path, sizeof path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_load_fails(params, path, AG_ERROR_IO, "not a regular file");
    ag_params_free(params);
}
END_TEST

/* Random damage to a valid file: the loader never crashes (the sanitizer
 * build watches for reads out of bounds), fails only with a content error,
 * and leaves the values alone when it fails. */
START_TEST(test_load_survives_random_damage) {
    ag_params *params = small_model();
    char path[256], bad_path[256];
    in_tmpdir("model.safetensors", path, sizeof path);
    in_tmpdir("bad.safetensors", bad_path, sizeof bad_path);
    const char *const metadata[] = {"epoch", "3"};
    ck_assert_int_eq(ag_params_save(params, path, metadata, 1), AG_OK);
    size_t size;
    unsigned char *file = read_bytes(path, &size);
    size_t header_end = 8 + (size_t)get_u64_le(file);
    unsigned char *bad = malloc(size);
    ag_rng rng;
    ag_rng_seed(&rng, 2024, 0);
    int rejected = 0;
    const char replacements[] = "{}[]\":,-.0123456789eE \\F";
    for (int round = 0; round < 2000; round++) {
        memcpy(bad, file, size);
        size_t bad_size = size;
        int n_changes = 1 + (int)ag_rng_below(&rng, 3);
        for (int c = 0; c < n_changes; c++) {
            /* Mostly the header, where damage matters most. */
            size_t at = ag_rng_below(&rng, 4) ? ag_rng_below(&rng, (uint32_t)header_end)
                                              : ag_rng_below(&rng, (uint32_t)size);
            switch (ag_rng_below(&rng, 4)) {
            case 0: bad[at] ^= (unsigned char)(1u << ag_rng_below(&rng, 8)); break;
            case 1: bad[at] = (unsigned char)replacements[ag_rng_below(&rng, sizeof replacements - 1)]; break;
            case 2: bad[at] = (unsigned char)ag_rng_next_u32(&rng); break;
            default: bad_size = at < bad_size ? at : bad_size; break;
            }
        }
        write_bytes(bad_path, bad, bad_size);
        for (int64_t i = 0; i < ag_params_size(params); i++) ag_params_data(params)[i] = (ag_real)(100 + i);
        ag_status status = ag_params_load(params, bad_path);
        if (status == AG_OK) {
            /* Only a file that no longer has its checksum can load damaged
             * (several bytes of the key changed: a file without one), and
             * it is never called verified. */
            if (bad_size == size && memcmp(bad, file, size) == 0) continue;
            ag_checkpoint *cp = ag_checkpoint_load(bad_path);
            ck_assert_msg(cp && !ag_checkpoint_verified(cp) && !ag_checkpoint_metadata(cp, "ag.crc32c"),
                          "round %d: a damaged file loaded as verified", round);
            ag_checkpoint_free(cp);
            continue;
        }
        rejected++;
        ck_assert_msg(status == AG_ERROR_FORMAT || status == AG_ERROR_SHAPE, "round %d: status %d: %s", round,
                      status, ag_error_message());
        for (int64_t i = 0; i < ag_params_size(params); i++)
            ck_assert_float_eq(ag_params_data(params)[i], (ag_real)(100 + i));
    }
    ck_assert_int_gt(rejected, 1950);
    free(bad);
    free(file);
    ag_params_free(params);
}
END_TEST

/* ------------------------------------------------------------ checksum */

START_TEST(test_crc32c_known_values) {
    /* The check value of CRC-32C, and RFC 3720's (iSCSI) vectors. */
    ck_assert_uint_eq(ag_crc32c(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(ag_crc32c(0, "", 0), 0);
    unsigned char block[32];
    memset(block, 0, sizeof block);
    ck_assert_uint_eq(ag_crc32c(0, block, 32), 0x8a9136aau);
    memset(block, 0xff, sizeof block);
    ck_assert_uint_eq(ag_crc32c(0, block, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++) block[i] = (unsigned char)i;
    ck_assert_uint_eq(ag_crc32c(0, block, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++) block[i] = (unsigned char)(31 - i);
    ck_assert_uint_eq(ag_crc32c(0, block, 32), 0x113fdb5cu);
    /* In pieces, split anywhere and at any alignment: the same CRC as at once. */
    unsigned char text[301];
    for (int i = 0; i < 301; i++) text[i] = (unsigned char)(i * 7 + 3);
    uint32_t whole = ag_crc32c(0, text + 1, 300);
    for (size_t cut = 0; cut <= 300; cut++)
        ck_assert_uint_eq(ag_crc32c(ag_crc32c(0, text + 1, cut), text + 1 + cut, 300 - cut), whole);
}
END_TEST

/* A training checkpoint of the small model: parameters, an array and
 * metadata, as a demo writes one (about 400 bytes). */
static void write_small_checkpoint(const char *path) {
    ag_params *params = small_model();
    ag_real recent[3] = {0.5, 0.25, 0.125};
    ag_rng rng;
    ag_rng_seed(&rng, 5, 3);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(ag_checkpoint_add_params(w, params), AG_OK);
    ck_assert_int_eq(ag_checkpoint_add_array(w, "train.recent", recent, 3), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_int(w, "train.step", 26898), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_rng(w, "train.rng", &rng), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "lr", "0.001"), AG_OK);
    ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
    ag_checkpoint_writer_free(w);
    ag_params_free(params);
}

START_TEST(test_checksum_round_trip) {
    char path[256];
    in_tmpdir("cp.safetensors", path, sizeof path);
    write_small_checkpoint(path);
    ag_checkpoint *cp = ag_checkpoint_load(path);
    ck_assert_msg(cp != NULL, "%s", ag_error_message());
    ck_assert(ag_checkpoint_verified(cp));
    int64_t step = 0;
    ck_assert_int_eq(ag_checkpoint_get_int(cp, "train.step", &step), AG_OK);
    ck_assert_int_eq(step, 26898);
    ag_checkpoint_free(cp);
    ck_assert(!ag_checkpoint_verified(NULL));
    ag_params *params = small_model();
    ck_assert_int_eq(ag_params_load(params, path), AG_OK);
    ag_params_free(params);
}
END_TEST

/* Every single-bit flip anywhere in a checkpoint (length field, header,
 * padding, data) is refused by both loaders, the parameters untouched:
 * before the checksum a flipped digit of train.step or of a weight loaded
 * as a valid file. */
START_TEST(test_every_bit_flip_is_refused) {
    char path[256], bad_path[256];
    in_tmpdir("cp.safetensors", path, sizeof path);
    in_tmpdir("flipped.safetensors", bad_path, sizeof bad_path);
    write_small_checkpoint(path);
    size_t size;
    unsigned char *file = read_bytes(path, &size);
    size_t data_begin = 8 + (size_t)get_u64_le(file);
    ag_params *params = small_model();
    int mismatches = 0;
    write_bytes(bad_path, file, size);
    for (size_t at = 0; at < size; at++)
        for (int bit = 0; bit < 8; bit++) {
            put_byte(bad_path, at, file[at] ^ (unsigned char)(1u << bit));
            ag_error_clear();
            ag_checkpoint *cp = ag_checkpoint_load(bad_path);
            ck_assert_msg(cp == NULL, "byte %zu bit %d flipped: the checkpoint loads", at, bit);
            const char *message = ag_error_message();
            ck_assert_msg(strstr(message, bad_path) && !strchr(message, '\n'), "byte %zu bit %d: '%s'", at, bit,
                          message);
            bool mismatch = strstr(message, "checksum mismatch: the file is damaged (CRC-32C ") != NULL;
            mismatches += mismatch;
            ck_assert_msg(mismatch || at < data_begin, "byte %zu of the data, bit %d: '%s'", at, bit, message);
            ck_assert_int_ne(ag_params_load(params, bad_path), AG_OK);
            for (int64_t i = 0; i < ag_params_size(params); i++)
                ck_assert_float_eq(ag_params_data(params)[i], (ag_real)(100 + i));
            put_byte(bad_path, at, file[at]);
        }
    /* Every flip in the data, and those in the header that leave it
     * well-formed, reach the checksum. */
    ck_assert_int_gt(mismatches, (int)(size - data_begin) * 8 + (int)(data_begin * 8) / 5);
    free(file);
    ag_params_free(params);
}
END_TEST

START_TEST(test_checksum_mismatch_names_both_values) {
    char path[256];
    in_tmpdir("cp.safetensors", path, sizeof path);
    write_small_checkpoint(path);
    size_t size;
    unsigned char *file = read_bytes(path, &size);
    char *step = NULL;
    for (size_t i = 0; !step && i + 20 <= size; i++)
        if (memcmp(file + i, "\"train.step\":\"26898\"", 20) == 0) step = (char *)file + i;
    ck_assert_ptr_nonnull(step);
    step[15] = '2'; /* 26898 -> 22898, a valid-looking edit */
    write_bytes(path, file, size);
    ag_params *params = small_model();
    expect_load_fails(params, path, AG_ERROR_FORMAT, "checksum mismatch: the file is damaged (CRC-32C ");
    ck_assert_ptr_null(ag_checkpoint_load(path));
    /* Both values, the file's CRC and the one recorded in it. */
    file[size] = '\0'; /* read_bytes leaves room */
    const char *recorded = strstr((const char *)file + 8, "\"ag.crc32c\":\"");
    ck_assert_ptr_nonnull(recorded);
    recorded += 13;
    char expected[40];
    snprintf(expected, sizeof expected, ", expected %.8s)", recorded);
    ck_assert_msg(strstr(ag_error_message(), expected), "'%s' lacks '%s'", ag_error_message(), expected);
    free(file);
    ag_params_free(params);
}
END_TEST

/* A file without the entry (an older ag's, PyTorch's) loads, unverified. */
START_TEST(test_file_without_checksum_loads_unverified) {
    char path[256];
    in_tmpdir("old.safetensors", path, sizeof path);
    write_safetensors(path, "{\"__metadata__\":{\"train.step\":\"7\"}," TENSOR_A "," TENSOR_B "}", 40);
    ag_params *params = small_model();
    ck_assert_msg(ag_params_load(params, path) == AG_OK, "%s", ag_error_message());
    ck_assert_float_eq(ag_params_data(params)[0], -1);
    ag_checkpoint *cp = ag_checkpoint_load(path);
    ck_assert_msg(cp != NULL, "%s", ag_error_message());
    ck_assert(!ag_checkpoint_verified(cp));
    ag_checkpoint_free(cp);
    write_safetensors(path, "{" TENSOR_A "," TENSOR_B "}", 40);
    cp = ag_checkpoint_load(path);
    ck_assert_msg(cp != NULL, "%s", ag_error_message());
    ck_assert(!ag_checkpoint_verified(cp));
    ag_checkpoint_free(cp);
    ag_params_free(params);
}
END_TEST

/* A damaged checksum entry is refused, never taken for a file without one. */
START_TEST(test_damaged_checksum_entry_is_refused) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("entry.safetensors", path, sizeof path);
    static const struct {
        const char *metadata, *keyword;
    } cases[] = {
        {"\"ag.crc32b\":\"1234abcd\"", "'ag.crc32b' is a damaged 'ag.crc32c' (one bit off)"},
        {"\"ag.crc32c\":\"1234ABCD\"", "is '1234ABCD', not 8 lowercase hex digits"},
        {"\"ag.crc32c\":\"1234abc\"", "not 8 lowercase hex digits"},
        {"\"ag.crc32c\":\"1234abcde\"", "not 8 lowercase hex digits"},
        {"\"ag.crc32c\" : \"1234abcd\"", "is not written as \"ag.crc32c\":\"1234abcd\" once"},
        {"\"ag.crc32c\":\"1234abcd\"", "checksum mismatch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char header[512];
        snprintf(header, sizeof header, "{\"__metadata__\":{%s}," TENSOR_A "," TENSOR_B "}", cases[i].metadata);
        write_safetensors(path, header, 40);
        expect_load_fails(params, path, AG_ERROR_FORMAT, cases[i].keyword);
    }
    /* The key's text a second time, in a tensor's entry. */
    write_safetensors(path,
                      "{\"__metadata__\":{\"ag.crc32c\":\"1234abcd\"}," TENSOR_A
                      ",\"b\":{\"ag.crc32c\":\"1234abcd\",\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}}",
                      40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "once in the header (2 times)");
    ag_params_free(params);
}
END_TEST

START_TEST(test_metadata_twice_is_refused) {
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("twice.safetensors", path, sizeof path);
    write_safetensors(path,
                      "{\"__metadata__\":{\"train.step\":\"1\"}," TENSOR_A ",\"__metadata__\":{\"train.step\":\"2\"},"
                      TENSOR_B "}",
                      40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "'__metadata__' appears twice in the header");
    ck_assert_ptr_null(ag_checkpoint_load(path));
    write_safetensors(path, "{\"__metadata__\":{\"train.step\":\"1\",\"lr\":\"1\",\"train.step\":\"2\"}," TENSOR_A
                            "," TENSOR_B "}",
                      40);
    expect_load_fails(params, path, AG_ERROR_FORMAT, "metadata key 'train.step' appears twice in the header");
    ag_params_free(params);
}
END_TEST

/* The writer keeps the key for itself, and keys a reader would take for a
 * damaged one. */
START_TEST(test_writer_refuses_the_checksum_key) {
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "ag.crc32c", "00000000"), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "reserved for the checksum"), "%s", ag_error_message());
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "ag.crc32b", "x"), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "Ag.crc32c", "x"), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "ag.crc32", "x"), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "ag.crc32cc", "x"), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "ag.crc64c", "x"), AG_OK); /* '3' to '6': two bits */
    ag_checkpoint_writer_free(w);
    ag_params *params = small_model();
    char path[256];
    in_tmpdir("model.safetensors", path, sizeof path);
    const char *const metadata[] = {"ag.crc32c", "12345678"};
    ck_assert_int_eq(ag_params_save(params, path, metadata, 1), AG_ERROR_ARGUMENT);
    ck_assert_int_ne(access(path, F_OK), 0);
    ag_params_free(params);
}
END_TEST

AG_TEST_SUITE(checkpoint_suite)
static Suite *checkpoint_suite(void) {
    Suite *s = suite_create("checkpoint");
    TCase *save = tcase_create("save");
    tcase_add_checked_fixture(save, make_tmpdir, remove_tmpdir);
    tcase_add_test(save, test_round_trip_is_bitwise_exact);
    tcase_add_test(save, test_file_has_the_safetensors_layout);
    tcase_add_test(save, test_save_leaves_no_temporary_file);
    tcase_add_test(save, test_save_into_missing_directory_fails);
    tcase_add_test(save, test_failed_save_removes_its_temporary_file);
    tcase_add_test(save, test_save_and_load_check_arguments);
    suite_add_tcase(s, save);

    TCase *load = tcase_create("load");
    tcase_add_checked_fixture(load, make_tmpdir, remove_tmpdir);
    tcase_add_test(load, test_load_ignores_tensors_the_model_lacks);
    tcase_add_test(load, test_load_rejects_truncated_files);
    tcase_add_test(load, test_load_rejects_empty_file);
    tcase_add_test(load, test_load_rejects_broken_json);
    tcase_add_test(load, test_load_rejects_header_length_past_end);
    tcase_add_test(load, test_load_rejects_wrong_dtype);
    tcase_add_test(load, test_load_rejects_wrong_shape);
    tcase_add_test(load, test_load_rejects_malformed_shapes);
    tcase_add_test(load, test_load_rejects_missing_tensor);
    tcase_add_test(load, test_load_rejects_duplicate_names_and_bad_metadata);
    tcase_add_test(load, test_load_rejects_bad_offsets);
    tcase_add_test(load, test_load_rejects_offsets_that_are_not_integers);
    tcase_add_test(load, test_load_rejects_paths_that_are_not_files);
    tcase_add_test(load, test_load_survives_random_damage);
    tcase_set_timeout(load, 60);
    suite_add_tcase(s, load);

    TCase *checksum = tcase_create("checksum");
    tcase_add_checked_fixture(checksum, make_tmpdir, remove_tmpdir);
    tcase_add_test(checksum, test_crc32c_known_values);
    tcase_add_test(checksum, test_checksum_round_trip);
    tcase_add_test(checksum, test_every_bit_flip_is_refused);
    tcase_add_test(checksum, test_checksum_mismatch_names_both_values);
    tcase_add_test(checksum, test_file_without_checksum_loads_unverified);
    tcase_add_test(checksum, test_damaged_checksum_entry_is_refused);
    tcase_add_test(checksum, test_metadata_twice_is_refused);
    tcase_add_test(checksum, test_writer_refuses_the_checksum_key);
    tcase_set_timeout(checksum, 120);
    suite_add_tcase(s, checksum);
    return s;
}
