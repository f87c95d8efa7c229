#include "serve/bench_input.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng_stream.h"
#include "base/strbuf.h"
#include "grpc_service.pb-c.h"
#include "serve/bert_backend.h"
#include "tensor/softmax.h"
#include "train/half.h"

int bert_serve_bench_model_init(bert_serve_bench_model *m, const char *config_json, size_t len, bert_error *err) {
  memset(m, 0, sizeof *m);
  int rc = bert_serve_model_config_from_json(&m->cfg, config_json, len, err);
  if (!rc) rc = bert_serve_bert_roles(&m->cfg, m->in_role, m->out_role, err);
  if (!rc && (m->cfg.inputs[m->in_role[0]].ndim != 1 || m->cfg.inputs[m->in_role[0]].dtype == BERT_SERVE_BYTES))
    rc = bert_error_set(err, BERT_EUNSUPPORTED, "model '%s' is not a BERT token model (one sequence dimension)", m->cfg.name);
  if (rc) {
    bert_serve_model_config_free(&m->cfg);
    return rc;
  }
  m->seq_len = (int)m->cfg.inputs[m->in_role[0]].dims[0];
  return BERT_OK;
}

void bert_serve_bench_model_free(bert_serve_bench_model *m) { bert_serve_model_config_free(&m->cfg); }

/* ---- inputs ---- */

static int alloc_batch(bert_serve_bench_batch *b, int rows, int len) {
  size_t cells = (size_t)rows * (size_t)len;
  b->rows = rows, b->len = len;
  b->ids = calloc(cells, sizeof(int32_t)), b->mask = calloc(cells, sizeof(int32_t));
  b->types = calloc(cells, sizeof(int32_t)), b->real = calloc((size_t)rows, sizeof(int));
  return b->ids && b->mask && b->types && b->real;
}

static void fill_rows(bert_serve_bench_batch *b, bert_rng_stream *rs, const bert_serve_bench_shape *shape) {
  for (int r = 0; r < b->rows; r++) {
    int real = b->real[r];
    for (int j = 0; j < real; j++) {
      size_t at = (size_t)r * b->len + (size_t)j;
      b->ids[at] = (int32_t)bert_rng_stream_range(rs, 1, shape->vocab_size - 1);
      b->mask[at] = 1;
      b->types[at] = j >= real / 2;
    }
  }
}

/* Rows from SQuAD features, taken in turn from feature `first` on. */
static void fill_features(bert_serve_bench_batch *b, const bert_squad_features *f, int64_t first) {
  for (int r = 0; r < b->rows; r++) {
    int64_t i = (first + r) % f->count;
    size_t at = (size_t)r * b->len;
    b->real[r] = bert_squad_feature_length(f, i);
    bert_squad_features_fill(f, &i, 1, b->len, b->ids + at, b->types + at, b->mask + at, NULL, NULL);
  }
}

static const int32_t *role_data(const bert_serve_bench_batch *b, int role) {
  return role == 0 ? b->ids : role == 1 ? b->mask : b->types;
}

