#include "serve/bench_local.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "base/threads.h"
#include "serve/backend.h"
#include "serve/repository.h"

typedef struct local_model {
  bert_serve_model_config cfg;
  const bert_serve_backend *backend;
  void *state, *instance;
} local_model;

static int open_model(local_model *m, const char *repo, const char *name, bert_error *err) {
  char dir[4200], path[4300], version[32];
  snprintf(dir, sizeof dir, "%s/%s", repo, name);
  snprintf(path, sizeof path, "%s/config.pbtxt", dir);
  int rc = bert_serve_model_config_load(&m->cfg, path, name, err);
  if (rc) return rc;
  const char *backend = m->cfg.backend[0] ? m->cfg.backend : m->cfg.platform;
  if (!(m->backend = bert_serve_backend_find(backend)))
    return bert_error_set(err, BERT_EUNSUPPORTED, "%s: backend \"%s\" is not available", path, backend);
  if ((rc = bert_serve_latest_version(dir, version, sizeof version, err))) return rc;
  snprintf(path, sizeof path, "%s/%s", dir, version);
  if ((rc = m->backend->load(&m->cfg, path, &m->state, err))) return rc;
  return m->backend->instance_create(m->state, &m->instance, err);
}

static void close_model(local_model *m) {
  if (m->instance) m->backend->instance_free(m->instance);
  if (m->state) m->backend->unload(m->state);
  bert_serve_model_config_free(&m->cfg);
}

/* One request as the server runs it, minus HTTP and the queue. */
static int run_one(local_model *m, const bert_serve_bench_batch *b, bert_strbuf *out, bert_error *err) {
  char *body = malloc(b->body_len ? b->body_len : 1);
  if (!body) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  memcpy(body, b->body, b->body_len);
  bert_serve_request *r;
  int rc = bert_serve_request_parse(&r, &m->cfg, body, b->body_len, b->header_len ? (int64_t)b->header_len : -1, err);
  if (rc) return rc;
  bert_serve_exec_info info;
  size_t header_len;
  if (!(rc = m->backend->validate(m->state, r, err)) && !(rc = m->backend->execute(m->instance, &r, 1, &info, err)))
    rc = bert_serve_response_encode(r, m->cfg.name, "1", out, &header_len, err);
  bert_serve_request_free(r);
  return rc;
}

int bert_serve_bench_local(const char *repo, const char *model, const bert_serve_bench_batch *batches, int n, int passes,
                           int threads, bert_serve_bench_local_result *res, bert_error *err) {
  memset(res, 0, sizeof *res);
  bert_threads_set(threads);
  local_model m;
  memset(&m, 0, sizeof m);
  bert_strbuf out = {0};
  int rc = open_model(&m, repo, model, err);
  for (int i = 0; i < n && !rc; i++) rc = run_one(&m, &batches[i], &out, err); /* warm-up */
  double t0 = bert_seconds();
  int64_t rows = 0;
  for (int p = 0; p < passes && !rc; p++)
    for (int i = 0; i < n && !rc; i++) {
      rc = run_one(&m, &batches[i], &out, err);
      rows += batches[i].rows, res->requests++;
    }
  double t = bert_seconds() - t0;
  if (!rc && t > 0) res->samples_per_sec = (double)rows / t, res->ms_per_request = 1000.0 * t / res->requests;
  bert_strbuf_free(&out);
  close_model(&m);
  return rc;
}
