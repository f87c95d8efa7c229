/* config.pbtxt: pbtxt tree -> bert_serve_model_config, and the config -> Triton's JSON form. */
#include "serve/model_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "serve/pbtxt.h"

typedef struct cfg_ctx {
  const char *source;
  bert_serve_model_config *cfg;
  bert_error *err;
  int preserve_line;   /* where preserve_ordering was set, for the error that may follow */
} cfg_ctx;

static int bad(cfg_ctx *c, const bert_pbtxt_node *n, const char *fmt, const char *arg) {
  char what[512];
  snprintf(what, sizeof what, fmt, arg);
  return bert_error_set(c->err, BERT_EFORMAT, "%s:%d: %s", c->source, n ? n->line : 0, what);
}

static void ignored(cfg_ctx *c, const bert_pbtxt_node *n, const char *where) {
  bert_strbuf_printf(&c->cfg->warnings, "%s:%d: %s%s is not used by bertc and is ignored\n", c->source, n->line,
                     where, n->name);
}

static int get_string(cfg_ctx *c, const bert_pbtxt_node *n, char *out, size_t cap) {
  if (n->kind != BERT_PBTXT_STRING) return bad(c, n, "%s must be a quoted string", n->name);
  if (n->value_len >= cap || strlen(n->value) != n->value_len) return bad(c, n, "%s is too long or holds a NUL byte", n->name);
  memcpy(out, n->value, n->value_len + 1);
  return BERT_OK;
}

static int get_int(cfg_ctx *c, const bert_pbtxt_node *n, int64_t lo, int64_t hi, int64_t *out) {
  if (n->kind != BERT_PBTXT_NUMBER) return bad(c, n, "%s must be an integer", n->name);
  char *end;
  errno = 0;
  long long v = strtoll(n->value, &end, 0);
  if (*end || errno || v < lo || v > hi) return bad(c, n, "%s is not an integer in the allowed range", n->name);
  *out = v;
  return BERT_OK;
}

static int get_bool(cfg_ctx *c, const bert_pbtxt_node *n, int *out) {
  if (n->kind == BERT_PBTXT_IDENT && (!strcmp(n->value, "true") || !strcmp(n->value, "True") || !strcmp(n->value, "t")))
    return *out = 1, BERT_OK;
  if (n->kind == BERT_PBTXT_IDENT && (!strcmp(n->value, "false") || !strcmp(n->value, "False") || !strcmp(n->value, "f")))
    return *out = 0, BERT_OK;
  if (n->kind == BERT_PBTXT_NUMBER && (!strcmp(n->value, "0") || !strcmp(n->value, "1")))
    return *out = n->value[0] == '1', BERT_OK;
  return bad(c, n, "%s must be true or false", n->name);
}

static int expect_message(cfg_ctx *c, const bert_pbtxt_node *n) {
  return n->kind == BERT_PBTXT_MESSAGE ? BERT_OK : bad(c, n, "%s must be a message { ... }", n->name);
}

/* ---- input / output ---- */

