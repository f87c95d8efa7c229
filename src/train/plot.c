/* train/plot: metrics.jsonl → SVG training curves (see plot.h). */
#include "train/plot.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/svg.h"

static const char *const metric_keys[BERT_METRIC_COUNT] = {
    "step", "total_loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc", "lr",
};

const char *bert_metric_key(int c) { return c >= 0 && c < BERT_METRIC_COUNT ? metric_keys[c] : NULL; }

void bert_metrics_log_free(bert_metrics_log *log) {
  for (int c = 0; c < BERT_METRIC_COUNT; c++) free(log->col[c]);
  memset(log, 0, sizeof *log);
}

static int grow(bert_metrics_log *log, bert_error *err) {
  if (log->n < log->cap) return BERT_OK;
  size_t cap = log->cap ? log->cap * 2 : 256;
  for (int c = 0; c < BERT_METRIC_COUNT; c++) {
    double *p = realloc(log->col[c], cap * sizeof *p);
    if (!p) return bert_error_set(err, BERT_ENOMEM, "metrics: out of memory holding %zu lines", cap);
    log->col[c] = p;
  }
  log->cap = cap;
  return BERT_OK;
}

/* Python's json module writes NaN, Infinity and -Infinity, which are not JSON: outside strings
 * they become null (a gap in the curve). `out` has room for 2 × len + 1 bytes. */
static void python_tokens_to_null(const char *s, size_t len, char *out) {
  size_t o = 0;
  int in_string = 0;
  for (size_t i = 0; i < len; i++) {
    if (in_string) {
      out[o++] = s[i];
      if (s[i] == '\\' && i + 1 < len) out[o++] = s[++i];
      else if (s[i] == '"') in_string = 0;
      continue;
    }
    static const char *const tokens[] = {"-Infinity", "Infinity", "NaN"};
    size_t t, tl = 0;
    for (t = 0; t < 3; t++) {
      tl = strlen(tokens[t]);
      if (len - i >= tl && !memcmp(s + i, tokens[t], tl)) break;
    }
    if (t < 3) {
      memcpy(out + o, "null", 4), o += 4, i += tl - 1;
      continue;
    }
    if (s[i] == '"') in_string = 1;
    out[o++] = s[i];
  }
  out[o] = '\0';
}

static int is_blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
  return 1;
}

/* One JSON object into row log->n. */
static int parse_row(const char *line, size_t len, const char *source, size_t lineno, char *scratch,
                     bert_metrics_log *log, bert_error *err) {
  python_tokens_to_null(line, len, scratch);
  cJSON *obj = cJSON_ParseWithOpts(scratch, NULL, 1); /* 1: nothing may follow the object */
  if (!cJSON_IsObject(obj)) {
    cJSON_Delete(obj);
    return bert_error_set(err, BERT_EFORMAT, "%s:%zu: not a JSON object: %.60s%s", source, lineno, scratch,
                          strlen(scratch) > 60 ? "..." : "");
  }
  int rc = BERT_OK;
  for (int c = 0; c < BERT_METRIC_COUNT && !rc; c++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, metric_keys[c]);
    double x = NAN;
    if (cJSON_IsNumber(v)) x = isfinite(v->valuedouble) ? v->valuedouble : NAN;
    else if (v && !cJSON_IsNull(v))
      rc = bert_error_set(err, BERT_EFORMAT, "%s:%zu: \"%s\" is not a number", source, lineno, metric_keys[c]);
    log->col[c][log->n] = x;
  }
  cJSON_Delete(obj);
  if (rc) return rc;
  double *step = &log->col[BERT_METRIC_STEP][log->n];
  if (isnan(*step)) *step = log->n ? log->col[BERT_METRIC_STEP][log->n - 1] + 1 : 0;
  log->n++;
  return BERT_OK;
}

int bert_metrics_log_parse(const char *text, size_t len, const char *source, bert_metrics_log *log,
                           bert_error *err) {
  memset(log, 0, sizeof *log);
  size_t longest = 0;
  for (size_t i = 0, start = 0; i <= len; i++)
    if (i == len || text[i] == '\n') longest = i - start > longest ? i - start : longest, start = i + 1;
  char *scratch = malloc(2 * longest + 1);
  if (!scratch) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", source);
  int rc = BERT_OK;
  size_t lineno = 0, start = 0;
  while (!rc && start < len) {
    const char *nl = memchr(text + start, '\n', len - start);
    size_t end = nl ? (size_t)(nl - text) : len;
    lineno++;
    if (!is_blank(text + start, end - start) && !(rc = grow(log, err)))
      rc = parse_row(text + start, end - start, source, lineno, scratch, log, err);
    start = end + 1;
  }
  free(scratch);
  if (!rc && !log->n) rc = bert_error_set(err, BERT_EFORMAT, "%s: no metrics (the file has no JSON lines)", source);
  if (rc) bert_metrics_log_free(log);
  return rc;
}

