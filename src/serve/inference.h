/* serve/inference: the one inference path behind the HTTP and gRPC front ends. A front end
 * decodes its request into a bert_serve_request (infer_request.h, the same checks for both),
 * then: find the model (name, optional version), check it may run (not stopping, the backend's
 * value checks), queue it on the model's batcher, and count it in the model's statistics when
 * its reply leaves or fails. Each failure has a status, which each front end turns into its own
 * code (HTTP 400/404/413/503/500; gRPC INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED,
 * UNAVAILABLE, INTERNAL). */
#ifndef BERT_SERVE_INFERENCE_H
#define BERT_SERVE_INFERENCE_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/error.h"
#include "serve/infer_request.h"
#include "serve/repository.h"

typedef enum bert_serve_status {
  BERT_SERVE_STATUS_OK = 0,
  BERT_SERVE_STATUS_INVALID,     /* the request is wrong */
  BERT_SERVE_STATUS_NOT_FOUND,   /* unknown model or version */
  BERT_SERVE_STATUS_TOO_LARGE,   /* larger than any valid request */
  BERT_SERVE_STATUS_UNAVAILABLE, /* the server is stopping */
  BERT_SERVE_STATUS_INTERNAL,    /* out of memory, a backend failure */
} bert_serve_status;

int bert_serve_status_http(bert_serve_status s);
/* The status of a request that failed while decoding or checking with error code `rc`. */
bert_serve_status bert_serve_status_of_request_error(int rc);
/* The status of a request the batcher ran and that failed (req->status). */
bert_serve_status bert_serve_status_of_execution(int rc);

/* The model `name` (and `version`, when not NULL or empty), or NULL with Triton's message. */
bert_serve_model *bert_serve_model_lookup(const bert_serve_repository *repo, const char *name, const char *version,
                                          bert_error *err);

/* Whether a decoded request may queue: the server is not stopping (UNAVAILABLE) and the backend
 * accepts its values (INVALID). */
bert_serve_status bert_serve_infer_check(bert_serve_model *m, const atomic_int *stopping, const bert_serve_request *req,
                                         bert_error *err);
/* Queues a checked request; req->done runs on an instance thread when it is done. UNAVAILABLE
 * once the batcher is stopping. */
bert_serve_status bert_serve_infer_submit(bert_serve_model *m, bert_serve_request *req, bert_error *err);
/* Counts a request whose reply left (success: its times from `req`) or that failed. */
void bert_serve_infer_succeeded(bert_serve_model *m, const bert_serve_request *req);
void bert_serve_infer_failed(bert_serve_model *m, uint64_t received_ns);

#endif
