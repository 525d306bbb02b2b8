/* runs: list, compare and report the runs that ag's programs write
 * (params.csv, metrics.csv, status.json), as MLflow's, W&B's and
 * TensorBoard's run browsers did for the original experiments, on ag's
 * own files, with no server. The charts are plots/NAME.gp's, through gnuplot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runs_data.h"
#include "runs_plot.h"
#include "runs_report.h"
#include "runs_table.h"

static const char *const USAGE =
    "Usage:\n"
    "  runs list [RUNS_DIR] [--demo NAME] [--sort [-]METRIC] [--where KEY=VALUE]...\n"
    "  runs compare RUN RUN... [--plot FILE.png] [--metric NAME] [--smooth W]\n"
    "  runs report [RUNS_DIR] --out FILE.html\n"
    "RUNS_DIR defaults to runs. list: one line per run (name, demo, status, when, duration, steps, the\n"
    "settings that differ between the runs listed, the last value of each metric); --sort by a metric\n"
    "or by when, duration, steps (-METRIC: largest first), --where a setting (or status, demo) equal to\n"
    "a value. compare: the runs' settings side by side (* marks those that differ), their last metrics\n"
    "and results; --plot overlays a metric (--metric, default loss; --smooth: the EMA's weight, 0 for a\n"
    "metric logged now and then) with plots/loss.gp. report: one self-contained HTML page, the table\n"
    "and every run's charts (gnuplot's SVG), for any browser.\n"
    "A status is running, killed (its process died without a word: kill -9, a crash), finished,\n"
    "converged, not-converged, stopped (a signal), non-finite, failed, or unknown (no status.json).\n";

static int usage_error(const char *format, const char *what) {
    fprintf(stderr, "runs: ");
    fprintf(stderr, format, what);
    fputc('\n', stderr);
    return 2;
}

/* --------------------------------------------------------------- filters */

typedef struct list_options {
    const char *runs_dir, *demo, *sort;
    const char *where[32];
    int n_where;
} list_options;

/* A --where key's value for a run: a setting, or its status or demo. */
static const char *where_value(const run_record *r, const char *key) {
    if (strcmp(key, "status") == 0) return r->status;
    if (strcmp(key, "demo") == 0) return r->demo;
    return run_param(r, key);
}

