#include "serve/grpc_infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_service.pb-c.h"
#include "serve/grpc_service.h"

bert_serve_grpc_code bert_serve_grpc_code_of(bert_serve_status s) {
  switch (s) {
    case BERT_SERVE_STATUS_OK: return BERT_GRPC_OK;
    case BERT_SERVE_STATUS_INVALID: return BERT_GRPC_INVALID_ARGUMENT;
    case BERT_SERVE_STATUS_NOT_FOUND: return BERT_GRPC_NOT_FOUND;
    case BERT_SERVE_STATUS_TOO_LARGE: return BERT_GRPC_RESOURCE_EXHAUSTED;
    case BERT_SERVE_STATUS_UNAVAILABLE: return BERT_GRPC_UNAVAILABLE;
    default: return BERT_GRPC_INTERNAL;
  }
}

/* One inference call in flight: the request holds the decoded message its inputs point into. */
typedef struct grpc_infer {
  bert_serve_grpc_call *call;
  bert_serve_model *model;
  bert_serve_request *req;
  int streaming;
} grpc_infer;

/* ---- decoding ---- */

static int bad(bert_error *err, const char *fmt, const char *name) {
  return bert_error_set(err, BERT_EINVAL, fmt, name);
}

static int contents_count_error(const bert_serve_tensor *t, size_t got, int64_t want, bert_error *err) {
  return bert_error_set(err, BERT_EINVAL, "input '%s': contents hold %zu %s values, its shape needs %lld", t->name, got,
                        bert_serve_dtype_name(t->dtype), (long long)want);
}

static int alloc_data(bert_serve_tensor *t, int64_t n, bert_error *err) {
  size_t bytes = (size_t)n * bert_serve_dtype_size(t->dtype);
  if (!(t->data = malloc(bytes ? bytes : 1))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  t->bytes = bytes, t->owned = 1;
  return BERT_OK;
}

/* 8- to 32-bit integers (int_contents / uint_contents), range-checked as the JSON path does. */
static int narrow_ints(bert_serve_tensor *t, int64_t n, const void *src, int is_unsigned, size_t count, bert_error *err) {
  if ((int64_t)count != n) return contents_count_error(t, count, n, err);
  double lo, hi;
  bert_serve_dtype_int_range(t->dtype, &lo, &hi);
  int rc = alloc_data(t, n, err);
  for (int64_t i = 0; !rc && i < n; i++) {
    int64_t v = is_unsigned ? (int64_t)((const uint32_t *)src)[i] : (int64_t)((const int32_t *)src)[i];
    if ((double)v < lo || (double)v > hi)
      return bert_error_set(err, BERT_EINVAL, "input '%s': contents element %lld is not a valid %s value", t->name,
                            (long long)i, bert_serve_dtype_name(t->dtype));
    bert_serve_store_int(t->data, t->dtype, i, v);
  }
  return rc;
}

static int copy_values(bert_serve_tensor *t, int64_t n, const void *src, size_t count, bert_error *err) {
  if ((int64_t)count != n) return contents_count_error(t, count, n, err);
  int rc = alloc_data(t, n, err);
  if (!rc && n) memcpy(t->data, src, t->bytes);
  return rc;
}

static int bytes_values(bert_serve_tensor *t, int64_t n, const Inference__InferTensorContents *c, bert_error *err) {
  if ((int64_t)c->n_bytes_contents != n) return contents_count_error(t, c->n_bytes_contents, n, err);
  const char **elems = malloc(sizeof *elems * (size_t)(n ? n : 1));
  uint32_t *lens = malloc(sizeof *lens * (size_t)(n ? n : 1));
  int rc = elems && lens ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int64_t i = 0; !rc && i < n; i++) {
    if (c->bytes_contents[i].len > UINT32_MAX) rc = bad(err, "input '%s': a BYTES element is over 4 GB", t->name);
    elems[i] = (const char *)c->bytes_contents[i].data, lens[i] = (uint32_t)c->bytes_contents[i].len;
  }
  if (!rc) { /* set_bytes clears the tensor first: its name and shape go in as copies */
    char name[BERT_SERVE_NAME_MAX];
    int64_t shape[BERT_SERVE_MAX_DIMS];
    snprintf(name, sizeof name, "%s", t->name);
    memcpy(shape, t->shape, sizeof shape);
    rc = bert_serve_tensor_set_bytes(t, name, t->ndim, shape, elems, lens, err);
  }
  free(elems), free(lens);
  return rc;
}

