/* Writes the fuzzers' seed corpora and the regression inputs (`make
 * fuzz-seeds`):
 *
 *   CORPUS/checkpoint/   checkpoints saved by ag_params_save for the
 *                        fuzzers' model (LSTMCell(10, 16) "lstm.*",
 *                        Linear(16, 10) "linear.*"), a training checkpoint
 *                        (ag_checkpoint_save), plus a few malformed
 *   CORPUS/csv/          digit-sum files written by digitsum_write_csv,
 *                        plus the variants the reader accepts and a few
 *                        malformed
 *   FIXTURES/checkpoint/ malformed checkpoints that ag_params_load (and
 *                        ag_checkpoint_load + ag_checkpoint_read_params) must
 *   FIXTURES/csv/        and malformed CSV that digitsum_load_csv must
 *                        refuse (tests/test_fuzz_regressions.c)
 *
 * Everything is deterministic (fixed seeds), so the files only change when
 * the library's output does. Usage: make_seeds CORPUS_DIR FIXTURES_DIR */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ag.h"
#include "digitsum.h"

static void die(const char *what) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, ag_error_code() != AG_OK ? ag_error_message() : strerror(errno));
    exit(1);
}

static const char *join(const char *dir, const char *name) {
    static char path[2200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path);
}

static void write_bytes(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) die(path);
}

static unsigned char *read_bytes(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) die(path);
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die(path);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* ------------------------------------------------------------ checkpoints */

/* The fuzzers' model; `linear_first` adds the Linear first (another order
 * in the file), `extra` adds a tensor the model lacks. */
static ag_params *model(uint64_t seed, bool linear_first, bool extra) {
    ag_params *params = ag_params_create();
    ag_rng rng;
    ag_rng_seed(&rng, seed, 0);
    ag_lstm_cell lstm;
    ag_linear linear;
    if (!params) die("ag_params_create");
    if (linear_first && ag_linear_init(&linear, params, "linear", 16, 10, true, &rng) != AG_OK) die("linear");
    if (ag_lstm_cell_init(&lstm, params, "lstm", 10, 16, true, &rng) != AG_OK) die("lstm");
    if (!linear_first && ag_linear_init(&linear, params, "linear", 16, 10, true, &rng) != AG_OK) die("linear");
    if (extra) {
        ag_tensor *t = ag_params_add(params, "step", 1, (int[]){1});
        if (!t) die("step");
        t->data[0] = 100;
    }
    return params;
}

static void save(ag_params *params, const char *path, const char *const *metadata, int n_metadata) {
    if (ag_params_save(params, path, metadata, n_metadata) != AG_OK) die(path);
    ag_params_free(params);
}

/* A safetensors file from header text (padded with spaces to a multiple
 * of 8, as ag writes) and `data_size` data bytes counting up. */
static void safetensors(const char *path, const char *header, size_t data_size) {
    size_t len = strlen(header), padded = (len + 7) / 8 * 8;
    unsigned char *buf = malloc(8 + padded + data_size);
    if (!buf) die("malloc");
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, header, len);
    memset(buf + 8 + len, ' ', padded - len);
    for (size_t i = 0; i < data_size; i++) buf[8 + padded + i] = (unsigned char)i;
    write_bytes(path, buf, 8 + padded + data_size);
    free(buf);
}

/* A string literal with its length, NUL bytes included. */
#define LIT(s) s, sizeof(s) - 1

/* The 8-byte length field and then `rest` of `size` bytes. */
static void raw_with_length(const char *path, uint64_t length, const void *rest, size_t size) {
    unsigned char buf[512];
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(length >> (8 * i));
    memcpy(buf + 8, rest, size);
    write_bytes(path, buf, 8 + size);
}

/* Where the checksum's 8 hex digits lie in a file of ours (whose header
 * begins {"__metadata__":{"ag.crc32c":"xxxxxxxx"). */
#define CRC_AT (8 + 30)

