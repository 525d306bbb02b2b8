#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_usage(const char *program, const char *summary, const flag_spec *specs, int n_specs) {
    printf("%s\n\nFlags:\n", summary);
    for (int i = 0; i < n_specs; i++) {
        const flag_spec *s = &specs[i];
        char left[64];
        const char *kind = s->type == FLAG_INT ? " N" : s->type == FLAG_DOUBLE ? " X" : s->type == FLAG_STRING ? " S" : "";
        snprintf(left, sizeof left, "--%s%s", s->name, kind);
        printf("  %-22s %s", left, s->help);
        switch (s->type) {
        case FLAG_INT: printf(" (default %ld)", *(long *)s->target); break;
        case FLAG_DOUBLE: printf(" (default %g)", *(double *)s->target); break;
        case FLAG_STRING:
            if (*(const char **)s->target) printf(" (default %s)", *(const char **)s->target);
            break;
        case FLAG_BOOL: break;
        }
        printf("\n");
    }
    printf("  %-22s %s\n", "--help", "show this help");
    (void)program;
}

static bool in_range(const flag_spec *s, double v) {
    return (s->min_exclusive ? v > s->min : v >= s->min) && v <= s->max;
}

static int range_error(const char *program, const flag_spec *s, const char *text) {
    fprintf(stderr, "%s: --%s: '%s' must be %s %g and <= %g\n", program, s->name, text,
            s->min_exclusive ? ">" : ">=", s->min, s->max);
    return FLAGS_ERROR;
}

static int set_value(const char *program, const flag_spec *s, const char *text) {
    char *end;
    errno = 0;
    switch (s->type) {
    case FLAG_INT: {
        long v = strtol(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno == ERANGE) {
            fprintf(stderr, "%s: --%s: '%s' is not an integer\n", program, s->name, text);
            return FLAGS_ERROR;
        }
        if (!in_range(s, (double)v)) return range_error(program, s, text);
        *(long *)s->target = v;
        return FLAGS_OK;
    }
    case FLAG_DOUBLE: {
        double v = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
            fprintf(stderr, "%s: --%s: '%s' is not a finite number\n", program, s->name, text);
            return FLAGS_ERROR;
        }
        if (!in_range(s, v)) return range_error(program, s, text);
        *(double *)s->target = v;
        return FLAGS_OK;
    }
    case FLAG_STRING:
        if (*text == '\0') {
            fprintf(stderr, "%s: --%s: the value is empty\n", program, s->name);
            return FLAGS_ERROR;
        }
        *(const char **)s->target = text;
        return FLAGS_OK;
    case FLAG_BOOL: break;
    }
    return FLAGS_ERROR;
}

int flags_parse(const char *program, const char *summary, const flag_spec *specs, int n_specs, int argc,
                char **argv, char **positional, int *n_positional) {
    int positional_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(program, summary, specs, n_specs);
            return FLAGS_HELP;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (!positional) {
                fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program, arg);
                return FLAGS_ERROR;
            }
            positional[positional_count++] = argv[i];
            continue;
        }
        const char *name = arg + 2, *equals = strchr(name, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        const flag_spec *s = NULL;
        for (int k = 0; k < n_specs && !s; k++)
            if (strlen(specs[k].name) == name_length && strncmp(specs[k].name, name, name_length) == 0) s = &specs[k];
        if (!s) {
            fprintf(stderr, "%s: unknown flag '--%.*s' (see --help)\n", program, (int)name_length, name);
            return FLAGS_ERROR;
        }
        if (s->type == FLAG_BOOL) {
            if (equals) {
                fprintf(stderr, "%s: --%s takes no value\n", program, s->name);
                return FLAGS_ERROR;
            }
            *(bool *)s->target = true;
            continue;
        }
        const char *value = equals ? equals + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: --%s needs a value\n", program, s->name);
                return FLAGS_ERROR;
            }
            value = argv[++i];
        }
        if (set_value(program, s, value) != FLAGS_OK) return FLAGS_ERROR;
    }
    if (n_positional) *n_positional = positional_count;
    return FLAGS_OK;
}

long demo_default_threads(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > 64 ? 64 : cores;
}
