/* serve/grpc_server: the gRPC front of the server on gRPC's C core (HTTP/2, flow control, message
 * limits, deadlines, status codes), reduced to what the v2 service needs: calls of registered
 * methods, each request message handed to the method's handler as bytes, and replies. A unary
 * method's handler answers once (a message with OK, or a status); a bidirectional streaming
 * method's handler is called for every message the client sends and answers each with one
 * message, in any order and from any thread, while the next ones are read (at most
 * BERT_SERVE_GRPC_STREAM_PENDING unanswered per stream, then reading waits); the stream ends
 * with OK once the client has closed its side and every answer is sent. A handler that answers
 * later (inference) needs no suspension: it keeps the call, which stays valid until answered
 * even when the client has left (the answer is then dropped). Unknown methods are UNIMPLEMENTED,
 * messages over max_message_bytes RESOURCE_EXHAUSTED (by gRPC itself). Stopping is graceful:
 * stop accepting calls, wait for the answers in flight, then cancel what is left. */
#ifndef BERT_SERVE_GRPC_SERVER_H
#define BERT_SERVE_GRPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERT_SERVE_GRPC_STREAM_PENDING 256

typedef struct bert_serve_grpc bert_serve_grpc;
typedef struct bert_serve_grpc_call bert_serve_grpc_call;

/* gRPC status codes (grpc/status.h), so handlers need not include gRPC. */
typedef enum bert_serve_grpc_code {
  BERT_GRPC_OK = 0, BERT_GRPC_INVALID_ARGUMENT = 3, BERT_GRPC_NOT_FOUND = 5, BERT_GRPC_RESOURCE_EXHAUSTED = 8,
  BERT_GRPC_UNIMPLEMENTED = 12, BERT_GRPC_INTERNAL = 13, BERT_GRPC_UNAVAILABLE = 14,
} bert_serve_grpc_code;

/* One request message of `call` (its bytes are the handler's only during the call). */
typedef void (*bert_serve_grpc_handler)(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len);

typedef struct bert_serve_grpc_method {
  const char *path;          /* "/inference.GRPCInferenceService/ModelInfer" */
  int streaming;             /* bidirectional stream of messages (else unary) */
  bert_serve_grpc_handler handler;
} bert_serve_grpc_method;

typedef struct bert_serve_grpc_options {
  const char *host;
  int port;                  /* 0 = any free port */
  int threads;               /* completion-queue threads */
  size_t max_message_bytes;  /* largest request message */
  const bert_serve_grpc_method *methods;
  int n_methods;
  void *ctx;                 /* handed to every handler */
  /* Slow and idle clients, as far as gRPC core 1.51 allows (docs/serve.md); 0 = gRPC's default. */
  int handshake_timeout;     /* seconds for a new connection's HTTP/2 preface and SETTINGS */
  int idle_timeout;          /* seconds without a call before the connection is closed (GOAWAY);
                                also the keepalive ping period while calls are open */
  int max_streams;           /* concurrent calls per connection */
} bert_serve_grpc_options;

int bert_serve_grpc_start(bert_serve_grpc **out, const bert_serve_grpc_options *opt, bert_error *err);
int bert_serve_grpc_port(const bert_serve_grpc *g);
/* Stops accepting calls (open streams still send requests and get answers). */
void bert_serve_grpc_quiesce(bert_serve_grpc *g);
/* Waits until no request is unanswered or `timeout` seconds pass; returns the number left. */
int bert_serve_grpc_wait_idle(bert_serve_grpc *g, double timeout);
/* Cancels every call left, joins the threads and frees. Nothing may answer afterwards. */
void bert_serve_grpc_stop(bert_serve_grpc *g);

/* Answers a request message: `msg` (malloc'ed, taken over; NULL with len 0 is an empty
 * message) — for a unary call with status OK. Exactly one answer per handler call. */
void bert_serve_grpc_reply(bert_serve_grpc_call *call, uint8_t *msg, size_t len);
/* Answers a unary call with an error status (message: the status details). */
void bert_serve_grpc_fail(bert_serve_grpc_call *call, bert_serve_grpc_code code, const char *message);

#endif