/* Recomputes the checksum of a file of ours in memory, after an edit. */
static void resign(unsigned char *buf, size_t size) {
    if (memcmp(buf + 8, "{\"__metadata__\":{\"ag.crc32c\":\"", 30) != 0) die("resign: not a file of ours");
    memcpy(buf + CRC_AT, "00000000", 8);
    char value[9];
    snprintf(value, sizeof value, "%08x", (unsigned)ag_crc32c(0, buf, size));
    memcpy(buf + CRC_AT, value, 8);
}

/* A copy of a checkpoint of ours with `from` in its header replaced by
 * `to` (same length, so that the data stays where it is), its checksum
 * recomputed: the file is refused for what the edit did, not as damaged. */
static void edit_header_signed(const char *src, const char *dst, const char *from, const char *to, bool sign) {
    size_t size;
    unsigned char *buf = read_bytes(src, &size);
    if (strlen(from) != strlen(to)) die("edit_header: lengths differ");
    buf[size] = '\0';
    char *at = strstr((char *)buf + 8, from);
    if (!at) die(from);
    memcpy(at, to, strlen(to));
    if (sign) resign(buf, size);
    write_bytes(dst, buf, size);
    free(buf);
}

static void edit_header(const char *src, const char *dst, const char *from, const char *to) {
    edit_header_signed(src, dst, from, to, true);
}

/* A copy of a checkpoint of ours with byte `at` XORed with `mask` and no
 * checksum recomputed: a damaged file. */
static void damaged(const char *src, const char *dst, long at, unsigned char mask) {
    size_t size;
    unsigned char *buf = read_bytes(src, &size);
    buf[at < 0 ? (long)size + at : at] ^= mask;
    write_bytes(dst, buf, size);
    free(buf);
}

/* A copy of a checkpoint of ours without its checksum entry (as an older
 * ag wrote it, or PyTorch): it loads unverified, so the fuzzer's mutations
 * of it reach every reader past the checksum. */
static void without_checksum(const char *src, const char *dst) {
    size_t size;
    unsigned char *buf = read_bytes(src, &size);
    size_t header_len = 0;
    for (int i = 0; i < 8; i++) header_len |= (size_t)buf[i] << (8 * i);
    size_t entry = CRC_AT - 13, entry_len = 13 + 8 + 1; /* "ag.crc32c":"xxxxxxxx" */
    if (buf[entry + entry_len] == ',') entry_len++;
    size_t text_len = header_len - entry_len;
    while (text_len > 0 && buf[8 + entry_len + text_len - 1] == ' ') text_len--; /* the old padding */
    size_t padded = (text_len + 7) / 8 * 8, data = size - 8 - header_len;
    unsigned char *out = malloc(8 + padded + data);
    if (!out) die("malloc");
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, buf + 8, entry - 8);
    memcpy(out + entry, buf + entry + entry_len, text_len - (entry - 8));
    memset(out + 8 + text_len, ' ', padded - text_len);
    memcpy(out + 8 + padded, buf + 8 + header_len, data);
    write_bytes(dst, out, 8 + padded + data);
    free(out);
    free(buf);
}

/* A prefix of a checkpoint of ours. */
static void truncated(const char *src, const char *dst, long keep) {
    size_t size;
    unsigned char *buf = read_bytes(src, &size);
    write_bytes(dst, buf, keep < 0 ? size + (size_t)keep : (size_t)keep);
    free(buf);
}

/* A training checkpoint as the demos write one: parameters, Adam's state,
 * the epoch, a generator, an array and a metadata string. */
static void training_checkpoint(const char *path) {
    ag_params *params = model(11, false, false);
    ag_adam adam;
    if (ag_adam_init(&adam, params, 1e-3) != AG_OK) die("ag_adam_init");
    for (int64_t i = 0; i < adam.size; i++) {
        adam.m[i] = (ag_real)((double)(i % 7) - 3) * (ag_real)1e-3;
        adam.v[i] = (ag_real)(i % 5) * (ag_real)1e-6;
    }
    adam.step = 250;
    ag_real recent[100];
    for (int i = 0; i < 100; i++) recent[i] = (ag_real)(1.0 / (i + 1));
    ag_rng rng;
    ag_rng_seed(&rng, 5, 3);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    if (!w || ag_checkpoint_add_params(w, params) != AG_OK || ag_adam_save(&adam, w) != AG_OK ||
        ag_checkpoint_set_int(w, "train.epoch", 3) != AG_OK || ag_checkpoint_set_rng(w, "train.rng.order", &rng) != AG_OK ||
        ag_checkpoint_add_array(w, "train.recent_loss", recent, 100) != AG_OK ||
        ag_checkpoint_set_metadata(w, "train.loss", "0.0125") != AG_OK || ag_checkpoint_save(w, path) != AG_OK)
        die(path);
    ag_checkpoint_writer_free(w);
    ag_adam_free(&adam);
    ag_params_free(params);
}

