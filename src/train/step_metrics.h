/* train/step_metrics: what a logged step reports. Each micro-batch adds its losses and
 * accuracies; the step's values are the means over all micro-batches of all ranks (reference 8),
 * formatted as the reference's progress line and as one metrics.jsonl object. */
#ifndef BERT_TRAIN_STEP_METRICS_H
#define BERT_TRAIN_STEP_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "base/strbuf.h"
#include "train/distributed.h"

enum { BERT_METRIC_TOTAL, BERT_METRIC_MLM, BERT_METRIC_NSP, BERT_METRIC_MLM_ACC, BERT_METRIC_NSP_ACC,
       BERT_METRIC_PACKING, BERT_METRIC_COUNT_, BERT_METRICS };

typedef struct bert_step_metrics {
  double sum[BERT_METRICS]; /* sums over micro-batches; [BERT_METRIC_COUNT_] counts them */
  double mean[BERT_METRIC_COUNT_];
} bert_step_metrics;

void bert_step_metrics_reset(bert_step_metrics *s);
void bert_step_metrics_add(bert_step_metrics *s, float total, float mlm, float nsp, float mlm_acc, float nsp_acc,
                           float packing_ratio);
/* Sums over ranks and turns the sums into means. */
int bert_step_metrics_finish(bert_step_metrics *s, const bert_dist *dist, bert_error *err);

/* `Step: 3 / 359 - LR: 1.00e-03 - total loss: 9.134 - mlm_loss: ... - nsp_acc: 0.500 %` (the
 * reference's description; its accuracies are fractions printed before a "%"). */
void bert_step_metrics_describe(const bert_step_metrics *s, int64_t step, int64_t last_step, double lr,
                                bert_strbuf *out);
/* One JSON object (no newline): step, total_loss, mlm_loss, nsp_loss, mlm_acc, nsp_acc, lr,
 * loss_scale, throughput, packing_ratio. */
void bert_step_metrics_json(const bert_step_metrics *s, int64_t step, double lr, double loss_scale,
                            double throughput, bert_strbuf *out);

#endif
