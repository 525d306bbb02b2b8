/* The digit-sum data: examples (decimal digits and the digits of their
 * sum) and the original project's CSV files of them. */
#ifndef AG_MODEL_DIGITSUM_DATA_H
#define AG_MODEL_DIGITSUM_DATA_H

#include "ag.h"

enum {
    DIGITSUM_MAX_DIGITS = 32, /* longest input sequence accepted */
    DIGITSUM_MAX_ANSWER = 4   /* 32 nines sum to 288: at most 3 digits, + EOA (digitsum.h) */
};

typedef struct digitsum_example {
    char digits[DIGITSUM_MAX_DIGITS + 1]; /* "0294", leading zeros kept */
    int length;
    char answer[DIGITSUM_MAX_ANSWER + 1]; /* "15" */
    int answer_length;
} digitsum_example;

typedef struct digitsum_dataset {
    digitsum_example *examples;
    int64_t count;
} digitsum_dataset;

/* Fills `e` from a digit string; fails (with a message) on a non-digit or a
 * bad length. */
ag_status digitsum_example_set(digitsum_example *e, const char *digits, size_t length);

/* Reads the original project's CSV (no header: "digits,sum"; a header line
 * "digits,sum" is recognised and skipped) through libcsv. Every row is
 * checked: digits only, a sum that is the sum, exactly two columns, no
 * space or tab around a field, no quote, no NUL, no line far too long, not
 * empty; the first failure names the file and line and nothing is
 * returned. */
ag_status digitsum_load_csv(const char *path, digitsum_dataset *data);
/* Writes "digits,sum" rows atomically (temporary file, rename). */
ag_status digitsum_write_csv(const char *path, const digitsum_dataset *data);
void digitsum_dataset_free(digitsum_dataset *data);

#endif