static void checkpoint_corpus(const char *dir) {
    training_checkpoint(join(dir, "training.safetensors"));
    static const char *const metadata[] = {"format", "pt", "model", "digitsum-lstm"};
    save(model(42, false, false), join(dir, "lstm_metadata.safetensors"), metadata, 2);
    save(model(7, true, true), join(dir, "linear_first_extra_tensor.safetensors"), NULL, 0);
    /* The same without their checksums: mutations of a signed file stop at
     * the checksum; of these, they reach the readers behind it. */
    char src[2200];
    snprintf(src, sizeof src, "%s", join(dir, "training.safetensors"));
    without_checksum(src, join(dir, "training_unsigned.safetensors"));
    snprintf(src, sizeof src, "%s", join(dir, "lstm_metadata.safetensors"));
    without_checksum(src, join(dir, "lstm_metadata_unsigned.safetensors"));
    snprintf(src, sizeof src, "%s", join(dir, "linear_first_extra_tensor.safetensors"));
    without_checksum(src, join(dir, "linear_first_extra_tensor_unsigned.safetensors"));
    /* Malformed, small: the fuzzer mutates the valid ones most. */
    safetensors(join(dir, "overlap.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}",
                24);
    safetensors(join(dir, "escapes.safetensors"),
                "{\"__metadata__\":{\"k\\u0000\":\"\\ud83d\\ude00\"},"
                "\"n\\u001b\\n\\u00ff\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]}}",
                2);
}

static void checkpoint_fixtures(const char *dir, const char *valid_path) {
    char valid[2200];
    snprintf(valid, sizeof valid, "%s", valid_path);
    /* The length field. */
    write_bytes(join(dir, "empty.safetensors"), "", 0);
    write_bytes(join(dir, "length_field_truncated.safetensors"), LIT("\x10\0\0\0\0"));
    raw_with_length(join(dir, "header_length_huge.safetensors"), UINT64_MAX, LIT("{}      "));
    raw_with_length(join(dir, "header_length_2_63.safetensors"), (uint64_t)1 << 63, LIT("{}      "));
    raw_with_length(join(dir, "header_length_past_end.safetensors"), 1000, LIT("{\"a\":1}"));
    raw_with_length(join(dir, "header_length_zero.safetensors"), 0, LIT(""));
    /* Prefixes of a good file: inside the header, inside the data. */
    truncated(valid, join(dir, "truncated_header.safetensors"), 200);
    truncated(valid, join(dir, "truncated_data.safetensors"), -4);
    /* The JSON. */
    raw_with_length(join(dir, "nul_in_header.safetensors"), 16, LIT("{\"a\":\0\"x\"}      "));
    raw_with_length(join(dir, "trailing_garbage.safetensors"), 8, LIT("{}}}    "));
    raw_with_length(join(dir, "not_an_object.safetensors"), 8, LIT("[1,2,3] "));
    safetensors(join(dir, "non_utf8_name.safetensors"),
                "{\"\xff\xfe\x80\xc3\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    {
        /* Past cJSON's nesting limit of 1000. */
        char deep[2 * 1100 + 1];
        memset(deep, '[', 1100);
        memset(deep + 1100, ']', 1100);
        deep[2 * 1100] = '\0';
        safetensors(join(dir, "deep_nesting.safetensors"), deep, 0);
    }
    safetensors(join(dir, "unterminated_string.safetensors"), "{\"lstm.weight_ih\":{\"dtype\":\"F32", 0);
    /* Entries. */
    safetensors(join(dir, "control_chars_in_name.safetensors"),
                "{\"\\n\\r\\u001b[31mred\\u0007\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2);
    safetensors(join(dir, "control_chars_in_dtype.safetensors"),
                "{\"a\":{\"dtype\":\"F\\n3\\r2\\u001b\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    safetensors(join(dir, "metadata_not_strings.safetensors"), "{\"__metadata__\":{\"\\u0001\":[1]}}", 0);
    safetensors(join(dir, "duplicate_name.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8);
    safetensors(join(dir, "overlap.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}",
                24);
    safetensors(join(dir, "same_offsets.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                8);
    safetensors(join(dir, "gap.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                12);
    safetensors(join(dir, "offsets_reversed.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4);
    safetensors(join(dir, "offsets_2_64.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,"
                "18446744073709551616]}}",
                4);
    safetensors(join(dir, "offsets_fractional_negative.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-0.5,3.5]}}", 4);
    safetensors(join(dir, "offsets_1e300.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}}", 4);
    safetensors(join(dir, "shape_overflows.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,4],"
                "\"data_offsets\":[0,16]}}",
                16);
    safetensors(join(dir, "shape_negative.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1,-4],\"data_offsets\":[0,16]}}", 16);
    /* Well-formed files that do not fit the model. */
    edit_header(valid, join(dir, "shape_transposed.safetensors"), "\"shape\":[64,10]", "\"shape\":[10,64]");
    edit_header(valid, join(dir, "missing_tensor.safetensors"), "\"linear.bias\"", "\"linear.bia_\"");
    edit_header(valid, join(dir, "dtype_f16.safetensors"), "\"F32\"", "\"F16\"");
    /* The checksum: damage it finds, and a damaged entry. */
    damaged(valid, join(dir, "checksum_data_bit.safetensors"), -3, 0x10);
    edit_header_signed(valid, join(dir, "checksum_after_an_edit.safetensors"), "\"pt\"", "\"pu\"", false);
    damaged(valid, join(dir, "checksum_key_one_bit_off.safetensors"), CRC_AT - 13 + 9, 0x01); /* "ag.crc32b" */
    {
        size_t size;
        unsigned char *buf = read_bytes(valid, &size);
        buf[CRC_AT] = 'A'; /* hex, but not as ag writes it */
        write_bytes(join(dir, "checksum_not_lowercase.safetensors"), buf, size);
        free(buf);
    }
    /* __metadata__ twice, a metadata key twice. */
    safetensors(join(dir, "metadata_twice.safetensors"),
                "{\"__metadata__\":{\"a\":\"1\"},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"__metadata__\":{\"a\":\"2\"}}",
                4);
    safetensors(join(dir, "metadata_key_twice.safetensors"),
                "{\"__metadata__\":{\"train.epoch\":\"1\",\"b\":\"\",\"train.epoch\":\"2\"},"
                "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                4);
}

/* -------------------------------------------------------------------- CSV */

/* A data set of `n` sequences of lengths cycling from 1 to max_len. */
static void csv_corpus_file(const char *path, uint64_t seed, int n, int max_len) {
    digitsum_dataset data = {.examples = calloc((size_t)n, sizeof(digitsum_example)), .count = n};
    if (!data.examples) die("calloc");
    ag_rng rng;
    ag_rng_seed(&rng, seed, 1);
    for (int i = 0; i < n; i++) {
        char digits[DIGITSUM_MAX_DIGITS];
        int length = 1 + i % max_len;
        for (int k = 0; k < length; k++) digits[k] = (char)('0' + ag_rng_below(&rng, 10));
        if (digitsum_example_set(&data.examples[i], digits, (size_t)length) != AG_OK) die("digitsum_example_set");
    }
    if (digitsum_write_csv(path, &data) != AG_OK) die(path);
    digitsum_dataset_free(&data);
}

static void text_file(const char *dir, const char *name, const char *text) {
    write_bytes(join(dir, name), text, strlen(text));
}

static void csv_corpus(const char *dir) {
    csv_corpus_file(join(dir, "lengths_1_to_32.csv"), 1, 40, 32);
    csv_corpus_file(join(dir, "length_4.csv"), 2, 30, 4);
    /* What the reader accepts besides ag's own output. */
    text_file(dir, "header_crlf_blank.csv", "digits,sum\r\n0294,15\r\n\r\n99,18\r\n9,9");
    text_file(dir, "quoted.csv", "\"0294\",\"15\"\n\"1\",1\n");
    /* Malformed. */
    text_file(dir, "bad_quote.csv", "1234,10\n12\"34,10\n\"1234,10\n");
    text_file(dir, "bad_rows.csv", "1234,11\n1234\n1,1,1\n,0\n12a4,7\n");
}

static void csv_fixtures(const char *dir) {
    text_file(dir, "empty.csv", "");
    text_file(dir, "blank_lines_only.csv", "\n\r\n\n");
    text_file(dir, "header_only.csv", "digits,sum\n");
    text_file(dir, "quote_in_field.csv", "1234,10\n12\"34,10\n");
    text_file(dir, "quote_in_sum.csv", "1234,1\"0\n");
    text_file(dir, "unterminated_quote.csv", "1234,10\n\"1234,10\n");
    text_file(dir, "quoted_newline.csv", "\"12\n34\",10\n");
    text_file(dir, "three_columns.csv", "00,0\n1234,10,5\n");
    text_file(dir, "missing_column.csv", "1234,10\n1234\n");
    text_file(dir, "empty_fields.csv", ",\n");
    text_file(dir, "wrong_sum.csv", "1234,10\n1234,11\n");
    text_file(dir, "sum_leading_zero.csv", "1234,010\n");
    text_file(dir, "sum_plus_sign.csv", "1234,+10\n");
    text_file(dir, "too_many_digits.csv", "111111111111111111111111111111111,33\n");
    text_file(dir, "non_utf8.csv", "12\xff\xfe,3\n");
    text_file(dir, "escape_in_sum.csv", "1234,\"\x1b[31m10\"\n");
    text_file(dir, "cr_in_quoted_sum.csv", "1234,\"1\r0\"\n");
    text_file(dir, "control_in_header.csv", "digits,\"s\x01um\"\n1234,10\n");
    write_bytes(join(dir, "nul_in_digits.csv"), LIT("12\0004,7\n"));
    write_bytes(join(dir, "nul_after_sum.csv"), LIT("1234,10\0\n"));
    write_bytes(join(dir, "nul_after_sum_quoted.csv"), LIT("1234,\"10\0junk\"\n"));
    write_bytes(join(dir, "nul_in_header.csv"), LIT("digits\0,sum\n1234,10\n"));
    write_bytes(join(dir, "nul_line.csv"), LIT("1234,10\n\0\n"));
    /* Long lines: just past the limit, and one line of 8 KiB. */
    {
        char line[200];
        memset(line, '1', 129);
        memcpy(line + 129, ",129\n", 6);
        text_file(dir, "line_129_chars.csv", line);
        size_t size = 8192;
        char *big = malloc(size + 1);
        if (!big) die("malloc");
        memset(big, '9', size);
        big[size - 1] = '\n';
        big[size / 2] = ',';
        big[size] = '\0';
        text_file(dir, "line_8k.csv", big);
        free(big);
        /* A field over 64 characters in a line under 128. */
        memset(line, '0', 70);
        memcpy(line + 70, ",0\n", 4);
        text_file(dir, "field_70_chars.csv", line);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR FIXTURES_DIR\n");
        return 2;
    }
    const char *corpus = argv[1], *fixtures = argv[2];
    char dir[1024], dir2[1024];
    make_dir(corpus);
    make_dir(fixtures);

    snprintf(dir, sizeof dir, "%s/checkpoint", corpus);
    make_dir(dir);
    checkpoint_corpus(dir);
    snprintf(dir2, sizeof dir2, "%s/checkpoint", fixtures);
    make_dir(dir2);
    checkpoint_fixtures(dir2, join(dir, "lstm_metadata.safetensors"));

    snprintf(dir, sizeof dir, "%s/csv", corpus);
    make_dir(dir);
    csv_corpus(dir);
    snprintf(dir, sizeof dir, "%s/csv", fixtures);
    make_dir(dir);
    csv_fixtures(dir);
    return 0;
}
