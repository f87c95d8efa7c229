/* gRPC ModelInfer (serve/grpc_infer): the input is a serialised inference.ModelInferRequest,
 * decoded by the protobuf-c code generated from src/serve/proto/grpc_service.proto and turned
 * into the server's request for each fixed model of harness.c (typed contents or
 * raw_input_contents), as the ModelInfer and ModelStreamInfer handlers do. */
#include "grpc_service.pb-c.h"
#include "harness.h"
#include "serve/grpc_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int m = 0; m < FUZZ_MODELS; m++) {
    Inference__ModelInferRequest *pb = inference__model_infer_request__unpack(NULL, size, data);
    if (!pb) return 0;
    bert_serve_request *r;
    bert_error err;
    if (fuzz_check(bert_serve_grpc_decode_infer(pb, fuzz_serve_config(m), &r, &err), &err))
      inference__model_infer_request__free_unpacked(pb, NULL);
    else
      bert_serve_request_free(r); /* frees pb */
  }
  return 0;
}
