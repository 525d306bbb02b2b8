/* gnuplot's SVG charts put inline in an HTML page (runs report). */
#ifndef AG_RUNS_SVG_H
#define AG_RUNS_SVG_H

#include <stdio.h>

/* Writes the <svg> element of `svg` (a file gnuplot's svg terminal wrote)
 * to `f`: without its XML prolog; with every id, and every reference to
 * one, prefixed by `prefix` (each chart names its symbols and clip paths
 * alike, and ids must be unique in a page); and with its polylines thinned
 * to what can be seen, at most four points per pixel of width, so that a
 * run of 50,000 steps costs kilobytes, not megabytes. */
void svg_put_inline(FILE *f, const char *svg, const char *prefix);

#endif
