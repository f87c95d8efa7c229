#include "serve/bench_client.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "serve/grpc_client.h"
#include "serve/http_client.h"

#define POLL_WAIT 0.2 /* seconds a client waits for answers before looking at its timeouts again */

typedef struct slot {
  bert_serve_conn conn;   /* HTTP: the slot's connection */
  uint64_t call;          /* gRPC: the request's id */
  int busy;
  int batch, index;       /* batch sent, request number within the client */
  double sent_at;
} slot;

/* Every client finishes its warm-up before any starts measuring: otherwise one client's measured
 * window would hold the server's work on another's warm-up requests. */
typedef struct start_line {
  pthread_mutex_t lock;
  pthread_cond_t go;
  int waiting, total;
  double at;                 /* when the measured phase began */
} start_line;

typedef struct client client;

/* What differs between protocols: connecting, sending a slot's request, and taking the answers
 * in (each through finish()). The loop, the measurements and the checks are shared. */
typedef struct transport {
  int (*open)(client *c, bert_error *err);
  int (*send)(client *c, slot *s, bert_error *err);
  void (*progress)(client *c); /* waits up to POLL_WAIT for answers */
  void (*close)(client *c);
} transport;

struct client {
  const bert_serve_bench_options *o;
  const transport *t;
  int id;
  bert_serve_bench_result *res;
  start_line *line;
  slot *slots;
  int depth, busy;
  bert_serve_grpc_client *grpc;
  int latency_cap;
  int measuring;
  double last_done;
  pthread_t thread;
};

/* Keeps the first problem of the client: what a user needs to see to fix the others. */
static void problem(client *c, const char *prefix, const char *detail) {
  if (!c->res->first_problem[0]) snprintf(c->res->first_problem, sizeof c->res->first_problem, "%s%.400s", prefix, detail);
}

static int record_latency(client *c, double seconds) {
  bert_serve_bench_result *r = c->res;
  if (r->requests == c->latency_cap) {
    int cap = c->latency_cap ? 2 * c->latency_cap : 1024;
    double *grown = realloc(r->latency, sizeof *grown * (size_t)cap);
    if (!grown) return 0;
    r->latency = grown, c->latency_cap = cap;
  }
  r->latency[r->requests++] = seconds;
  return 1;
}

/* The end of a slot's request: `outcome` BERT_OK, BERT_EMISMATCH (answered, failed the check:
 * still measured) or an error. */
static void finish(client *c, slot *s, double now, int outcome, const char *detail) {
  s->busy = 0, c->busy--;
  if (outcome && outcome != BERT_EMISMATCH) {
    c->res->errors++;
    problem(c, "", detail);
    return;
  }
  if (outcome) c->res->mismatches++, problem(c, "check failed: ", detail);
  if (!c->measuring) return;
  c->last_done = now;
  c->res->rows += c->o->batches[s->batch].rows;
  c->res->busy += now - s->sent_at;
  if (!record_latency(c, now - s->sent_at)) problem(c, "", "out of memory");
}

/* ---- HTTP: a keep-alive connection per slot, poll() over them ---- */

static int http_open(client *c, bert_error *err) {
  for (int i = 0; i < c->depth; i++) bert_serve_conn_init(&c->slots[i].conn, c->o->host, c->o->port);
  (void)err;
  return BERT_OK;
}

static int http_send(client *c, slot *s, bert_error *err) {
  const bert_serve_bench_batch *b = &c->o->batches[s->batch];
  char headers[160];
  if (b->header_len)
    snprintf(headers, sizeof headers, "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: %zu\r\n", b->header_len);
  else
    snprintf(headers, sizeof headers, "Content-Type: application/json\r\n");
  return bert_serve_conn_start(&s->conn, "POST", c->o->path, headers, b->body, b->body_len, err);
}

static void http_answer(client *c, slot *s, double now) {
  size_t len;
  const char *body = bert_serve_conn_body(&s->conn, &len);
  bert_error err = {0};
  if (s->conn.status != 200) {
    snprintf(err.message, sizeof err.message, "HTTP %d: %.*s", s->conn.status, (int)(len < 250 ? len : 250), body);
    finish(c, s, now, BERT_EIO, err.message);
    return;
  }
  char hl[32];
  int64_t header_len = bert_serve_conn_header(&s->conn, "Inference-Header-Content-Length", hl, sizeof hl) ? atoll(hl) : -1;
  int rc = bert_serve_bench_verify(&c->o->batches[s->batch], c->o->model, body, len, header_len, c->o->rtol, c->o->atol, &err);
  finish(c, s, now, rc, err.message);
}

