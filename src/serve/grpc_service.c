/* The service's health, metadata, configuration and statistics methods, and its method table;
 * inference is in grpc_infer.c. */
#include "serve/grpc_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_service.pb-c.h"
#include "serve/endpoints.h"
#include "serve/grpc_infer.h"
#include "serve/inference.h"

#define SERVICE "/inference.GRPCInferenceService/"

/* Unpacks a request message, or answers INVALID_ARGUMENT and returns NULL. */
static ProtobufCMessage *unpack(bert_serve_grpc_call *call, const ProtobufCMessageDescriptor *d, const uint8_t *msg, size_t len) {
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, msg);
  if (!m) {
    char text[200];
    snprintf(text, sizeof text, "the message is not a valid %s", d->name);
    bert_serve_grpc_fail(call, BERT_GRPC_INVALID_ARGUMENT, text);
  }
  return m;
}

static void reply(bert_serve_grpc_call *call, const ProtobufCMessage *m) {
  size_t len = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) {
    bert_serve_grpc_fail(call, BERT_GRPC_INTERNAL, "out of memory");
    return;
  }
  protobuf_c_message_pack(m, buf);
  bert_serve_grpc_reply(call, buf, len);
}

/* The model a request names, or NOT_FOUND answered and NULL. */
static bert_serve_model *find_model(const bert_serve_grpc_service *svc, bert_serve_grpc_call *call, const char *name,
                                    const char *version) {
  bert_error err = {0};
  bert_serve_model *m = bert_serve_model_lookup(svc->repo, name, version, &err);
  if (!m) bert_serve_grpc_fail(call, BERT_GRPC_NOT_FOUND, err.message);
  return m;
}

/* ---- health and metadata ---- */

static void server_live(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  (void)ctx;
  ProtobufCMessage *in = unpack(call, &inference__server_live_request__descriptor, msg, len);
  if (!in) return;
  protobuf_c_message_free_unpacked(in, NULL);
  Inference__ServerLiveResponse out = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
  out.live = 1;
  reply(call, &out.base);
}

static void server_ready(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  const bert_serve_grpc_service *svc = ctx;
  ProtobufCMessage *in = unpack(call, &inference__server_ready_request__descriptor, msg, len);
  if (!in) return;
  protobuf_c_message_free_unpacked(in, NULL);
  Inference__ServerReadyResponse out = INFERENCE__SERVER_READY_RESPONSE__INIT;
  out.ready = !atomic_load(svc->stopping);
  reply(call, &out.base);
}

/* Triton answers ready = false for a model it does not serve (not an error). */
static void model_ready(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  const bert_serve_grpc_service *svc = ctx;
  Inference__ModelReadyRequest *in = (Inference__ModelReadyRequest *)unpack(call, &inference__model_ready_request__descriptor, msg, len);
  if (!in) return;
  bert_error err = {0};
  Inference__ModelReadyResponse out = INFERENCE__MODEL_READY_RESPONSE__INIT;
  out.ready = bert_serve_model_lookup(svc->repo, in->name, in->version, &err) && !atomic_load(svc->stopping);
  inference__model_ready_request__free_unpacked(in, NULL);
  reply(call, &out.base);
}

static void server_metadata(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  (void)ctx;
  ProtobufCMessage *in = unpack(call, &inference__server_metadata_request__descriptor, msg, len);
  if (!in) return;
  protobuf_c_message_free_unpacked(in, NULL);
  Inference__ServerMetadataResponse out = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
  out.name = BERT_SERVE_SERVER_NAME, out.version = BERT_SERVE_SERVER_VERSION;
  /* protobuf-c's fields are not const; packing only reads them */
  out.n_extensions = BERT_SERVE_N_EXTENSIONS, out.extensions = (char **)bert_serve_extensions;
  reply(call, &out.base);
}

typedef Inference__ModelMetadataResponse__TensorMetadata tensor_metadata;

/* Tensor metadata of config tensors: the batch dimension as -1 first when the model batches. */
static int fill_tensors(tensor_metadata *t, tensor_metadata **ptrs, int64_t *dims, const bert_serve_io *io, int n,
                        int batching) {
  for (int i = 0; i < n; i++) {
    inference__model_metadata_response__tensor_metadata__init(&t[i]);
    int64_t *d = dims + (size_t)i * (BERT_SERVE_MAX_DIMS + 1);
    int k = 0;
    if (batching) d[k++] = -1;
    for (int j = 0; j < io[i].ndim; j++) d[k++] = io[i].dims[j];
    t[i].name = (char *)io[i].name, t[i].datatype = (char *)bert_serve_dtype_name(io[i].dtype);
    t[i].n_shape = (size_t)k, t[i].shape = d;
    ptrs[i] = &t[i];
  }
  return n;
}