static bool selected(const run_record *r, const list_options *o) {
    if (o->demo && strcmp(r->demo ? r->demo : "", o->demo) != 0) return false;
    for (int i = 0; i < o->n_where; i++) {
        const char *equals = strchr(o->where[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(equals - o->where[i]), o->where[i]);
        const char *value = where_value(r, key);
        if (!value || strcmp(value, equals + 1) != 0) return false;
    }
    return true;
}

/* A --where key that no run has is a typo, not an empty answer. */
static bool check_where_keys(const run_record *runs, int n, const list_options *o) {
    for (int i = 0; i < o->n_where; i++) {
        const char *equals = strchr(o->where[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(equals - o->where[i]), o->where[i]);
        bool known = false;
        for (int j = 0; j < n && !known; j++) known = where_value(&runs[j], key) != NULL;
        if (!known && n > 0) {
            char names[2048] = "status, demo";
            table_union_params(runs, n, names, sizeof names);
            fprintf(stderr, "runs: list: --where %s: no run has a setting '%s' (there are: %s)\n", o->where[i], key, names);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ list */

static int command_list(int argc, char **argv) {
    list_options o = {.runs_dir = "runs"};
    bool dir_given = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--demo") == 0 || strcmp(a, "--sort") == 0 || strcmp(a, "--where") == 0) && i + 1 >= argc)
            return usage_error("list: %s needs a value", a);
        if (strcmp(a, "--demo") == 0) o.demo = argv[++i];
        else if (strcmp(a, "--sort") == 0) o.sort = argv[++i];
        else if (strcmp(a, "--where") == 0) {
            const char *w = argv[++i];
            const char *equals = strchr(w, '=');
            if (!equals || equals == w) return usage_error("list: --where '%s' is not KEY=VALUE", w);
            if (o.n_where == 32) return usage_error("list: %s: at most 32 --where", w);
            o.where[o.n_where++] = w;
        } else if (a[0] == '-' && a[1]) return usage_error("list: unknown flag '%s' (runs --help)", a);
        else if (dir_given) return usage_error("list: one RUNS_DIR only (got a second: '%s')", a);
        else {
            o.runs_dir = a;
            dir_given = true;
        }
    }
    int n;
    run_record *runs = runs_load_dir(o.runs_dir, &n);
    if (!runs) {
        fprintf(stderr, "runs: list: cannot read %s: %s\n", o.runs_dir, strerror(errno));
        return 1;
    }
    if (!check_where_keys(runs, n, &o)) return runs_free(runs, n), 2;
    /* The runs selected, as pointers into runs. */
    const run_record **shown = malloc((size_t)(n ? n : 1) * sizeof *shown);
    int n_shown = 0;
    for (int i = 0; shown && i < n; i++)
        if (selected(&runs[i], &o)) shown[n_shown++] = &runs[i];
    int status = 0;
    if (!shown) {
        fprintf(stderr, "runs: list: out of memory\n");
        status = 1;
    } else if (o.sort && !table_sort(shown, n_shown, o.sort)) {
        status = 2;
    } else if (n_shown == 0) {
        printf("no runs in %s%s\n", o.runs_dir, n > 0 ? " match" : "");
    } else {
        table_print_list(stdout, shown, n_shown);
    }
    free(shown);
    runs_free(runs, n);
    return status;
}

/* --------------------------------------------------------------- compare */

/* Every run must have the metric to plot: otherwise one line naming the
 * ones they have in common. */
static bool all_have_metric(const run_record *runs, int n, const char *metric) {
    for (int i = 0; i < n; i++)
        if (run_column(&runs[i], metric) < 0) {
            char names[2048] = "";
            table_common_metrics(runs, n, names, sizeof names);
            fprintf(stderr, "runs: compare: --metric %s: %s has no such metric (the runs have in common: %s)\n",
                    metric, runs[i].name, names[0] ? names : "none");
            return false;
        }
    return true;
}

static int plot_compare(const run_record *runs, int n, const char *out, const char *metric, const char *smooth) {
    if (!runs_plain_path(out)) return usage_error("compare: --plot %s: a quote or backslash in the name", out);
    char files[16384] = "", titles[4096] = "";
    for (int i = 0; i < n; i++) {
        if (!runs_plain_path(runs[i].path) || strchr(runs[i].path, ' ') || strchr(runs[i].name, ' ')) {
            fprintf(stderr, "runs: compare: --plot: %s: a run path with a space, quote or backslash\n", runs[i].path);
            return 2;
        }
        size_t used = strlen(files);
        snprintf(files + used, sizeof files - used, "%s%s/metrics.csv", i ? " " : "", runs[i].path);
        used = strlen(titles);
        snprintf(titles + used, sizeof titles - used, "%s%s", i ? " " : "", runs[i].name);
    }
    char plots[1024], script[1100], set_files[16500], set_titles[4200], set_out[1100], set_metric[300], heading[400];
    runs_plots_dir(plots, sizeof plots);
    snprintf(script, sizeof script, "%s/loss.gp", plots);
    snprintf(set_files, sizeof set_files, "files='%s'", files);
    snprintf(set_titles, sizeof set_titles, "titles='%s'", titles);
    snprintf(set_out, sizeof set_out, "out='%s'", out);
    snprintf(set_metric, sizeof set_metric, "metric='%s'", metric);
    snprintf(heading, sizeof heading, "heading='%s of %d runs'", metric, n);
    char set_smooth[64];
    snprintf(set_smooth, sizeof set_smooth, "smooth=%s", smooth ? smooth : "0.9");
    const char *settings[] = {set_files, set_titles, set_out, set_metric, heading, set_smooth};
    int code = runs_gnuplot(script, settings, 6, NULL);
    if (code != 0) {
        fprintf(stderr, "runs: compare: --plot %s: gnuplot failed (exit %d)\n", out, code);
        return 1;
    }
    printf("plot: %s\n", out);
    return 0;
}

static int command_compare(int argc, char **argv) {
    const char *plot = NULL, *metric = NULL, *smooth = NULL;
    const char *dirs[256];
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--plot") == 0 || strcmp(a, "--metric") == 0 || strcmp(a, "--smooth") == 0) && i + 1 >= argc)
            return usage_error("compare: %s needs a value", a);
        if (strcmp(a, "--plot") == 0) plot = argv[++i];
        else if (strcmp(a, "--smooth") == 0) {
            smooth = argv[++i];
            char *end;
            double w = strtod(smooth, &end);
            if (*end || end == smooth || !(w >= 0 && w < 1))
                return usage_error("compare: --smooth '%s' is not a number in [0, 1)", smooth);
        }
        else if (strcmp(a, "--metric") == 0) metric = argv[++i];
        else if (a[0] == '-' && a[1]) return usage_error("compare: unknown flag '%s' (runs --help)", a);
        else if (n == 256) return usage_error("compare: %s: at most 256 runs", a);
        else dirs[n++] = a;
    }
    if (n < 2) return usage_error("compare: %s", "give two runs or more (runs compare RUN RUN...)");
    if (metric && !plot) return usage_error("compare: --metric %s: only with --plot FILE.png", metric);
    if (smooth && !plot) return usage_error("compare: --smooth %s: only with --plot FILE.png", smooth);
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "runs: compare: %s is not a directory\n", dirs[i]);
            return 1;
        }
        if (!run_dir_looks_like_run(dirs[i])) {
            fprintf(stderr, "runs: compare: %s holds no run (no params.csv, metrics.csv nor status.json)\n", dirs[i]);
            return 1;
        }
    }
    run_record *runs = calloc((size_t)n, sizeof *runs);
    if (!runs) return fprintf(stderr, "runs: compare: out of memory\n"), 1;
    for (int i = 0; i < n; i++) run_record_load(&runs[i], dirs[i]);
    /* The plot's metric is checked before anything is printed. */
    if (plot && !metric) metric = "loss";
    int status = 0;
    if (plot && !all_have_metric(runs, n, metric)) status = 2;
    else {
        table_print_compare(stdout, runs, n);
        if (plot) status = plot_compare(runs, n, plot, metric, smooth);
    }
    runs_free(runs, n);
    return status;
}

/* ---------------------------------------------------------------- report */

static int command_report(int argc, char **argv) {
    const char *runs_dir = "runs", *out = NULL;
    bool dir_given = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--out") == 0) {
            if (i + 1 >= argc) return usage_error("report: %s needs a value", a);
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) return usage_error("report: unknown flag '%s' (runs --help)", a);
        else if (dir_given) return usage_error("report: one RUNS_DIR only (got a second: '%s')", a);
        else {
            runs_dir = a;
            dir_given = true;
        }
    }
    if (!out) return usage_error("report: %s", "--out FILE.html is required");
    int n;
    run_record *runs = runs_load_dir(runs_dir, &n);
    if (!runs) {
        fprintf(stderr, "runs: report: cannot read %s: %s\n", runs_dir, strerror(errno));
        return 1;
    }
    int status = runs_write_report(runs, n, runs_dir, out);
    runs_free(runs, n);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
    if (strcmp(command, "list") == 0) return command_list(argc - 2, argv + 2);
    if (strcmp(command, "compare") == 0) return command_compare(argc - 2, argv + 2);
    if (strcmp(command, "report") == 0) return command_report(argc - 2, argv + 2);
    return usage_error("'%s' is not a command: list, compare or report (runs --help)", command);
}