/* Typed contents: the repeated field of the tensor's data type. */
static int typed_contents(bert_serve_tensor *t, int64_t n, const Inference__InferTensorContents *c, bert_error *err) {
  switch (t->dtype) {
    case BERT_SERVE_BOOL: {
      if ((int64_t)c->n_bool_contents != n) return contents_count_error(t, c->n_bool_contents, n, err);
      int rc = alloc_data(t, n, err);
      for (int64_t i = 0; !rc && i < n; i++) ((uint8_t *)t->data)[i] = c->bool_contents[i] ? 1 : 0;
      return rc;
    }
    case BERT_SERVE_INT8: case BERT_SERVE_INT16: case BERT_SERVE_INT32:
      return narrow_ints(t, n, c->int_contents, 0, c->n_int_contents, err);
    case BERT_SERVE_UINT8: case BERT_SERVE_UINT16: case BERT_SERVE_UINT32:
      return narrow_ints(t, n, c->uint_contents, 1, c->n_uint_contents, err);
    case BERT_SERVE_INT64: return copy_values(t, n, c->int64_contents, c->n_int64_contents, err);
    case BERT_SERVE_UINT64: return copy_values(t, n, c->uint64_contents, c->n_uint64_contents, err);
    case BERT_SERVE_FP32: return copy_values(t, n, c->fp32_contents, c->n_fp32_contents, err);
    case BERT_SERVE_FP64: return copy_values(t, n, c->fp64_contents, c->n_fp64_contents, err);
    case BERT_SERVE_BYTES: return bytes_values(t, n, c, err);
    default: return bad(err, "input '%s': FP16 and BF16 data must be sent in raw_input_contents", t->name);
  }
}

static int has_parameter(Inference__ModelInferRequest__InferInputTensor__ParametersEntry **p, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (p[i]->key && !strcmp(p[i]->key, key)) return 1;
  return 0;
}

static int decode_input(bert_serve_request *r, const Inference__ModelInferRequest *pb, size_t i, bert_error *err) {
  const Inference__ModelInferRequest__InferInputTensor *in = pb->inputs[i];
  if (has_parameter(in->parameters, in->n_parameters, "shared_memory_region"))
    return bad(err, "input '%s': shared memory is not supported by this server", in->name);
  bert_serve_tensor *t;
  int64_t n;
  int ndim = in->n_shape > 64 ? 64 : (int)in->n_shape;
  int rc = bert_serve_request_add_input(r, in->name, in->datatype, in->shape, ndim, &t, &n, err);
  if (rc) return rc;
  if (pb->n_raw_input_contents) {
    if (in->contents) return bad(err, "input '%s' has contents while the request carries raw_input_contents", in->name);
    return bert_serve_request_input_data(t, n, pb->raw_input_contents[i].data, pb->raw_input_contents[i].len, err);
  }
  if (!in->contents) return bad(err, "input '%s' has no data: neither contents nor raw_input_contents", in->name);
  return typed_contents(t, n, in->contents, err);
}

static int decode_outputs(bert_serve_request *r, const Inference__ModelInferRequest *pb, bert_error *err) {
  if (!pb->n_outputs) return bert_serve_request_all_outputs(r, 1, err);
  for (size_t i = 0; i < pb->n_outputs; i++) {
    const Inference__ModelInferRequest__InferRequestedOutputTensor *o = pb->outputs[i];
    for (size_t k = 0; k < o->n_parameters; k++) {
      const char *key = o->parameters[k]->key ? o->parameters[k]->key : "";
      if (!strcmp(key, "shared_memory_region")) return bad(err, "output '%s': shared memory is not supported by this server", o->name);
      if (!strcmp(key, "classification")) return bad(err, "output '%s': classification outputs are not supported by this server", o->name);
    }
    int rc = bert_serve_request_add_output(r, o->name, 1, err);
    if (rc) return rc;
  }
  return BERT_OK;
}

