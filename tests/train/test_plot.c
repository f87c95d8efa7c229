/* train/plot: the metrics.jsonl reader (Python's NaN tokens, missing steps and keys, blank lines,
 * line-numbered errors) and the chart's series. */
#include <math.h>
#include <string.h>

#include "test_util.h"
#include "train/plot.h"

static void test_metrics_reader(void) {
  bert_metrics_log log;
  bert_error err = {0};
  const char *ok = "{\"step\": 3, \"total_loss\": NaN, \"mlm_acc\": 0.5, \"x\": \"NaN\"}\n\n{\"total_loss\": 2}\n";
  CHECK(bert_metrics_log_parse(ok, strlen(ok), "m", &log, &err) == 0);
  CHECK(log.n == 2 && log.col[BERT_METRIC_STEP][1] == 4 && isnan(log.col[BERT_METRIC_TOTAL_LOSS][0]));
  CHECK(log.col[BERT_METRIC_TOTAL_LOSS][1] == 2 && isnan(log.col[BERT_METRIC_NSP_ACC][0]));
  bert_metrics_log_free(&log);
  const char *bad = "{\"step\": 0}\n\n{\"lr\": true}\n";
  CHECK(bert_metrics_log_parse(bad, strlen(bad), "m.jsonl", &log, &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, "m.jsonl:3: \"lr\" is not a number"), "%s", err.message);
  CHECK(bert_metrics_log_parse("\n \n", 3, "e", &log, &err) == BERT_EFORMAT && strstr(err.message, "no metrics"));
}

static void test_chart(void) {
  bert_metrics_log log;
  bert_error err = {0};
  const char *text = "{\"step\": 0, \"total_loss\": 3, \"lr\": 0.001}\n{\"step\": 1, \"total_loss\": 2, \"lr\": 0.002}\n";
  CHECK(bert_metrics_log_parse(text, strlen(text), "m", &log, &err) == 0);
  bert_strbuf svg = {0};
  bert_plot_options opt = {.title = "t", .lr = 1};
  CHECK(bert_plot_svg(&log, &opt, &svg, &err) == 0);
  CHECK(svg.data && strstr(svg.data, "id=\"series-total_loss\"") && strstr(svg.data, "id=\"series-lr\""));
  CHECK(strstr(svg.data, "total loss (last 2)") && strstr(svg.data, "NSP accuracy (no data)"));
  bert_strbuf_free(&svg);
  bert_metrics_log_free(&log);
}

int main(void) {
  test_metrics_reader();
  test_chart();
  return test_summary("train/plot");
}