static void tensor_head(bert_strbuf *s, const bert_serve_bench_model *m, const bert_serve_io *io, const bert_serve_bench_batch *b) {
  bert_strbuf_printf(s, "{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":", io->name, bert_serve_dtype_name(io->dtype));
  if (m->cfg.max_batch_size > 0) bert_strbuf_printf(s, "[%d,%d]", b->rows, b->len);
  else bert_strbuf_printf(s, "[%d]", b->len);
}

/* The binary tensor of one input: INT32 or INT64 elements. */
static void append_binary(bert_strbuf *s, const int32_t *v, size_t n, bert_serve_dtype t) {
  if (t == BERT_SERVE_INT32) {
    bert_strbuf_append(s, (const char *)v, n * 4);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    int64_t x = v[i];
    bert_strbuf_append(s, (const char *)&x, 8);
  }
}

static int encode(bert_serve_bench_batch *b, const bert_serve_bench_model *m, int json, bert_error *err) {
  bert_strbuf s = {0}, bin = {0};
  size_t n = (size_t)b->rows * (size_t)b->len;
  bert_strbuf_puts(&s, "{\"inputs\":[");
  int first = 1;
  for (int k = 0; k < 3; k++) {
    if (m->in_role[k] < 0) continue;
    const bert_serve_io *io = &m->cfg.inputs[m->in_role[k]];
    const int32_t *v = role_data(b, k);
    if (!first) bert_strbuf_puts(&s, ",");
    first = 0;
    tensor_head(&s, m, io, b);
    if (json) {
      bert_strbuf_puts(&s, ",\"data\":[");
      for (size_t i = 0; i < n; i++) bert_strbuf_printf(&s, "%s%d", i ? "," : "", v[i]);
      bert_strbuf_puts(&s, "]}");
    } else {
      bert_strbuf_printf(&s, ",\"parameters\":{\"binary_data_size\":%zu}}", n * bert_serve_dtype_size(io->dtype));
      append_binary(&bin, v, n, io->dtype);
    }
  }
  bert_strbuf_puts(&s, "],\"outputs\":[");
  for (int k = 0, any = 0; k < 2; k++) {
    if (m->out_role[k] < 0) continue;
    bert_strbuf_printf(&s, "%s{\"name\":\"%s\",\"parameters\":{\"binary_data\":%s}}", any++ ? "," : "",
                       m->cfg.outputs[m->out_role[k]].name, json ? "false" : "true");
  }
  bert_strbuf_puts(&s, "]}");
  b->header_len = json ? 0 : s.len;
  bert_strbuf_append(&s, bin.data ? bin.data : "", bin.len);
  bert_strbuf_free(&bin);
  if (s.failed) {
    bert_strbuf_free(&s);
    return bert_error_set(err, BERT_ENOMEM, "out of memory encoding a request");
  }
  b->body = s.data, b->body_len = s.len;
  return BERT_OK;
}

/* The same tensors as a ModelInferRequest: raw_input_contents, outputs named, no id (the gRPC
 * client adds one per send). */
typedef Inference__ModelInferRequest__InferInputTensor input_tensor;
typedef Inference__ModelInferRequest__InferRequestedOutputTensor requested_output;

static int encode_grpc(bert_serve_bench_batch *b, const bert_serve_bench_model *m, bert_error *err) {
  Inference__ModelInferRequest req = INFERENCE__MODEL_INFER_REQUEST__INIT;
  input_tensor in[3], *in_p[3];
  requested_output out[2], *out_p[2];
  ProtobufCBinaryData raw[3];
  bert_strbuf data[3] = {{0}};
  int64_t shape[2] = {b->rows, b->len};
  int batched = m->cfg.max_batch_size > 0, failed = 0;
  size_t n = (size_t)b->rows * (size_t)b->len;
  for (int k = 0; k < 3; k++) {
    if (m->in_role[k] < 0) continue;
    const bert_serve_io *io = &m->cfg.inputs[m->in_role[k]];
    input_tensor *t = &in[req.n_inputs];
    *t = (input_tensor)INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
    t->name = (char *)io->name, t->datatype = (char *)bert_serve_dtype_name(io->dtype);
    t->n_shape = batched ? 2 : 1, t->shape = batched ? shape : shape + 1;
    append_binary(&data[req.n_inputs], role_data(b, k), n, io->dtype);
    failed |= data[req.n_inputs].failed;
    raw[req.n_inputs] = (ProtobufCBinaryData){data[req.n_inputs].len, (uint8_t *)data[req.n_inputs].data};
    in_p[req.n_inputs] = t, req.n_inputs++;
  }
  for (int k = 0; k < 2; k++) {
    if (m->out_role[k] < 0) continue;
    out[req.n_outputs] = (requested_output)INFERENCE__MODEL_INFER_REQUEST__INFER_REQUESTED_OUTPUT_TENSOR__INIT;
    out[req.n_outputs].name = (char *)m->cfg.outputs[m->out_role[k]].name;
    out_p[req.n_outputs] = &out[req.n_outputs], req.n_outputs++;
  }
  req.model_name = (char *)m->cfg.name;
  req.inputs = in_p, req.outputs = out_p, req.n_raw_input_contents = req.n_inputs, req.raw_input_contents = raw;
  b->grpc_len = inference__model_infer_request__get_packed_size(&req);
  if (!failed && (b->grpc = malloc(b->grpc_len ? b->grpc_len : 1))) inference__model_infer_request__pack(&req, b->grpc);
  for (int k = 0; k < 3; k++) bert_strbuf_free(&data[k]);
  return b->grpc ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory encoding a gRPC request");
}

int bert_serve_bench_make_batches(bert_serve_bench_batch **out, int n, const bert_serve_bench_model *m,
                                  const bert_serve_bench_shape *shape, bert_error *err) {
  bert_serve_bench_batch *batches = calloc((size_t)n, sizeof *batches);
  if (!batches) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  bert_rng_stream rs = bert_rng_stream_make(bert_rng_make(shape->seed, BERT_RNG_DATA, 0, 0));
  int rc = BERT_OK, rows = m->cfg.max_batch_size > 0 ? shape->rows : 1;
  int *real = malloc(sizeof(int) * (size_t)rows);
  if (!real) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int i = 0; i < n && !rc; i++) {
    int longest = 1;
    for (int r = 0; r < rows; r++) {
      int64_t feature = ((int64_t)i * rows + r) % (shape->squad ? shape->squad->count : 1);
      real[r] = shape->squad ? bert_squad_feature_length(shape->squad, feature)
                             : (int)bert_rng_stream_range(&rs, shape->min_real, shape->max_real);
      if (real[r] > longest) longest = real[r];
    }
    int len = m->seq_len > 0 ? m->seq_len : longest;
    if (!alloc_batch(&batches[i], rows, len)) {
      rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
      break;
    }
    memcpy(batches[i].real, real, sizeof(int) * (size_t)rows);
    if (shape->squad) fill_features(&batches[i], shape->squad, (int64_t)i * rows);
    else fill_rows(&batches[i], &rs, shape);
    rc = encode(&batches[i], m, shape->json, err);
    if (!rc && shape->grpc) rc = encode_grpc(&batches[i], m, err);
  }
  free(real);
  if (rc) {
    bert_serve_bench_free_batches(batches, n);
    return rc;
  }
  *out = batches;
  return BERT_OK;
}

