#include "runs_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runs_plot.h"
#include "runs_svg.h"
#include "runs_table.h"

static void html_text(FILE *f, const char *text) {
    for (const char *c = text ? text : ""; *c; c++) switch (*c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*c, f);
        }
}

/* ---------------------------------------------------------------- charts */

/* A chart: gnuplot draws it into TMP/NAME.svg, several at once (one per
 * core), while the page waits; then the page takes the SVG text in, or
 * says why there is none. */
typedef struct chart {
    char name[32];
    pid_t pid;  /* while gnuplot draws it; 0 when done or never started */
    int code;   /* gnuplot's exit code */
    char why[300]; /* set when there is no chart */
    char metric[256]; /* an overlay's metric */
} chart;

typedef struct chart_pool {
    chart *charts;
    int n, running, limit;
    const char *tmp;
} chart_pool;

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (text) text[size] = '\0';
    fclose(f);
    return text;
}

/* Waits for one gnuplot of the pool to end. */
static void wait_one(chart_pool *pool) {
    int status;
    pid_t pid;
    while ((pid = wait(&status)) < 0)
        if (errno != EINTR) {
            pool->running = 0; /* no child left to wait for */
            return;
        }
    for (int i = 0; i < pool->n; i++)
        if (pool->charts[i].pid == pid) {
            pool->charts[i].pid = 0;
            pool->charts[i].code = runs_gnuplot_exit_code(status);
            pool->running--;
        }
}

static void draw(chart_pool *pool, chart *c, const char *script, const char *const *settings, int n) {
    while (pool->running >= pool->limit) wait_one(pool);
    char err_path[1200];
    snprintf(err_path, sizeof err_path, "%s/%s.err", pool->tmp, c->name);
    c->pid = runs_gnuplot_start(script, settings, n, err_path);
    if (c->pid < 0) {
        c->pid = 0;
        snprintf(c->why, sizeof c->why, "cannot start gnuplot: %s", strerror(errno));
    } else {
        pool->running++;
    }
}

/* The chart's SVG text (NULL, with c->why, if there is none); its files
 * are removed. */
static char *take_svg(const chart_pool *pool, chart *c) {
    if (c->why[0]) return NULL;
    char svg_path[1200], err_path[1200];
    snprintf(svg_path, sizeof svg_path, "%s/%s.svg", pool->tmp, c->name);
    snprintf(err_path, sizeof err_path, "%s/%s.err", pool->tmp, c->name);
    char *svg = c->code == 0 ? read_file(svg_path) : NULL;
    if (!svg) {
        char *message = read_file(err_path);
        snprintf(c->why, sizeof c->why, "%s", message && *message ? message : "gnuplot drew nothing");
        c->why[strcspn(c->why, "\n")] = '\0';
        free(message);
    }
    unlink(svg_path);
    unlink(err_path);
    return svg;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* A run's own chart: its demo's script (plots/DEMO.gp: the experiment's
 * curves), or the generic loss chart. */
static void draw_run(chart_pool *pool, chart *c, const run_record *r, const char *plots) {
    if (r->last_step < 0) {
        snprintf(c->why, sizeof c->why, "no chart: %.280s", r->problem[0] ? r->problem : "no metrics");
        return;
    }
    if (!runs_plain_path(r->path) || strchr(r->path, ' ')) {
        snprintf(c->why, sizeof c->why, "no chart: a quote, backslash or space in its path");
        return;
    }
    char script[1200], file[1200], out[1200];
    snprintf(script, sizeof script, "%s/%s.gp", plots, r->demo);
    bool own = runs_plain_path(r->demo) && !strchr(r->demo, '/') && file_exists(script);
    if (!own) snprintf(script, sizeof script, "%s/loss.gp", plots);
    snprintf(file, sizeof file, own ? "file='%s/metrics.csv'" : "files='%s/metrics.csv'", r->path);
    snprintf(out, sizeof out, "out='%s/%s.svg'", pool->tmp, c->name);
    const char *settings[] = {file, out};
    draw(pool, c, script, settings, 2);
}

/* Per demo, every run with rows, one colour each, the metric they all
 * have first (loss). */
static void draw_overlay(chart_pool *pool, chart *c, const run_record *const *runs, int n, const char *plots) {
    char files[32768] = "", titles[8192] = "";
    run_record *usable = calloc((size_t)n, sizeof *usable);
    int n_usable = 0;
    for (int i = 0; usable && i < n; i++) {
        const run_record *r = runs[i];
        if (r->last_step < 0 || !runs_plain_path(r->path) || strchr(r->path, ' ') || strchr(r->name, ' ')) continue;
        size_t used = strlen(files);
        snprintf(files + used, sizeof files - used, "%s%s/metrics.csv", n_usable ? " " : "", r->path);
        used = strlen(titles);
        snprintf(titles + used, sizeof titles - used, "%s%s", n_usable ? " " : "", r->name);
        usable[n_usable++] = *r; /* a shallow copy, for table_common_metrics */
    }
    char common[2048] = "";
    if (n_usable > 0) table_common_metrics(usable, n_usable, common, sizeof common);
    free(usable);
    if (n_usable == 0 || !common[0]) {
        snprintf(c->why, sizeof c->why, "no overlay: %s", n_usable ? "no metric common to the runs" : "no run with rows");
        return;
    }
    snprintf(c->metric, sizeof c->metric, "%.255s", strstr(common, "loss") == common ? "loss" : common);
    c->metric[strcspn(c->metric, ",")] = '\0';
    char script[1200], set_files[33000], set_titles[8300], out[1200], set_metric[300];
    snprintf(script, sizeof script, "%s/loss.gp", plots);
    snprintf(set_files, sizeof set_files, "files='%s'", files);
    snprintf(set_titles, sizeof set_titles, "titles='%s'", titles);
    snprintf(out, sizeof out, "out='%s/%s.svg'", pool->tmp, c->name);
    snprintf(set_metric, sizeof set_metric, "metric='%s'", c->metric);
    const char *settings[] = {set_files, set_titles, out, set_metric};
    draw(pool, c, script, settings, 4);
}

static void put_chart(FILE *f, const chart_pool *pool, chart *c, const char *caption) {
    char *svg = take_svg(pool, c);
    fprintf(f, "<figure class=\"chart\" id=\"%s\">", c->name);
    if (svg) svg_put_inline(f, svg, c->name);
    else {
        fputs("<p class=\"nochart\">", f);
        html_text(f, c->why);
        fputs("</p>", f);
    }
    free(svg);
    fputs("<figcaption>", f);
    html_text(f, caption);
    fputs("</figcaption></figure>\n", f);
}

/* ------------------------------------------------------------------ page */

static const char *const STYLE =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;white-space:nowrap}"
    "th{background:#eee;cursor:pointer}"
    "tr:nth-child(even) td{background:#f8f8f8}"
    "figure{margin:0.5em 0}svg{max-width:100%;height:auto}"
    ".nochart,.problem{color:#a00}.status-killed,.status-failed,.status-non-finite{color:#a00}"
    "section{border-top:1px solid #ddd;margin-top:1em}";

