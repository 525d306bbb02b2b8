#include "runs_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ text table */

void text_table_init(text_table *t, int cols) {
    memset(t, 0, sizeof *t);
    t->cols = cols;
}

void text_table_set(text_table *t, int row, int col, const char *text) {
    if (row >= t->capacity) {
        int capacity = t->capacity ? 2 * t->capacity : 16;
        while (capacity <= row) capacity *= 2;
        char **cells = realloc(t->cells, (size_t)capacity * (size_t)t->cols * sizeof *cells);
        if (!cells) return;
        memset(cells + (size_t)t->capacity * (size_t)t->cols, 0,
               (size_t)(capacity - t->capacity) * (size_t)t->cols * sizeof *cells);
        t->cells = cells;
        t->capacity = capacity;
    }
    if (row >= t->rows) t->rows = row + 1;
    char **cell = &t->cells[(size_t)row * (size_t)t->cols + (size_t)col];
    free(*cell);
    *cell = strdup(text ? text : "");
}

void text_table_print(FILE *out, const text_table *t) {
    int *width = calloc((size_t)t->cols, sizeof *width);
    if (!width) return;
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < t->cols; c++) {
            const char *cell = t->cells[(size_t)r * (size_t)t->cols + (size_t)c];
            int length = cell ? (int)strlen(cell) : 0;
            if (length > width[c]) width[c] = length;
        }
    for (int r = 0; r < t->rows; r++) {
        /* The last non-empty cell ends the line: no trailing blanks. */
        int last = t->cols - 1;
        while (last > 0 && !(t->cells[(size_t)r * (size_t)t->cols + (size_t)last] &&
                             t->cells[(size_t)r * (size_t)t->cols + (size_t)last][0]))
            last--;
        for (int c = 0; c <= last; c++) {
            const char *cell = t->cells[(size_t)r * (size_t)t->cols + (size_t)c];
            if (c < last) fprintf(out, "%-*s  ", width[c], cell ? cell : "");
            else fprintf(out, "%s", cell ? cell : "");
        }
        fputc('\n', out);
    }
    free(width);
}

void text_table_free(text_table *t) {
    for (size_t i = 0; i < (size_t)t->rows * (size_t)t->cols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* --------------------------------------------------- settings and metrics */

bool table_setting_differs(const run_record *const *runs, int n, const char *name) {
    const char *first = run_param(runs[0], name);
    for (int i = 1; i < n; i++) {
        const char *value = run_param(runs[i], name);
        if ((first == NULL) != (value == NULL) || (first && strcmp(first, value) != 0)) return true;
    }
    return false;
}

/* For the list: two runs that have the setting with other values (a
 * setting only some demos have is no difference between runs of one). */
static bool values_differ(const run_record *const *runs, int n, const char *name) {
    const char *first = NULL;
    for (int i = 0; i < n; i++) {
        const char *value = run_param(runs[i], name);
        if (!value) continue;
        if (!first) first = value;
        else if (strcmp(first, value) != 0) return true;
    }
    return false;
}

/* Appends `name` to a list of names unless it is there: the distinct
 * names over all runs, in order of first appearance. */
static int add_name(const char ***names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp((*names)[i], name) == 0) return n;
    const char **grown = realloc(*names, (size_t)(n + 1) * sizeof *grown);
    if (!grown) return n;
    *names = grown;
    grown[n] = name;
    return n + 1;
}

static int param_names(const run_record *const *runs, int n, const char ***names) {
    int count = 0;
    *names = NULL;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < runs[i]->n_params; k++)
            if (strcmp(runs[i]->param_names[k], "demo") != 0) count = add_name(names, count, runs[i]->param_names[k]);
    return count;
}

static int metric_names(const run_record *const *runs, int n, const char ***names) {
    int count = 0;
    *names = NULL;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < runs[i]->n_columns; k++) count = add_name(names, count, runs[i]->columns[k]);
    return count;
}

static void append(char *out, size_t size, const char *text) {
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s%s", used ? ", " : "", text);
}

/* Pointers to each run, for the functions that take a selection. */
static const run_record **all_runs(const run_record *runs, int n) {
    const run_record **all = malloc((size_t)(n ? n : 1) * sizeof *all);
    for (int i = 0; all && i < n; i++) all[i] = &runs[i];
    return all;
}

void table_union_params(const run_record *runs, int n, char *out, size_t size) {
    const run_record **all = all_runs(runs, n);
    if (!all) return;
    const char **names;
    int count = param_names(all, n, &names);
    for (int i = 0; i < count; i++) append(out, size, names[i]);
    free(names);
    free(all);
}

