/* Command-line flags for the demos, described by a table so that parsing,
 * range checks, error messages and --help come from one place. */
#ifndef AG_DEMO_FLAGS_H
#define AG_DEMO_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "ag.h"
#include "ag_run.h"

typedef enum flag_type { FLAG_BOOL, FLAG_INT, FLAG_DOUBLE, FLAG_STRING } flag_type;

typedef struct flag_spec {
    const char *name; /* without the leading "--" */
    flag_type type;
    void *target;     /* bool *, long *, double * or const char ** */
    double min, max;  /* inclusive range for numbers */
    bool min_exclusive;
    const char *help;
    /* How to run (threads, output, checkpoints), not what to compute: not
     * a setting of the run, and free to change when a run is resumed. */
    bool run_option;
} flag_spec;

enum { FLAGS_OK = 0, FLAGS_HELP = 1, FLAGS_ERROR = 2 };

/* Parses "--name value" and "--name=value". On a bad flag prints one line
 * "PROGRAM: --flag: what is wrong" to stderr and returns FLAGS_ERROR; on
 * --help prints the usage to stdout and returns FLAGS_HELP. Arguments that
 * are not flags are left in positional[0..*n_positional) when positional
 * is non-NULL, and are an error otherwise. */
int flags_parse(const char *program, const char *summary, const flag_spec *specs, int n_specs, int argc,
                char **argv, char **positional, int *n_positional);

/* Records every flag that is a setting (not a run option) with
 * ag_run_set_param, named with '_' for '-', numbers in the shortest text
 * that reads back as the same value (so a resumed run gets the same bits). */
void flags_record(const flag_spec *specs, int n_specs, ag_run *run);

/* For --resume DIR: loads DIR/checkpoint.safetensors, which must be a
 * checkpoint of `demo`. Every setting that argv does not give takes the
 * checkpoint's value; one that argv gives with another value is an error
 * naming the flag. Returns the checkpoint, or NULL after printing one line
 * to stderr (with *exit_code set: 2 for a flag, 1 for the file). */
ag_checkpoint *flags_resume(const char *program, const char *demo, const char *dir, const flag_spec *specs,
                            int n_specs, int argc, char **argv, int *exit_code);

#endif
