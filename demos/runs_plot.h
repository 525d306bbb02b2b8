/* gnuplot for bin/runs: the plots/NAME.gp scripts, run without a shell. */
#ifndef AG_RUNS_PLOT_H
#define AG_RUNS_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The directory of plots/loss.gp and the demos' scripts: $AG_PLOTS_DIR,
 * else plots/ beside the program's bin/ (a checkout), else ./plots. */
void runs_plots_dir(char *buf, size_t size);
/* gnuplot -e SETTING... SCRIPT, its stderr into stderr_path (NULL: ours);
 * its exit code (-1 if it could not be started). */
int runs_gnuplot(const char *script, const char *const *settings, int n_settings, const char *stderr_path);
/* The same started, not waited for (the report draws several at once):
 * the child's pid, or -1; runs_gnuplot_exit_code turns waitpid's status
 * into the exit code. */
pid_t runs_gnuplot_start(const char *script, const char *const *settings, int n_settings, const char *stderr_path);
int runs_gnuplot_exit_code(int wait_status);
/* Whether a path can go inside gnuplot's '...' strings (no quote, no backslash). */
bool runs_plain_path(const char *path);

#endif
