/* The v2 request parser (JSON header + binary extension) and the response encoder. Every JSON
 * value is type-checked before use: a string where a shape belongs must be a 400, never a crash
 * (Triton server#1649). */
#include "serve/infer_request.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/gemm.h"
#include "train/half.h"

/* Elements of one tensor: bounds the work a shape may ask for before data is even looked at. */
#define REQUEST_MAX_ELEMENTS ((int64_t)1 << 31)

typedef struct parse_ctx {
  bert_serve_request *req;
  const bert_serve_model_config *cfg;
  const char *bin;      /* binary section after the JSON header */
  size_t bin_len, bin_used;
  int binary_output;    /* request parameter binary_data_output */
  bert_error *err;
} parse_ctx;

static int bad(bert_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(bert_error *err, const char *fmt, ...) {
  char msg[sizeof err->message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return bert_error_set(err, BERT_EINVAL, "%s", msg);
}

/* An integral JSON number in [lo, hi]. */
static int json_int(const cJSON *v, double lo, double hi, int64_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!(d >= lo && d <= hi) || d != floor(d)) return 0;
  *out = (int64_t)d;
  return 1;
}

static void shape_text(char *out, size_t cap, const int64_t *shape, int ndim, int batch_dim) {
  size_t n = (size_t)snprintf(out, cap, "[");
  if (batch_dim) n += (size_t)snprintf(out + n, cap - n, "-1%s", ndim ? "," : "");
  for (int i = 0; i < ndim && n < cap; i++) n += (size_t)snprintf(out + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
  if (n < cap) snprintf(out + n, cap - n, "]");
}

/* ---- element conversion (JSON data) ---- */

/* Element i of a fixed-size tensor from a JSON scalar. */
static int store_element(parse_ctx *c, const char *name, const cJSON *v, bert_serve_dtype t, void *dst, int64_t i) {
  double lo, hi;
  if (bert_serve_dtype_int_range(t, &lo, &hi)) {
    int64_t x;
    if (t == BERT_SERVE_BOOL && cJSON_IsBool(v)) x = cJSON_IsTrue(v);
    else if (!json_int(v, lo, hi, &x))
      return bad(c->err, "input '%s': data element %lld is not a valid %s value", name, (long long)i, bert_serve_dtype_name(t));
    bert_serve_store_int(dst, t, i, x);
    return BERT_OK;
  }
  if (!cJSON_IsNumber(v)) return bad(c->err, "input '%s': data element %lld is not a number", name, (long long)i);
  double d = v->valuedouble;
  if (t == BERT_SERVE_FP64) memcpy((char *)dst + 8 * i, &d, 8);
  else if (t == BERT_SERVE_FP32) { float f = (float)d; memcpy((char *)dst + 4 * i, &f, 4); }
  else { uint16_t h = bert_f32_to_f16((float)d); memcpy((char *)dst + 2 * i, &h, 2); }
  return BERT_OK;
}

typedef struct json_walk {
  parse_ctx *c;
  const char *name;
  bert_serve_dtype dtype;
  void *dst;           /* fixed-size elements */
  bert_strbuf bytes;   /* serialised BYTES */
  int64_t count, expected;
} json_walk;

/* Flattens nested arrays (row-major) into elements; counts past `expected` stop the walk. */
static int walk_data(json_walk *w, const cJSON *v) {
  if (cJSON_IsArray(v)) {
    for (const cJSON *x = v->child; x; x = x->next) {
      int rc = walk_data(w, x);
      if (rc) return rc;
    }
    return BERT_OK;
  }
  if (w->count >= w->expected)
    return bad(w->c->err, "input '%s': data has more elements than its shape's %lld", w->name, (long long)w->expected);
  if (w->dtype == BERT_SERVE_BYTES) {
    if (!cJSON_IsString(v)) return bad(w->c->err, "input '%s': BYTES data element %lld is not a string", w->name, (long long)w->count);
    size_t n = strlen(v->valuestring);
    uint32_t len = (uint32_t)n;
    bert_strbuf_append(&w->bytes, (const char *)&len, 4);
    bert_strbuf_append(&w->bytes, v->valuestring, n);
    w->count++;
    return BERT_OK;
  }
  return store_element(w->c, w->name, v, w->dtype, w->dst, w->count++);
}

/* Leaf elements of nested arrays, counted up to just past `limit`. */
static int64_t count_elements(const cJSON *v, int64_t limit) {
  if (!cJSON_IsArray(v)) return 1;
  int64_t n = 0;
  for (const cJSON *x = v->child; x && n <= limit; x = x->next) n += count_elements(x, limit - n);
  return n;
}

static int decode_json_data(parse_ctx *c, const cJSON *data, bert_serve_tensor *t, int64_t n) {
  if (t->dtype == BERT_SERVE_BF16) return bad(c->err, "input '%s': BF16 data must be sent as binary data", t->name);
  /* The data must hold the shape's elements before memory is taken for them: a 20-byte shape may
   * ask for 2^31, the JSON holds what it holds. */
  int64_t have = count_elements(data, n);
  if (have > n) return bad(c->err, "input '%s': data has more elements than its shape's %lld", t->name, (long long)n);
  if (have < n)
    return bad(c->err, "input '%s': data has %lld elements, its shape %lld", t->name, (long long)have, (long long)n);
  json_walk w = {c, t->name, t->dtype, NULL, {0}, 0, n};
  if (t->dtype != BERT_SERVE_BYTES) {
    size_t bytes = (size_t)n * bert_serve_dtype_size(t->dtype);
    if (!(w.dst = malloc(bytes ? bytes : 1))) return bert_error_set(c->err, BERT_ENOMEM, "out of memory");
    t->data = w.dst, t->bytes = bytes, t->owned = 1;
  }
  int rc = walk_data(&w, data);
  if (!rc && w.count != n)
    rc = bad(c->err, "input '%s': data has %lld elements, its shape %lld", t->name, (long long)w.count, (long long)n);
  if (t->dtype == BERT_SERVE_BYTES) {
    if (!rc && w.bytes.failed) rc = bert_error_set(c->err, BERT_ENOMEM, "out of memory");
    t->data = w.bytes.data, t->bytes = w.bytes.len, t->owned = 1;
    if (!t->data && !rc && !(t->data = calloc(1, 1))) rc = bert_error_set(c->err, BERT_ENOMEM, "out of memory");
  }
  return rc;
}

/* ---- inputs ---- */

/* Checks the shape against the config ([-1] + dims when batching); returns the batch size. */
static int check_shape(const bert_serve_model_config *cfg, const bert_serve_io *io, const bert_serve_tensor *t, int *batch,
                       bert_error *err) {
  int batching = cfg->max_batch_size > 0, ok = t->ndim == io->ndim + batching;
  for (int i = 0; ok && i < io->ndim; i++) ok = io->dims[i] < 0 || io->dims[i] == t->shape[i + batching];
  if (!ok) {
    char want[200], got[200];
    shape_text(want, sizeof want, io->dims, io->ndim, batching);
    shape_text(got, sizeof got, t->shape, t->ndim, 0);
    return bad(err, "unexpected shape for input '%s' for model '%s': expected %s, got %s", io->name, cfg->name, want, got);
  }
  *batch = batching ? (int)t->shape[0] : 1;
  if (batching && (t->shape[0] < 1 || t->shape[0] > cfg->max_batch_size))
    return bad(err, "input '%s': batch size %lld is outside [1, %d], the model's max_batch_size", io->name,
               (long long)t->shape[0], cfg->max_batch_size);
  return BERT_OK;
}

int bert_serve_request_input_data(bert_serve_tensor *t, int64_t elements, const void *data, size_t bytes, bert_error *err) {
  t->data = (void *)data, t->bytes = bytes, t->owned = 0;
  if (t->dtype == BERT_SERVE_BYTES) {
    int rc = bert_serve_bytes_check(t->data, t->bytes, elements, err);
    return rc ? bert_error_prefix(err, "input '%s': ", t->name) : BERT_OK;
  }
  size_t want = (size_t)elements * bert_serve_dtype_size(t->dtype);
  if (t->bytes != want)
    return bad(err, "input '%s': its data is %zu bytes, its shape and %s need %zu", t->name, t->bytes,
               bert_serve_dtype_name(t->dtype), want);
  return BERT_OK;
}

/* Binary data of `size` bytes for input t: the next bytes after the JSON header. */
static int take_binary(parse_ctx *c, bert_serve_tensor *t, const cJSON *size_item, int64_t n) {
  int64_t size;
  if (!json_int(size_item, 0, 9.0e15, &size)) return bad(c->err, "input '%s': binary_data_size must be a non-negative integer", t->name);
  if ((uint64_t)size > c->bin_len - c->bin_used)
    return bad(c->err, "input '%s': binary_data_size %lld runs past the %zu bytes of binary data left in the body", t->name,
               (long long)size, c->bin_len - c->bin_used);
  const char *data = c->bin + c->bin_used;
  c->bin_used += (size_t)size;
  return bert_serve_request_input_data(t, n, data, (size_t)size, c->err);
}

int bert_serve_request_add_input(bert_serve_request *r, const char *name, const char *datatype, const int64_t *shape,
                                 int ndim, bert_serve_tensor **out, int64_t *elements, bert_error *err) {
  const bert_serve_model_config *cfg = r->config;
  int idx = bert_serve_model_config_input(cfg, name);
  if (idx < 0) return bad(err, "unexpected inference input '%.200s' for model '%s'", name, cfg->name);
  bert_serve_tensor *t = &r->inputs[idx];
  if (t->dtype) return bad(err, "input '%s' is given twice", name);
  const bert_serve_io *io = &cfg->inputs[idx];
  bert_serve_dtype dtype = bert_serve_dtype_parse(datatype);
  if (dtype != io->dtype)
    return bad(err, "input '%s': datatype %.40s, the model expects %s", name, datatype, bert_serve_dtype_name(io->dtype));
  if (ndim < 0 || ndim > BERT_SERVE_MAX_DIMS)
    return bad(err, "input '%s': shape has %d dimensions (at most %d)", name, ndim, BERT_SERVE_MAX_DIMS);
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0 || shape[i] > REQUEST_MAX_ELEMENTS)
      return bad(err, "input '%s': shape[%d] is not an integer in [0, %lld]", name, i, (long long)REQUEST_MAX_ELEMENTS);
  snprintf(t->name, sizeof t->name, "%s", io->name);
  if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape); /* a gRPC scalar's shape is NULL */
  t->ndim = ndim;
  int batch = 0, rc = check_shape(cfg, io, t, &batch, err);
  if (rc) return rc;
  if (r->batch && batch != r->batch) return bad(err, "inputs disagree on the batch size (%d and %d)", r->batch, batch);
  int64_t n = bert_serve_shape_elements(t->shape, t->ndim, REQUEST_MAX_ELEMENTS);
  if (n < 0) return bad(err, "input '%s': the shape holds more than %lld elements", name, (long long)REQUEST_MAX_ELEMENTS);
  r->batch = batch;
  t->dtype = dtype; /* marks the input as given (after the checks, so a duplicate is found) */
  *out = t, *elements = n;
  return BERT_OK;
}

