#include "runs_svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One point of a path's data, and the thinning: consecutive points whose
 * x falls in one pixel column become at most four (the first, the
 * lowest, the highest and the last, in their order), which draws the same
 * column of the line: what the curve of a long run looks like at the
 * chart's resolution, its noise band included. */
typedef struct point {
    double x, y;
    bool move;  /* M, else L */
    long index; /* its place in the path */
} point;

typedef struct thinner {
    FILE *f;
    point column[4]; /* first, lowest, highest, last of the current column */
    int count;       /* points in the current column (0: none) */
    long key;        /* its column: floor(x) */
    long next_index;
} thinner;

static void put_point(FILE *f, const point *p) { fprintf(f, "%c%.2f,%.2f ", p->move ? 'M' : 'L', p->x, p->y); }

static void flush_column(thinner *t) {
    if (t->count == 0) return;
    /* In the order they came, each once. */
    const point *first = &t->column[0], *low = &t->column[1], *high = &t->column[2], *last = &t->column[3];
    const point *a = low->index < high->index ? low : high, *b = low->index < high->index ? high : low;
    const point *order[4] = {first, a, b, last};
    long written = -1;
    for (int i = 0; i < 4; i++)
        if (order[i]->index > written) {
            put_point(t->f, order[i]);
            written = order[i]->index;
        }
    t->count = 0;
}

static void add_point(thinner *t, point p) {
    p.index = t->next_index++;
    long key = (long)floor(p.x);
    if (p.move || t->count == 0 || key != t->key) {
        flush_column(t);
        t->key = key;
        for (int i = 0; i < 4; i++) t->column[i] = p;
        t->count = 1;
        return;
    }
    if (p.y < t->column[1].y) t->column[1] = p;
    if (p.y > t->column[2].y) t->column[2] = p;
    t->column[3] = p;
    t->count++;
}

/* The data of d='...' (text up to its closing quote), thinned when it is
 * M and L commands only (gnuplot's lines); anything else as it is.
 * Returns the closing quote. */
static const char *put_path_data(FILE *f, const char *d) {
    const char *end = strchr(d, '\'');
    if (!end) end = d + strlen(d);
    bool plain = true;
    for (const char *c = d; c < end && plain; c++)
        plain = strchr("ML0123456789.,- \t\r\n", *c) != NULL;
    if (!plain) {
        fwrite(d, 1, (size_t)(end - d), f);
        return end;
    }
    thinner t = {.f = f};
    const char *c = d;
    while (c < end) {
        while (c < end && strchr(" \t\r\n", *c)) c++;
        if (c >= end) break;
        char command = *c++;
        char *after;
        double x = strtod(c, &after);
        if (after == c || *after != ',') break;
        c = after + 1;
        double y = strtod(c, &after);
        if (after == c) break;
        c = after;
        add_point(&t, (point){.x = x, .y = y, .move = command == 'M'});
    }
    flush_column(&t);
    return end;
}

void svg_put_inline(FILE *f, const char *svg, const char *prefix) {
    const char *start = strstr(svg, "<svg");
    if (!start) return;
    static const char *const refs[] = {"id='", "id=\"", "href='#", "href=\"#", "url(#"};
    for (const char *c = start; *c;) {
        if (strncmp(c, " d='", 4) == 0) {
            fputs(" d='", f);
            c = put_path_data(f, c + 4);
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof refs / sizeof refs[0] && !matched; k++) {
            size_t length = strlen(refs[k]);
            /* "id=" only as an attribute: after a blank. */
            if (strncmp(c, refs[k], length) == 0 && (k > 1 || (c > start && (c[-1] == ' ' || c[-1] == '\t')))) {
                fwrite(c, 1, length, f);
                fprintf(f, "%s-", prefix);
                c += length;
                matched = true;
            }
        }
        if (!matched) fputc(*c++, f);
    }
}