static int parse_io(cfg_ctx *c, const bert_pbtxt_node *msg, bert_serve_io *io, int is_input) {
  int rc = expect_message(c, msg);
  if (rc) return rc;
  for (int i = 0; i < msg->count; i++) {
    const bert_pbtxt_node *f = &msg->children[i];
    if (!strcmp(f->name, "name")) {
      if ((rc = get_string(c, f, io->name, sizeof io->name))) return rc;
    } else if (!strcmp(f->name, "data_type")) {
      if (f->kind != BERT_PBTXT_IDENT || !(io->dtype = bert_serve_dtype_parse_config(f->value)))
        return bad(c, f, "data_type '%s' is not a TYPE_* data type", f->value ? f->value : "");
    } else if (!strcmp(f->name, "dims")) {
      int64_t d;
      if (io->ndim == BERT_SERVE_MAX_DIMS) return bad(c, f, "more than %s dims", "8");
      if ((rc = get_int(c, f, -1, INT32_MAX, &d))) return rc;
      if (d == 0) return bad(c, f, "%s: a dimension of 0 is not allowed", f->name);
      io->dims[io->ndim++] = d;
    } else if (is_input && !strcmp(f->name, "optional")) {
      if ((rc = get_bool(c, f, &io->optional))) return rc;
    } else if (!strcmp(f->name, "reshape") || !strcmp(f->name, "is_shape_tensor") || !strcmp(f->name, "allow_ragged_batch")) {
      return bad(c, f, "%s is not supported by bertc", f->name);
    } else {
      ignored(c, f, is_input ? "input." : "output.");
    }
  }
  if (!io->name[0]) return bad(c, msg, "an %s has no name", is_input ? "input" : "output");
  if (!io->dtype) return bad(c, msg, "%s has no data_type", io->name);
  if (!io->ndim) return bad(c, msg, "%s has no dims", io->name);
  return BERT_OK;
}

static int parse_ios(cfg_ctx *c, const bert_pbtxt_node *root, const char *field, bert_serve_io **out, int *count) {
  int n = bert_pbtxt_count(root, field);
  if (!n) return bad(c, NULL, "the model has no %s", field);
  if (!(*out = calloc((size_t)n, sizeof **out))) return bert_error_set(c->err, BERT_ENOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    int rc = parse_io(c, bert_pbtxt_get(root, field, i), &(*out)[i], !strcmp(field, "input"));
    if (rc) return rc;
    for (int j = 0; j < i; j++)
      if (!strcmp((*out)[j].name, (*out)[i].name)) return bad(c, bert_pbtxt_get(root, field, i), "two tensors are called %s", (*out)[i].name);
  }
  *count = n;
  return BERT_OK;
}

/* ---- dynamic_batching, instance_group, parameters ---- */

static int parse_dynamic_batching(cfg_ctx *c, const bert_pbtxt_node *msg) {
  bert_serve_model_config *cfg = c->cfg;
  int rc = expect_message(c, msg);
  if (rc) return rc;
  cfg->dynamic_batching = 1;
  for (int i = 0; i < msg->count; i++) {
    const bert_pbtxt_node *f = &msg->children[i];
    int64_t v;
    if (!strcmp(f->name, "preferred_batch_size")) {
      if (cfg->n_preferred == BERT_SERVE_MAX_PREFERRED) return bad(c, f, "more than %s preferred batch sizes", "16");
      if ((rc = get_int(c, f, 1, INT32_MAX, &v))) return rc;
      cfg->preferred[cfg->n_preferred++] = (int)v;
    } else if (!strcmp(f->name, "max_queue_delay_microseconds")) {
      if ((rc = get_int(c, f, 0, 60 * 1000000LL, &v))) return rc;
      cfg->max_queue_delay_us = v;
    } else if (!strcmp(f->name, "preserve_ordering")) {
      /* one instance keeps it: batches are queue prefixes and leave one after another (with
       * more instances, check_config refuses it) */
      if ((rc = get_bool(c, f, &cfg->preserve_ordering))) return rc;
      c->preserve_line = f->line;
    } else {
      ignored(c, f, "dynamic_batching.");
    }
  }
  return BERT_OK;
}

static int parse_instance_group(cfg_ctx *c, const bert_pbtxt_node *msg) {
  int rc = expect_message(c, msg);
  if (rc) return rc;
  int64_t count = 1;
  for (int i = 0; i < msg->count; i++) {
    const bert_pbtxt_node *f = &msg->children[i];
    if (!strcmp(f->name, "count")) {
      if ((rc = get_int(c, f, 1, 64, &count))) return rc;
    } else if (!strcmp(f->name, "kind")) {
      if (f->kind != BERT_PBTXT_IDENT || (strcmp(f->value, "KIND_CPU") && strcmp(f->value, "KIND_AUTO") && strcmp(f->value, "KIND_MODEL")))
        return bad(c, f, "instance_group kind '%s' is not available: bertc runs on the CPU (KIND_CPU)", f->value ? f->value : "");
    } else {
      ignored(c, f, "instance_group.");
    }
  }
  c->cfg->instance_count += (int)count;
  return BERT_OK;
}

