/* serve/grpc_client: the gRPC client of `bert bench-serve -i grpc`, over gRPC's C core and
 * protobuf-c (package inference, service GRPCInferenceService). One channel per client, with its
 * own TCP connection, and one completion queue driven by the thread that owns the client:
 * blocking unary calls of any method (ModelConfig, ModelStatistics), and ModelInfer requests
 * that do not wait — as unary calls, or on one bidirectional ModelStreamInfer stream, where
 * gRPC writes one message at a time so later requests queue in the client until the previous
 * one is written. Every inference request gets an id, which the server echoes: stream answers
 * are matched to their requests by it. Requests are packed once by the caller and sent without
 * copying; the client only prepends the id. */
#ifndef BERT_SERVE_GRPC_CLIENT_H
#define BERT_SERVE_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "grpc_service.pb-c.h"

typedef struct bert_serve_grpc_client bert_serve_grpc_client;

/* target: "host:port" (any gRPC target). max_in_flight bounds the inference requests in flight. */
int bert_serve_grpc_client_open(bert_serve_grpc_client **out, const char *target, int max_in_flight, bert_error *err);
/* Waits until the channel is connected, riding over failed attempts (gRPC retries them with
 * backoff): calls themselves fail at once while it is not. */
int bert_serve_grpc_client_connect(bert_serve_grpc_client *c, double timeout, bert_error *err);
/* Closes the stream (half-close, waits for its end), cancels unary calls still in flight. */
void bert_serve_grpc_client_close(bert_serve_grpc_client *c);

/* Blocking unary call of the service's `method` (e.g. "ModelConfig"): the answer is unpacked as
 * resp_type into *resp (free with protobuf_c_message_free_unpacked). A non-OK status is an error
 * quoting its code and message. */
int bert_serve_grpc_call(bert_serve_grpc_client *c, const char *method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp, double timeout,
                         bert_error *err);

/* Sends a packed ModelInferRequest without an id (`msg` must stay valid until its answer) as a
 * unary ModelInfer call, or on the client's stream when `stream` (opened on first use, and again
 * after it failed). No answer within `timeout` seconds fails the request (a stream: the stream,
 * so every request on it). *id is the request's id, >= 1. */
int bert_serve_grpc_infer_send(bert_serve_grpc_client *c, int stream, const void *msg, size_t len, double timeout,
                               uint64_t *id, bert_error *err);

typedef struct bert_serve_grpc_answer {
  uint64_t id;                                  /* the request's; 0: an answer matching no request */
  double at;                                    /* when it arrived (bert_seconds) */
  int status;                                   /* gRPC status code, 0 = OK */
  const char *error;                            /* NULL, or the status / stream error_message quoted */
  const Inference__ModelInferResponse *response; /* when error is NULL: valid during the callback */
} bert_serve_grpc_answer;

typedef void (*bert_serve_grpc_on_answer)(void *ctx, const bert_serve_grpc_answer *a);

/* Waits up to `wait` seconds for the first event, handles every event then ready, and passes each
 * answer to on_answer. Returns the number of inference requests still in flight. */
int bert_serve_grpc_poll(bert_serve_grpc_client *c, double wait, bert_serve_grpc_on_answer on_answer, void *ctx);

/* "gRPC status 5 (NOT_FOUND)". */
const char *bert_serve_grpc_status_name(int code);

#endif
