/* serve/server: `bert serve` as a library — loads the model repository, starts the batchers, the
 * HTTP listener (and a second one for --metrics-port) and the gRPC listener, both front ends over
 * the same models, and stops gracefully: stop accepting, refuse new inference (503 /
 * UNAVAILABLE), let queued and running requests finish and their replies go out, then stop the
 * batchers and close every connection. */
#ifndef BERT_SERVE_SERVER_H
#define BERT_SERVE_SERVER_H

#include <stddef.h>

#include "base/error.h"
#include "serve/http.h"

typedef struct bert_serve_options {
  const char *repository;   /* model repository folder */
  const char *host;         /* listen address (default 127.0.0.1) */
  int http_port;            /* 0 = any free port */
  int metrics_port;         /* -1 = none (metrics are always on the HTTP port too) */
  int grpc_port;            /* -1 = no gRPC; 0 = any free port */
  int grpc_threads;         /* gRPC completion-queue threads */
  int threads;              /* OpenMP threads per model (0 = all cores) */
  int http_threads;         /* connection threads */
  size_t max_body_bytes;
  bert_serve_conn_limits limits; /* slow and idle clients, HTTP and (as far as gRPC allows) gRPC */
} bert_serve_options;

typedef struct bert_serve_server bert_serve_server;

int bert_serve_server_start(bert_serve_server **out, const bert_serve_options *opt, bert_error *err);
int bert_serve_server_http_port(const bert_serve_server *s);
int bert_serve_server_metrics_port(const bert_serve_server *s); /* -1 when none */
int bert_serve_server_grpc_port(const bert_serve_server *s);    /* -1 when none */
/* Graceful stop, then frees: waits at most `drain_seconds` in all for requests in flight (plus
 * the time the batchers take to run what they hold, and 0.1 s for those replies to leave). */
void bert_serve_server_stop(bert_serve_server *s, double drain_seconds);

#endif
