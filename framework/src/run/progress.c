/* The progress line. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "ag_run.h"

void ag_progress_start(ag_progress *p, FILE *out, int64_t total_steps, int64_t plain_every, bool quiet) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->terminal = isatty(fileno(out));
    p->quiet = quiet;
    p->total = total_steps;
    p->plain_every = plain_every > 0 ? plain_every : 1000;
    p->start = p->last_print = ag_seconds();
}

void ag_progress_resume_at(ag_progress *p, int64_t step) { p->first_step = step; }

static void format_duration(char *buf, size_t size, double seconds) {
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, size, "?");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void ag_progress_update(ag_progress *p, int64_t step, double loss) {
    if (p->quiet) return;
    double now = ag_seconds();
    if (p->terminal ? now - p->last_print < 0.1 : step % p->plain_every != 0) return;
    p->last_print = now;
    double elapsed = now - p->start,
           rate = step > p->first_step && elapsed > 0 ? (double)(step - p->first_step) / elapsed : 0;
    char elapsed_text[32], left_text[32];
    format_duration(elapsed_text, sizeof elapsed_text, elapsed);
    format_duration(left_text, sizeof left_text, rate > 0 ? (double)(p->total - step) / rate : NAN);
    /* Three digits for a slow model (the char LM's "4.71 steps/s"), whole steps for a fast one. */
    fprintf(p->out, "%sstep %lld/%lld  loss %.4e  %.*f steps/s  elapsed %s  left %s%s", p->terminal ? "\r" : "",
            (long long)step, (long long)p->total, loss, rate >= 100 ? 0 : rate >= 10 ? 1 : 2, rate, elapsed_text,
            left_text,
            p->terminal ? "\033[K" : "\n");
    fflush(p->out);
    p->line_open = p->terminal;
}

void ag_progress_end(ag_progress *p) {
    if (p->line_open) fputc('\n', p->out);
    p->line_open = false;
}