int bert_serve_request_inputs_done(bert_serve_request *r, bert_error *err) {
  const bert_serve_model_config *cfg = r->config;
  if (!r->batch) return bad(err, "the request needs at least one input");
  for (int i = 0; i < cfg->n_inputs; i++)
    if (!r->inputs[i].dtype && !cfg->inputs[i].optional)
      return bad(err, "expected input '%s' for model '%s' is missing", cfg->inputs[i].name, cfg->name);
  return BERT_OK;
}

/* The shape of a JSON input, checked for its type only (add_input checks the values). */
static int parse_shape(parse_ctx *c, const char *name, const cJSON *shape, int64_t *dims, int *ndim) {
  if (!cJSON_IsArray(shape)) return bad(c->err, "input '%s': shape must be an array of integers", name);
  int n = cJSON_GetArraySize(shape);
  if (n > BERT_SERVE_MAX_DIMS) return bad(c->err, "input '%s': shape has %d dimensions (at most %d)", name, n, BERT_SERVE_MAX_DIMS);
  int i = 0;
  for (const cJSON *d = shape->child; d; d = d->next, i++)
    if (!json_int(d, 0, (double)REQUEST_MAX_ELEMENTS, &dims[i]))
      return bad(c->err, "input '%s': shape[%d] is not an integer in [0, %lld]", name, i, (long long)REQUEST_MAX_ELEMENTS);
  *ndim = n;
  return BERT_OK;
}

