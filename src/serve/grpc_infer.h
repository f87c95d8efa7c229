/* serve/grpc_infer: ModelInfer and ModelStreamInfer of the gRPC service — a ModelInferRequest
 * decoded into the server's request (typed contents or raw_input_contents, with the same checks as
 * HTTP), run on the model's batcher, and its ModelInferResponse (outputs in raw_output_contents)
 * or error sent back: a status for a unary call, a ModelStreamInferResponse with error_message on
 * a stream. */
#ifndef BERT_SERVE_GRPC_INFER_H
#define BERT_SERVE_GRPC_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "serve/grpc_server.h"
#include "serve/inference.h"

/* The gRPC code of a request status (Triton's: INVALID_ARGUMENT, NOT_FOUND, ...). */
bert_serve_grpc_code bert_serve_grpc_code_of(bert_serve_status s);

/* The server's request for the model `cfg` from a decoded inference.ModelInferRequest (typed
 * contents or raw_input_contents) with the HTTP path's checks. On success the request owns pb
 * (its inputs point into it; freed with the request); on failure *out is NULL and pb is still
 * the caller's. The handlers' decoding, and the fuzz target's (tests/fuzz/fuzz_grpc_infer.c). */
struct Inference__ModelInferRequest;
int bert_serve_grpc_decode_infer(struct Inference__ModelInferRequest *pb, const bert_serve_model_config *cfg,
                                 bert_serve_request **out, bert_error *err);

/* Handlers (ctx: a bert_serve_grpc_service). */
void bert_serve_grpc_model_infer(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len);
void bert_serve_grpc_model_stream_infer(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len);

#endif