static void http_progress(client *c) {
  struct pollfd fds[c->depth];
  int map[c->depth], n = 0;
  for (int i = 0; i < c->depth; i++)
    if (c->slots[i].busy) fds[n] = (struct pollfd){c->slots[i].conn.fd, bert_serve_conn_events(&c->slots[i].conn), 0}, map[n++] = i;
  if (!n) return;
  poll(fds, (nfds_t)n, (int)(POLL_WAIT * 1000));
  double now = bert_seconds();
  for (int k = 0; k < n; k++) {
    slot *s = &c->slots[map[k]];
    bert_error err = {0};
    int rc = fds[k].revents ? bert_serve_conn_step(&s->conn, &err) : 0;
    if (rc == 1) {
      http_answer(c, s, now);
    } else if (rc < 0 || now - s->sent_at > c->o->timeout) {
      finish(c, s, now, BERT_EIO, rc < 0 ? err.message : "no response within --timeout");
      bert_serve_conn_close(&s->conn);
    }
  }
}

static void http_close(client *c) {
  for (int i = 0; i < c->depth; i++) {
    bert_serve_conn_close(&c->slots[i].conn);
    free(c->slots[i].conn.in);
  }
}

static const transport http_transport = {http_open, http_send, http_progress, http_close};

/* ---- gRPC: one channel; unary calls or one stream, answers from its completion queue ---- */

/* Connected before the first request, so its latency holds no connection set-up, and a failed
 * connection attempt (seen once under full load) is retried rather than failing requests. */
static int grpc_open(client *c, bert_error *err) {
  int rc = bert_serve_grpc_client_open(&c->grpc, c->o->target, c->depth, err);
  if (!rc && (rc = bert_serve_grpc_client_connect(c->grpc, c->o->timeout < 30 ? c->o->timeout : 30, err)))
    bert_serve_grpc_client_close(c->grpc);
  return rc;
}

static int grpc_send(client *c, slot *s, bert_error *err) {
  const bert_serve_bench_batch *b = &c->o->batches[s->batch];
  return bert_serve_grpc_infer_send(c->grpc, c->o->streaming, b->grpc, b->grpc_len, c->o->timeout, &s->call, err);
}

/* raw_output_contents[i] holds outputs[i]'s tensor. */
static int grpc_verify(client *c, slot *s, const Inference__ModelInferResponse *r, bert_error *err) {
  int n = r->n_outputs < 16 ? (int)r->n_outputs : 16;
  bert_serve_bench_output outs[16];
  for (int i = 0; i < n; i++) {
    const Inference__ModelInferResponse__InferOutputTensor *t = r->outputs[i];
    int raw = i < (int)r->n_raw_output_contents;
    outs[i] = (bert_serve_bench_output){t->name, t->datatype, t->shape, (int)t->n_shape,
                                        raw ? r->raw_output_contents[i].data : NULL, raw ? r->raw_output_contents[i].len : 0};
  }
  return bert_serve_bench_verify_raw(&c->o->batches[s->batch], c->o->model, outs, n, c->o->rtol, c->o->atol, err);
}

static void grpc_answer(void *ctx, const bert_serve_grpc_answer *a) {
  client *c = ctx;
  slot *s = NULL;
  for (int i = 0; i < c->depth && !s; i++) s = c->slots[i].busy && c->slots[i].call == a->id ? &c->slots[i] : NULL;
  if (!s) return; /* the gRPC client answers only requests in flight */
  bert_error err = {0};
  if (a->error) finish(c, s, a->at, BERT_EIO, a->error);
  else finish(c, s, a->at, grpc_verify(c, s, a->response, &err), err.message);
}

static void grpc_progress(client *c) { bert_serve_grpc_poll(c->grpc, POLL_WAIT, grpc_answer, c); }

static void grpc_close(client *c) { bert_serve_grpc_client_close(c->grpc); }