static int parse_parameter(cfg_ctx *c, const bert_pbtxt_node *msg) {
  int rc = expect_message(c, msg);
  if (rc) return rc;
  const bert_pbtxt_node *key = bert_pbtxt_get(msg, "key", 0), *value = bert_pbtxt_get(msg, "value", 0);
  const bert_pbtxt_node *sv = value && value->kind == BERT_PBTXT_MESSAGE ? bert_pbtxt_get(value, "string_value", 0) : NULL;
  if (!key || key->kind != BERT_PBTXT_STRING || !sv || sv->kind != BERT_PBTXT_STRING)
    return bad(c, msg, "%s must be { key: \"...\" value: { string_value: \"...\" } }", "parameters");
  bert_serve_model_config *cfg = c->cfg;
  bert_serve_param *p = realloc(cfg->params, sizeof *p * (size_t)(cfg->n_params + 1));
  if (!p) return bert_error_set(c->err, BERT_ENOMEM, "out of memory");
  cfg->params = p;
  p[cfg->n_params].key = strdup(key->value);
  p[cfg->n_params].value = strdup(sv->value);
  cfg->n_params++;
  if (!p[cfg->n_params - 1].key || !p[cfg->n_params - 1].value) return bert_error_set(c->err, BERT_ENOMEM, "out of memory");
  return BERT_OK;
}

/* ---- the whole config ---- */

static int parse_top_field(cfg_ctx *c, const bert_pbtxt_node *f) {
  bert_serve_model_config *cfg = c->cfg;
  int64_t v;
  int rc;
  if (!strcmp(f->name, "name")) return get_string(c, f, cfg->name, sizeof cfg->name);
  if (!strcmp(f->name, "backend")) return get_string(c, f, cfg->backend, sizeof cfg->backend);
  if (!strcmp(f->name, "platform")) return get_string(c, f, cfg->platform, sizeof cfg->platform);
  if (!strcmp(f->name, "max_batch_size")) {
    if ((rc = get_int(c, f, 0, 1 << 20, &v))) return rc;
    cfg->max_batch_size = (int)v;
    return BERT_OK;
  }
  if (!strcmp(f->name, "input") || !strcmp(f->name, "output")) return BERT_OK; /* parsed together */
  if (!strcmp(f->name, "dynamic_batching")) return parse_dynamic_batching(c, f);
  if (!strcmp(f->name, "instance_group")) return parse_instance_group(c, f);
  if (!strcmp(f->name, "parameters")) return parse_parameter(c, f);
  if (!strcmp(f->name, "sequence_batching") || !strcmp(f->name, "ensemble_scheduling") ||
      !strcmp(f->name, "batch_input") || !strcmp(f->name, "batch_output"))
    return bad(c, f, "%s is not supported by bertc", f->name);
  ignored(c, f, "");
  return BERT_OK;
}

