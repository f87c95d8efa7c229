#include "train/step_metrics.h"

#include <string.h>

void bert_step_metrics_reset(bert_step_metrics *s) { memset(s, 0, sizeof *s); }

void bert_step_metrics_add(bert_step_metrics *s, float total, float mlm, float nsp, float mlm_acc, float nsp_acc,
                           float packing_ratio) {
  const float v[BERT_METRIC_COUNT_] = {total, mlm, nsp, mlm_acc, nsp_acc, packing_ratio};
  for (int i = 0; i < BERT_METRIC_COUNT_; i++) s->sum[i] += v[i];
  s->sum[BERT_METRIC_COUNT_] += 1.0;
}

int bert_step_metrics_finish(bert_step_metrics *s, const bert_dist *dist, bert_error *err) {
  int rc = bert_dist_allreduce_sum(dist, s->sum, BERT_METRICS, err);
  if (rc) return rc;
  double n = s->sum[BERT_METRIC_COUNT_] > 0 ? s->sum[BERT_METRIC_COUNT_] : 1.0;
  for (int i = 0; i < BERT_METRIC_COUNT_; i++) s->mean[i] = s->sum[i] / n;
  return BERT_OK;
}

void bert_step_metrics_describe(const bert_step_metrics *s, int64_t step, int64_t last_step, double lr,
                                bert_strbuf *out) {
  const double *m = s->mean;
  bert_strbuf_printf(out,
                     "Step: %lld / %lld - LR: %.2e - total loss: %3.3f - mlm_loss: %3.3f - nsp_loss: %3.3f - "
                     "mlm_acc: %3.3f %% - nsp_acc: %3.3f %%",
                     (long long)step, (long long)last_step, lr, m[BERT_METRIC_TOTAL], m[BERT_METRIC_MLM],
                     m[BERT_METRIC_NSP], m[BERT_METRIC_MLM_ACC], m[BERT_METRIC_NSP_ACC]);
}

static void json_number(bert_strbuf *out, const char *key, double v) {
  bert_strbuf_printf(out, ", \"%s\": ", key);
  bert_strbuf_float(out, (float)v);
}

void bert_step_metrics_json(const bert_step_metrics *s, int64_t step, double lr, double loss_scale,
                            double throughput, bert_strbuf *out) {
  const double *m = s->mean;
  bert_strbuf_printf(out, "{\"step\": %lld", (long long)step);
  json_number(out, "total_loss", m[BERT_METRIC_TOTAL]);
  json_number(out, "mlm_loss", m[BERT_METRIC_MLM]);
  json_number(out, "nsp_loss", m[BERT_METRIC_NSP]);
  json_number(out, "mlm_acc", m[BERT_METRIC_MLM_ACC]);
  json_number(out, "nsp_acc", m[BERT_METRIC_NSP_ACC]);
  json_number(out, "lr", lr);
  json_number(out, "loss_scale", loss_scale);
  json_number(out, "throughput", throughput);
  json_number(out, "packing_ratio", m[BERT_METRIC_PACKING]);
  bert_strbuf_append(out, "}", 1);
}
