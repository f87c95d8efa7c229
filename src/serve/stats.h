/* serve/stats: a model's cumulative inference statistics in Triton's terms — successful and
 * failed requests with their total durations, queue and compute (input, infer, output) time
 * per successful request, inference count (rows), execution count (batches) and per batch size
 * compute times, last inference time, pending requests, and the tokens computed against the
 * tokens carried (what packing saves). Updated under a mutex by the HTTP and batcher threads;
 * written as the v2 statistics extension's JSON. */
#ifndef BERT_SERVE_STATS_H
#define BERT_SERVE_STATS_H

#include <pthread.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "serve/backend.h"
#include "serve/infer_request.h"

typedef struct bert_serve_duration {
  uint64_t count, ns;
} bert_serve_duration;

typedef struct bert_serve_batch_stat {
  bert_serve_duration compute_input, compute_infer, compute_output; /* count = executions of this size */
} bert_serve_batch_stat;

typedef struct bert_serve_stats {
  pthread_mutex_t lock;
  uint64_t last_inference_ms;          /* wall clock, ms since the epoch; 0 = never */
  uint64_t inference_count, execution_count;
  bert_serve_duration success, fail, queue, compute_input, compute_infer, compute_output;
  bert_serve_batch_stat *by_batch;     /* [max_batch + 1], index = batch size */
  int max_batch;
  uint64_t tokens_real, tokens_computed;
  int64_t pending;                     /* requests queued or executing */
} bert_serve_stats;

int bert_serve_stats_init(bert_serve_stats *s, int max_batch, bert_error *err);
void bert_serve_stats_free(bert_serve_stats *s);
/* A finished request: success with its queue/compute times (from `req`), or failure. */
void bert_serve_stats_request(bert_serve_stats *s, const bert_serve_request *req, int success, uint64_t total_ns);
/* One execution of `batch_size` rows. */
void bert_serve_stats_execution(bert_serve_stats *s, int batch_size, const bert_serve_exec_info *info);
void bert_serve_stats_pending(bert_serve_stats *s, int delta);
/* A consistent copy (by_batch copied into a new allocation the caller frees with
 * bert_serve_stats_free_copy). */
int bert_serve_stats_copy(bert_serve_stats *dst, bert_serve_stats *src, bert_error *err);
void bert_serve_stats_free_copy(bert_serve_stats *copy);
/* One element of model_stats: {"name", "version", "last_inference", ...}. */
void bert_serve_stats_json(bert_strbuf *out, const char *name, const char *version, const bert_serve_stats *s);
/* Monotonic nanoseconds (durations). */
uint64_t bert_serve_now_ns(void);

#endif
