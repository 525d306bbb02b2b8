/* `runs report`: one self-contained HTML page (no network, no external
 * file) with the runs table, sortable by a click on a column, each run's
 * chart (its demo's plots/DEMO.gp, or plots/loss.gp) and per demo an
 * overlay of its runs, drawn by gnuplot's SVG terminal and put inline. */
#ifndef AG_RUNS_REPORT_H
#define AG_RUNS_REPORT_H

#include "runs_data.h"

/* Writes the page to `out` atomically; 0, or 1 with one line on stderr. */
int runs_write_report(const run_record *runs, int n, const char *runs_dir, const char *out);

#endif
