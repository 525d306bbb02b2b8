/* Running gnuplot on plots/NAME.gp for bin/runs: finding the scripts, and
 * passing settings as -e arguments without a shell. */
#include "runs_plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where plots/loss.gp is: $AG_PLOTS_DIR, else plots/ beside the program's
 * bin/ (a checkout), else ./plots. */
void runs_plots_dir(char *buf, size_t size) {
    const char *env = getenv("AG_PLOTS_DIR");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return;
    }
    char exe[1024];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (length > 0) {
        exe[length] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(buf, size, "%s/plots", exe);
        struct stat st;
        char probe[1200];
        snprintf(probe, sizeof probe, "%s/loss.gp", buf);
        if (stat(probe, &st) == 0) return;
    }
    snprintf(buf, size, "plots");
}

/* gnuplot with these -e settings on SCRIPT, without a shell; its
 * messages (one line) go to stderr, or to stderr_path. */
pid_t runs_gnuplot_start(const char *script, const char *const *settings, int n_settings, const char *stderr_path) {
    char *args[32];
    int n = 0;
    args[n++] = "gnuplot";
    for (int i = 0; i < n_settings && n < 29; i++) {
        args[n++] = "-e";
        args[n++] = (char *)settings[i];
    }
    args[n++] = (char *)script;
    args[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (stderr_path && !freopen(stderr_path, "w", stderr)) _exit(127);
        execvp("gnuplot", args);
        fprintf(stderr, "runs: cannot run gnuplot: %s (install gnuplot-nox)\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

int runs_gnuplot_exit_code(int wait_status) {
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

int runs_gnuplot(const char *script, const char *const *settings, int n_settings, const char *stderr_path) {
    pid_t pid = runs_gnuplot_start(script, settings, n_settings, stderr_path);
    if (pid < 0) return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return runs_gnuplot_exit_code(status);
}

/* A path goes into gnuplot's '...' strings: no quote or backslash. */
bool runs_plain_path(const char *path) { return !strpbrk(path, "'\"\\"); }