static void model_metadata(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  Inference__ModelMetadataRequest *in = (Inference__ModelMetadataRequest *)unpack(call, &inference__model_metadata_request__descriptor, msg, len);
  if (!in) return;
  bert_serve_model *m = find_model(ctx, call, in->name, in->version);
  inference__model_metadata_request__free_unpacked(in, NULL);
  if (!m) return;
  const bert_serve_model_config *cfg = &m->config;
  int n = cfg->n_inputs + cfg->n_outputs, batching = cfg->max_batch_size > 0;
  tensor_metadata *t = calloc((size_t)n, sizeof *t);
  tensor_metadata **ptrs = calloc((size_t)n, sizeof *ptrs);
  int64_t *dims = calloc((size_t)n * (BERT_SERVE_MAX_DIMS + 1), sizeof *dims);
  if (t && ptrs && dims) {
    char *versions[] = {m->version};
    Inference__ModelMetadataResponse out = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
    out.name = (char *)cfg->name, out.n_versions = 1, out.versions = versions;
    out.platform = (char *)(cfg->platform[0] ? cfg->platform : cfg->backend);
    out.n_inputs = (size_t)fill_tensors(t, ptrs, dims, cfg->inputs, cfg->n_inputs, batching), out.inputs = ptrs;
    out.n_outputs = (size_t)fill_tensors(t + cfg->n_inputs, ptrs + cfg->n_inputs, dims + (size_t)cfg->n_inputs * (BERT_SERVE_MAX_DIMS + 1),
                                         cfg->outputs, cfg->n_outputs, batching);
    out.outputs = ptrs + cfg->n_inputs;
    reply(call, &out.base);
  } else {
    bert_serve_grpc_fail(call, BERT_GRPC_INTERNAL, "out of memory");
  }
  free(t), free(ptrs), free(dims);
}

/* ---- configuration ---- */

static Inference__DataType config_type(bert_serve_dtype t) {
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(&inference__data_type__descriptor, bert_serve_dtype_config_name(t));
  return v ? (Inference__DataType)v->value : INFERENCE__DATA_TYPE__TYPE_INVALID;
}

typedef struct config_parts {
  Inference__ModelInput *in, **in_ptrs;
  Inference__ModelOutput *out, **out_ptrs;
  Inference__ModelConfig__ParametersEntry *params, **param_ptrs;
  Inference__ModelParameter *values;
  int32_t preferred[BERT_SERVE_MAX_PREFERRED];
} config_parts;

static int config_parts_alloc(config_parts *p, const bert_serve_model_config *cfg) {
  size_t ni = (size_t)cfg->n_inputs + 1, no = (size_t)cfg->n_outputs + 1, np = (size_t)cfg->n_params + 1;
  p->in = calloc(ni, sizeof *p->in), p->in_ptrs = calloc(ni, sizeof *p->in_ptrs);
  p->out = calloc(no, sizeof *p->out), p->out_ptrs = calloc(no, sizeof *p->out_ptrs);
  p->params = calloc(np, sizeof *p->params), p->param_ptrs = calloc(np, sizeof *p->param_ptrs);
  p->values = calloc(np, sizeof *p->values);
  return p->in && p->in_ptrs && p->out && p->out_ptrs && p->params && p->param_ptrs && p->values;
}

static void config_parts_free(config_parts *p) {
  free(p->in), free(p->in_ptrs), free(p->out), free(p->out_ptrs), free(p->params), free(p->param_ptrs), free(p->values);
}

static void config_tensors(Inference__ModelConfig *c, config_parts *p, const bert_serve_model_config *cfg) {
  for (int i = 0; i < cfg->n_inputs; i++) {
    inference__model_input__init(&p->in[i]);
    p->in[i].name = (char *)cfg->inputs[i].name, p->in[i].data_type = config_type(cfg->inputs[i].dtype);
    p->in[i].n_dims = (size_t)cfg->inputs[i].ndim, p->in[i].dims = (int64_t *)cfg->inputs[i].dims;
    p->in[i].optional = cfg->inputs[i].optional;
    p->in_ptrs[i] = &p->in[i];
  }
  for (int i = 0; i < cfg->n_outputs; i++) {
    inference__model_output__init(&p->out[i]);
    p->out[i].name = (char *)cfg->outputs[i].name, p->out[i].data_type = config_type(cfg->outputs[i].dtype);
    p->out[i].n_dims = (size_t)cfg->outputs[i].ndim, p->out[i].dims = (int64_t *)cfg->outputs[i].dims;
    p->out_ptrs[i] = &p->out[i];
  }
  c->n_input = (size_t)cfg->n_inputs, c->input = p->in_ptrs;
  c->n_output = (size_t)cfg->n_outputs, c->output = p->out_ptrs;
}