static int parse_input_params(parse_ctx *c, const char *name, const cJSON *params, const cJSON **size_item) {
  *size_item = NULL;
  if (!params) return BERT_OK;
  if (!cJSON_IsObject(params)) return bad(c->err, "input '%s': parameters must be an object", name);
  if (cJSON_GetObjectItemCaseSensitive(params, "shared_memory_region"))
    return bad(c->err, "input '%s': shared memory is not supported by this server", name);
  *size_item = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
  return BERT_OK;
}

static int parse_input(parse_ctx *c, const cJSON *in) {
  if (!cJSON_IsObject(in)) return bad(c->err, "every element of inputs must be an object");
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(in, "name");
  if (!cJSON_IsString(nm)) return bad(c->err, "an input has no name string");
  const char *name = nm->valuestring;
  if (bert_serve_model_config_input(c->cfg, name) < 0)
    return bad(c->err, "unexpected inference input '%.200s' for model '%s'", name, c->cfg->name);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
  if (!cJSON_IsString(dt)) return bad(c->err, "input '%s': datatype must be a string", name);
  int64_t shape[BERT_SERVE_MAX_DIMS];
  int ndim = 0;
  int rc = parse_shape(c, name, cJSON_GetObjectItemCaseSensitive(in, "shape"), shape, &ndim);
  bert_serve_tensor *t = NULL;
  int64_t n = 0;
  if (!rc) rc = bert_serve_request_add_input(c->req, name, dt->valuestring, shape, ndim, &t, &n, c->err);
  const cJSON *size_item, *data = cJSON_GetObjectItemCaseSensitive(in, "data");
  if (!rc) rc = parse_input_params(c, name, cJSON_GetObjectItemCaseSensitive(in, "parameters"), &size_item);
  if (rc) return rc;
  if (size_item && data) return bad(c->err, "input '%s' has both data and binary_data_size", name);
  if (size_item) return take_binary(c, t, size_item, n);
  if (!data) return bad(c->err, "input '%s' has neither data nor binary_data_size", name);
  return decode_json_data(c, data, t, n);
}

