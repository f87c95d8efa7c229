/* serve/grpc_service: inference.GRPCInferenceService (KServe v2 / Triton, proto/grpc_service.proto)
 * over the model repository — ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata,
 * ModelConfig, ModelStatistics, ModelInfer and ModelStreamInfer. Inference takes the HTTP
 * front end's path (serve/inference.h): the same request checks, batcher, statistics and errors.
 * Tensors come as typed `contents` or `raw_input_contents`; outputs go back in
 * `raw_output_contents`, as Triton answers. Errors are Triton's gRPC status codes; on a stream,
 * a failed request is a response with its error_message (and its id) and the stream goes on. */
#ifndef BERT_SERVE_GRPC_SERVICE_H
#define BERT_SERVE_GRPC_SERVICE_H

#include <stdatomic.h>

#include "serve/grpc_server.h"
#include "serve/repository.h"

typedef struct bert_serve_grpc_service {
  bert_serve_repository *repo;
  const atomic_int *stopping;   /* set when the server stops: inference is UNAVAILABLE */
} bert_serve_grpc_service;

/* The service's methods, for bert_serve_grpc_options (ctx: a bert_serve_grpc_service). */
extern const bert_serve_grpc_method bert_serve_grpc_service_methods[];
extern const int bert_serve_grpc_service_n_methods;

#endif
