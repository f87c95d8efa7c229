/* serve/bench_query: what `bert bench-serve` asks a server besides inference, over HTTP or gRPC —
 * the model's configuration (GET .../config or ModelConfig), which shapes the requests, and its
 * statistics (GET .../stats or ModelStatistics), whose difference over a run splits the server's
 * time per request into queue, compute and the server's own cost (everything else: parsing,
 * validating, encoding, handing the answer to the transport). */
#ifndef BERT_SERVE_BENCH_QUERY_H
#define BERT_SERVE_BENCH_QUERY_H

#include <stdint.h>

#include "base/error.h"
#include "serve/bench_client.h"
#include "serve/bench_input.h"
#include "serve/grpc_client.h"

typedef struct bert_serve_bench_server {
  bert_serve_bench_protocol protocol;
  const char *host;              /* HTTP */
  int port;
  bert_serve_grpc_client *grpc;  /* gRPC */
} bert_serve_bench_server;

/* Triton's cumulative inference statistics of one model (nanoseconds). */
typedef struct bert_serve_bench_stats {
  uint64_t count;                /* successful requests */
  uint64_t success_ns, queue_ns, input_ns, infer_ns, output_ns;
} bert_serve_bench_stats;

int bert_serve_bench_fetch_model(const bert_serve_bench_server *s, const char *name, bert_serve_bench_model *m,
                                 bert_error *err);
int bert_serve_bench_fetch_stats(const bert_serve_bench_server *s, const char *name, bert_serve_bench_stats *st,
                                 bert_error *err);

#endif
