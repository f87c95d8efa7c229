/* serve/metrics: the Prometheus text exposition of GET /metrics, with Triton's metric names
 * (nv_inference_request_success / _failure, nv_inference_count, nv_inference_exec_count,
 * nv_inference_{request,queue,compute_input,compute_infer,compute_output}_duration_us,
 * nv_inference_pending_request_count, nv_cpu_utilization, nv_cpu_memory_{total,used}_bytes)
 * labelled by model and version, plus bertc's own: a histogram of executed batch sizes,
 * tokens carried against tokens computed (packing), and the process's resident memory. CPU
 * utilisation is the busy share of /proc/stat since the previous scrape. */
#ifndef BERT_SERVE_METRICS_H
#define BERT_SERVE_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "serve/stats.h"

typedef struct bert_serve_cpu_sampler {
  pthread_mutex_t lock;
  uint64_t busy, total; /* jiffies at the previous scrape */
} bert_serve_cpu_sampler;

void bert_serve_cpu_sampler_init(bert_serve_cpu_sampler *s);
void bert_serve_cpu_sampler_free(bert_serve_cpu_sampler *s);

typedef struct bert_serve_metrics_model {
  const char *name, *version;
  bert_serve_stats *stats;
} bert_serve_metrics_model;

/* Appends the exposition for these models to `out`. */
void bert_serve_metrics_render(bert_strbuf *out, const bert_serve_metrics_model *models, int n,
                               bert_serve_cpu_sampler *cpu);

#endif
