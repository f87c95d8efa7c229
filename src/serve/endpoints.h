/* serve/endpoints: the KServe v2 / Triton HTTP routes over a model repository — health
 * (live, ready), server metadata (with its extensions), model metadata, readiness and
 * configuration, inference (JSON and binary tensors; the call is suspended while the batcher
 * runs it), statistics (one model, or /v2/models/stats for all) and Prometheus /metrics. Every
 * failure is a JSON {"error": ...}: 400 for a bad request, 404 for an unknown path, model or
 * version, 405 for a wrong method, 413 for an oversized body or a JSON header longer than any
 * valid request of the model (refused before parsing), 503 while stopping, 500 when the backend
 * fails. Requests that reach a model and fail, or whose client leaves before the reply, count as
 * failures in its statistics. */
#ifndef BERT_SERVE_ENDPOINTS_H
#define BERT_SERVE_ENDPOINTS_H

#include <stdatomic.h>

#include "serve/http.h"
#include "serve/metrics.h"
#include "serve/repository.h"

#define BERT_SERVE_SERVER_NAME "bertc"
#define BERT_SERVE_SERVER_VERSION "0.1.0"
/* The protocol extensions that server metadata announces, over HTTP and gRPC alike. */
#define BERT_SERVE_N_EXTENSIONS 3
extern const char *const bert_serve_extensions[BERT_SERVE_N_EXTENSIONS];

typedef struct bert_serve_endpoints {
  bert_serve_repository *repo;
  bert_serve_cpu_sampler cpu;
  atomic_int stopping;   /* set first when stopping: inference answers 503, readiness 400 */
} bert_serve_endpoints;

void bert_serve_endpoints_init(bert_serve_endpoints *ep, bert_serve_repository *repo);
void bert_serve_endpoints_free(bert_serve_endpoints *ep);
/* bert_serve_http_handler for the main port (every route) and for --metrics-port (/metrics). */
void bert_serve_endpoints_handle(void *ep, bert_serve_http_call *c);
void bert_serve_endpoints_handle_metrics(void *ep, bert_serve_http_call *c);

#endif
