/* Names with a text value each, in the order they were first set: a
 * run's settings (params.csv) and its results (status.json). */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

int run_pairs_set(run_pairs *p, const char *who, const char *name, const char *value) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->names[i], name) == 0) {
            char *copy = strdup(value);
            if (!copy) return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", who), -1;
            free(p->values[i]);
            p->values[i] = copy;
            return i;
        }
    if (p->count == p->capacity) {
        int capacity = p->capacity ? 2 * p->capacity : 16;
        char **names = realloc(p->names, (size_t)capacity * sizeof *names);
        if (names) p->names = names;
        char **values = realloc(p->values, (size_t)capacity * sizeof *values);
        if (values) p->values = values;
        bool *flags = realloc(p->flags, (size_t)capacity * sizeof *flags);
        if (flags) p->flags = flags;
        if (!names || !values || !flags) return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", who), -1;
        p->capacity = capacity;
    }
    char *name_copy = strdup(name), *value_copy = strdup(value);
    if (!name_copy || !value_copy) {
        free(name_copy);
        free(value_copy);
        return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", who), -1;
    }
    p->names[p->count] = name_copy;
    p->values[p->count] = value_copy;
    p->flags[p->count] = false;
    return p->count++;
}

void run_pairs_free(run_pairs *p) {
    for (int i = 0; i < p->count; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
    free(p->names);
    free(p->values);
    free(p->flags);
    memset(p, 0, sizeof *p);
}
