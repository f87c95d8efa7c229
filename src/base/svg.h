/* base/svg: line charts as one self-contained SVG document (no scripts, no external fonts, images
 * or style sheets), so any browser opens the file as it is. Panels are stacked vertically, each
 * with its own axes, "nice" ticks (1, 2, 5 × 10^k), grid, title and a legend to the right of the
 * plot area. A non-finite x or y breaks a series' line (a gap); an isolated point is drawn as a
 * dot. Long series are decimated per pixel column (first, min, max, last), so a curve of a
 * million steps stays a small file that still shows every spike. */
#ifndef BERT_BASE_SVG_H
#define BERT_BASE_SVG_H

#include <stddef.h>

#include "base/error.h"
#include "base/strbuf.h"

typedef struct bert_svg_series {
  const char *id;     /* identifier (letters, digits, '_'), used for the element id; may be NULL */
  const char *label;  /* legend text */
  const char *color;  /* CSS colour, e.g. "#1f77b4" */
  const double *x, *y;
  size_t n;
  int dashed;
} bert_svg_series;

typedef struct bert_svg_panel {
  const char *title, *xlabel, *ylabel;
  const bert_svg_series *series;
  int nseries;
  int integer_x;             /* x ticks on whole numbers only (steps) */
  double ymin_hint, ymax_hint; /* the y range includes these when finite (NAN: no hint) */
} bert_svg_panel;

/* Appends a complete SVG document (XML declaration included) with `title` on top. */
int bert_svg_chart(bert_strbuf *out, const char *title, const bert_svg_panel *panels, int npanels,
                   bert_error *err);

/* Appends `text` with &, <, >, " and ' escaped, and control characters other than tab and
 * newline (not allowed in XML 1.0) replaced by '?'. */
void bert_svg_escape(bert_strbuf *out, const char *text);

/* Ticks for [lo, hi]: about `target` steps of a nice size (at least 1 when `integer`); returns
 * the first tick, the step and the count, with first <= lo and first + (count - 1) step >= hi. */
void bert_svg_ticks(double lo, double hi, int target, int integer, double *first, double *step, int *count);

#endif