void bert_serve_bench_free_batches(bert_serve_bench_batch *b, int n) {
  for (int i = 0; b && i < n; i++) {
    free(b[i].ids), free(b[i].mask), free(b[i].types), free(b[i].real);
    free(b[i].body), free(b[i].grpc), free(b[i].start), free(b[i].end);
  }
  free(b);
}

/* ---- local reference ---- */

/* Row r alone, unpadded: its real tokens at positions 0..real-1. */
static int expect_row(bert_serve_bench_batch *b, int r, bert_model *model, bert_workspace *ws, bert_error *err) {
  int real = b->real[r];
  size_t at = (size_t)r * b->len;
  for (int j = real; j < b->len; j++) b->start[at + j] = b->end[at + j] = BERT_MASK_VALUE;
  if (!real) return BERT_OK;
  bert_batch batch;
  memset(&batch, 0, sizeof batch);
  batch.batch = 1, batch.len = real, batch.input_ids = b->ids + at, batch.token_type_ids = b->types + at;
  int rc = bert_model_forward(model, ws, &batch, 0, bert_rng_make(0, BERT_RNG_DROPOUT, 0, 0), err);
  if (rc) return rc;
  memcpy(b->start + at, ws->start_logits, sizeof(float) * (size_t)real);
  memcpy(b->end + at, ws->end_logits, sizeof(float) * (size_t)real);
  return BERT_OK;
}

