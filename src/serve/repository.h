/* serve/repository: a Triton model repository — DIR/<model>/config.pbtxt beside numbered
 * version folders DIR/<model>/<version>/. Each model's latest version (highest number, Triton's
 * default version policy) is loaded by the backend its config names, its statistics are set up
 * and its batcher (one thread per instance) started. Loading is all-or-nothing: a model that
 * fails stops the server from starting with the model's name in the message. */
#ifndef BERT_SERVE_REPOSITORY_H
#define BERT_SERVE_REPOSITORY_H

#include <stddef.h>

#include "base/error.h"
#include "serve/backend.h"
#include "serve/batcher.h"
#include "serve/model_config.h"
#include "serve/stats.h"

typedef struct bert_serve_model {
  bert_serve_model_config config;
  char version[32];
  char path[4400];                 /* the version folder */
  const bert_serve_backend *backend;
  void *state;                     /* the backend's loaded model */
  bert_serve_stats stats;
  bert_serve_batcher *batcher;     /* stopped, never freed, while HTTP threads run */
  bert_serve_json_limit json_limit;
} bert_serve_model;

typedef struct bert_serve_repository {
  char path[4096];
  bert_serve_model **models;       /* sorted by name */
  int count;
} bert_serve_repository;

/* The latest version of a model folder: its highest numbered sub-folder. */
int bert_serve_latest_version(const char *model_dir, char *version, size_t cap, bert_error *err);

/* Loads every model of `dir`. `threads` = OpenMP threads per model, split between its instances
 * (0 = all cores). */
int bert_serve_repository_load(bert_serve_repository *repo, const char *dir, int threads, bert_error *err);
/* Every batcher dispatches without its queue delay from now on (before a stop). */
void bert_serve_repository_flush(bert_serve_repository *repo);
/* Stops every batcher after its queued requests: new requests fail (503) from now on. */
void bert_serve_repository_stop(bert_serve_repository *repo);
/* Frees the models and their batchers: only after the HTTP listeners are stopped. */
void bert_serve_repository_free(bert_serve_repository *repo);
bert_serve_model *bert_serve_repository_find(const bert_serve_repository *repo, const char *name);

#endif
