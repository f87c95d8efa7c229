/* Route parsing, the metadata / health / stats / metrics replies, and the inference path:
 * parse -> validate -> suspend -> batcher -> resume -> encode. */
#include "serve/endpoints.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/infer_request.h"
#include "serve/inference.h"
#include "serve/web_page.h"

typedef enum route_kind {
  ROUTE_UNKNOWN, ROUTE_LIVE, ROUTE_READY, ROUTE_SERVER, ROUTE_METRICS, ROUTE_ALL_STATS,
  ROUTE_MODEL, ROUTE_MODEL_READY, ROUTE_MODEL_CONFIG, ROUTE_MODEL_INFER, ROUTE_MODEL_STATS,
} route_kind;

typedef struct route {
  route_kind kind;
  char model[BERT_SERVE_NAME_MAX];
  char version[64];   /* empty = whichever is served */
} route;

/* Copies one path segment (up to '/' or the end); returns the rest, NULL when too long/empty. */
static const char *segment(const char *p, char *out, size_t cap) {
  size_t n = strcspn(p, "/");
  if (n == 0 || n >= cap) return NULL;
  memcpy(out, p, n);
  out[n] = '\0';
  return p + n;
}

static route_kind model_action(const char *rest) {
  static const struct { const char *suffix; route_kind kind; } actions[] = {
      {"", ROUTE_MODEL}, {"/ready", ROUTE_MODEL_READY}, {"/config", ROUTE_MODEL_CONFIG},
      {"/infer", ROUTE_MODEL_INFER}, {"/stats", ROUTE_MODEL_STATS}};
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
    if (!strcmp(rest, actions[i].suffix)) return actions[i].kind;
  return ROUTE_UNKNOWN;
}

static void parse_route(const char *path, route *r) {
  static const struct { const char *path; route_kind kind; } fixed[] = {
      {"/v2/health/live", ROUTE_LIVE}, {"/v2/health/ready", ROUTE_READY}, {"/v2", ROUTE_SERVER},
      {"/v2/", ROUTE_SERVER}, {"/metrics", ROUTE_METRICS}, {"/v2/models/stats", ROUTE_ALL_STATS}};
  memset(r, 0, sizeof *r);
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (!strcmp(path, fixed[i].path)) {
      r->kind = fixed[i].kind;
      return;
    }
  static const char prefix[] = "/v2/models/";
  if (strncmp(path, prefix, sizeof prefix - 1)) return;
  const char *rest = segment(path + sizeof prefix - 1, r->model, sizeof r->model);
  if (rest && !strncmp(rest, "/versions/", 10)) rest = segment(rest + 10, r->version, sizeof r->version);
  if (rest) r->kind = model_action(rest);
}

static int method_is(const bert_serve_http_call *c, const char *m) { return !strcmp(bert_serve_http_method(c), m); }

/* GET (or HEAD) routes; POST for inference. Replies 405 and returns 0 otherwise. */
static int check_method(bert_serve_http_call *c, route_kind kind) {
  int post = kind == ROUTE_MODEL_INFER;
  if (post ? method_is(c, "POST") : method_is(c, "GET") || method_is(c, "HEAD")) return 1;
  char msg[160];
  snprintf(msg, sizeof msg, "method %.20s is not allowed here; use %s", bert_serve_http_method(c), post ? "POST" : "GET");
  bert_strbuf s = {0};
  bert_strbuf_puts(&s, "{\"error\":");
  bert_serve_json_string(&s, msg, strlen(msg));
  bert_strbuf_puts(&s, "}");
  size_t len = s.len;
  char *body = s.data;
  if (s.failed) free(body), body = NULL, len = 0;
  bert_serve_http_reply(c, 405, "application/json", body, len, "Allow", post ? "POST" : "GET, HEAD");
  return 0;
}

/* The model of a route, or a 404 reply and NULL (unknown model or version). */
static bert_serve_model *route_model(bert_serve_endpoints *ep, bert_serve_http_call *c, const route *r) {
  bert_error err = {0};
  bert_serve_model *m = bert_serve_model_lookup(ep->repo, r->model, r->version, &err);
  if (!m) bert_serve_http_reply_error(c, bert_serve_status_http(BERT_SERVE_STATUS_NOT_FOUND), err.message);
  return m;
}

/* ---- metadata ---- */

const char *const bert_serve_extensions[BERT_SERVE_N_EXTENSIONS] = {"binary_tensor_data", "model_configuration",
                                                                     "statistics"};

