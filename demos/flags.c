#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static bool has_control_byte(const char *text) {
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if (*c < 0x20 || *c == 0x7f) return true;
    return false;
}

static bool in_range(const flag_spec *s, double v) {
    return (s->min_exclusive ? v > s->min : v >= s->min) && v <= s->max;
}

/* %.15g: bounds such as 4294967295 and 1e10 print in full. */
static int range_error(const char *program, const flag_spec *s, const char *text) {
    char shown[64];
    fprintf(stderr, "%s: --%s: '%s' must be %s %.15g and <= %.15g\n", program, s->name,
            ag_printable(text, shown, sizeof shown), s->min_exclusive ? ">" : ">=", s->min, s->max);
    return FLAGS_ERROR;
}

static int set_value(const char *program, const flag_spec *s, const char *text) {
    char *end, shown[64];
    errno = 0;
    switch (s->type) {
    case FLAG_INT: {
        long v = strtol(text, &end, 10);
        if (*text == '\0' || *end != '\0') {
            fprintf(stderr, "%s: --%s: '%s' is not an integer\n", program, s->name, ag_printable(text, shown, sizeof shown));
            return FLAGS_ERROR;
        }
        if (errno == ERANGE || !in_range(s, (double)v)) return range_error(program, s, text);
        *(long *)s->target = v;
        return FLAGS_OK;
    }
    case FLAG_DOUBLE: {
        double v = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || !isfinite(v)) {
            fprintf(stderr, "%s: --%s: '%s' is not a finite number\n", program, s->name,
                    ag_printable(text, shown, sizeof shown));
            return FLAGS_ERROR;
        }
        /* An overflow is out of range; an underflow (1e-400) is the tiny
         * value strtod returns, checked like any other. */
        if ((errno == ERANGE && fabs(v) > 1) || !in_range(s, v)) return range_error(program, s, text);
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
                char shown[64];
                fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program,
                        ag_printable(arg, shown, sizeof shown));
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
            char copy[64], shown[64];
            snprintf(copy, sizeof copy, "%.*s", (int)(name_length < sizeof copy ? name_length : sizeof copy - 1), name);
            fprintf(stderr, "%s: unknown flag '--%s' (see --help)\n", program, ag_printable(copy, shown, sizeof shown));
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
            /* "--data --epochs 3" lost its value: the next flag is not it
             * (a value that starts with "--" can be given as --data=--x). */
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                char shown[64];
                fprintf(stderr, "%s: --%s needs a value%s%s%s\n", program, s->name, i + 1 < argc ? " (got the flag '" : "",
                        i + 1 < argc ? ag_printable(argv[i + 1], shown, sizeof shown) : "", i + 1 < argc ? "')" : "");
                return FLAGS_ERROR;
            }
            value = argv[++i];
        }
        if (set_value(program, s, value) != FLAGS_OK) return FLAGS_ERROR;
    }
    if (n_positional) *n_positional = positional_count;
    return FLAGS_OK;
}

/* The value as text: integers in full, doubles in the fewest digits that
 * read back as the same double. */
static void value_text(const flag_spec *s, const void *target, char *text, size_t size) {
    switch (s->type) {
    case FLAG_BOOL: snprintf(text, size, "%d", *(const bool *)target ? 1 : 0); break;
    case FLAG_INT: snprintf(text, size, "%ld", *(const long *)target); break;
    case FLAG_DOUBLE: {
        double v = *(const double *)target;
        for (int digits = 1; digits <= 17; digits++) {
            snprintf(text, size, "%.*g", digits, v);
            if (strtod(text, NULL) == v) break;
        }
        break;
    }
    case FLAG_STRING: snprintf(text, size, "%s", *(const char *const *)target ? *(const char *const *)target : ""); break;
    }
}

static void setting_name(const flag_spec *s, char *name, size_t size) {
    snprintf(name, size, "%s", s->name);
    for (char *c = name; *c; c++)
        if (*c == '-') *c = '_';
}

void flags_record(const flag_spec *specs, int n_specs, ag_run *run) {
    for (int i = 0; i < n_specs; i++) {
        if (specs[i].run_option) continue;
        char name[64], text[1024];
        setting_name(&specs[i], name, sizeof name);
        value_text(&specs[i], specs[i].target, text, sizeof text);
        ag_run_set_param(run, name, "%s", text);
    }
}

/* Whether argv gives the flag, scanning as flags_parse does. */
static bool flag_given(const flag_spec *specs, int n_specs, const flag_spec *wanted, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') continue;
        const char *name = arg + 2, *equals = strchr(name, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        for (int k = 0; k < n_specs; k++) {
            if (strlen(specs[k].name) != name_length || strncmp(specs[k].name, name, name_length) != 0) continue;
            if (&specs[k] == wanted) return true;
            if (specs[k].type != FLAG_BOOL && !equals) i++; /* skip its value */
        }
    }
    return false;
}