void table_common_metrics(const run_record *runs, int n, char *out, size_t size) {
    const run_record **all = all_runs(runs, n);
    if (!all) return;
    const char **names;
    int count = metric_names(all, n, &names);
    for (int i = 0; i < count; i++) {
        bool everywhere = true;
        for (int j = 0; j < n && everywhere; j++) everywhere = run_column(&runs[j], names[i]) >= 0;
        if (everywhere) append(out, size, names[i]);
    }
    free(names);
    free(all);
}

/* ------------------------------------------------------------------ sort */

static const char *sort_metric;
static int sort_sign;

/* Besides the metrics, the list's own numeric columns sort too. */
static double sort_value(const run_record *r) {
    if (strcmp(sort_metric, "when") == 0) return r->started;
    if (strcmp(sort_metric, "duration") == 0) return r->duration;
    if (strcmp(sort_metric, "steps") == 0) return r->steps >= 0 ? (double)r->steps : NAN;
    int k = run_column(r, sort_metric);
    return k >= 0 ? r->final_values[k] : NAN;
}

/* By value, those without one last, then by name: the same order every time. */
static int by_metric(const void *a, const void *b) {
    const run_record *x = *(const run_record *const *)a, *y = *(const run_record *const *)b;
    double u = sort_value(x), v = sort_value(y);
    bool u_known = isfinite(u), v_known = isfinite(v);
    if (u_known != v_known) return u_known ? -1 : 1;
    if (u_known && u != v) return (u < v ? -1 : 1) * sort_sign;
    return strcmp(x->name, y->name);
}

bool table_sort(const run_record **runs, int n, const char *metric) {
    sort_sign = metric[0] == '-' ? -1 : 1;
    sort_metric = metric[0] == '-' ? metric + 1 : metric;
    bool known = strcmp(sort_metric, "when") == 0 || strcmp(sort_metric, "duration") == 0 ||
                 strcmp(sort_metric, "steps") == 0;
    for (int i = 0; i < n && !known; i++) known = run_column(runs[i], sort_metric) >= 0;
    if (!known) {
        const char **names;
        int count = metric_names(runs, n, &names);
        char list[2048] = "";
        for (int i = 0; i < count; i++) append(list, sizeof list, names[i]);
        free(names);
        fprintf(stderr, "runs: list: --sort %s: no run has a metric '%s' (there are: %s; or when, duration, steps)\n",
                metric, sort_metric, list[0] ? list : "none");
        return false;
    }
    qsort(runs, (size_t)n, sizeof *runs, by_metric);
    return true;
}

/* ------------------------------------------------------------------ list */

void table_list(text_table *t, const run_record *const *runs, int n) {
    const char **settings, **metrics;
    int n_settings = param_names(runs, n, &settings);
    int n_differing = 0;
    for (int i = 0; i < n_settings; i++)
        if (n > 1 && values_differ(runs, n, settings[i])) settings[n_differing++] = settings[i];
    int n_metrics = metric_names(runs, n, &metrics);
    bool problems = false;
    for (int i = 0; i < n; i++) problems |= runs[i]->problem[0] != '\0';
    enum { FIXED = 6 };
    text_table_init(t, FIXED + n_differing + n_metrics + (problems ? 1 : 0));
    static const char *const headings[FIXED] = {"run", "demo", "status", "when", "duration", "steps"};
    for (int c = 0; c < FIXED; c++) text_table_set(t, 0, c, headings[c]);
    for (int s = 0; s < n_differing; s++) text_table_set(t, 0, FIXED + s, settings[s]);
    for (int m = 0; m < n_metrics; m++) text_table_set(t, 0, FIXED + n_differing + m, metrics[m]);
    if (problems) text_table_set(t, 0, t->cols - 1, "problem");
    for (int i = 0; i < n; i++) {
        const run_record *r = runs[i];
        char text[64];
        text_table_set(t, i + 1, 0, r->name);
        text_table_set(t, i + 1, 1, r->demo);
        text_table_set(t, i + 1, 2, r->status);
        format_when(r->started, text, sizeof text);
        text_table_set(t, i + 1, 3, text);
        format_duration(r->duration, text, sizeof text);
        text_table_set(t, i + 1, 4, text);
        if (r->steps >= 0) snprintf(text, sizeof text, "%lld", r->steps);
        else snprintf(text, sizeof text, "-");
        text_table_set(t, i + 1, 5, text);
        for (int s = 0; s < n_differing; s++) {
            const char *value = run_param(r, settings[s]);
            /* One word per cell, so that awk can read the table: an empty
             * value shows as "". */
            text_table_set(t, i + 1, FIXED + s, !value ? "-" : value[0] ? value : "\"\"");
        }
        for (int m = 0; m < n_metrics; m++) {
            int k = run_column(r, metrics[m]);
            format_value(k >= 0 ? r->final_values[k] : NAN, text, sizeof text);
            text_table_set(t, i + 1, FIXED + n_differing + m, text);
        }
        if (problems) text_table_set(t, i + 1, t->cols - 1, r->problem);
    }
    free(settings);
    free(metrics);
}

