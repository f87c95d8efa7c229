/* serve/batcher: Triton's dynamic batcher for one model. Requests wait in one FIFO queue; each
 * model instance (instance_group count) is a thread with its own backend instance that takes
 * the next batch: without dynamic_batching one request at a time; with it, the longest prefix of
 * the queue that fits max_batch_size rows — at once when it is full or its size is a
 * preferred_batch_size, else once the oldest request has waited max_queue_delay_microseconds
 * (0: at once). Queue order is kept (a batch is a queue prefix). While one instance computes,
 * the queue grows, so load alone makes batches larger. Stopping lets every queued request finish. */
#ifndef BERT_SERVE_BATCHER_H
#define BERT_SERVE_BATCHER_H

#include "base/error.h"
#include "serve/backend.h"
#include "serve/infer_request.h"
#include "serve/model_config.h"
#include "serve/stats.h"

typedef struct bert_serve_batcher bert_serve_batcher;

typedef struct bert_serve_batcher_options {
  const bert_serve_model_config *cfg;
  const bert_serve_backend *backend;
  void *model;                 /* the backend's loaded model */
  bert_serve_stats *stats;     /* executions and pending requests are counted here */
  int threads;                 /* OpenMP threads of each instance (0 = OpenMP's default) */
} bert_serve_batcher_options;

/* Starts cfg->instance_count instance threads; returns once every instance exists (or the
 * first failure, after stopping the others). */
int bert_serve_batcher_start(bert_serve_batcher **out, const bert_serve_batcher_options *opt, bert_error *err);
/* Queues a parsed, validated request; req->done is called (on an instance thread) when its
 * outputs or its error are ready. Fails once stopping has begun. */
int bert_serve_batcher_submit(bert_serve_batcher *b, bert_serve_request *req, bert_error *err);
/* From now on batches leave without waiting for the queue delay (a stop is coming: the requests
 * in flight must finish). Requests are still accepted. */
void bert_serve_batcher_flush(bert_serve_batcher *b);
/* Refuses new requests (submit fails: a 503), runs the queued ones and joins the threads. The
 * batcher stays allocated, so an HTTP thread that submits late gets that error, not freed memory. */
void bert_serve_batcher_stop(bert_serve_batcher *b);
/* Stops (when not yet stopped) and frees; only once nothing can submit any more. */
void bert_serve_batcher_free(bert_serve_batcher *b);

#endif