static int parse_inputs(parse_ctx *c, const cJSON *inputs) {
  if (!cJSON_IsArray(inputs) || !inputs->child) return bad(c->err, "the request needs a non-empty inputs array");
  for (const cJSON *in = inputs->child; in; in = in->next) {
    int rc = parse_input(c, in);
    if (rc) return rc;
  }
  int rc = bert_serve_request_inputs_done(c->req, c->err);
  if (!rc && c->bin_used != c->bin_len)
    return bad(c->err, "%zu bytes of binary data after the last binary input are not claimed by any binary_data_size",
               c->bin_len - c->bin_used);
  return rc;
}

/* ---- requested outputs ---- */

static int outputs_alloc(bert_serve_request *r, bert_error *err) {
  if (r->outputs) return BERT_OK;
  r->outputs = calloc((size_t)r->config->n_outputs, sizeof *r->outputs);
  return r->outputs ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
}

int bert_serve_request_all_outputs(bert_serve_request *r, int binary, bert_error *err) {
  int rc = outputs_alloc(r, err);
  if (rc) return rc;
  for (int i = 0; i < r->config->n_outputs; i++) r->outputs[i].index = i, r->outputs[i].binary = binary;
  r->n_outputs = r->config->n_outputs;
  return BERT_OK;
}