int bert_serve_bench_expect(bert_serve_bench_batch *b, int n, bert_model *model, bert_error *err) {
  int longest = 1;
  for (int i = 0; i < n; i++)
    for (int r = 0; r < b[i].rows; r++) longest = b[i].real[r] > longest ? b[i].real[r] : longest;
  bert_workspace ws;
  int rc = bert_workspace_create(&ws, model, BERT_TASK_QA, 1, longest, 0, 1, 0, err);
  for (int i = 0; i < n && !rc; i++) {
    size_t cells = (size_t)b[i].rows * b[i].len;
    if (!(b[i].start = malloc(cells * sizeof(float))) || !(b[i].end = malloc(cells * sizeof(float))))
      rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
    for (int r = 0; r < b[i].rows && !rc; r++) rc = expect_row(&b[i], r, model, &ws, err);
  }
  bert_workspace_free(&ws);
  return rc;
}

/* ---- checking a response ---- */

typedef struct output_view {
  bert_serve_dtype dtype;
  const char *binary;       /* binary data, or NULL */
  const cJSON *data;        /* JSON data, or NULL */
  const cJSON *next;        /* JSON walk position */
} output_view;

static float view_value(output_view *v, size_t i) {
  if (v->binary) {
    if (v->dtype == BERT_SERVE_FP16) {
      uint16_t h;
      memcpy(&h, v->binary + 2 * i, 2);
      return bert_f16_to_f32(h);
    }
    float f;
    memcpy(&f, v->binary + 4 * i, 4);
    return f;
  }
  float f = cJSON_IsNumber(v->next) ? (float)v->next->valuedouble : NAN;
  v->next = v->next ? v->next->next : NULL;
  return f;
}

static int check_values(const bert_serve_bench_batch *b, const float *want, output_view *v, const char *name, double rtol,
                        double atol, bert_error *err) {
  for (int r = 0; r < b->rows; r++)
    for (int j = 0; j < b->len; j++) {
      size_t i = (size_t)r * b->len + (size_t)j;
      double got = view_value(v, i), w = want ? want[i] : got;
      int ok = b->mask[i] ? fabs(got - w) <= atol + rtol * fabs(w) : got == BERT_MASK_VALUE;
      if (!ok)
        return bert_error_set(err, BERT_EMISMATCH, "%s[%d][%d] = %.9g, local inference gives %.9g%s", name, r, j, got,
                              b->mask[i] ? w : BERT_MASK_VALUE, b->mask[i] ? "" : " (padded position)");
    }
  return BERT_OK;
}

/* An output's datatype and shape against the batch's. */
static int check_head(const bert_serve_bench_batch *b, const bert_serve_bench_model *m, const char *name, bert_serve_dtype dtype,
                      const char *datatype, const int64_t *shape, int ndim, bert_error *err) {
  int want = m->cfg.max_batch_size > 0 ? 2 : 1;
  if (!datatype || bert_serve_dtype_parse(datatype) != dtype || ndim != want || (want == 2 && shape[0] != b->rows) ||
      shape[want - 1] != b->len)
    return bert_error_set(err, BERT_EMISMATCH, "output %s: wrong datatype or shape", name);
  return BERT_OK;
}

/* A JSON shape array as numbers; -1 when it is not one. */
static int json_dims(const cJSON *shape, int64_t *dims) {
  int n = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
  if (n > BERT_SERVE_MAX_DIMS) return -1;
  for (int i = 0; i < n; i++) dims[i] = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
  return n;
}