static int check_config(cfg_ctx *c, const char *dir_name) {
  bert_serve_model_config *cfg = c->cfg;
  if (!cfg->name[0]) snprintf(cfg->name, sizeof cfg->name, "%s", dir_name);
  if (strcmp(cfg->name, dir_name))
    return bert_error_set(c->err, BERT_EFORMAT, "%s: name \"%s\" differs from the model's folder name \"%s\"", c->source,
                          cfg->name, dir_name);
  if (!cfg->backend[0] && !cfg->platform[0])
    return bert_error_set(c->err, BERT_EFORMAT, "%s: neither backend nor platform is given (bertc models use backend: \"bertc\")",
                          c->source);
  for (int i = 0; i < cfg->n_preferred; i++)
    if (cfg->preferred[i] > cfg->max_batch_size)
      return bert_error_set(c->err, BERT_EFORMAT, "%s: preferred_batch_size %d exceeds max_batch_size %d", c->source,
                            cfg->preferred[i], cfg->max_batch_size);
  if (cfg->dynamic_batching && cfg->max_batch_size == 0)
    return bert_error_set(c->err, BERT_EFORMAT, "%s: dynamic_batching needs max_batch_size > 0", c->source);
  for (int i = 0; i < cfg->n_inputs; i++)
    for (int j = 0; j < cfg->n_outputs; j++)
      if (!strcmp(cfg->inputs[i].name, cfg->outputs[j].name))
        return bert_error_set(c->err, BERT_EFORMAT, "%s: %s is both an input and an output", c->source, cfg->inputs[i].name);
  if (cfg->instance_count == 0) cfg->instance_count = 1;
  /* instances finish their batches in any order and nothing holds a reply back for an earlier one */
  if (cfg->preserve_ordering && cfg->instance_count > 1)
    return bert_error_set(c->err, BERT_EFORMAT,
                          "%s:%d: preserve_ordering needs a single instance (instance_group count 1); with %d instances "
                          "bertc would reply out of order",
                          c->source, c->preserve_line, cfg->instance_count);
  return BERT_OK;
}

int bert_serve_model_config_parse(bert_serve_model_config *cfg, const char *text, size_t len, const char *source,
                                  const char *dir_name, bert_error *err) {
  memset(cfg, 0, sizeof *cfg);
  bert_pbtxt_node root;
  int rc = bert_pbtxt_parse(text, len, source, &root, err);
  if (rc) return rc;
  cfg_ctx c = {source, cfg, err, 0};
  for (int i = 0; !rc && i < root.count; i++) rc = parse_top_field(&c, &root.children[i]);
  if (!rc) rc = parse_ios(&c, &root, "input", &cfg->inputs, &cfg->n_inputs);
  if (!rc) rc = parse_ios(&c, &root, "output", &cfg->outputs, &cfg->n_outputs);
  if (!rc) rc = check_config(&c, dir_name);
  bert_pbtxt_free(&root);
  if (rc) bert_serve_model_config_free(cfg);
  return rc;
}

int bert_serve_model_config_load(bert_serve_model_config *cfg, const char *path, const char *dir_name,
                                 bert_error *err) {
  char *text;
  size_t size;
  int rc = bert_file_read(path, &text, &size, err);
  if (rc) return rc;
  rc = bert_serve_model_config_parse(cfg, text, size, path, dir_name, err);
  free(text);
  return rc;
}

void bert_serve_model_config_free(bert_serve_model_config *cfg) {
  free(cfg->inputs);
  free(cfg->outputs);
  for (int i = 0; i < cfg->n_params; i++) free(cfg->params[i].key), free(cfg->params[i].value);
  free(cfg->params);
  bert_strbuf_free(&cfg->warnings);
  memset(cfg, 0, sizeof *cfg);
}

const char *bert_serve_model_config_param(const bert_serve_model_config *cfg, const char *key) {
  for (int i = cfg->n_params - 1; i >= 0; i--) /* the last one written wins, as in a protobuf map */
    if (!strcmp(cfg->params[i].key, key)) return cfg->params[i].value;
  return NULL;
}

int bert_serve_model_config_input(const bert_serve_model_config *cfg, const char *name) {
  for (int i = 0; i < cfg->n_inputs; i++)
    if (!strcmp(cfg->inputs[i].name, name)) return i;
  return -1;
}

int bert_serve_model_config_output(const bert_serve_model_config *cfg, const char *name) {
  for (int i = 0; i < cfg->n_outputs; i++)
    if (!strcmp(cfg->outputs[i].name, name)) return i;
  return -1;
}

/* ---- Triton's JSON form ---- */