int bert_serve_request_add_output(bert_serve_request *r, const char *name, int binary, bert_error *err) {
  int rc = outputs_alloc(r, err);
  if (rc) return rc;
  int idx = bert_serve_model_config_output(r->config, name);
  if (idx < 0) return bad(err, "unexpected inference output '%.200s' for model '%s'", name, r->config->name);
  for (int j = 0; j < r->n_outputs; j++)
    if (r->outputs[j].index == idx) return bad(err, "output '%s' is requested twice", name);
  r->outputs[r->n_outputs].index = idx, r->outputs[r->n_outputs].binary = binary;
  r->n_outputs++;
  return BERT_OK;
}

static int output_binary(parse_ctx *c, const char *name, const cJSON *params, int *binary) {
  *binary = c->binary_output;
  if (!params) return BERT_OK;
  if (!cJSON_IsObject(params)) return bad(c->err, "output '%s': parameters must be an object", name);
  if (cJSON_GetObjectItemCaseSensitive(params, "shared_memory_region"))
    return bad(c->err, "output '%s': shared memory is not supported by this server", name);
  if (cJSON_GetObjectItemCaseSensitive(params, "classification"))
    return bad(c->err, "output '%s': classification outputs are not supported by this server", name);
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(params, "binary_data");
  if (b && !cJSON_IsBool(b)) return bad(c->err, "output '%s': binary_data must be true or false", name);
  if (b) *binary = cJSON_IsTrue(b);
  return BERT_OK;
}

static int parse_outputs(parse_ctx *c, const cJSON *outputs) {
  if (!outputs || (cJSON_IsArray(outputs) && !outputs->child)) /* none named, or [] (Triton's "all") */
    return bert_serve_request_all_outputs(c->req, c->binary_output, c->err);
  if (!cJSON_IsArray(outputs)) return bad(c->err, "outputs must be an array");
  for (const cJSON *o = outputs->child; o; o = o->next) {
    const cJSON *name = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "name") : NULL;
    if (!cJSON_IsString(name)) return bad(c->err, "every requested output must be an object with a name string");
    int binary, rc = output_binary(c, name->valuestring, cJSON_GetObjectItemCaseSensitive(o, "parameters"), &binary);
    if (!rc) rc = bert_serve_request_add_output(c->req, name->valuestring, binary, c->err);
    if (rc) return rc;
  }
  return BERT_OK;
}

/* ---- the header ---- */

static int parse_parameters(parse_ctx *c, const cJSON *params) {
  if (!params) return BERT_OK;
  if (!cJSON_IsObject(params)) return bad(c->err, "parameters must be an object");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(params, "binary_data_output");
  if (b && !cJSON_IsBool(b)) return bad(c->err, "parameters.binary_data_output must be true or false");
  c->binary_output = cJSON_IsTrue(b);
  return BERT_OK;
}

static int parse_header(parse_ctx *c, const cJSON *root) {
  if (!cJSON_IsObject(root)) return bad(c->err, "the request header must be a JSON object");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
  if (id && !cJSON_IsString(id)) return bad(c->err, "id must be a string");
  if (id && !(c->req->id = strdup(id->valuestring))) return bert_error_set(c->err, BERT_ENOMEM, "out of memory");
  int rc = parse_parameters(c, cJSON_GetObjectItemCaseSensitive(root, "parameters"));
  if (!rc) rc = parse_inputs(c, cJSON_GetObjectItemCaseSensitive(root, "inputs"));
  if (!rc) rc = parse_outputs(c, cJSON_GetObjectItemCaseSensitive(root, "outputs"));
  return rc;
}

static int parse_json_header(parse_ctx *c, const char *text, size_t len) {
  if (len == 0) return bad(c->err, "the request body is empty: a JSON inference request is expected");
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root) {
    size_t at = end && end >= text ? (size_t)(end - text) : 0;
    return bad(c->err, "the request header is not valid JSON (near byte %zu of %zu)", at, len);
  }
  while (end && end < text + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
  int rc = end && end < text + len ? bad(c->err, "unexpected bytes after the JSON request header (at byte %zu); binary data needs Inference-Header-Content-Length",
                                         (size_t)(end - text))
                                   : parse_header(c, root);
  cJSON_Delete(root);
  return rc;
}

