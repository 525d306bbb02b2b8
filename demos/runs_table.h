/* The text tables of bin/runs: `runs list` (a line a run) and `runs
 * compare` (a column a run), and what they share with the HTML report:
 * which settings differ, which metrics there are, the order by a metric. */
#ifndef AG_RUNS_TABLE_H
#define AG_RUNS_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include "runs_data.h"

/* Whether the setting `name` has another value (or none) in some run. */
bool table_setting_differs(const run_record *const *runs, int n, const char *name);

/* The names of every setting (but demo), in order of first appearance,
 * appended to `out` as ", a, b". */
void table_union_params(const run_record *runs, int n, char *out, size_t size);
/* The metrics every run has, "loss, test_mse". */
void table_common_metrics(const run_record *runs, int n, char *out, size_t size);

/* Sorts by the last value of METRIC, or by when, duration or steps
 * (-METRIC: largest first), runs without one last. False, with one line
 * on stderr listing the metrics there are, if no run has it. */
bool table_sort(const run_record **runs, int n, const char *metric);

/* A table of strings, printed with aligned columns. */
typedef struct text_table {
    int rows, cols, capacity;
    char **cells; /* row-major */
} text_table;
void text_table_init(text_table *t, int cols);
void text_table_set(text_table *t, int row, int col, const char *text);
void text_table_print(FILE *out, const text_table *t);
void text_table_free(text_table *t);

/* `runs list`'s table: name, demo, status, when, duration, steps, the
 * settings that differ, the last metrics, and a problem column if any. */
void table_list(text_table *t, const run_record *const *runs, int n);
void table_print_list(FILE *out, const run_record *const *runs, int n);
void table_print_compare(FILE *out, const run_record *runs, int n);

#endif