static cJSON *dims_json(const bert_serve_io *io) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < io->ndim; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)io->dims[i]));
  return a;
}

static cJSON *io_json(const bert_serve_io *io, int is_input) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", io->name);
  cJSON_AddStringToObject(o, "data_type", bert_serve_dtype_config_name(io->dtype));
  if (is_input) cJSON_AddStringToObject(o, "format", "FORMAT_NONE");
  cJSON_AddItemToObject(o, "dims", dims_json(io));
  cJSON_AddBoolToObject(o, "is_shape_tensor", 0);
  if (is_input) {
    cJSON_AddBoolToObject(o, "allow_ragged_batch", 0);
    cJSON_AddBoolToObject(o, "optional", io->optional);
  } else {
    cJSON_AddStringToObject(o, "label_filename", "");
  }
  return o;
}

static void add_ios(cJSON *root, const char *key, const bert_serve_io *ios, int n, int is_input) {
  cJSON *a = cJSON_AddArrayToObject(root, key);
  for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, io_json(&ios[i], is_input));
}

static void add_batching(cJSON *root, const bert_serve_model_config *cfg) {
  if (!cfg->dynamic_batching) return;
  cJSON *db = cJSON_AddObjectToObject(root, "dynamic_batching");
  cJSON_AddItemToObject(db, "preferred_batch_size", cJSON_CreateIntArray(cfg->preferred, cfg->n_preferred));
  cJSON_AddNumberToObject(db, "max_queue_delay_microseconds", (double)cfg->max_queue_delay_us);
  cJSON_AddBoolToObject(db, "preserve_ordering", cfg->preserve_ordering);
}

static void add_instances(cJSON *root, const bert_serve_model_config *cfg) {
  cJSON *groups = cJSON_AddArrayToObject(root, "instance_group"), *g = cJSON_CreateObject();
  char name[BERT_SERVE_NAME_MAX + 8];
  snprintf(name, sizeof name, "%s_0", cfg->name);
  cJSON_AddStringToObject(g, "name", name);
  cJSON_AddStringToObject(g, "kind", "KIND_CPU");
  cJSON_AddNumberToObject(g, "count", cfg->instance_count);
  cJSON_AddItemToObject(g, "gpus", cJSON_CreateArray());
  cJSON_AddItemToObject(g, "profile", cJSON_CreateArray());
  cJSON_AddItemToArray(groups, g);
}

static void add_parameters(cJSON *root, const bert_serve_model_config *cfg) {
  cJSON *params = cJSON_AddObjectToObject(root, "parameters");
  for (int i = 0; params && i < cfg->n_params; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(params, cfg->params[i].key); /* the last one written wins */
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "string_value", cfg->params[i].value);
    cJSON_AddItemToObject(params, cfg->params[i].key, v);
  }
}

char *bert_serve_model_config_json(const bert_serve_model_config *cfg) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "name", cfg->name);
  cJSON_AddStringToObject(root, "platform", cfg->platform);
  cJSON_AddStringToObject(root, "backend", cfg->backend);
  cJSON *latest = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "version_policy"), "latest");
  cJSON_AddNumberToObject(latest, "num_versions", 1);
  cJSON_AddNumberToObject(root, "max_batch_size", cfg->max_batch_size);
  add_ios(root, "input", cfg->inputs, cfg->n_inputs, 1);
  add_ios(root, "output", cfg->outputs, cfg->n_outputs, 0);
  cJSON_AddItemToObject(root, "batch_input", cJSON_CreateArray());
  cJSON_AddItemToObject(root, "batch_output", cJSON_CreateArray());
  add_batching(root, cfg);
  add_instances(root, cfg);
  cJSON_AddStringToObject(root, "default_model_filename", "");
  add_parameters(root, cfg);
  cJSON_AddItemToObject(root, "model_warmup", cJSON_CreateArray());
  cJSON_AddBoolToObject(cJSON_AddObjectToObject(root, "model_transaction_policy"), "decoupled", 0);
  char *out = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return out;
}