/* Inference-Header-Content-Length: 0 — the whole body is the one input, batch 1, outputs binary. */
static int parse_raw(parse_ctx *c, size_t len) {
  const bert_serve_model_config *cfg = c->cfg;
  if (cfg->n_inputs != 1)
    return bad(c->err, "a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; '%s' has %d",
               cfg->name, cfg->n_inputs);
  const bert_serve_io *io = &cfg->inputs[0];
  size_t es = bert_serve_dtype_size(io->dtype);
  bert_serve_tensor *t = &c->req->inputs[0];
  int batching = cfg->max_batch_size > 0, variable = -1;
  int64_t fixed = 1;
  t->ndim = io->ndim + batching;
  if (batching) t->shape[0] = 1;
  for (int i = 0; i < io->ndim; i++) {
    if (io->dims[i] < 0 && variable >= 0) return bad(c->err, "a raw binary request cannot give a shape with two variable dimensions");
    if (io->dims[i] < 0) variable = i;
    else fixed *= io->dims[i];
    t->shape[i + batching] = io->dims[i];
  }
  if (!es || len % (es * (size_t)fixed)) return bad(c->err, "raw binary request of %zu bytes does not fit input '%s'", len, io->name);
  if (variable >= 0) t->shape[variable + batching] = (int64_t)(len / (es * (size_t)fixed));
  else if (len != es * (size_t)fixed) return bad(c->err, "raw binary request of %zu bytes, input '%s' needs %zu", len, io->name, es * (size_t)fixed);
  snprintf(t->name, sizeof t->name, "%s", io->name);
  t->dtype = io->dtype, t->data = c->req->body, t->bytes = len;
  c->req->batch = 1;
  c->binary_output = 1;
  return parse_outputs(c, NULL);
}

