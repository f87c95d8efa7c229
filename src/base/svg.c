/* base/svg: line charts as self-contained SVG (see svg.h). */
#include "base/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Page layout in pixels: plot area on the left, legend column on the right. */
enum {
  PAGE_W = 960,
  TITLE_H = 44,
  PLOT_X = 84,
  PLOT_W = 620,
  LEGEND_X = PLOT_X + PLOT_W + 24,
  PANEL_TOP = 30, /* panel title above the plot area */
  PLOT_H = 230,
  PANEL_BOTTOM = 58, /* tick labels and the x label below it */
  PANEL_H = PANEL_TOP + PLOT_H + PANEL_BOTTOM,
  TICK_TARGET_X = 8,
  TICK_TARGET_Y = 6,
};

typedef struct frame {
  double x0, y0, w, h;
  double xlo, xhi, ylo, yhi;
} frame;

static double to_px(const frame *f, double x) { return f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * f->w; }
static double to_py(const frame *f, double y) { return f->y0 + f->h - (y - f->ylo) / (f->yhi - f->ylo) * f->h; }

void bert_svg_escape(bert_strbuf *out, const char *text) {
  for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
    switch (*p) {
      case '&': bert_strbuf_puts(out, "&amp;"); break;
      case '<': bert_strbuf_puts(out, "&lt;"); break;
      case '>': bert_strbuf_puts(out, "&gt;"); break;
      case '"': bert_strbuf_puts(out, "&quot;"); break;
      case '\'': bert_strbuf_puts(out, "&apos;"); break;
      default: {
        char c = (*p < 0x20 && *p != '\t' && *p != '\n') ? '?' : (char)*p;
        bert_strbuf_append(out, &c, 1);
      }
    }
  }
}

void bert_svg_ticks(double lo, double hi, int target, int integer, double *first, double *step, int *count) {
  double span = hi - lo;
  if (!(span > 0)) span = fabs(lo) > 0 ? fabs(lo) : 1;
  double raw = span / (target > 0 ? target : 1);
  double mag = pow(10, floor(log10(raw)));
  double r = raw / mag;
  double s = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
  if (integer && s < 1) s = 1;
  double a = floor(lo / s) * s, b = ceil(hi / s) * s;
  if (b < a + s) b = a + s;
  *first = a;
  *step = s;
  *count = (int)llround((b - a) / s) + 1;
}

/* Tick text: as many decimals as the step needs; %g for tiny steps and huge values. */
static void tick_label(char *buf, size_t cap, double v, double step) {
  if (fabs(v) < step * 1e-9) v = 0; /* no "-0" or 1e-17 from accumulated rounding */
  if (step < 1e-4 || fabs(v) >= 1e6) {
    snprintf(buf, cap, "%.3g", v);
    return;
  }
  int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  snprintf(buf, cap, "%.*f", decimals, v);
}

/* The finite range of x or y over a panel's series; returns the number of finite points. */
static size_t data_range(const bert_svg_panel *p, int want_y, double *lo, double *hi) {
  size_t finite = 0;
  *lo = INFINITY, *hi = -INFINITY;
  for (int s = 0; s < p->nseries; s++) {
    const bert_svg_series *se = &p->series[s];
    for (size_t i = 0; i < se->n; i++) {
      if (!isfinite(se->x[i]) || !isfinite(se->y[i])) continue;
      double v = want_y ? se->y[i] : se->x[i];
      if (v < *lo) *lo = v;
      if (v > *hi) *hi = v;
      finite++;
    }
  }
  return finite;
}

/* A zero-width range is widened so a single step or a constant curve still has an axis. */
static void widen(double *lo, double *hi, int integer) {
  if (*hi > *lo) return;
  double d = integer ? 0.5 : (fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1); /* one step: centred, one tick */
  *lo -= d, *hi += d;
}

static void frame_ranges(const bert_svg_panel *p, frame *f, size_t *finite) {
  double xlo, xhi, ylo, yhi;
  *finite = data_range(p, 0, &xlo, &xhi);
  data_range(p, 1, &ylo, &yhi);
  if (!*finite) xlo = 0, xhi = 1, ylo = INFINITY, yhi = -INFINITY;
  if (isfinite(p->ymin_hint) && p->ymin_hint < ylo) ylo = p->ymin_hint;
  if (isfinite(p->ymax_hint) && p->ymax_hint > yhi) yhi = p->ymax_hint;
  if (!isfinite(ylo) || !isfinite(yhi)) ylo = 0, yhi = 1;
  widen(&xlo, &xhi, p->integer_x);
  widen(&ylo, &yhi, 0);
  double first, step;
  int count;
  bert_svg_ticks(ylo, yhi, TICK_TARGET_Y, 0, &first, &step, &count);
  f->xlo = xlo, f->xhi = xhi;           /* x: exactly the data, ticks inside */
  f->ylo = first, f->yhi = first + (count - 1) * step; /* y: out to the nice ticks */
}