/* ---- back from JSON (clients) ---- */

/* A JSON number, or a string holding one (protobuf's JSON mapping writes int64 as strings; Triton
 * numbers); NaN for anything else. */
static double json_number(const cJSON *v) {
  return cJSON_IsString(v) ? strtod(v->valuestring, NULL) : cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int io_from_json(const cJSON *o, bert_serve_io *io, bert_error *err) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name"), *dt = cJSON_GetObjectItemCaseSensitive(o, "data_type");
  const cJSON *dims = cJSON_GetObjectItemCaseSensitive(o, "dims");
  if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof io->name || !cJSON_IsString(dt) || !cJSON_IsArray(dims) ||
      !(io->dtype = bert_serve_dtype_parse_config(dt->valuestring)) || cJSON_GetArraySize(dims) > BERT_SERVE_MAX_DIMS)
    return bert_error_set(err, BERT_EFORMAT, "model config: a tensor lacks a valid name, data_type or dims");
  snprintf(io->name, sizeof io->name, "%s", name->valuestring);
  for (const cJSON *d = dims->child; d; d = d->next) {
    double v = json_number(d); /* checked before the conversion, which is undefined out of range */
    if (v != -1 && !(v >= 1 && v <= 9.0e15 && v == floor(v)))
      return bert_error_set(err, BERT_EFORMAT, "model config: %s has a bad dimension", io->name);
    io->dims[io->ndim++] = (int64_t)v;
  }
  return BERT_OK;
}

static int ios_from_json(const cJSON *a, bert_serve_io **out, int *count, bert_error *err) {
  if (!cJSON_IsArray(a) || !a->child) return bert_error_set(err, BERT_EFORMAT, "model config: no input or output list");
  int n = cJSON_GetArraySize(a), i = 0;
  if (!(*out = calloc((size_t)n, sizeof **out))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  *count = n;
  for (const cJSON *o = a->child; o; o = o->next) {
    int rc = io_from_json(o, &(*out)[i++], err);
    if (rc) return rc;
  }
  return BERT_OK;
}

int bert_serve_model_config_from_json(bert_serve_model_config *cfg, const char *json, size_t len, bert_error *err) {
  memset(cfg, 0, sizeof *cfg);
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return bert_error_set(err, BERT_EFORMAT, "model config: not a JSON object");
  }
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name"), *mb = cJSON_GetObjectItemCaseSensitive(root, "max_batch_size");
  const cJSON *backend = cJSON_GetObjectItemCaseSensitive(root, "backend"), *platform = cJSON_GetObjectItemCaseSensitive(root, "platform");
  if (cJSON_IsString(name)) snprintf(cfg->name, sizeof cfg->name, "%s", name->valuestring);
  if (cJSON_IsString(backend)) snprintf(cfg->backend, sizeof cfg->backend, "%s", backend->valuestring);
  if (cJSON_IsString(platform)) snprintf(cfg->platform, sizeof cfg->platform, "%s", platform->valuestring);
  double batch = mb ? json_number(mb) : 0;
  int rc = batch >= 0 && batch <= INT_MAX && batch == floor(batch)
               ? BERT_OK
               : bert_error_set(err, BERT_EFORMAT, "model config: max_batch_size is not a non-negative integer");
  cfg->max_batch_size = rc ? 0 : (int)batch;
  if (!rc) rc = ios_from_json(cJSON_GetObjectItemCaseSensitive(root, "input"), &cfg->inputs, &cfg->n_inputs, err);
  if (!rc) rc = ios_from_json(cJSON_GetObjectItemCaseSensitive(root, "output"), &cfg->outputs, &cfg->n_outputs, err);
  cJSON_Delete(root);
  cfg->instance_count = 1;
  if (rc) bert_serve_model_config_free(cfg);
  return rc;
}
