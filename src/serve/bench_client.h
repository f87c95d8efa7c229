/* serve/bench_client: the load of `bert bench-serve` — N concurrent clients, each a thread with
 * its own connections, over HTTP (keep-alive connections) or gRPC (a channel per client; unary
 * ModelInfer calls, or one ModelStreamInfer stream). A synchronous client keeps one request in
 * flight (send, wait, send: the reference's SYNC); an asynchronous one keeps `depth` requests in
 * flight — over as many HTTP connections, as gRPC calls, or on its stream — sending the next as
 * soon as one completes (the reference's ASYNC fires requests without waiting for answers). The
 * protocol is a transport under one client loop: measurements and checks are the same. Each client cycles through the prepared batches from its own
 * starting point. Every client first sends its `warmup` requests, not measured (the reference
 * drops two); once all have their answers, all start the measured phase together, for a number
 * of requests or a duration — so no client's figures hold the server's work on another client's
 * warm-up. Every response is checked. */
#ifndef BERT_SERVE_BENCH_CLIENT_H
#define BERT_SERVE_BENCH_CLIENT_H

#include <stdint.h>

#include "base/error.h"
#include "serve/bench_input.h"

typedef enum bert_serve_bench_protocol { BERT_SERVE_BENCH_HTTP, BERT_SERVE_BENCH_GRPC } bert_serve_bench_protocol;

typedef struct bert_serve_bench_options {
  bert_serve_bench_protocol protocol;
  const char *host;                     /* HTTP */
  int port;
  const char *path;                     /* HTTP: /v2/models/<m>/infer */
  const char *target;                   /* gRPC: host:port */
  int streaming;                        /* gRPC: requests on one ModelStreamInfer stream per client */
  int clients;
  int depth;                            /* requests in flight per client (1 = synchronous) */
  int requests;                         /* per client, warm-up included; 0 = use duration */
  double duration;                      /* seconds per client when requests is 0 */
  int warmup;
  const bert_serve_bench_batch *batches;
  int n_batches;
  const bert_serve_bench_model *model;
  double rtol, atol;                    /* checks against expectations, when the batches have them */
  double timeout;                       /* seconds for one request */
} bert_serve_bench_options;

typedef struct bert_serve_bench_result {
  int requests;                         /* measured (after warm-up) */
  int64_t rows;                         /* samples in the measured requests */
  double busy;                          /* sum of measured request latencies, seconds */
  double wall;                          /* start of the measured phase to the last answer, seconds */
  double started, finished;             /* that window (bert_seconds clock) */
  double *latency;                      /* each measured request's latency, seconds */
  int errors;                           /* transport errors, non-200 replies, non-OK gRPC statuses (all requests) */
  int mismatches;                       /* replies that failed the check (all requests) */
  char first_problem[512];
} bert_serve_bench_result;

/* Runs the clients; results has `clients` entries (free each with bert_serve_bench_result_free). */
int bert_serve_bench_run(const bert_serve_bench_options *opt, bert_serve_bench_result *results, bert_error *err);
void bert_serve_bench_result_free(bert_serve_bench_result *r);

/* The q-quantile (0..1) of n values, sorting them in place (linear interpolation, numpy's default). */
double bert_serve_quantile(double *v, int n, double q);

#endif