static void config_parameters(Inference__ModelConfig *c, config_parts *p, const bert_serve_model_config *cfg) {
  for (int i = 0; i < cfg->n_params; i++) {
    inference__model_parameter__init(&p->values[i]);
    p->values[i].string_value = cfg->params[i].value;
    inference__model_config__parameters_entry__init(&p->params[i]);
    p->params[i].key = cfg->params[i].key, p->params[i].value = &p->values[i];
    p->param_ptrs[i] = &p->params[i];
  }
  c->n_parameters = (size_t)cfg->n_params, c->parameters = p->param_ptrs;
}

static void model_config(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  Inference__ModelConfigRequest *in = (Inference__ModelConfigRequest *)unpack(call, &inference__model_config_request__descriptor, msg, len);
  if (!in) return;
  bert_serve_model *m = find_model(ctx, call, in->name, in->version);
  inference__model_config_request__free_unpacked(in, NULL);
  if (!m) return;
  const bert_serve_model_config *cfg = &m->config;
  config_parts p = {0};
  if (config_parts_alloc(&p, cfg)) {
    Inference__ModelConfig c = INFERENCE__MODEL_CONFIG__INIT;
    c.name = (char *)cfg->name, c.platform = (char *)cfg->platform, c.backend = (char *)cfg->backend;
    c.max_batch_size = cfg->max_batch_size;
    config_tensors(&c, &p, cfg);
    config_parameters(&c, &p, cfg);
    Inference__ModelDynamicBatching db = INFERENCE__MODEL_DYNAMIC_BATCHING__INIT;
    if (cfg->dynamic_batching) {
      for (int i = 0; i < cfg->n_preferred; i++) p.preferred[i] = cfg->preferred[i];
      db.n_preferred_batch_size = (size_t)cfg->n_preferred, db.preferred_batch_size = p.preferred;
      db.max_queue_delay_microseconds = (uint64_t)cfg->max_queue_delay_us, db.preserve_ordering = cfg->preserve_ordering;
      c.scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_DYNAMIC_BATCHING, c.dynamic_batching = &db;
    }
    Inference__ModelInstanceGroup group = INFERENCE__MODEL_INSTANCE_GROUP__INIT, *groups[] = {&group};
    group.kind = INFERENCE__MODEL_INSTANCE_GROUP__KIND__KIND_CPU, group.count = cfg->instance_count;
    c.n_instance_group = 1, c.instance_group = groups;
    Inference__ModelConfigResponse out = INFERENCE__MODEL_CONFIG_RESPONSE__INIT;
    out.config = &c;
    reply(call, &out.base);
  } else {
    bert_serve_grpc_fail(call, BERT_GRPC_INTERNAL, "out of memory");
  }
  config_parts_free(&p);
}

/* ---- statistics ---- */

typedef struct stats_parts {
  Inference__ModelStatistics model;
  Inference__InferStatistics infer;
  Inference__StatisticDuration d[6];
  Inference__InferBatchStatistics *batch, **batch_ptrs;
  Inference__StatisticDuration *batch_d;
  bert_serve_stats copy;
} stats_parts;

static Inference__StatisticDuration *duration(Inference__StatisticDuration *d, const bert_serve_duration *s) {
  inference__statistic_duration__init(d);
  d->count = s->count, d->ns = s->ns;
  return d;
}

static void fill_batches(stats_parts *p) {
  const bert_serve_stats *s = &p->copy;
  size_t n = 0;
  for (int b = 1; b <= s->max_batch; b++) {
    const bert_serve_batch_stat *st = &s->by_batch[b];
    if (!st->compute_infer.count) continue;
    Inference__InferBatchStatistics *x = &p->batch[n];
    inference__infer_batch_statistics__init(x);
    x->batch_size = (uint64_t)b;
    x->compute_input = duration(&p->batch_d[3 * n], &st->compute_input);
    x->compute_infer = duration(&p->batch_d[3 * n + 1], &st->compute_infer);
    x->compute_output = duration(&p->batch_d[3 * n + 2], &st->compute_output);
    p->batch_ptrs[n++] = x;
  }
  p->model.n_batch_stats = n, p->model.batch_stats = p->batch_ptrs;
}