int bert_metrics_log_read(const char *path, bert_metrics_log *log, bert_error *err) {
  char *text;
  size_t len;
  struct stat st;
  memset(log, 0, sizeof *log);
  if (!stat(path, &st) && S_ISDIR(st.st_mode)) return bert_error_set(err, BERT_EIO, "%s: cannot open: a folder, not a metrics file", path);
  int rc = bert_file_read(path, &text, &len, err);
  if (rc) return rc;
  if (memchr(text, '\0', len)) rc = bert_error_set(err, BERT_EFORMAT, "%s: binary data (NUL bytes), not JSON lines", path);
  if (!rc) rc = bert_metrics_log_parse(text, len, path, log, err);
  free(text);
  return rc;
}

/* ---------------------------------------------------------------- chart */

typedef struct curve {
  int column;
  const char *label, *color;
  int dashed;
} curve;

static const curve loss_curves[] = {
    {BERT_METRIC_TOTAL_LOSS, "total loss", "#1f77b4", 0},
    {BERT_METRIC_MLM_LOSS, "MLM loss", "#ff7f0e", 0},
    {BERT_METRIC_NSP_LOSS, "NSP loss", "#2ca02c", 0},
};
static const curve acc_curves[] = {
    {BERT_METRIC_MLM_ACC, "MLM accuracy", "#ff7f0e", 0},
    {BERT_METRIC_NSP_ACC, "NSP accuracy", "#2ca02c", 0},
};
static const curve lr_curves[] = {{BERT_METRIC_LR, "learning rate", "#9467bd", 0}};

/* Legend text: the label and the last finite value, which is what one looks for first. */
static void legend_label(const bert_metrics_log *log, const curve *c, char *buf, size_t cap) {
  for (size_t i = log->n; i-- > 0;)
    if (isfinite(log->col[c->column][i])) {
      snprintf(buf, cap, "%s (last %.4g)", c->label, log->col[c->column][i]);
      return;
    }
  snprintf(buf, cap, "%s", c->label);
}

static void make_series(const bert_metrics_log *log, const curve *curves, int n, bert_svg_series *out,
                        char (*labels)[96]) {
  for (int i = 0; i < n; i++) {
    legend_label(log, &curves[i], labels[i], sizeof labels[i]);
    out[i] = (bert_svg_series){.id = metric_keys[curves[i].column], .label = labels[i], .color = curves[i].color,
                               .x = log->col[BERT_METRIC_STEP], .y = log->col[curves[i].column], .n = log->n,
                               .dashed = curves[i].dashed};
  }
}

int bert_plot_svg(const bert_metrics_log *log, const bert_plot_options *opt, bert_strbuf *out, bert_error *err) {
  bert_svg_series loss[3], acc[2], lr[1];
  char labels[6][96];
  make_series(log, loss_curves, 3, loss, labels);
  make_series(log, acc_curves, 2, acc, labels + 3);
  make_series(log, lr_curves, 1, lr, labels + 5);
  bert_svg_panel panels[3] = {
      {.title = "Loss", .xlabel = "step", .ylabel = "loss", .series = loss, .nseries = 3, .integer_x = 1,
       .ymin_hint = NAN, .ymax_hint = NAN},
      {.title = "Accuracy", .xlabel = "step", .ylabel = "accuracy (fraction)", .series = acc, .nseries = 2,
       .integer_x = 1, .ymin_hint = 0, .ymax_hint = 1},
      {.title = "Learning rate", .xlabel = "step", .ylabel = "learning rate", .series = lr, .nseries = 1,
       .integer_x = 1, .ymin_hint = 0, .ymax_hint = NAN},
  };
  const char *title = opt && opt->title ? opt->title : "Training curves";
  return bert_svg_chart(out, title, panels, opt && opt->lr ? 3 : 2, err);
}

static int write_output(const char *svg_path, const bert_strbuf *svg, bert_error *err) {
  if (strcmp(svg_path, "-")) return bert_file_write_atomic(svg_path, svg->data, svg->len, err);
  if (fwrite(svg->data, 1, svg->len, stdout) != svg->len || fflush(stdout))
    return bert_error_set(err, BERT_EIO, "standard output: write failed");
  return BERT_OK;
}

int bert_plot_file(const char *metrics_path, const char *svg_path, const bert_plot_options *opt, size_t *steps,
                   bert_error *err) {
  bert_metrics_log log;
  int rc = bert_metrics_log_read(metrics_path, &log, err);
  if (rc) return rc;
  char title[512];
  bert_plot_options o = opt ? *opt : (bert_plot_options){0};
  if (!o.title) {
    snprintf(title, sizeof title, "Training curves: %s (%zu step%s)", metrics_path, log.n, log.n == 1 ? "" : "s");
    o.title = title;
  }
  bert_strbuf svg = {0};
  rc = bert_plot_svg(&log, &o, &svg, err);
  if (!rc) rc = write_output(svg_path, &svg, err);
  if (steps) *steps = log.n;
  bert_strbuf_free(&svg);
  bert_metrics_log_free(&log);
  return rc;
}