static int decode_request(bert_serve_request *r, const Inference__ModelInferRequest *pb, bert_error *err) {
  if (pb->n_raw_input_contents && pb->n_raw_input_contents != pb->n_inputs)
    return bert_error_set(err, BERT_EINVAL, "raw_input_contents has %zu entries for %zu inputs: one per input is expected",
                          pb->n_raw_input_contents, pb->n_inputs);
  if (!pb->n_inputs) return bert_error_set(err, BERT_EINVAL, "the request needs a non-empty inputs list");
  if (pb->id[0] && !(r->id = strdup(pb->id))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (size_t i = 0; i < pb->n_inputs; i++) {
    int rc = decode_input(r, pb, i, err);
    if (rc) return rc;
  }
  int rc = bert_serve_request_inputs_done(r, err);
  return rc ? rc : decode_outputs(r, pb, err);
}

/* ---- encoding ---- */

/* Packs a message into a malloc'ed buffer for bert_serve_grpc_reply; NULL when out of memory. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(*len ? *len : 1);
  if (buf) protobuf_c_message_pack(m, buf);
  return buf;
}

/* Packs a (stream) response whose ModelInferResponse is `resp` and error `error` (NULL = none). */
static uint8_t *pack_answer(int streaming, Inference__ModelInferResponse *resp, const char *error, size_t *len) {
  Inference__ModelStreamInferResponse stream = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
  stream.error_message = (char *)(error ? error : "");
  stream.infer_response = resp;
  return pack(streaming ? &stream.base : &resp->base, len);
}

static void send_answer(bert_serve_grpc_call *call, int streaming, uint8_t *buf, size_t len) {
  if (buf) bert_serve_grpc_reply(call, buf, len);
  else if (streaming) bert_serve_grpc_reply(call, NULL, 0); /* the owed answer; empty rather than none */
  else bert_serve_grpc_fail(call, BERT_GRPC_INTERNAL, "out of memory encoding the response");
}

static void answer_error(bert_serve_grpc_call *call, int streaming, bert_serve_status status, const char *message,
                         const char *model, const char *version, const char *id) {
  if (!streaming) {
    bert_serve_grpc_fail(call, bert_serve_grpc_code_of(status), message);
    return;
  }
  Inference__ModelInferResponse resp = INFERENCE__MODEL_INFER_RESPONSE__INIT;
  resp.model_name = (char *)model, resp.model_version = (char *)version, resp.id = (char *)id;
  size_t len;
  uint8_t *buf = pack_answer(1, &resp, message, &len);
  send_answer(call, 1, buf, len);
}

/* Encodes the outputs, counts the success (before the answer leaves, as HTTP does) and sends. */
static int answer_outputs(grpc_infer *gi, bert_error *err) {
  const bert_serve_request *r = gi->req;
  int n = r->n_outputs;
  Inference__ModelInferResponse__InferOutputTensor *outs = calloc((size_t)(n ? n : 1), sizeof *outs);
  Inference__ModelInferResponse__InferOutputTensor **ptrs = calloc((size_t)(n ? n : 1), sizeof *ptrs);
  ProtobufCBinaryData *raw = calloc((size_t)(n ? n : 1), sizeof *raw);
  int rc = outs && ptrs && raw ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int i = 0; !rc && i < n; i++) {
    const bert_serve_tensor *t = &r->outputs[i].tensor;
    if (!t->data) {
      rc = bert_error_set(err, BERT_EINVAL, "the backend produced no output '%s'", r->config->outputs[r->outputs[i].index].name);
      break;
    }
    inference__model_infer_response__infer_output_tensor__init(&outs[i]);
    outs[i].name = (char *)t->name, outs[i].datatype = (char *)bert_serve_dtype_name(t->dtype);
    outs[i].n_shape = (size_t)t->ndim, outs[i].shape = (int64_t *)t->shape;
    ptrs[i] = &outs[i];
    raw[i] = (ProtobufCBinaryData){t->bytes, t->data};
  }
  if (!rc) {
    Inference__ModelInferResponse resp = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    resp.model_name = gi->model->config.name, resp.model_version = gi->model->version;
    resp.id = r->id ? r->id : "";
    resp.n_outputs = (size_t)n, resp.outputs = ptrs;
    resp.n_raw_output_contents = (size_t)n, resp.raw_output_contents = raw;
    size_t len;
    uint8_t *buf = pack_answer(gi->streaming, &resp, NULL, &len);
    if (buf) bert_serve_infer_succeeded(gi->model, r);
    else rc = bert_error_set(err, BERT_ENOMEM, "out of memory encoding the response");
    if (buf) send_answer(gi->call, gi->streaming, buf, len);
  }
  free(outs), free(ptrs), free(raw);
  return rc;
}