void table_print_list(FILE *out, const run_record *const *runs, int n) {
    text_table t;
    table_list(&t, runs, n);
    text_table_print(out, &t);
    text_table_free(&t);
}

/* --------------------------------------------------------------- compare */

void table_print_compare(FILE *out, const run_record *runs, int n) {
    const run_record **all = all_runs(runs, n);
    if (!all) return;
    text_table t;
    text_table_init(&t, n + 1);
    int row = 0;
    text_table_set(&t, row, 0, "");
    for (int i = 0; i < n; i++) text_table_set(&t, row, i + 1, runs[i].name);
    row++;
    char text[128];
    static const char *const facts[] = {"demo", "status", "when", "duration", "steps", "build", "blas"};
    for (size_t f = 0; f < sizeof facts / sizeof facts[0]; f++, row++) {
        text_table_set(&t, row, 0, facts[f]);
        for (int i = 0; i < n; i++) {
            const run_record *r = &runs[i];
            switch (f) {
            case 0: snprintf(text, sizeof text, "%s", r->demo); break;
            case 1: snprintf(text, sizeof text, "%s", r->status); break;
            case 2: format_when(r->started, text, sizeof text); break;
            case 3: format_duration(r->duration, text, sizeof text); break;
            case 4:
                if (r->steps >= 0) snprintf(text, sizeof text, "%lld", r->steps);
                else snprintf(text, sizeof text, "-");
                break;
            case 5:
                snprintf(text, sizeof text, "%s%s%s", r->info.version[0] ? r->info.version : "-",
                         r->info.commit[0] ? " " : "", r->info.commit);
                break;
            default: snprintf(text, sizeof text, "%s", r->info.blas[0] ? r->info.blas : "-"); break;
            }
            text_table_set(&t, row, i + 1, text);
        }
    }
    /* Settings, the differing ones marked; then metrics and results. */
    text_table_set(&t, row++, 0, "settings (* differs):");
    const char **names;
    int count = param_names(all, n, &names);
    for (int s = 0; s < count; s++, row++) {
        snprintf(text, sizeof text, "%s %s", table_setting_differs(all, n, names[s]) ? "*" : " ", names[s]);
        text_table_set(&t, row, 0, text);
        for (int i = 0; i < n; i++) {
            const char *value = run_param(&runs[i], names[s]);
            text_table_set(&t, row, i + 1, value ? value : "-");
        }
    }
    free(names);
    text_table_set(&t, row++, 0, "last metrics:");
    count = metric_names(all, n, &names);
    for (int m = 0; m < count; m++, row++) {
        snprintf(text, sizeof text, "  %s", names[m]);
        text_table_set(&t, row, 0, text);
        for (int i = 0; i < n; i++) {
            int k = run_column(&runs[i], names[m]);
            format_value(k >= 0 ? runs[i].final_values[k] : NAN, text, sizeof text);
            text_table_set(&t, row, i + 1, text);
        }
    }
    free(names);
    /* The summary's pairs, as the programs printed them. */
    count = 0;
    names = NULL;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < runs[i].info.n_results; k++) count = add_name(&names, count, runs[i].info.result_names[k]);
    if (count > 0) text_table_set(&t, row++, 0, "results:");
    for (int m = 0; m < count; m++, row++) {
        snprintf(text, sizeof text, "  %s", names[m]);
        text_table_set(&t, row, 0, text);
        for (int i = 0; i < n; i++) {
            const char *value = "-";
            for (int k = 0; k < runs[i].info.n_results; k++)
                if (strcmp(runs[i].info.result_names[k], names[m]) == 0) value = runs[i].info.result_values[k];
            text_table_set(&t, row, i + 1, value);
        }
    }
    free(names);
    bool problems = false;
    for (int i = 0; i < n; i++) problems |= runs[i].problem[0] != '\0';
    if (problems) {
        text_table_set(&t, row, 0, "problem");
        for (int i = 0; i < n; i++) text_table_set(&t, row, i + 1, runs[i].problem[0] ? runs[i].problem : "-");
    }
    text_table_print(out, &t);
    text_table_free(&t);
    free(all);
}
