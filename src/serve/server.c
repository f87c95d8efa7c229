#include "serve/server.h"

#include <stdlib.h>
#include <sys/resource.h>

#include "base/clock.h"
#include "base/log.h"
#include "serve/endpoints.h"
#include "serve/grpc_server.h"
#include "serve/grpc_service.h"
#include "serve/http.h"
#include "serve/repository.h"

struct bert_serve_server {
  bert_serve_repository repo;
  bert_serve_endpoints ep;
  bert_serve_http *http, *metrics;
  bert_serve_grpc_service grpc_service;
  bert_serve_grpc *grpc;
};

/* Descriptors kept aside from the connection caps: model files, epoll and wake-up descriptors,
 * gRPC's connections (which gRPC 1.51 cannot cap). */
#define FD_RESERVE 256
/* Concurrent calls on one gRPC connection: a streaming client needs one, a client of unary calls
 * one per call in flight; more is a client holding the server's memory. */
#define GRPC_MAX_STREAMS 1024

/* Every connection holds a descriptor, and at the descriptor limit accept() fails: MHD then stops
 * accepting until a connection closes, and new clients wait in the listen queue (the soft limit
 * is often 1024). So the soft limit is raised to the hard one, and the cap lowered to fit when
 * even that is short. */
static void fit_descriptor_limit(bert_serve_conn_limits *l, int listeners) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r)) return;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r)) getrlimit(RLIMIT_NOFILE, &r);
  }
  rlim_t need = (rlim_t)l->max_connections * (rlim_t)listeners + FD_RESERVE;
  if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= need) return;
  rlim_t room = r.rlim_cur > FD_RESERVE + 16 * (rlim_t)listeners ? (r.rlim_cur - FD_RESERVE) / (rlim_t)listeners : 16;
  bert_warn("bert serve: the descriptor limit (ulimit -n: %llu) is below what --max-connections %d needs (%llu): "
            "at most %llu connections per listener", (unsigned long long)r.rlim_cur, l->max_connections,
            (unsigned long long)need, (unsigned long long)room);
  l->max_connections = (int)room;
}

static int start_listeners(bert_serve_server *s, const bert_serve_options *opt, bert_error *err) {
  bert_serve_http_options h = {opt->host, opt->http_port, opt->http_threads, opt->max_body_bytes,
                               bert_serve_endpoints_handle, &s->ep, opt->limits};
  fit_descriptor_limit(&h.limits, opt->metrics_port < 0 ? 1 : 2);
  int rc = bert_serve_http_start(&s->http, &h, err);
  if (rc || opt->metrics_port < 0) return rc;
  h.port = opt->metrics_port, h.threads = 1, h.handler = bert_serve_endpoints_handle_metrics;
  h.max_body_bytes = 0; /* /metrics takes no body */
  rc = bert_serve_http_start(&s->metrics, &h, err);
  return rc ? bert_error_prefix(err, "--metrics-port: ") : BERT_OK;
}

static int start_grpc(bert_serve_server *s, const bert_serve_options *opt, bert_error *err) {
  if (opt->grpc_port < 0) return BERT_OK;
  s->grpc_service = (bert_serve_grpc_service){&s->repo, &s->ep.stopping};
  bert_serve_grpc_options g = {opt->host, opt->grpc_port, opt->grpc_threads, opt->max_body_bytes,
                               bert_serve_grpc_service_methods, bert_serve_grpc_service_n_methods, &s->grpc_service,
                               opt->limits.header_timeout, opt->limits.idle_timeout, GRPC_MAX_STREAMS};
  int rc = bert_serve_grpc_start(&s->grpc, &g, err);
  return rc ? bert_error_prefix(err, "--grpc-port: ") : BERT_OK;
}

int bert_serve_server_start(bert_serve_server **out, const bert_serve_options *opt, bert_error *err) {
  *out = NULL;
  bert_serve_server *s = calloc(1, sizeof *s);
  if (!s) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  int rc = bert_serve_repository_load(&s->repo, opt->repository, opt->threads, err);
  if (rc) {
    free(s);
    return rc;
  }
  bert_serve_endpoints_init(&s->ep, &s->repo);
  if ((rc = start_listeners(s, opt, err)) || (rc = start_grpc(s, opt, err))) {
    bert_serve_grpc_stop(s->grpc);
    bert_serve_http_stop(s->metrics);
    bert_serve_http_stop(s->http);
    bert_serve_endpoints_free(&s->ep);
    bert_serve_repository_free(&s->repo);
    free(s);
    return rc;
  }
  *out = s;
  return BERT_OK;
}

int bert_serve_server_http_port(const bert_serve_server *s) { return bert_serve_http_port(s->http); }
int bert_serve_server_metrics_port(const bert_serve_server *s) { return s->metrics ? bert_serve_http_port(s->metrics) : -1; }
int bert_serve_server_grpc_port(const bert_serve_server *s) { return s->grpc ? bert_serve_grpc_port(s->grpc) : -1; }

/* Replies the batchers produce while they stop may leave this long after the drain budget: they
 * are written in microseconds, and cutting them would waste what was just computed. */
#define STOP_REPLY_GRACE_SECONDS 0.1

void bert_serve_server_stop(bert_serve_server *s, double drain_seconds) {
  if (!s) return;
  double deadline = bert_seconds() + drain_seconds;
  bert_serve_http_quiesce(s->http);
  bert_serve_grpc_quiesce(s->grpc);
  atomic_store(&s->ep.stopping, 1);
  bert_serve_repository_flush(&s->repo); /* queued requests must not wait out their queue delay */
  int left = bert_serve_http_wait_idle(s->http, drain_seconds);
  double rest = deadline - bert_seconds();
  left += bert_serve_grpc_wait_idle(s->grpc, rest > 0 ? rest : 0);
  if (left) bert_warn("bert serve: %d request%s still in flight after %.0f s; closing anyway", left, left == 1 ? "" : "s", drain_seconds);
  /* The batchers finish what is queued and refuse the rest (503), so every suspended call is
   * resumed before MHD stops (MHD forbids stopping with one suspended). They are freed only in
   * repository_free, after MHD's threads, which may still be about to submit, are gone. */
  bert_serve_repository_stop(&s->repo);
  rest = deadline - bert_seconds();
  if (rest < STOP_REPLY_GRACE_SECONDS) rest = STOP_REPLY_GRACE_SECONDS;
  bert_serve_http_wait_idle(s->http, rest);
  bert_serve_grpc_wait_idle(s->grpc, STOP_REPLY_GRACE_SECONDS);
  bert_serve_grpc_stop(s->grpc); /* the batchers are stopped: nothing answers any more */
  bert_serve_http_stop(s->metrics);
  bert_serve_http_stop(s->http);
  bert_serve_endpoints_free(&s->ep);
  bert_serve_repository_free(&s->repo);
  free(s);
}