static void server_metadata(bert_serve_http_call *c) {
  bert_strbuf s = {0};
  bert_strbuf_puts(&s, "{\"name\":\"" BERT_SERVE_SERVER_NAME "\",\"version\":\"" BERT_SERVE_SERVER_VERSION
                       "\",\"extensions\":[");
  for (int i = 0; i < BERT_SERVE_N_EXTENSIONS; i++)
    bert_strbuf_printf(&s, "%s\"%s\"", i ? "," : "", bert_serve_extensions[i]);
  bert_strbuf_puts(&s, "]}");
  bert_serve_http_reply_json(c, 200, &s);
}

static void tensor_metadata(bert_strbuf *s, const bert_serve_io *io, int batching) {
  bert_strbuf_puts(s, "{\"name\":");
  bert_serve_json_string(s, io->name, strlen(io->name));
  bert_strbuf_printf(s, ",\"datatype\":\"%s\",\"shape\":[%s", bert_serve_dtype_name(io->dtype), batching ? "-1" : "");
  for (int d = 0; d < io->ndim; d++) bert_strbuf_printf(s, "%s%lld", d || batching ? "," : "", (long long)io->dims[d]);
  bert_strbuf_puts(s, "]}");
}

static void model_metadata(bert_serve_http_call *c, const bert_serve_model *m) {
  const bert_serve_model_config *cfg = &m->config;
  bert_strbuf s = {0};
  bert_strbuf_puts(&s, "{\"name\":");
  bert_serve_json_string(&s, cfg->name, strlen(cfg->name));
  bert_strbuf_puts(&s, ",\"versions\":[");
  bert_serve_json_string(&s, m->version, strlen(m->version));
  bert_strbuf_puts(&s, "],\"platform\":");
  const char *platform = cfg->platform[0] ? cfg->platform : cfg->backend;
  bert_serve_json_string(&s, platform, strlen(platform));
  for (int k = 0; k < 2; k++) {
    bert_strbuf_puts(&s, k ? "],\"outputs\":[" : ",\"inputs\":[");
    int n = k ? cfg->n_outputs : cfg->n_inputs;
    for (int i = 0; i < n; i++) {
      if (i) bert_strbuf_puts(&s, ",");
      tensor_metadata(&s, k ? &cfg->outputs[i] : &cfg->inputs[i], cfg->max_batch_size > 0);
    }
  }
  bert_strbuf_puts(&s, "]}");
  bert_serve_http_reply_json(c, 200, &s);
}

static void model_config(bert_serve_http_call *c, const bert_serve_model *m) {
  char *json = bert_serve_model_config_json(&m->config);
  if (!json) bert_serve_http_reply_error(c, 500, "out of memory");
  else bert_serve_http_reply(c, 200, "application/json", json, strlen(json), NULL, NULL);
}

/* ---- statistics and metrics ---- */

static void statistics(bert_serve_endpoints *ep, bert_serve_http_call *c, const bert_serve_model *only) {
  bert_strbuf s = {0};
  bert_strbuf_puts(&s, "{\"model_stats\":[");
  int first = 1;
  for (int i = 0; i < ep->repo->count; i++) {
    bert_serve_model *m = ep->repo->models[i];
    if (only && m != only) continue;
    bert_serve_stats copy;
    if (bert_serve_stats_copy(&copy, &m->stats, NULL)) {
      s.failed = 1;
      break;
    }
    if (!first) bert_strbuf_puts(&s, ",");
    bert_serve_stats_json(&s, m->config.name, m->version, &copy);
    bert_serve_stats_free_copy(&copy);
    first = 0;
  }
  bert_strbuf_puts(&s, "]}");
  bert_serve_http_reply_json(c, 200, &s);
}

static void metrics(bert_serve_endpoints *ep, bert_serve_http_call *c) {
  int n = ep->repo->count;
  bert_serve_metrics_model *models = calloc((size_t)(n ? n : 1), sizeof *models);
  if (!models) {
    bert_serve_http_reply_error(c, 500, "out of memory");
    return;
  }
  for (int i = 0; i < n; i++)
    models[i] = (bert_serve_metrics_model){ep->repo->models[i]->config.name, ep->repo->models[i]->version, &ep->repo->models[i]->stats};
  bert_strbuf s = {0};
  bert_serve_metrics_render(&s, models, n, &ep->cpu);
  free(models);
  if (s.failed) {
    bert_strbuf_free(&s);
    bert_serve_http_reply_error(c, 500, "out of memory");
    return;
  }
  char *body = s.data;
  bert_serve_http_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, s.len, NULL, NULL);
}

/* ---- inference ---- */

typedef struct infer_call {
  bert_serve_model *model;
  bert_serve_http_call *call;
  bert_serve_request *req;
  size_t body_len;
} infer_call;