/* One model's statistics into p (a consistent copy, as the HTTP statistics). */
static int fill_stats(stats_parts *p, bert_serve_model *m) {
  bert_error err = {0};
  if (bert_serve_stats_copy(&p->copy, &m->stats, &err)) return -1;
  const bert_serve_stats *s = &p->copy;
  size_t nb = (size_t)s->max_batch + 1;
  p->batch = calloc(nb, sizeof *p->batch), p->batch_ptrs = calloc(nb, sizeof *p->batch_ptrs);
  p->batch_d = calloc(3 * nb, sizeof *p->batch_d);
  if (!p->batch || !p->batch_ptrs || !p->batch_d) return -1;
  inference__model_statistics__init(&p->model);
  inference__infer_statistics__init(&p->infer);
  p->model.name = m->config.name, p->model.version = m->version;
  p->model.last_inference = s->last_inference_ms, p->model.inference_count = s->inference_count;
  p->model.execution_count = s->execution_count;
  p->infer.success = duration(&p->d[0], &s->success), p->infer.fail = duration(&p->d[1], &s->fail);
  p->infer.queue = duration(&p->d[2], &s->queue), p->infer.compute_input = duration(&p->d[3], &s->compute_input);
  p->infer.compute_infer = duration(&p->d[4], &s->compute_infer);
  p->infer.compute_output = duration(&p->d[5], &s->compute_output);
  p->model.inference_stats = &p->infer;
  fill_batches(p);
  return 0;
}

static void stats_parts_free(stats_parts *p) {
  free(p->batch), free(p->batch_ptrs), free(p->batch_d);
  if (p->copy.by_batch) bert_serve_stats_free_copy(&p->copy);
}

static void answer_stats(bert_serve_grpc_call *call, bert_serve_model **models, int n) {
  stats_parts *parts = calloc((size_t)(n ? n : 1), sizeof *parts);
  Inference__ModelStatistics **ptrs = calloc((size_t)(n ? n : 1), sizeof *ptrs);
  int ok = parts && ptrs;
  for (int i = 0; ok && i < n; i++) {
    ok = !fill_stats(&parts[i], models[i]);
    ptrs[i] = &parts[i].model;
  }
  if (ok) {
    Inference__ModelStatisticsResponse out = INFERENCE__MODEL_STATISTICS_RESPONSE__INIT;
    out.n_model_stats = (size_t)n, out.model_stats = ptrs;
    reply(call, &out.base);
  } else {
    bert_serve_grpc_fail(call, BERT_GRPC_INTERNAL, "out of memory");
  }
  for (int i = 0; parts && i < n; i++) stats_parts_free(&parts[i]);
  free(parts), free(ptrs);
}

static void model_statistics(void *ctx, bert_serve_grpc_call *call, const uint8_t *msg, size_t len) {
  const bert_serve_grpc_service *svc = ctx;
  Inference__ModelStatisticsRequest *in = (Inference__ModelStatisticsRequest *)unpack(call, &inference__model_statistics_request__descriptor, msg, len);
  if (!in) return;
  if (!in->name[0]) { /* every model */
    inference__model_statistics_request__free_unpacked(in, NULL);
    answer_stats(call, svc->repo->models, svc->repo->count);
    return;
  }
  bert_serve_model *m = find_model(svc, call, in->name, in->version);
  inference__model_statistics_request__free_unpacked(in, NULL);
  if (m) answer_stats(call, &m, 1);
}

const bert_serve_grpc_method bert_serve_grpc_service_methods[] = {
    {SERVICE "ServerLive", 0, server_live},
    {SERVICE "ServerReady", 0, server_ready},
    {SERVICE "ModelReady", 0, model_ready},
    {SERVICE "ServerMetadata", 0, server_metadata},
    {SERVICE "ModelMetadata", 0, model_metadata},
    {SERVICE "ModelConfig", 0, model_config},
    {SERVICE "ModelStatistics", 0, model_statistics},
    {SERVICE "ModelInfer", 0, bert_serve_grpc_model_infer},
    {SERVICE "ModelStreamInfer", 1, bert_serve_grpc_model_stream_infer},
};
const int bert_serve_grpc_service_n_methods = sizeof bert_serve_grpc_service_methods / sizeof bert_serve_grpc_service_methods[0];
