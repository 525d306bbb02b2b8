/* The digit-sum data: an example from its digits, and the original
 * project's CSV files ("digits,sum" rows), read through libcsv with an
 * error naming the file and line, and written atomically. */
#include "digitsum_data.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_FIELD = 64 };

ag_status digitsum_example_set(digitsum_example *e, const char *digits, size_t length) {
    if (length < 1 || length > DIGITSUM_MAX_DIGITS)
        return ag_error_set(AG_ERROR_FORMAT, "a sequence has %zu digits; 1 to %d are accepted", length,
                            DIGITSUM_MAX_DIGITS);
    int sum = 0;
    for (size_t i = 0; i < length; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            unsigned char c = (unsigned char)digits[i];
            return c >= 32 && c < 127
                       ? ag_error_set(AG_ERROR_FORMAT, "'%c' at position %zu is not a digit", c, i + 1)
                       : ag_error_set(AG_ERROR_FORMAT, "byte 0x%02x at position %zu is not a digit", c, i + 1);
        }
        sum += digits[i] - '0';
    }
    memcpy(e->digits, digits, length);
    e->digits[length] = '\0';
    e->length = (int)length;
    e->answer_length = snprintf(e->answer, sizeof e->answer, "%d", sum);
    return AG_OK;
}

typedef struct csv_reader {
    const char *path;
    long line;
    char fields[2][MAX_FIELD + 1];
    size_t field_lengths[2];
    int n_fields;
    bool too_many, too_long, failed;
    digitsum_dataset *data;
    int64_t capacity;
} csv_reader;

static void reader_fail(csv_reader *r, ag_status code, const char *what) {
    if (r->failed) return;
    r->failed = true;
    ag_error_set(code, "%s:%ld: %s", r->path, r->line, what);
}