/* Bodies from this size on hand their memory back to the system once done: glibc keeps the freed
 * pages of the body, the cJSON tree and the tensors in its arenas, so one large request would
 * otherwise pin its size in RSS for good. */
#define TRIM_AFTER_BYTES ((size_t)4 << 20)

static void trim_after(size_t body_len) {
  if (body_len >= TRIM_AFTER_BYTES) malloc_trim(0);
}

static void fail_request(bert_serve_model *m, bert_serve_http_call *c, uint64_t received, bert_serve_status status,
                         const char *msg) {
  bert_serve_infer_failed(m, received);
  bert_serve_http_reply_error(c, bert_serve_status_http(status), msg);
}

static void infer_call_free(infer_call *ic) {
  size_t len = ic->body_len;
  bert_serve_request_free(ic->req);
  free(ic);
  trim_after(len);
}

/* Runs on a connection thread once the batcher is done with the request. */
static void finish_infer(void *arg, bert_serve_http_call *c) {
  infer_call *ic = arg;
  bert_serve_request *r = ic->req;
  bert_serve_model *m = ic->model;
  bert_error err = r->error;
  bert_strbuf out = {0};
  size_t header_len = 0;
  int rc = r->status;
  if (!rc) rc = bert_serve_response_encode(r, m->config.name, m->version, &out, &header_len, &err);
  if (rc) {
    bert_strbuf_free(&out);
    fail_request(m, c, r->received_ns, r->status ? bert_serve_status_of_execution(rc) : BERT_SERVE_STATUS_INTERNAL,
                 err.message);
  } else {
    bert_serve_infer_succeeded(m, r);
    char hl[32];
    snprintf(hl, sizeof hl, "%zu", header_len);
    char *body = out.data;
    bert_serve_http_reply(c, 200, header_len ? "application/octet-stream" : "application/json", body, out.len,
                          header_len ? "Inference-Header-Content-Length" : NULL, header_len ? hl : NULL);
  }
  infer_call_free(ic);
}

/* The client left before its reply could go: the request is freed and counts as a failure. */
static void cancel_infer(void *arg) {
  infer_call *ic = arg;
  bert_serve_infer_failed(ic->model, ic->req->received_ns);
  infer_call_free(ic);
}

/* Runs on the instance thread: hand the call back to its connection. */
static void request_done(bert_serve_request *r, void *arg) {
  (void)r;
  infer_call *ic = arg;
  bert_serve_http_resume(ic->call);
}

/* Inference-Header-Content-Length: -1 when absent, -2 when not a non-negative integer. */
static int64_t header_length(bert_serve_http_call *c) {
  const char *v = bert_serve_http_header(c, "Inference-Header-Content-Length");
  if (!v) return -1;
  int64_t n = 0;
  if (!*v) return -2;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9' || n > (int64_t)1 << 40) return -2;
    n = n * 10 + (*p - '0');
  }
  return n;
}

/* A JSON header longer than any valid request of the model is refused unparsed (a 413). */
static int check_header_size(const bert_serve_model *m, const char *body, size_t len, int64_t header_len, bert_error *err) {
  if (header_len == 0 || header_len > (int64_t)len) return BERT_OK; /* raw binary, or the parser's 400 */
  size_t json_len = header_len < 0 ? len : (size_t)header_len;
  return bert_serve_json_limit_check(&m->json_limit, m->config.name, body, json_len, err);
}

/* Checks what comes before the body (stopping, Content-Encoding); replies and returns 0 on failure. */
static int infer_allowed(bert_serve_endpoints *ep, bert_serve_http_call *c, bert_serve_model *m, uint64_t received) {
  if (atomic_load(&ep->stopping)) {
    fail_request(m, c, received, BERT_SERVE_STATUS_UNAVAILABLE, "the server is shutting down");
    return 0;
  }
  const char *encoding = bert_serve_http_header(c, "Content-Encoding");
  if (encoding && strcasecmp(encoding, "identity")) {
    char msg[160];
    snprintf(msg, sizeof msg, "Content-Encoding %.40s is not supported by this server: send the body uncompressed", encoding);
    fail_request(m, c, received, BERT_SERVE_STATUS_INVALID, msg);
    return 0;
  }
  return 1;
}

