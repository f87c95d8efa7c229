/* serve/infer_request: the KServe v2 inference request and response codec. A request body is a
 * JSON header, optionally followed by binary tensor data (Triton's binary tensor data extension:
 * the header's length in Inference-Header-Content-Length, each binary input's size in its
 * `binary_data_size` parameter, tensors in the order the header names them); a header length of
 * 0 is the "raw binary request" carrying a single input. Parsing checks everything against the
 * model's config (names, duplicates, data types, shapes, batch size, data sizes and element
 * values' types and ranges) and yields a request whose inputs are in config order; any defect
 * is an error message for a 400 reply. Encoding writes the response header with JSON or binary
 * outputs as each was requested. Little-endian hosts only (as the protocol's byte order). */
#ifndef BERT_SERVE_INFER_REQUEST_H
#define BERT_SERVE_INFER_REQUEST_H

#include <stdint.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "serve/model_config.h"
#include "serve/tensor.h"

typedef struct bert_serve_output_slot {
  int index;                 /* config output index */
  int binary;                /* returned as binary data after the JSON header */
  bert_serve_tensor tensor;  /* filled by the backend; data NULL until then */
} bert_serve_output_slot;

typedef struct bert_serve_request bert_serve_request;
typedef void (*bert_serve_request_done)(bert_serve_request *req, void *arg);

struct bert_serve_request {
  const bert_serve_model_config *config;
  char *id;                          /* echoed in the response; NULL when absent */
  int batch;                         /* rows: shape[0] when max_batch_size > 0, else 1 */
  bert_serve_tensor *inputs;         /* [config->n_inputs] in config order; dtype INVALID = absent optional */
  bert_serve_output_slot *outputs;   /* requested outputs (all of them when none are named) */
  int n_outputs;
  char *body;                        /* the request body, which binary inputs point into */
  /* set while the request is executed */
  int status;                        /* BERT_OK or a negative code, with `error` */
  bert_error error;
  uint64_t received_ns, enqueued_ns; /* monotonic clock */
  uint64_t queue_ns, compute_input_ns, compute_infer_ns, compute_output_ns;
  bert_serve_request_done done;      /* called once the outputs (or the error) are ready */
  void *done_arg;
  bert_serve_request *next;          /* batcher queue link */
  void (*release)(void *arg);        /* called when the request is freed: what input data points into */
  void *release_arg;
};

/* Parses a request body for the model `cfg`. Takes ownership of `body` (freed on failure too).
 * `header_len` is the Inference-Header-Content-Length value, or -1 when the header is absent. */
int bert_serve_request_parse(bert_serve_request **out, const bert_serve_model_config *cfg, char *body, size_t len,
                             int64_t header_len, bert_error *err);
void bert_serve_request_free(bert_serve_request *req);

/* ---- a request built field by field (the gRPC front end), with the parser's checks ---- */

/* An empty request for the model `cfg`. */
int bert_serve_request_new(bert_serve_request **out, const bert_serve_model_config *cfg, bert_error *err);
/* Declares input `name` of `datatype` ("INT32") and shape: checks the name, duplicates, data
 * type, shape against the config, batch size (and that inputs agree on it). Returns the tensor,
 * data not yet set, and its element count. */
int bert_serve_request_add_input(bert_serve_request *req, const char *name, const char *datatype, const int64_t *shape,
                                 int ndim, bert_serve_tensor **t, int64_t *elements, bert_error *err);
/* Points the input at `bytes` of raw data (not copied: keep it alive through req->release) and
 * checks the size against the shape (BYTES: the serialised elements). */
int bert_serve_request_input_data(bert_serve_tensor *t, int64_t elements, const void *data, size_t bytes, bert_error *err);
/* After the last input: every required input is there. */
int bert_serve_request_inputs_done(bert_serve_request *req, bert_error *err);
/* Requests output `name` (an unknown or repeated name is an error), or every output. */
int bert_serve_request_add_output(bert_serve_request *req, const char *name, int binary, bert_error *err);
int bert_serve_request_all_outputs(bert_serve_request *req, int binary, bert_error *err);

/* What the JSON header of any valid request for a model can need, so that a longer one is
 * refused before cJSON parses it: each JSON value costs cJSON ~64 bytes and tens of ns, and an
 * HTTP thread parsing 30 MB of short numbers takes seconds and gigabytes while other calls wait. */
typedef struct bert_serve_json_limit {
  size_t bytes;     /* header length; SIZE_MAX when a BYTES input (strings of any length) is present */
  int64_t values;   /* JSON values: numbers, strings, arrays, objects, ... */
} bert_serve_json_limit;

/* The limit of `cfg`: its inputs at max_batch_size rows (1 without batching), a variable (-1)
 * dimension at `max_dim` (0 = unknown: a generous fixed cap), plus slack for names and options. */
void bert_serve_json_limit_init(bert_serve_json_limit *lim, const bert_serve_model_config *cfg, int64_t max_dim);
/* BERT_ERANGE (a 413) with a message when `json` (the header alone) exceeds the limit. */
int bert_serve_json_limit_check(const bert_serve_json_limit *lim, const char *model, const char *json, size_t len,
                                bert_error *err);

/* The output tensor slot for config output `index` when the client wants it, else NULL; a
 * backend allocates only what is wanted. */
bert_serve_tensor *bert_serve_request_output(bert_serve_request *req, int index);

/* Encodes the response of a completed request into `out` (JSON header, then binary outputs).
 * *header_len is the JSON header's length when binary data follows, else 0. */
int bert_serve_response_encode(const bert_serve_request *req, const char *model_name, const char *version,
                               bert_strbuf *out, size_t *header_len, bert_error *err);

/* JSON string literal of n bytes (quotes included, control characters escaped). */
void bert_serve_json_string(bert_strbuf *s, const char *text, size_t n);

#endif
