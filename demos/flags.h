/* Command-line flags for the demos, described by a table so that parsing,
 * range checks, error messages and --help come from one place. */
#ifndef AG_DEMO_FLAGS_H
#define AG_DEMO_FLAGS_H

#include <stdbool.h>

typedef enum flag_type { FLAG_BOOL, FLAG_INT, FLAG_DOUBLE, FLAG_STRING } flag_type;

typedef struct flag_spec {
    const char *name; /* without the leading "--" */
    flag_type type;
    void *target;     /* bool *, long *, double * or const char ** */
    double min, max;  /* inclusive range for numbers */
    bool min_exclusive;
    const char *help;
} flag_spec;

enum { FLAGS_OK = 0, FLAGS_HELP = 1, FLAGS_ERROR = 2 };

/* Parses "--name value" and "--name=value". On a bad flag prints one line
 * "PROGRAM: --flag: what is wrong" to stderr and returns FLAGS_ERROR; on
 * --help prints the usage to stdout and returns FLAGS_HELP. Arguments that
 * are not flags are left in positional[0..*n_positional) when positional
 * is non-NULL, and are an error otherwise. */
int flags_parse(const char *program, const char *summary, const flag_spec *specs, int n_specs, int argc,
                char **argv, char **positional, int *n_positional);

/* The number of online cores (1 to 64): the demos' default --threads. */
long demo_default_threads(void);

#endif