static void draw_y_axis(bert_strbuf *o, const frame *f) {
  double first, step;
  int count;
  bert_svg_ticks(f->ylo, f->yhi, TICK_TARGET_Y, 0, &first, &step, &count);
  bert_strbuf_puts(o, "<g class=\"yticks\" stroke=\"#e3e3e3\">\n");
  for (int i = 0; i < count; i++) {
    double v = first + i * step, y = to_py(f, v);
    if (y < f->y0 - 0.5 || y > f->y0 + f->h + 0.5) continue;
    char label[64];
    tick_label(label, sizeof label, v, step);
    bert_strbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f->x0, y, f->x0 + f->w, y);
    bert_strbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" stroke=\"none\" fill=\"#333\" text-anchor=\"end\">%s</text>\n",
                       f->x0 - 6, y + 4, label);
  }
  bert_strbuf_puts(o, "</g>\n");
}

static void draw_x_axis(bert_strbuf *o, const frame *f, int integer) {
  double first, step;
  int count;
  bert_svg_ticks(f->xlo, f->xhi, TICK_TARGET_X, integer, &first, &step, &count);
  bert_strbuf_puts(o, "<g class=\"xticks\" stroke=\"#e3e3e3\">\n");
  for (int i = 0; i < count; i++) {
    double v = first + i * step, x = to_px(f, v);
    if (x < f->x0 - 0.5 || x > f->x0 + f->w + 0.5) continue;
    char label[64];
    tick_label(label, sizeof label, v, step);
    bert_strbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, f->y0, x, f->y0 + f->h);
    bert_strbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" stroke=\"none\" fill=\"#333\" text-anchor=\"middle\">%s</text>\n",
                       x, f->y0 + f->h + 18, label);
  }
  bert_strbuf_puts(o, "</g>\n");
}

static void point(bert_strbuf *o, const frame *f, const bert_svg_series *s, size_t i) {
  bert_strbuf_printf(o, "%.1f,%.1f ", to_px(f, s->x[i]), to_py(f, s->y[i]));
}

/* Points [a, b) of one unbroken run; more points than pixels are reduced per pixel column to
 * the first, lowest, highest and last point, in their order. */
static void run_points(bert_strbuf *o, const frame *f, const bert_svg_series *s, size_t a, size_t b) {
  if (b - a <= 2 * (size_t)PLOT_W) {
    for (size_t i = a; i < b; i++) point(o, f, s, i);
    return;
  }
  size_t i = a;
  while (i < b) {
    double col = floor(to_px(f, s->x[i]));
    size_t j = i, lo = i, hi = i;
    while (j < b && floor(to_px(f, s->x[j])) == col) {
      if (s->y[j] < s->y[lo]) lo = j;
      if (s->y[j] > s->y[hi]) hi = j;
      j++;
    }
    size_t keep[4] = {i, lo < hi ? lo : hi, lo < hi ? hi : lo, j - 1};
    for (int k = 0; k < 4; k++)
      if (k == 0 || keep[k] != keep[k - 1]) point(o, f, s, keep[k]);
    i = j;
  }
}

static int finite_at(const bert_svg_series *s, size_t i) { return isfinite(s->x[i]) && isfinite(s->y[i]); }

static void draw_series(bert_strbuf *o, const frame *f, const bert_svg_series *s) {
  bert_strbuf_puts(o, "<g class=\"series\"");
  if (s->id) bert_strbuf_printf(o, " id=\"series-%s\"", s->id);
  bert_strbuf_puts(o, " fill=\"none\" stroke=\"");
  bert_svg_escape(o, s->color);
  bert_strbuf_printf(o, "\" stroke-width=\"1.6\" stroke-linejoin=\"round\"%s>\n",
                     s->dashed ? " stroke-dasharray=\"6 3\"" : "");
  size_t i = 0;
  while (i < s->n) {
    if (!finite_at(s, i)) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < s->n && finite_at(s, j)) j++;
    if (j - i == 1) {
      bert_strbuf_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"", to_px(f, s->x[i]), to_py(f, s->y[i]));
      bert_svg_escape(o, s->color);
      bert_strbuf_puts(o, "\" stroke=\"none\"/>\n");
    } else {
      bert_strbuf_puts(o, "<polyline points=\"");
      run_points(o, f, s, i, j);
      if (o->len && o->data[o->len - 1] == ' ') o->len--, o->data[o->len] = '\0';
      bert_strbuf_puts(o, "\"/>\n");
    }
    i = j;
  }
  bert_strbuf_puts(o, "</g>\n");
}