/* Finds output `name` in the response and checks its type, shape and data size. */
static int locate(const cJSON *outputs, const char *name, const bert_serve_bench_batch *b, const bert_serve_bench_model *m,
                  bert_serve_dtype dtype, const char *bin, size_t bin_len, output_view *v, bert_error *err) {
  size_t offset = 0, n = (size_t)b->rows * b->len;
  for (const cJSON *o = outputs ? outputs->child : NULL; o; o = o->next) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name"), *params = cJSON_GetObjectItemCaseSensitive(o, "parameters");
    const cJSON *size = params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_size") : NULL;
    if (!cJSON_IsString(nm) || strcmp(nm->valuestring, name)) {
      if (cJSON_IsNumber(size)) offset += (size_t)size->valuedouble;
      continue;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
    int64_t dims[BERT_SERVE_MAX_DIMS];
    int ndim = json_dims(cJSON_GetObjectItemCaseSensitive(o, "shape"), dims);
    int rc = check_head(b, m, name, dtype, cJSON_IsString(dt) ? dt->valuestring : NULL, dims, ndim, err);
    if (rc) return rc;
    v->dtype = dtype;
    if (cJSON_IsNumber(size)) {
      if ((size_t)size->valuedouble != n * bert_serve_dtype_size(dtype) || offset + (size_t)size->valuedouble > bin_len)
        return bert_error_set(err, BERT_EMISMATCH, "output %s: binary_data_size does not fit", name);
      v->binary = bin + offset;
      return BERT_OK;
    }
    v->data = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (cJSON_GetArraySize(v->data) != (int)n) return bert_error_set(err, BERT_EMISMATCH, "output %s: wrong data size", name);
    v->next = v->data->child;
    return BERT_OK;
  }
  return bert_error_set(err, BERT_EMISMATCH, "output %s is missing from the response", name);
}

int bert_serve_bench_verify(const bert_serve_bench_batch *b, const bert_serve_bench_model *m, const char *body, size_t len,
                            int64_t header_len, double rtol, double atol, bert_error *err) {
  size_t json_len = header_len >= 0 && (size_t)header_len <= len ? (size_t)header_len : len;
  cJSON *root = cJSON_ParseWithLength(body, json_len);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return bert_error_set(err, BERT_EFORMAT, "the response is not a JSON object");
  }
  const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
  int rc = BERT_OK;
  for (int k = 0; k < 2 && !rc; k++) {
    if (m->out_role[k] < 0) continue;
    const bert_serve_io *io = &m->cfg.outputs[m->out_role[k]];
    output_view v;
    memset(&v, 0, sizeof v);
    rc = locate(outputs, io->name, b, m, io->dtype, body + json_len, len - json_len, &v, err);
    if (!rc) rc = check_values(b, k ? b->end : b->start, &v, io->name, rtol, atol, err);
  }
  cJSON_Delete(root);
  return rc;
}

int bert_serve_bench_verify_raw(const bert_serve_bench_batch *b, const bert_serve_bench_model *m,
                                const bert_serve_bench_output *outs, int n, double rtol, double atol, bert_error *err) {
  size_t cells = (size_t)b->rows * b->len;
  for (int k = 0; k < 2; k++) {
    if (m->out_role[k] < 0) continue;
    const bert_serve_io *io = &m->cfg.outputs[m->out_role[k]];
    const bert_serve_bench_output *o = NULL;
    for (int i = 0; i < n && !o; i++) o = strcmp(outs[i].name, io->name) ? NULL : &outs[i];
    if (!o) return bert_error_set(err, BERT_EMISMATCH, "output %s is missing from the response", io->name);
    int rc = check_head(b, m, io->name, io->dtype, o->datatype, o->shape, o->ndim, err);
    if (rc) return rc;
    if (o->size != cells * bert_serve_dtype_size(io->dtype))
      return bert_error_set(err, BERT_EMISMATCH, "output %s: %zu bytes of raw contents, its shape needs %zu", io->name, o->size,
                            cells * bert_serve_dtype_size(io->dtype));
    output_view v = {io->dtype, o->data, NULL, NULL};
    if ((rc = check_values(b, k ? b->end : b->start, &v, io->name, rtol, atol, err))) return rc;
  }
  return BERT_OK;
}