/* A click on a column's heading sorts by it (numbers as numbers), a
 * second click the other way. */
static const char *const SCRIPT =
    "document.querySelectorAll('#runs th').forEach(function(th,col){th.addEventListener('click',function(){"
    "var body=document.querySelector('#runs tbody'),rows=Array.from(body.rows),down=th.dataset.down!=='1';"
    "th.dataset.down=down?'1':'0';rows.sort(function(a,b){var x=a.cells[col].textContent,y=b.cells[col].textContent,"
    "p=parseFloat(x),q=parseFloat(y),c=(!isNaN(p)&&!isNaN(q))?p-q:x.localeCompare(y);return down?c:-c;});"
    "rows.forEach(function(r){body.appendChild(r);});});});";

static void put_table(FILE *f, const run_record *const *runs, int n) {
    text_table t;
    table_list(&t, runs, n);
    fputs("<table id=\"runs\"><thead><tr>", f);
    for (int c = 0; c < t.cols; c++) {
        fputs("<th>", f);
        html_text(f, t.cells[c]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (int r = 1; r < t.rows; r++) {
        fputs("<tr>", f);
        for (int c = 0; c < t.cols; c++) {
            const char *cell = t.cells[(size_t)r * (size_t)t.cols + (size_t)c];
            if (c == 0) {
                fprintf(f, "<td><a href=\"#run-%d\">", r - 1);
                html_text(f, cell);
                fputs("</a></td>", f);
            } else if (c == 2) {
                fputs("<td class=\"status-", f);
                html_text(f, cell);
                fputs("\">", f);
                html_text(f, cell);
                fputs("</td>", f);
            } else {
                fputs("<td>", f);
                html_text(f, cell);
                fputs("</td>", f);
            }
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    text_table_free(&t);
}

static void put_run(FILE *f, const run_record *r, int index, const chart_pool *pool, chart *c) {
    fprintf(f, "<section class=\"run\" id=\"run-%d\"><h3>", index);
    html_text(f, r->name);
    fputs("</h3>\n<p>", f);
    char when[64], duration[64];
    format_when(r->started, when, sizeof when);
    format_duration(r->duration, duration, sizeof duration);
    fputs("demo ", f);
    html_text(f, r->demo);
    fprintf(f, ", <b class=\"status-%s\">%s</b>, started %s, %s, ", r->status, r->status, when, duration);
    if (r->steps >= 0) fprintf(f, "%lld steps", r->steps);
    else fputs("steps unknown", f);
    if (strcmp(r->status, "killed") == 0)
        fputs(": status.json says running, but no process holds its lock (killed with -9, or crashed)", f);
    if (r->info.detail[0]) {
        fputs(": ", f);
        html_text(f, r->info.detail);
    }
    if (r->info.version[0]) {
        fputs("; ag ", f);
        html_text(f, r->info.version);
        if (r->info.commit[0]) fputc(' ', f), html_text(f, r->info.commit);
        fputs(", OpenBLAS ", f);
        html_text(f, r->info.blas);
    }
    fputs("</p>\n", f);
    if (r->problem[0]) {
        fputs("<p class=\"problem\">problem: ", f);
        html_text(f, r->problem);
        fputs("</p>\n", f);
    }
    fputs("<p class=\"settings\">settings: ", f);
    for (int i = 0; i < r->n_params; i++) {
        if (i) fputs(", ", f);
        html_text(f, r->param_names[i]);
        fputc('=', f);
        html_text(f, r->param_values[i]);
    }
    fputs("</p>\n", f);
    if (r->info.n_results > 0) {
        fputs("<p class=\"results\">results: ", f);
        for (int i = 0; i < r->info.n_results; i++) {
            if (i) fputc(' ', f);
            html_text(f, r->info.result_names[i]);
            fputc('=', f);
            html_text(f, r->info.result_values[i]);
        }
        fputs("</p>\n", f);
    }
    put_chart(f, pool, c, r->name);
    fputs("</section>\n", f);
}

/* Whether run i is its demo's first: the overlays come in that order. */
static bool first_of_demo(const run_record *runs, int i) {
    for (int j = 0; j < i; j++)
        if (strcmp(runs[j].demo, runs[i].demo) == 0) return false;
    return true;
}

int runs_write_report(const run_record *runs, int n, const char *runs_dir, const char *out) {
    ag_atomic_file page;
    if (ag_atomic_file_begin(&page, out) != AG_OK) {
        fprintf(stderr, "runs: report: --out %s: %s\n", out, ag_error_message());
        return 1;
    }
    const char *base = getenv("TMPDIR");
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/ag-runs-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "runs: report: cannot make a temporary directory %s: %s\n", tmp, strerror(errno));
        ag_atomic_file_abort(&page);
        return 1;
    }
    char plots[1024];
    runs_plots_dir(plots, sizeof plots);
    /* Charts 0..n-1: the runs'; n + i: the overlay of run i's demo (if i
     * is its first run). */
    const run_record **all = malloc((size_t)(n ? n : 1) * sizeof *all);
    const run_record **group = malloc((size_t)(n ? n : 1) * sizeof *group);
    int *group_size = calloc((size_t)(n ? n : 1), sizeof *group_size);
    chart_pool pool = {.charts = calloc((size_t)(2 * n + 1), sizeof(chart)), .n = 2 * n, .tmp = tmp};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pool.limit = cores < 1 ? 1 : cores > 16 ? 16 : (int)cores;
    if (!all || !group || !group_size || !pool.charts) {
        free(all);
        free(group);
        free(group_size);
        free(pool.charts);
        rmdir(tmp);
        ag_atomic_file_abort(&page);
        fprintf(stderr, "runs: report: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        all[i] = &runs[i];
        snprintf(pool.charts[i].name, sizeof pool.charts[i].name, "chart-run-%d", i);
        snprintf(pool.charts[n + i].name, sizeof pool.charts[n + i].name, "chart-demo-%d", i);
    }
    for (int i = 0; i < n; i++) {
        if (!first_of_demo(runs, i)) continue;
        for (int j = i; j < n; j++)
            if (strcmp(runs[j].demo, runs[i].demo) == 0) group[group_size[i]++] = &runs[j];
        draw_overlay(&pool, &pool.charts[n + i], group, group_size[i], plots);
    }
    for (int i = 0; i < n; i++) draw_run(&pool, &pool.charts[i], &runs[i], plots);
    while (pool.running > 0) wait_one(&pool);

    FILE *f = page.file;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ag runs: ", f);
    html_text(f, runs_dir);
    fprintf(f, "</title><style>%s</style></head>\n<body>\n<h1>", STYLE);
    html_text(f, runs_dir);
    fprintf(f, ": %d run%s</h1>\n", n, n == 1 ? "" : "s");
    if (n > 0) put_table(f, all, n);
    else fputs("<p>No runs.</p>\n", f);

    fputs("<h2>Each demo's runs together</h2>\n", f);
    for (int i = 0; i < n; i++) {
        if (!first_of_demo(runs, i)) continue;
        chart *overlay = &pool.charts[n + i];
        char caption[400];
        snprintf(caption, sizeof caption, "%s: %s of %d run%s", runs[i].demo, overlay->metric[0] ? overlay->metric : "-",
                 group_size[i], group_size[i] == 1 ? "" : "s");
        fputs("<section class=\"demo\"><h3>", f);
        html_text(f, runs[i].demo);
        fputs("</h3>\n", f);
        put_chart(f, &pool, overlay, caption);
        fputs("</section>\n", f);
    }
    fputs("<h2>Each run</h2>\n", f);
    for (int i = 0; i < n; i++) put_run(f, &runs[i], i, &pool, &pool.charts[i]);
    fprintf(f, "<script>%s</script>\n</body></html>\n", SCRIPT);
    free(pool.charts);
    free(group_size);
    free(group);
    free(all);
    rmdir(tmp);
    if (ag_atomic_file_commit(&page) != AG_OK) {
        fprintf(stderr, "runs: report: %s\n", ag_error_message());
        return 1;
    }
    printf("report: %s (%d run%s)\n", out, n, n == 1 ? "" : "s");
    return 0;
}