int bert_serve_request_new(bert_serve_request **out, const bert_serve_model_config *cfg, bert_error *err) {
  bert_serve_request *r = calloc(1, sizeof *r);
  if (!r || !(r->inputs = calloc((size_t)cfg->n_inputs, sizeof *r->inputs))) {
    free(r);
    *out = NULL;
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  r->config = cfg;
  *out = r;
  return BERT_OK;
}

int bert_serve_request_parse(bert_serve_request **out, const bert_serve_model_config *cfg, char *body, size_t len,
                             int64_t header_len, bert_error *err) {
  bert_serve_request *r;
  if (bert_serve_request_new(&r, cfg, err)) {
    free(body);
    return err->code;
  }
  *out = NULL;
  r->body = body;
  parse_ctx c = {r, cfg, NULL, 0, 0, 0, err};
  int rc;
  if (header_len > (int64_t)len) {
    rc = bad(err, "Inference-Header-Content-Length %lld exceeds the body's %zu bytes", (long long)header_len, len);
  } else if (header_len == 0) {
    rc = parse_raw(&c, len);
  } else {
    size_t json_len = header_len < 0 ? len : (size_t)header_len;
    c.bin = body + json_len, c.bin_len = len - json_len;
    rc = parse_json_header(&c, body, json_len);
  }
  if (rc) {
    bert_serve_request_free(r);
    return rc;
  }
  *out = r;
  return BERT_OK;
}

/* ---- the size bound of a JSON header ---- */

/* One element as JSON: the longest number (-1.2345678901234567e-308, 24 characters), its
 * separator and the indentation of pretty-printed nested data. */
#define JSON_ELEMENT_BYTES 40
/* A variable dimension's size when the backend gives no bound. */
#define JSON_VARIABLE_DIM_CAP 8192
/* Per tensor (name, datatype, shape, parameters) and per request (id, parameters). */
#define JSON_TENSOR_SLACK_BYTES 4096
#define JSON_TENSOR_SLACK_VALUES 64
#define JSON_REQUEST_SLACK_BYTES (64 * 1024)
#define JSON_REQUEST_SLACK_VALUES 1024

static int64_t io_elements(const bert_serve_io *io, int rows, int64_t max_dim) {
  int64_t n = rows;
  for (int d = 0; d < io->ndim; d++) {
    int64_t k = io->dims[d] > 0 ? io->dims[d] : max_dim;
    n = n > REQUEST_MAX_ELEMENTS / k ? REQUEST_MAX_ELEMENTS : n * k;
  }
  return n;
}

void bert_serve_json_limit_init(bert_serve_json_limit *lim, const bert_serve_model_config *cfg, int64_t max_dim) {
  int rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
  if (max_dim <= 0) max_dim = JSON_VARIABLE_DIM_CAP;
  lim->bytes = JSON_REQUEST_SLACK_BYTES + (size_t)cfg->n_outputs * JSON_TENSOR_SLACK_BYTES;
  lim->values = JSON_REQUEST_SLACK_VALUES + (int64_t)cfg->n_outputs * JSON_TENSOR_SLACK_VALUES;
  for (int i = 0; i < cfg->n_inputs; i++) {
    int64_t n = io_elements(&cfg->inputs[i], rows, max_dim);
    if (cfg->inputs[i].dtype == BERT_SERVE_BYTES) lim->bytes = SIZE_MAX; /* only the value count bounds strings */
    else if (lim->bytes != SIZE_MAX) lim->bytes += (size_t)n * JSON_ELEMENT_BYTES + JSON_TENSOR_SLACK_BYTES;
    /* the elements, and per nesting level (batch and dims) at most as many arrays */
    lim->values += (int64_t)(cfg->inputs[i].ndim + 2) * n + JSON_TENSOR_SLACK_VALUES;
  }
}

/* An upper bound of the JSON values in `s` (one per separator, one per container for its first
 * value, and the root; commas inside strings do not count), or a number past `most`. */
static int64_t json_values_bound(const char *s, size_t n, int64_t most) {
  int64_t count = 1;
  int in_string = 0;
  for (size_t i = 0; i < n && count <= most; i++) {
    char ch = s[i];
    if (in_string) {
      if (ch == '\\') i++;
      else if (ch == '"') in_string = 0;
    } else if (ch == '"') {
      in_string = 1;
    } else if (ch == ',' || ch == '[' || ch == '{') {
      count++;
    }
  }
  return count;
}

int bert_serve_json_limit_check(const bert_serve_json_limit *lim, const char *model, const char *json, size_t len,
                                bert_error *err) {
  if (len > lim->bytes)
    return bert_error_set(err, BERT_ERANGE,
                          "the JSON request header of %zu bytes is longer than any valid request for model '%s' can be "
                          "(%zu bytes at its max_batch_size and dims)", len, model, lim->bytes);
  if (json_values_bound(json, len, lim->values) > lim->values)
    return bert_error_set(err, BERT_ERANGE,
                          "the JSON request header holds more values than any valid request for model '%s' can "
                          "(%lld at its max_batch_size and dims)", model, (long long)lim->values);
  return BERT_OK;
}

void bert_serve_request_free(bert_serve_request *r) {
  if (!r) return;
  for (int i = 0; r->inputs && i < r->config->n_inputs; i++) bert_serve_tensor_free(&r->inputs[i]);
  for (int i = 0; i < r->n_outputs; i++) bert_serve_tensor_free(&r->outputs[i].tensor);
  free(r->inputs), free(r->outputs), free(r->id), free(r->body);
  if (r->release) r->release(r->release_arg);
  free(r);
}

bert_serve_tensor *bert_serve_request_output(bert_serve_request *r, int index) {
  for (int i = 0; i < r->n_outputs; i++)
    if (r->outputs[i].index == index) return &r->outputs[i].tensor;
  return NULL;
}

/* ---- the response ---- */

void bert_serve_json_string(bert_strbuf *s, const char *text, size_t n) {
  bert_strbuf_append(s, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    bert_strbuf_append(s, text + run, i - run);
    run = i + 1;
    if (ch == '"' || ch == '\\') {
      char esc[2] = {'\\', (char)ch};
      bert_strbuf_append(s, esc, 2);
    } else {
      bert_strbuf_printf(s, "\\u%04x", ch);
    }
  }
  bert_strbuf_append(s, text + run, n - run);
  bert_strbuf_append(s, "\"", 1);
}

static void json_element(bert_strbuf *s, const bert_serve_tensor *t, int64_t i) {
  const char *p = t->data;
  switch (t->dtype) {
    case BERT_SERVE_FP32: { float f; memcpy(&f, p + 4 * i, 4); bert_strbuf_float(s, f); break; }
    case BERT_SERVE_FP16: { uint16_t h; memcpy(&h, p + 2 * i, 2); bert_strbuf_float(s, bert_f16_to_f32(h)); break; }
    case BERT_SERVE_BF16: { uint16_t h; memcpy(&h, p + 2 * i, 2); bert_strbuf_float(s, bert_bf16_to_float(h)); break; }
    case BERT_SERVE_FP64: {
      double d;
      memcpy(&d, p + 8 * i, 8);
      if (isfinite(d)) bert_strbuf_printf(s, "%.17g", d);
      else bert_strbuf_puts(s, "null");
      break;
    }
    case BERT_SERVE_BOOL: bert_strbuf_puts(s, p[i] ? "true" : "false"); break;
    case BERT_SERVE_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); bert_strbuf_printf(s, "%llu", (unsigned long long)v); break; }
    default: bert_strbuf_printf(s, "%lld", (long long)bert_serve_tensor_int(t, i)); break;
  }
}