/* libcsv hands over fields that are neither NUL-terminated nor lasting. */
static void on_field(void *text, size_t length, void *context) {
    csv_reader *r = context;
    if (r->n_fields == 2) {
        r->too_many = true;
        return;
    }
    if (length > MAX_FIELD) {
        r->too_long = true;
        length = MAX_FIELD;
    }
    if (length > 0) memcpy(r->fields[r->n_fields], text, length);
    r->fields[r->n_fields][length] = '\0';
    r->field_lengths[r->n_fields] = length;
    r->n_fields++;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* libcsv's own test for the spaces it strips around a field: none, so that
 * on_row sees them and refuses the line. */
static int no_space(unsigned char c) {
    (void)c;
    return 0;
}

static void on_row(int terminator, void *context) {
    csv_reader *r = context;
    (void)terminator;
    r->line++;
    int n_fields = r->n_fields;
    r->n_fields = 0;
    if (r->failed) return;
    if (r->too_many || r->too_long || n_fields != 2) {
        reader_fail(r, AG_ERROR_FORMAT,
                    r->too_long ? "a field is far too long (more than 64 characters)"
                    : r->too_many ? "more than two columns (expected digits,sum)"
                                  : "missing column (expected digits,sum)");
        return;
    }
    /* The format is strict: libcsv would strip spaces and tabs around a
     * field (see no_space), and a file that has them is not one of ours. */
    for (int i = 0; i < 2; i++) {
        const char *field = r->fields[i];
        size_t length = r->field_lengths[i];
        if (length > 0 && (is_blank(field[0]) || is_blank(field[length - 1]))) {
            char shown[MAX_FIELD + 4], message[256];
            snprintf(message, sizeof message,
                     "column %d, '%s', has a space or tab before or after it (the format is digits,sum, nothing else)",
                     i + 1, ag_printable(field, shown, sizeof shown));
            reader_fail(r, AG_ERROR_FORMAT, message);
            return;
        }
    }
    if (r->line == 1 && strcmp(r->fields[0], "digits") == 0 && strcmp(r->fields[1], "sum") == 0) return;
    if (r->data->count == r->capacity) {
        int64_t capacity = r->capacity ? 2 * r->capacity : 1024;
        digitsum_example *grown = realloc(r->data->examples, (size_t)capacity * sizeof *grown);
        if (!grown) {
            reader_fail(r, AG_ERROR_MEMORY, "out of memory");
            return;
        }
        r->data->examples = grown;
        r->capacity = capacity;
    }
    digitsum_example *e = &r->data->examples[r->data->count];
    if (digitsum_example_set(e, r->fields[0], r->field_lengths[0]) != AG_OK) {
        char message[256];
        snprintf(message, sizeof message, "%s", ag_error_message());
        reader_fail(r, AG_ERROR_FORMAT, message);
        return;
    }
    if (strcmp(e->answer, r->fields[1]) != 0) {
        /* The field may hold any byte: the message stays one line. */
        char sum[MAX_FIELD + 4], message[256];
        snprintf(message, sizeof message, "the sum of '%s' is %s, not '%s'", e->digits, e->answer,
                 ag_printable(r->fields[1], sum, sizeof sum));
        reader_fail(r, AG_ERROR_FORMAT, message);
        return;
    }
    r->data->count++;
}

ag_status digitsum_load_csv(const char *path, digitsum_dataset *data) {
    memset(data, 0, sizeof *data);
    FILE *f = fopen(path, "rb");
    if (!f) return ag_error_set(AG_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser parser;
    csv_init(&parser, CSV_STRICT);
    csv_set_space_func(&parser, no_space);
    csv_reader r = {.path = path, .data = data};
    char *line = NULL;
    size_t capacity = 0;
    ssize_t n;
    /* One line at a time, so every error names its line (libcsv does not
     * report blank lines) and a data row can never span lines. */
    while (!r.failed && (n = getline(&line, &capacity, f)) >= 0) {
        r.line++;
        size_t length = (size_t)n;
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) length--;
        if (length > 2 * MAX_FIELD) {
            reader_fail(&r, AG_ERROR_FORMAT, "line far too long (more than 128 characters)");
            break;
        }
        if (length == 0) continue; /* blank lines (a trailing one, say) carry nothing */
        /* A field is compared as a C string, so a NUL would cut it short
         * ("10\0junk" read as the sum 10); no text file holds one. */
        if (memchr(line, '\0', length)) {
            reader_fail(&r, AG_ERROR_FORMAT, "a NUL byte (not a text file?)");
            break;
        }
        /* No file of the format quotes a field ("12","3"), and libcsv
         * would take one apart silently. */
        if (memchr(line, '"', length)) {
            reader_fail(&r, AG_ERROR_FORMAT, "a quote character: the format (digits,sum) has no quoted fields");
            break;
        }
        r.line--; /* on_row counts the row */
        if (csv_parse(&parser, line, length, on_field, on_row, &r) != length ||
            csv_fini(&parser, on_field, on_row, &r) != 0) {
            r.line++;
            reader_fail(&r, AG_ERROR_FORMAT, csv_strerror(csv_error(&parser)));
        }
    }
    if (!r.failed && ferror(f)) {
        r.failed = true;
        ag_error_set(AG_ERROR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    free(line);
    csv_free(&parser);
    fclose(f);
    if (!r.failed && data->count == 0) {
        r.failed = true;
        ag_error_set(AG_ERROR_FORMAT, "%s: no data rows (empty file?)", path);
    }
    if (!r.failed) return AG_OK;
    digitsum_dataset_free(data);
    return ag_error_code();
}

ag_status digitsum_write_csv(const char *path, const digitsum_dataset *data) {
    ag_atomic_file out;
    if (ag_atomic_file_begin(&out, path) != AG_OK) return ag_error_code();
    /* Digits need no quoting, and the original files have none. */
    bool ok = true;
    for (int64_t i = 0; ok && i < data->count; i++)
        ok = fprintf(out.file, "%s,%s\n", data->examples[i].digits, data->examples[i].answer) > 0;
    return ag_atomic_file_commit(&out); /* a failed write shows in the stream's error flag */
}

void digitsum_dataset_free(digitsum_dataset *data) {
    free(data->examples);
    data->examples = NULL;
    data->count = 0;
}

