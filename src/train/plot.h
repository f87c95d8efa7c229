/* train/plot: training curves from a metrics.jsonl file (train/step_metrics writes one JSON object
 * per logged step) as a self-contained SVG: losses (total, MLM, NSP), accuracies (MLM, NSP) and
 * optionally the learning rate, over steps. Uses only base/ (svg, strbuf, file) and cJSON. */
#ifndef BERT_TRAIN_PLOT_H
#define BERT_TRAIN_PLOT_H

#include <stddef.h>

#include "base/error.h"
#include "base/strbuf.h"

/* The columns of metrics.jsonl that the plot reads, in file order of their keys. */
enum {
  BERT_METRIC_STEP,
  BERT_METRIC_TOTAL_LOSS,
  BERT_METRIC_MLM_LOSS,
  BERT_METRIC_NSP_LOSS,
  BERT_METRIC_MLM_ACC,
  BERT_METRIC_NSP_ACC,
  BERT_METRIC_LR,
  BERT_METRIC_COUNT
};

/* Name of column c as written in metrics.jsonl ("total_loss", ...). */
const char *bert_metric_key(int c);

/* One value per line and column; NAN where a key is missing, null or not finite. */
typedef struct bert_metrics_log {
  size_t n, cap;
  double *col[BERT_METRIC_COUNT];
} bert_metrics_log;

/* Reads metrics JSON lines. Blank lines are skipped; a line that is not a JSON object, or a known
 * key whose value is not a number or null, is an error naming the file and line. Python's NaN,
 * Infinity and -Infinity tokens are read as missing values. A line without "step" takes the
 * previous step + 1 (0 for the first). An empty file is an error. */
int bert_metrics_log_read(const char *path, bert_metrics_log *log, bert_error *err);
/* The same from text already in memory; `source` names it in messages. */
int bert_metrics_log_parse(const char *text, size_t len, const char *source, bert_metrics_log *log,
                           bert_error *err);
void bert_metrics_log_free(bert_metrics_log *log);

typedef struct bert_plot_options {
  const char *title; /* NULL: "Training curves" */
  int lr;            /* add a learning-rate panel */
} bert_plot_options;

/* Appends the SVG document for `log` to `out`. */
int bert_plot_svg(const bert_metrics_log *log, const bert_plot_options *opt, bert_strbuf *out, bert_error *err);

/* metrics.jsonl in, SVG written atomically to svg_path ("-": standard output). */
int bert_plot_file(const char *metrics_path, const char *svg_path, const bert_plot_options *opt, size_t *steps,
                   bert_error *err);

#endif