/* The body as a parsed, validated request; on failure the reply is sent and NULL returned. */
static infer_call *take_request(bert_serve_endpoints *ep, bert_serve_http_call *c, bert_serve_model *m, uint64_t received) {
  int64_t header_len = header_length(c);
  if (header_len == -2) {
    fail_request(m, c, received, BERT_SERVE_STATUS_INVALID, "Inference-Header-Content-Length is not a non-negative integer");
    return NULL;
  }
  size_t len;
  char *body = bert_serve_http_take_body(c, &len);
  bert_serve_request *r;
  bert_error err = {0};
  int rc = check_header_size(m, body, len, header_len, &err);
  bert_serve_status status = rc ? BERT_SERVE_STATUS_TOO_LARGE : BERT_SERVE_STATUS_OK;
  if (rc) free(body);
  else if ((rc = bert_serve_request_parse(&r, &m->config, body, len, header_len, &err)))
    status = bert_serve_status_of_request_error(rc);
  if (!status && (status = bert_serve_infer_check(m, &ep->stopping, r, &err))) bert_serve_request_free(r);
  infer_call *ic = status ? NULL : calloc(1, sizeof *ic);
  if (!status && !ic) bert_error_set(&err, BERT_ENOMEM, "out of memory"), bert_serve_request_free(r), status = BERT_SERVE_STATUS_INTERNAL;
  if (status) {
    fail_request(m, c, received, status, err.message);
    trim_after(len);
    return NULL;
  }
  *ic = (infer_call){m, c, r, len};
  r->received_ns = received;
  return ic;
}

static void infer(bert_serve_endpoints *ep, bert_serve_http_call *c, bert_serve_model *m) {
  uint64_t received = bert_serve_now_ns();
  infer_call *ic = infer_allowed(ep, c, m, received) ? take_request(ep, c, m, received) : NULL;
  if (!ic) return;
  bert_serve_request *r = ic->req;
  r->done = request_done, r->done_arg = ic;
  /* suspended before it is queued: the batcher may resume it at once */
  bert_serve_http_suspend(c, finish_infer, cancel_infer, ic);
  if (bert_serve_infer_submit(m, r, &r->error)) { /* stopping: a 503 */
    r->status = r->error.code;
    bert_serve_http_resume(c);
  }
}

/* ---- dispatch ---- */

static void model_route(bert_serve_endpoints *ep, bert_serve_http_call *c, const route *r) {
  bert_serve_model *m = route_model(ep, c, r);
  if (!m) return;
  switch (r->kind) {
    case ROUTE_MODEL: model_metadata(c, m); break;
    case ROUTE_MODEL_READY: bert_serve_http_reply(c, 200, NULL, NULL, 0, NULL, NULL); break;
    case ROUTE_MODEL_CONFIG: model_config(c, m); break;
    case ROUTE_MODEL_INFER: infer(ep, c, m); break;
    default: statistics(ep, c, m); break;
  }
}

void bert_serve_endpoints_handle(void *arg, bert_serve_http_call *c) {
  bert_serve_endpoints *ep = arg;
  if (bert_serve_web_page_handle(ep, c)) return;
  route r;
  parse_route(bert_serve_http_path(c), &r);
  if (r.kind == ROUTE_UNKNOWN) {
    char msg[200];
    snprintf(msg, sizeof msg, "no such endpoint: %.150s", bert_serve_http_path(c));
    bert_serve_http_reply_error(c, 404, msg);
    return;
  }
  if (!check_method(c, r.kind)) return;
  switch (r.kind) {
    case ROUTE_LIVE: bert_serve_http_reply(c, 200, NULL, NULL, 0, NULL, NULL); break;
    case ROUTE_READY:
      if (atomic_load(&ep->stopping)) bert_serve_http_reply_error(c, 400, "the server is shutting down");
      else bert_serve_http_reply(c, 200, NULL, NULL, 0, NULL, NULL);
      break;
    case ROUTE_SERVER: server_metadata(c); break;
    case ROUTE_METRICS: metrics(ep, c); break;
    case ROUTE_ALL_STATS: statistics(ep, c, NULL); break;
    default: model_route(ep, c, &r); break;
  }
}

void bert_serve_endpoints_handle_metrics(void *arg, bert_serve_http_call *c) {
  if (strcmp(bert_serve_http_path(c), "/metrics")) {
    bert_serve_http_reply_error(c, 404, "this port serves /metrics only");
    return;
  }
  if (check_method(c, ROUTE_METRICS)) metrics(arg, c);
}

void bert_serve_endpoints_init(bert_serve_endpoints *ep, bert_serve_repository *repo) {
  ep->repo = repo;
  bert_serve_cpu_sampler_init(&ep->cpu);
  atomic_init(&ep->stopping, 0);
}

void bert_serve_endpoints_free(bert_serve_endpoints *ep) { bert_serve_cpu_sampler_free(&ep->cpu); }