static int has_data(const bert_svg_series *s) {
  for (size_t i = 0; i < s->n; i++)
    if (finite_at(s, i)) return 1;
  return 0;
}

static void draw_legend(bert_strbuf *o, const frame *f, const bert_svg_panel *p) {
  bert_strbuf_puts(o, "<g class=\"legend\">\n");
  for (int s = 0; s < p->nseries; s++) {
    const bert_svg_series *se = &p->series[s];
    double y = f->y0 + 10 + 22 * s;
    bert_strbuf_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"", LEGEND_X, y, LEGEND_X + 26, y);
    bert_svg_escape(o, se->color);
    bert_strbuf_printf(o, "\" stroke-width=\"2.5\"%s/>", se->dashed ? " stroke-dasharray=\"6 3\"" : "");
    bert_strbuf_printf(o, "<text x=\"%d\" y=\"%.1f\" fill=\"#222\">", LEGEND_X + 34, y + 4);
    bert_svg_escape(o, se->label);
    if (!has_data(se)) bert_strbuf_puts(o, " (no data)");
    bert_strbuf_puts(o, "</text>\n");
  }
  bert_strbuf_puts(o, "</g>\n");
}

static void draw_labels(bert_strbuf *o, const frame *f, const bert_svg_panel *p, size_t finite) {
  bert_strbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">", f->x0, f->y0 - 10);
  bert_svg_escape(o, p->title);
  bert_strbuf_puts(o, "</text>\n");
  bert_strbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">", f->x0 + f->w / 2,
                     f->y0 + f->h + 40);
  bert_svg_escape(o, p->xlabel);
  bert_strbuf_puts(o, "</text>\n");
  double cy = f->y0 + f->h / 2;
  bert_strbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\" transform=\"rotate(-90 %.1f %.1f)\">",
                     f->x0 - 58, cy, f->x0 - 58, cy);
  bert_svg_escape(o, p->ylabel);
  bert_strbuf_puts(o, "</text>\n");
  if (!finite)
    bert_strbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#999\" font-size=\"16\">no data</text>\n",
                       f->x0 + f->w / 2, cy);
}

static void draw_panel(bert_strbuf *o, const bert_svg_panel *p, int index, double top) {
  frame f = {.x0 = PLOT_X, .y0 = top + PANEL_TOP, .w = PLOT_W, .h = PLOT_H};
  size_t finite;
  frame_ranges(p, &f, &finite);
  bert_strbuf_printf(o, "<g class=\"panel\" id=\"panel-%d\">\n", index + 1);
  draw_y_axis(o, &f);
  draw_x_axis(o, &f, p->integer_x);
  bert_strbuf_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
                     f.x0, f.y0, f.w, f.h);
  draw_labels(o, &f, p, finite);
  for (int s = 0; s < p->nseries; s++) draw_series(o, &f, &p->series[s]);
  draw_legend(o, &f, p);
  bert_strbuf_puts(o, "</g>\n");
}

int bert_svg_chart(bert_strbuf *out, const char *title, const bert_svg_panel *panels, int npanels,
                   bert_error *err) {
  if (npanels < 1) return bert_error_set(err, BERT_EINVAL, "svg: a chart needs at least one panel");
  for (int i = 0; i < npanels; i++)
    for (int s = 0; s < panels[i].nseries; s++)
      if (panels[i].series[s].n && (!panels[i].series[s].x || !panels[i].series[s].y))
        return bert_error_set(err, BERT_EINVAL, "svg: panel %d, series %d has no data arrays", i + 1, s + 1);
  int height = TITLE_H + npanels * PANEL_H;
  bert_strbuf_printf(out,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
                     "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n<title>",
                     PAGE_W, height, PAGE_W, height);
  bert_svg_escape(out, title);
  bert_strbuf_puts(out, "</title>\n<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
  bert_strbuf_printf(out, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">",
                     PAGE_W / 2);
  bert_svg_escape(out, title);
  bert_strbuf_puts(out, "</text>\n");
  for (int i = 0; i < npanels; i++) draw_panel(out, &panels[i], i, TITLE_H + (double)i * PANEL_H);
  bert_strbuf_puts(out, "</svg>\n");
  if (out->failed) return bert_error_set(err, BERT_ENOMEM, "svg: out of memory building the chart");
  return BERT_OK;
}