static void json_data(bert_strbuf *s, const bert_serve_tensor *t) {
  int64_t n = bert_serve_shape_elements(t->shape, t->ndim, INT64_MAX);
  bert_strbuf_puts(s, ",\"data\":[");
  for (int64_t i = 0; i < n; i++) {
    if (i) bert_strbuf_append(s, ",", 1);
    if (t->dtype == BERT_SERVE_BYTES) {
      uint32_t len;
      const char *e = bert_serve_bytes_element(t->data, i, &len);
      bert_serve_json_string(s, e, len);
    } else {
      json_element(s, t, i);
    }
  }
  bert_strbuf_append(s, "]", 1);
}

static void output_header(bert_strbuf *s, const bert_serve_output_slot *o) {
  const bert_serve_tensor *t = &o->tensor;
  bert_strbuf_puts(s, "{\"name\":");
  bert_serve_json_string(s, t->name, strlen(t->name));
  bert_strbuf_printf(s, ",\"datatype\":\"%s\",\"shape\":[", bert_serve_dtype_name(t->dtype));
  for (int d = 0; d < t->ndim; d++) bert_strbuf_printf(s, "%s%lld", d ? "," : "", (long long)t->shape[d]);
  bert_strbuf_append(s, "]", 1);
  if (o->binary) bert_strbuf_printf(s, ",\"parameters\":{\"binary_data_size\":%zu}", t->bytes);
  else json_data(s, t);
  bert_strbuf_append(s, "}", 1);
}

int bert_serve_response_encode(const bert_serve_request *r, const char *model_name, const char *version,
                               bert_strbuf *out, size_t *header_len, bert_error *err) {
  bert_strbuf_clear(out);
  bert_strbuf_puts(out, "{\"model_name\":");
  bert_serve_json_string(out, model_name, strlen(model_name));
  bert_strbuf_puts(out, ",\"model_version\":");
  bert_serve_json_string(out, version, strlen(version));
  if (r->id) {
    bert_strbuf_puts(out, ",\"id\":");
    bert_serve_json_string(out, r->id, strlen(r->id));
  }
  bert_strbuf_puts(out, ",\"outputs\":[");
  int any_binary = 0;
  for (int i = 0; i < r->n_outputs; i++) {
    if (!r->outputs[i].tensor.data)
      return bert_error_set(err, BERT_EINVAL, "the backend produced no output '%s'", r->config->outputs[r->outputs[i].index].name);
    if (i) bert_strbuf_append(out, ",", 1);
    output_header(out, &r->outputs[i]);
    any_binary |= r->outputs[i].binary;
  }
  bert_strbuf_puts(out, "]}");
  *header_len = any_binary ? out->len : 0;
  for (int i = 0; i < r->n_outputs; i++)
    if (r->outputs[i].binary) bert_strbuf_append(out, r->outputs[i].tensor.data, r->outputs[i].tensor.bytes);
  return out->failed ? bert_error_set(err, BERT_ENOMEM, "out of memory encoding the response") : BERT_OK;
}
