#include "serve/bench_client.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "serve/http_client.h"

typedef struct slot {
  bert_serve_conn conn;
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

typedef struct client {
  const bert_serve_bench_options *o;
  int id;
  bert_serve_bench_result *res;
  start_line *line;
  int latency_cap;
  int measuring;
  double last_done;
  pthread_t thread;
} client;

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

/* A completed response: status, check, and the measurement. */
static void complete(client *c, slot *s, double now) {
  const bert_serve_bench_options *o = c->o;
  const bert_serve_bench_batch *b = &o->batches[s->batch];
  size_t len;
  const char *body = bert_serve_conn_body(&s->conn, &len);
  if (s->conn.status != 200) {
    c->res->errors++;
    char detail[300];
    snprintf(detail, sizeof detail, "HTTP %d: %.*s", s->conn.status, (int)(len < 250 ? len : 250), body);
    problem(c, "", detail);
    return;
  }
  char hl[32];
  int64_t header_len = bert_serve_conn_header(&s->conn, "Inference-Header-Content-Length", hl, sizeof hl) ? atoll(hl) : -1;
  bert_error err = {0};
  if (bert_serve_bench_verify(b, o->model, body, len, header_len, o->rtol, o->atol, &err)) {
    c->res->mismatches++;
    problem(c, "check failed: ", err.message);
  }
  if (!c->measuring) return;
  c->last_done = now;
  c->res->rows += b->rows;
  c->res->busy += now - s->sent_at;
  if (!record_latency(c, now - s->sent_at)) problem(c, "", "out of memory");
}

/* `count` requests, or as many as `duration` seconds allow when count < 0. */
static int more_to_send(int started, int count, double t0, double duration, double now) {
  return count >= 0 ? started < count : now - t0 < duration;
}

static void start(client *c, slot *s, int index, double now) {
  const bert_serve_bench_options *o = c->o;
  s->index = index;
  s->batch = (c->id * 7 + index) % o->n_batches; /* clients start at different batches */
  const bert_serve_bench_batch *b = &o->batches[s->batch];
  char headers[160];
  if (b->header_len)
    snprintf(headers, sizeof headers, "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: %zu\r\n", b->header_len);
  else
    snprintf(headers, sizeof headers, "Content-Type: application/json\r\n");
  bert_error err = {0};
  s->sent_at = now;
  if (bert_serve_conn_start(&s->conn, "POST", o->path, headers, b->body, b->body_len, &err)) {
    c->res->errors++;
    problem(c, "", err.message);
  }
}

/* Advances every busy slot once after poll; returns the number still busy. */
static int progress(client *c, slot *slots, int depth) {
  struct pollfd fds[depth];
  int map[depth], n = 0;
  for (int i = 0; i < depth; i++)
    if (slots[i].conn.busy) fds[n] = (struct pollfd){slots[i].conn.fd, bert_serve_conn_events(&slots[i].conn), 0}, map[n++] = i;
  if (!n) return 0;
  poll(fds, (nfds_t)n, 200);
  double now = bert_seconds();
  for (int k = 0; k < n; k++) {
    slot *s = &slots[map[k]];
    bert_error err = {0};
    int rc = fds[k].revents ? bert_serve_conn_step(&s->conn, &err) : 0;
    if (rc == 1) {
      complete(c, s, now);
    } else if (rc < 0 || now - s->sent_at > c->o->timeout) {
      c->res->errors++;
      problem(c, "", rc < 0 ? err.message : "no response within --timeout");
      bert_serve_conn_close(&s->conn);
    }
  }
  return n;
}

/* Sends requests until the phase's count or duration is spent and every answer is in. */
static void run_phase(client *c, slot *slots, int depth, int count, double duration, int *index) {
  double t0 = bert_seconds();
  int started = 0;
  for (;;) {
    double now = bert_seconds();
    for (int i = 0; i < depth; i++)
      if (!slots[i].conn.busy && more_to_send(started, count, t0, duration, now)) start(c, &slots[i], (*index)++, now), started++;
    if (!progress(c, slots, depth) && !more_to_send(started, count, t0, duration, bert_seconds())) break;
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
  int depth = o->depth > 0 ? o->depth : 1, index = 0;
  slot slots[depth];
  for (int i = 0; i < depth; i++) bert_serve_conn_init(&slots[i].conn, o->host, o->port);
  run_phase(c, slots, depth, o->warmup, 0, &index);
  double from = wait_at_line(c->line);
  c->measuring = 1;
  run_phase(c, slots, depth, o->requests > 0 ? o->requests - o->warmup : -1, o->duration, &index);
  for (int i = 0; i < depth; i++) {
    bert_serve_conn_close(&slots[i].conn);
    free(slots[i].conn.in);
  }
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
    clients[i] = (client){opt, i, &results[i], &line, 0, 0, 0, 0};
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
