/* libFuzzer harness for digitsum_load_csv (models/digitsum_data.c), the
 * libcsv-based reader of the digit-sum data set.
 *
 * Checks beyond "no crash, no leak, no sanitizer report":
 *  - a failure returns an error status with a one-line message and an
 *    empty data set (nothing returned);
 *  - a success returns at least one example, each 1 to 32 digits with
 *    the decimal sum as its answer, and comes from a file with no NUL byte
 *    (a NUL is never part of "digits,sum"), no quote and no space or tab
 *    (the format quotes nothing and pads nothing). */
#include "digitsum.h"
#include "fuzz.h"

static void check_example(const digitsum_example *e, int64_t i) {
    if (e->length < 1 || e->length > DIGITSUM_MAX_DIGITS || (int)strlen(e->digits) != e->length)
        FUZZ_FAIL("example %lld has length %d, digits '%s'", (long long)i, e->length, e->digits);
    int sum = 0;
    for (int k = 0; k < e->length; k++) {
        if (e->digits[k] < '0' || e->digits[k] > '9') FUZZ_FAIL("example %lld: non-digit in '%s'", (long long)i,
                                                                e->digits);
        sum += e->digits[k] - '0';
    }
    char answer[16];
    snprintf(answer, sizeof answer, "%d", sum);
    if (strcmp(answer, e->answer) != 0 || (int)strlen(e->answer) != e->answer_length)
        FUZZ_FAIL("example %lld: '%s' has answer '%s' (length %d)", (long long)i, e->digits, e->answer,
                  e->answer_length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("csv", data, size);
    digitsum_dataset set;
    memset(&set, 0x5a, sizeof set); /* the loader must set every field itself */
    ag_error_clear();
    ag_status status = digitsum_load_csv(path, &set);
    if (status != AG_OK) {
        fuzz_check_error("digitsum_load_csv", status);
        if (status != AG_ERROR_FORMAT)
            FUZZ_FAIL("digitsum_load_csv: status %d on a readable file: %s", (int)status, ag_error_message());
        if (set.examples != NULL || set.count != 0)
            FUZZ_FAIL("digitsum_load_csv failed but returned %lld examples", (long long)set.count);
        return 0;
    }
    if (set.count < 1 || !set.examples) FUZZ_FAIL("digitsum_load_csv: success with no examples");
    if (memchr(data, '\0', size)) FUZZ_FAIL("digitsum_load_csv accepted a file with a NUL byte");
    /* The format is strict: no quoted field, no space or tab around one. */
    if (memchr(data, '"', size) || memchr(data, ' ', size) || memchr(data, '\t', size))
        FUZZ_FAIL("digitsum_load_csv accepted a file with a quote, space or tab");
    for (int64_t i = 0; i < set.count; i++) check_example(&set.examples[i], i);
    digitsum_dataset_free(&set);
    return 0;
}
