#include "serve/inference.h"

#include <string.h>

int bert_serve_status_http(bert_serve_status s) {
  switch (s) {
    case BERT_SERVE_STATUS_OK: return 200;
    case BERT_SERVE_STATUS_INVALID: return 400;
    case BERT_SERVE_STATUS_NOT_FOUND: return 404;
    case BERT_SERVE_STATUS_TOO_LARGE: return 413;
    case BERT_SERVE_STATUS_UNAVAILABLE: return 503;
    default: return 500;
  }
}

bert_serve_status bert_serve_status_of_request_error(int rc) {
  return rc == BERT_ENOMEM ? BERT_SERVE_STATUS_INTERNAL : BERT_SERVE_STATUS_INVALID;
}

bert_serve_status bert_serve_status_of_execution(int rc) {
  return rc == BERT_EUNSUPPORTED ? BERT_SERVE_STATUS_UNAVAILABLE : BERT_SERVE_STATUS_INTERNAL;
}

bert_serve_model *bert_serve_model_lookup(const bert_serve_repository *repo, const char *name, const char *version,
                                          bert_error *err) {
  bert_serve_model *m = bert_serve_repository_find(repo, name);
  if (!m) {
    bert_error_set(err, BERT_EINVAL, "Request for unknown model: '%.200s' is not found", name);
    return NULL;
  }
  if (version && version[0] && strcmp(version, m->version)) {
    bert_error_set(err, BERT_EINVAL, "Request for unknown model: '%.200s' version %.60s is not found (version %s is served)",
                   name, version, m->version);
    return NULL;
  }
  return m;
}

bert_serve_status bert_serve_infer_check(bert_serve_model *m, const atomic_int *stopping, const bert_serve_request *req,
                                         bert_error *err) {
  if (atomic_load(stopping)) {
    bert_error_set(err, BERT_EUNSUPPORTED, "the server is shutting down");
    return BERT_SERVE_STATUS_UNAVAILABLE;
  }
  int rc = m->backend->validate(m->state, req, err);
  return rc ? bert_serve_status_of_request_error(rc) : BERT_SERVE_STATUS_OK;
}

bert_serve_status bert_serve_infer_submit(bert_serve_model *m, bert_serve_request *req, bert_error *err) {
  return bert_serve_batcher_submit(m->batcher, req, err) ? BERT_SERVE_STATUS_UNAVAILABLE : BERT_SERVE_STATUS_OK;
}

void bert_serve_infer_succeeded(bert_serve_model *m, const bert_serve_request *req) {
  bert_serve_stats_request(&m->stats, req, 1, bert_serve_now_ns() - req->received_ns);
}

void bert_serve_infer_failed(bert_serve_model *m, uint64_t received_ns) {
  bert_serve_stats_request(&m->stats, NULL, 0, bert_serve_now_ns() - received_ns);
}