static const transport grpc_transport = {grpc_open, grpc_send, grpc_progress, grpc_close};

/* ---- the client loop ---- */

/* `count` requests, or as many as `duration` seconds allow when count < 0. */
static int more_to_send(int started, int count, double t0, double duration, double now) {
  return count >= 0 ? started < count : now - t0 < duration;
}

static void start(client *c, slot *s, int index, double now) {
  s->index = index;
  s->batch = (c->id * 7 + index) % c->o->n_batches; /* clients start at different batches */
  s->sent_at = now;
  bert_error err = {0};
  if (c->t->send(c, s, &err)) {
    c->res->errors++;
    problem(c, "", err.message);
    return;
  }
  s->busy = 1, c->busy++;
}

/* Sends requests until the phase's count or duration is spent and every answer is in. */
static void run_phase(client *c, int count, double duration, int *index) {
  double t0 = bert_seconds();
  int started = 0;
  for (;;) {
    double now = bert_seconds();
    for (int i = 0; i < c->depth; i++)
      if (!c->slots[i].busy && more_to_send(started, count, t0, duration, now)) start(c, &c->slots[i], (*index)++, now), started++;
    if (c->busy) c->t->progress(c);
    else if (!more_to_send(started, count, t0, duration, bert_seconds())) break;
  }
}

static double wait_at_line(start_line *l) {
  pthread_mutex_lock(&l->lock);
  if (++l->waiting >= l->total) {
    l->at = bert_seconds();
    pthread_cond_broadcast(&l->go);
  }
  while (l->waiting < l->total) pthread_cond_wait(&l->go, &l->lock);
  double at = l->at;
  pthread_mutex_unlock(&l->lock);
  return at;
}

static void *client_main(void *arg) {
  client *c = arg;
  const bert_serve_bench_options *o = c->o;
  int index = 0;
  bert_error err = {0};
  c->depth = o->depth > 0 ? o->depth : 1;
  c->t = o->protocol == BERT_SERVE_BENCH_GRPC ? &grpc_transport : &http_transport;
  int open = (c->slots = calloc((size_t)c->depth, sizeof *c->slots)) ? c->t->open(c, &err) == BERT_OK : 0;
  if (!open) c->res->errors++, problem(c, "", c->slots ? err.message : "out of memory");
  if (open) run_phase(c, o->warmup, 0, &index);
  double from = wait_at_line(c->line);
  c->measuring = 1;
  if (open) run_phase(c, o->requests > 0 ? o->requests - o->warmup : -1, o->duration, &index);
  if (open) c->t->close(c);
  free(c->slots);
  c->res->wall = c->res->requests ? c->last_done - from : 0;
  c->res->started = from, c->res->finished = c->last_done;
  return NULL;
}

int bert_serve_bench_run(const bert_serve_bench_options *opt, bert_serve_bench_result *results, bert_error *err) {
  client *clients = calloc((size_t)opt->clients, sizeof *clients);
  if (!clients) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  start_line line = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, opt->clients, 0};
  int started = 0, rc = BERT_OK;
  for (int i = 0; i < opt->clients; i++) {
    memset(&results[i], 0, sizeof results[i]);
    clients[i] = (client){.o = opt, .id = i, .res = &results[i], .line = &line};
    if (pthread_create(&clients[i].thread, NULL, client_main, &clients[i])) {
      rc = bert_error_set(err, BERT_ENOMEM, "cannot start client thread %d", i);
      pthread_mutex_lock(&line.lock); /* the started clients must not wait for the missing ones */
      line.total = started;
      if (line.waiting >= line.total) line.at = bert_seconds(), pthread_cond_broadcast(&line.go);
      pthread_mutex_unlock(&line.lock);
      break;
    }
    started++;
  }
  for (int i = 0; i < started; i++) pthread_join(clients[i].thread, NULL);
  free(clients);
  return rc;
}

void bert_serve_bench_result_free(bert_serve_bench_result *r) {
  free(r->latency);
  r->latency = NULL;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bert_serve_quantile(double *v, int n, double q) {
  if (n <= 0) return 0.0;
  qsort(v, (size_t)n, sizeof *v, by_value);
  double pos = q * (n - 1);
  int lo = (int)pos;
  if (lo >= n - 1) return v[n - 1];
  return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}
