/* KServe v2 inference request (serve/infer_request): JSON header with JSON or binary tensor data
 * (the binary tensor data extension) or a raw binary body, checked against the two fixed models
 * of harness.c (ten inputs of every element kind; one input). The first two input bytes give the
 * Inference-Header-Content-Length (little-endian; 0xffff = header absent, as for a plain JSON
 * body), the rest is the body, in an exactly sized heap block as the HTTP server passes it. A
 * parsed request is answered with every output filled, as a backend would, and encoded. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve/infer_request.h"

/* Fills the requested outputs (zeros; BYTES: empty strings) so the encoder runs. */
static void fill_outputs(bert_serve_request *r) {
  for (int i = 0; i < r->n_outputs; i++) {
    bert_serve_tensor *t = &r->outputs[i].tensor;
    const bert_serve_io *io = &r->config->outputs[r->outputs[i].index];
    int64_t shape[BERT_SERVE_MAX_DIMS + 1], n = r->batch;
    int ndim = 0;
    if (r->config->max_batch_size > 0) shape[ndim++] = r->batch;
    for (int d = 0; d < io->ndim; d++) shape[ndim++] = io->dims[d], n *= io->dims[d];
    bert_error err;
    if (io->dtype == BERT_SERVE_BYTES) {
      const char **elems = calloc((size_t)n, sizeof *elems);
      uint32_t *lens = calloc((size_t)n, sizeof *lens);
      for (int64_t k = 0; k < n; k++) elems[k] = "";
      bert_serve_tensor_set_bytes(t, io->name, ndim, shape, elems, lens, &err);
      free(elems), free(lens);
    } else {
      bert_serve_tensor_alloc(t, io->name, io->dtype, ndim, shape, &err);
    }
  }
}

static void parse(const bert_serve_model_config *cfg, const uint8_t *data, size_t len, int64_t header_len) {
  char *body = malloc(len ? len : 1);
  if (len) memcpy(body, data, len);
  bert_serve_request *r;
  bert_error err;
  if (fuzz_check(bert_serve_request_parse(&r, cfg, body, len, header_len, &err), &err)) return;
  fill_outputs(r);
  bert_strbuf out = {0};
  size_t out_header = 0;
  bert_serve_response_encode(r, "fuzz", "1", &out, &out_header, &err);
  bert_strbuf_free(&out);
  bert_serve_request_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  unsigned code = data[0] | (unsigned)data[1] << 8;
  int64_t header_len = code == 0xffff ? -1 : (int64_t)code;
  for (int m = 0; m < FUZZ_MODELS; m++) parse(fuzz_serve_config(m), data + 2, size - 2, header_len);
  return 0;
}
