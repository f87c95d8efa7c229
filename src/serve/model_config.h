/* serve/model_config: the subset of Triton's ModelConfig (config.pbtxt) that users write for a
 * bertc model — name, backend/platform, max_batch_size, inputs and outputs (name, data_type,
 * dims with -1 for a variable dimension, optional), dynamic_batching (preferred_batch_size,
 * max_queue_delay_microseconds), instance_group (count; CPU kinds), parameters — read from
 * protobuf text, checked, and written back in Triton's JSON form for GET .../config. Fields
 * outside the subset that do not change results are ignored with a warning; those that would
 * (sequence batching, ensembles, GPU instances, reshape) are errors. */
#ifndef BERT_SERVE_MODEL_CONFIG_H
#define BERT_SERVE_MODEL_CONFIG_H

#include <stdint.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "serve/tensor.h"

typedef struct bert_serve_io {
  char name[BERT_SERVE_NAME_MAX];
  bert_serve_dtype dtype;
  int ndim;
  int64_t dims[BERT_SERVE_MAX_DIMS]; /* without the batch dimension; -1 = variable */
  int optional;                      /* inputs only */
} bert_serve_io;

typedef struct bert_serve_param {
  char *key, *value;
} bert_serve_param;

#define BERT_SERVE_MAX_PREFERRED 16

typedef struct bert_serve_model_config {
  char name[BERT_SERVE_NAME_MAX];
  char backend[64], platform[64];
  int max_batch_size;                /* 0 = no batch dimension */
  bert_serve_io *inputs, *outputs;
  int n_inputs, n_outputs;
  int dynamic_batching;              /* a dynamic_batching block is present */
  int preferred[BERT_SERVE_MAX_PREFERRED], n_preferred;
  int64_t max_queue_delay_us;
  int preserve_ordering;
  int instance_count;                /* sum of instance_group counts (default 1) */
  bert_serve_param *params;
  int n_params;
  bert_strbuf warnings;              /* one line per ignored field */
} bert_serve_model_config;

/* Parses config.pbtxt text. `dir_name` is the model's folder name: the default name, and a
 * written name must equal it (Triton's rule). */
int bert_serve_model_config_parse(bert_serve_model_config *cfg, const char *text, size_t len, const char *source,
                                  const char *dir_name, bert_error *err);
int bert_serve_model_config_load(bert_serve_model_config *cfg, const char *path, const char *dir_name,
                                 bert_error *err);
void bert_serve_model_config_free(bert_serve_model_config *cfg);

/* The value of parameters[key].string_value, or NULL. */
const char *bert_serve_model_config_param(const bert_serve_model_config *cfg, const char *key);
/* Index of the input / output called `name`, or -1. */
int bert_serve_model_config_input(const bert_serve_model_config *cfg, const char *name);
int bert_serve_model_config_output(const bert_serve_model_config *cfg, const char *name);

/* Triton's JSON form (GET /v2/models/{m}/config); caller frees. NULL when out of memory. */
char *bert_serve_model_config_json(const bert_serve_model_config *cfg);
/* Reads that JSON form back (name, backend, platform, max_batch_size, inputs, outputs): what a
 * client learns about a served model. */
int bert_serve_model_config_from_json(bert_serve_model_config *cfg, const char *json, size_t len, bert_error *err);

#endif