/* Settings added after runs were made: the value that those runs'
 * checkpoints, which lack the setting, trained with. Any other missing
 * setting is refused. */
static const char *value_before_it_existed(const char *name) {
    static const struct {
        const char *name, *value;
    } added[] = {
        {"chunks", "1"}, /* the harness's --chunks: a batch was one chunk */
    };
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++)
        if (strcmp(added[i].name, name) == 0) return added[i].value;
    return NULL;
}

ag_checkpoint *flags_resume(const char *program, const char *demo, const char *dir, const flag_spec *specs,
                            int n_specs, int argc, char **argv, int *exit_code) {
    char path[1200], shown_dir[1100]; /* the directory as messages quote it: printable ASCII */
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    ag_printable(dir, shown_dir, sizeof shown_dir);
    *exit_code = 1;
    /* A run's checkpoint is its first file: a directory without one holds
     * a run stopped before anything was saved. */
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && stat(path, &st) != 0 && errno == ENOENT) {
        fprintf(stderr, "%s: --resume %s: no checkpoint.safetensors there (a run stopped before its first "
                "checkpoint saved nothing to go on from: start it again with --run-dir %s)\n", program, shown_dir,
                shown_dir);
        return NULL;
    }
    ag_checkpoint *cp = ag_checkpoint_load(path);
    if (!cp) {
        fprintf(stderr, "%s: --resume: %s\n", program, ag_error_message());
        return NULL;
    }
    const char *saved_demo = ag_checkpoint_metadata(cp, "demo");
    if (!saved_demo || strcmp(saved_demo, demo) != 0) {
        char shown[48];
        fprintf(stderr, "%s: --resume: %s/checkpoint.safetensors is %s%s%s checkpoint, not one of %s\n", program,
                shown_dir,
                saved_demo ? "a '" : "not a training", saved_demo ? ag_printable(saved_demo, shown, sizeof shown) : "",
                saved_demo ? "'" : "", demo);
        ag_checkpoint_free(cp);
        return NULL;
    }
    char where[1300];
    snprintf(where, sizeof where, "%s: --resume: %s/checkpoint.safetensors: saved setting", program, shown_dir);
    for (int i = 0; i < n_specs; i++) {
        const flag_spec *s = &specs[i];
        char name[64];
        setting_name(s, name, sizeof name);
        if (s->run_option) continue;
        /* Every setting is saved: one missing would leave the resumed run
         * silently on the default. */
        const char *saved = ag_checkpoint_metadata(cp, name);
        if (!saved) saved = value_before_it_existed(name);
        if (!saved) {
            fprintf(stderr, "%s: --%s: '%s' is missing from the checkpoint\n", where, s->name, name);
            ag_checkpoint_free(cp);
            return NULL;
        }
        /* The saved text goes through the flag's own parser and range check
         * into a scratch value; a file can hold anything. */
        union {
            bool b;
            long l;
            double d;
            const char *text;
        } value;
        flag_spec scratch = *s;
        scratch.target = &value;
        char shown[64];
        /* No flag value from a command line holds one, and every message
         * that quotes it must stay one line. */
        if (has_control_byte(saved)) {
            fprintf(stderr, "%s: --%s: '%s' holds a control character\n", where, s->name,
                    ag_printable(saved, shown, sizeof shown));
            ag_checkpoint_free(cp);
            return NULL;
        }
        if (s->type == FLAG_BOOL) {
            if (strcmp(saved, "0") != 0 && strcmp(saved, "1") != 0) {
                fprintf(stderr, "%s: --%s: '%s' is not 0 or 1\n", where, s->name, ag_printable(saved, shown, sizeof shown));
                ag_checkpoint_free(cp);
                return NULL;
            }
            value.b = saved[0] == '1';
        } else if (set_value(where, &scratch, saved) != FLAGS_OK) {
            ag_checkpoint_free(cp);
            return NULL;
        }
        char now[1024], before[1024];
        value_text(s, s->target, now, sizeof now);
        value_text(s, &value, before, sizeof before);
        if (!flag_given(specs, n_specs, s, argc, argv)) {
            memcpy(s->target, &value,
                   s->type == FLAG_BOOL ? sizeof(bool) : s->type == FLAG_INT ? sizeof(long)
                                                       : s->type == FLAG_DOUBLE ? sizeof(double) : sizeof(char *));
        } else if (strcmp(now, before) != 0) {
            *exit_code = 2;
            char now_shown[64];
            fprintf(stderr, "%s: --%s %s: the run in %s was made with %s=%s; a resumed run keeps its settings\n", program,
                    s->name, ag_printable(now, now_shown, sizeof now_shown), shown_dir, name,
                    ag_printable(before, shown, sizeof shown));
            ag_checkpoint_free(cp);
            return NULL;
        }
    }
    return cp;
}