/* ---- the call ---- */

/* Runs on the instance thread once the batcher is done with the request. */
static void infer_done(bert_serve_request *r, void *arg) {
  grpc_infer *gi = arg;
  bert_error err = r->error;
  int rc = r->status;
  bert_serve_status status = rc ? bert_serve_status_of_execution(rc) : BERT_SERVE_STATUS_OK;
  if (!rc && (rc = answer_outputs(gi, &err))) status = BERT_SERVE_STATUS_INTERNAL;
  if (rc) {
    bert_serve_infer_failed(gi->model, r->received_ns);
    answer_error(gi->call, gi->streaming, status, err.message, gi->model->config.name, gi->model->version, r->id ? r->id : "");
  }
  bert_serve_request_free(r);
  free(gi);
}

static void free_message(void *pb) { inference__model_infer_request__free_unpacked(pb, NULL); }

int bert_serve_grpc_decode_infer(Inference__ModelInferRequest *pb, const bert_serve_model_config *cfg,
                                 bert_serve_request **out, bert_error *err) {
  int rc = bert_serve_request_new(out, cfg, err);
  if (rc) return rc;
  if ((rc = decode_request(*out, pb, err))) {
    bert_serve_request_free(*out); /* before it owns pb */
    *out = NULL;
    return rc;
  }
  (*out)->release = free_message, (*out)->release_arg = pb;
  return BERT_OK;
}

/* Decodes and queues; returns a status and message when the request fails before queueing
 * (pb is then the caller's to free: through gi->req when there is one, which owns it). */
static bert_serve_status start_infer(const bert_serve_grpc_service *svc, grpc_infer *gi, Inference__ModelInferRequest *pb,
                                     uint64_t received, bert_error *err) {
  if (!(gi->model = bert_serve_model_lookup(svc->repo, pb->model_name, pb->model_version, err)))
    return BERT_SERVE_STATUS_NOT_FOUND;
  int rc = bert_serve_grpc_decode_infer(pb, &gi->model->config, &gi->req, err);
  bert_serve_status status = rc ? bert_serve_status_of_request_error(rc) : BERT_SERVE_STATUS_OK;
  if (!rc) gi->req->received_ns = received;
  if (!status) status = bert_serve_infer_check(gi->model, svc->stopping, gi->req, err);
  if (!status) {
    gi->req->done = infer_done, gi->req->done_arg = gi;
    status = bert_serve_infer_submit(gi->model, gi->req, err);
  }
  if (status) bert_serve_infer_failed(gi->model, received);
  return status;
}

static void infer(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len, int streaming) {
  const bert_serve_grpc_service *svc = ctx;
  uint64_t received = bert_serve_now_ns();
  Inference__ModelInferRequest *pb = inference__model_infer_request__unpack(NULL, len, msg);
  grpc_infer *gi = pb ? calloc(1, sizeof *gi) : NULL;
  if (!gi) {
    if (pb) free_message(pb);
    answer_error(call, streaming, pb ? BERT_SERVE_STATUS_INTERNAL : BERT_SERVE_STATUS_INVALID,
                 pb ? "out of memory" : "the message is not a valid inference.ModelInferRequest", "", "", "");
    return;
  }
  *gi = (grpc_infer){call, NULL, NULL, streaming};
  bert_error err = {0};
  bert_serve_status status = start_infer(svc, gi, pb, received, &err);
  if (!status) return; /* infer_done answers */
  char model[BERT_SERVE_NAME_MAX], version[64], id[256];
  snprintf(model, sizeof model, "%s", pb->model_name);
  snprintf(version, sizeof version, "%s", gi->model ? gi->model->version : pb->model_version);
  snprintf(id, sizeof id, "%s", pb->id);
  if (gi->req) bert_serve_request_free(gi->req); /* frees pb */
  else free_message(pb);
  free(gi);
  answer_error(call, streaming, status, err.message, model, version, id);
}

void bert_serve_grpc_model_infer(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  infer(ctx, call, msg, len, 0);
}

void bert_serve_grpc_model_stream_infer(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  infer(ctx, call, msg, len, 1);
}
