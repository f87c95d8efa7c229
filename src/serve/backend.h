/* serve/backend: what a model kind plugs into the server. A backend loads a model version once
 * (the weights every instance shares), creates instances (private scratch: one per
 * instance_group count, each driven by its own batcher thread), checks a parsed request's values
 * (on the HTTP thread, so a bad request is a 400 before it queues) and executes a batch of
 * requests, filling the outputs each request asked for (bert_serve_request_output). The server
 * has already checked names, data types, shapes and batch sizes against config.pbtxt. To add a
 * model kind, implement this struct and list it in backend.c under its config.pbtxt `backend`. */
#ifndef BERT_SERVE_BACKEND_H
#define BERT_SERVE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "serve/infer_request.h"
#include "serve/model_config.h"

/* What one execution cost, for the statistics and metrics. */
typedef struct bert_serve_exec_info {
  uint64_t compute_input_ns, compute_infer_ns, compute_output_ns;
  int64_t tokens_real;      /* tokens the requests carried (0: not a token model) */
  int64_t tokens_computed;  /* token positions the model computed (padding included) */
} bert_serve_exec_info;

typedef struct bert_serve_backend {
  const char *name; /* config.pbtxt `backend` */
  /* Checks that the config fits the backend and loads `version_dir`. */
  int (*load)(const bert_serve_model_config *cfg, const char *version_dir, void **model, bert_error *err);
  void (*unload)(void *model);
  /* Called on the instance's own thread (OpenMP threads already set for it). */
  int (*instance_create)(void *model, void **instance, bert_error *err);
  void (*instance_free)(void *instance);
  /* Checks values (e.g. token ids inside the vocabulary); a failure is the client's fault. */
  int (*validate)(void *model, const bert_serve_request *req, bert_error *err);
  /* Runs n requests (their batches add up to at most max_batch_size) as one execution. */
  int (*execute)(void *instance, bert_serve_request **reqs, int n, bert_serve_exec_info *info, bert_error *err);
  /* Optional (NULL or 0 = unknown): the largest size a variable (-1) input dimension can have,
   * which bounds the JSON requests the server parses (bert_serve_json_limit). */
  int64_t (*max_dim)(void *model);
} bert_serve_backend;

/* The backend registered under `name` (config.pbtxt `backend`, or `platform` when no backend is
 * given), or NULL. */
const bert_serve_backend *bert_serve_backend_find(const char *name);
/* The registered names, comma-separated, for error messages. */
void bert_serve_backend_names(char *out, size_t cap);

#endif
