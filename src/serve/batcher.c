#include "serve/batcher.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/threads.h"

typedef struct batcher_worker {
  bert_serve_batcher *b;
  pthread_t thread;
  int started, create_rc;
  bert_error create_err;
} batcher_worker;

struct bert_serve_batcher {
  bert_serve_batcher_options opt;
  pthread_mutex_t lock;
  pthread_cond_t work;     /* a request arrived, or stopping */
  pthread_cond_t ready;    /* an instance finished starting */
  bert_serve_request *head, *tail;
  int stopping;            /* submit fails from now on; the threads end once the queue is empty */
  int joined;
  int flushing;            /* no queue delay any more */
  int max_rows;            /* rows per execution */
  batcher_worker *workers;
  int n_workers, n_started;
};

static int is_preferred(const bert_serve_model_config *cfg, int rows) {
  for (int i = 0; i < cfg->n_preferred; i++)
    if (cfg->preferred[i] == rows) return 1;
  return 0;
}

/* How many queued requests the next batch takes now (0 = wait), and until when to wait. */
static int batch_decision(bert_serve_batcher *b, uint64_t now, uint64_t *deadline) {
  const bert_serve_model_config *cfg = b->opt.cfg;
  if (!cfg->dynamic_batching) return 1;
  int n = 0, rows = 0, preferred_n = 0, full = 0;
  for (bert_serve_request *r = b->head; r; r = r->next) {
    if (rows + r->batch > b->max_rows) {
      full = 1;
      break;
    }
    rows += r->batch, n++;
    if (is_preferred(cfg, rows)) preferred_n = n;
  }
  if (n == 0) return 1; /* cannot happen (requests are at most max rows); never stall */
  if (full || rows == b->max_rows || b->stopping || b->flushing) return n;
  if (preferred_n) return preferred_n;
  *deadline = b->head->enqueued_ns + (uint64_t)cfg->max_queue_delay_us * 1000u;
  return now >= *deadline ? n : 0;
}

static void wait_until(bert_serve_batcher *b, uint64_t deadline) {
  struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
  pthread_cond_timedwait(&b->work, &b->lock, &ts);
}

/* Blocks for the next batch; returns its size, 0 when stopping with an empty queue. */
static int take_batch(bert_serve_batcher *b, bert_serve_request **out) {
  pthread_mutex_lock(&b->lock);
  int n = 0;
  for (;;) {
    if (!b->head) {
      if (b->stopping) break;
      pthread_cond_wait(&b->work, &b->lock);
      continue;
    }
    uint64_t deadline = 0, now = bert_serve_now_ns();
    if ((n = batch_decision(b, now, &deadline))) break;
    wait_until(b, deadline);
  }
  for (int i = 0; i < n; i++) {
    out[i] = b->head;
    b->head = b->head->next;
    out[i]->next = NULL;
  }
  if (!b->head) b->tail = NULL;
  if (b->head) pthread_cond_signal(&b->work); /* another idle instance may take the rest */
  pthread_mutex_unlock(&b->lock);
  return n;
}

static void run_batch(bert_serve_batcher *b, void *instance, bert_serve_request **reqs, int n) {
  uint64_t start = bert_serve_now_ns();
  int rows = 0;
  for (int i = 0; i < n; i++) rows += reqs[i]->batch;
  bert_serve_exec_info info;
  memset(&info, 0, sizeof info);
  bert_error err = {0};
  int rc = b->opt.backend->execute(instance, reqs, n, &info, &err);
  bert_serve_stats_execution(b->opt.stats, rows, &info);
  for (int i = 0; i < n; i++) {
    bert_serve_request *r = reqs[i];
    r->queue_ns = start - r->enqueued_ns;
    r->compute_input_ns = info.compute_input_ns, r->compute_infer_ns = info.compute_infer_ns;
    r->compute_output_ns = info.compute_output_ns;
    r->status = rc;
    if (rc) r->error = err;
    bert_serve_stats_pending(b->opt.stats, -1);
    r->done(r, r->done_arg); /* may free r: touch nothing after */
  }
}

static void *worker_main(void *arg) {
  batcher_worker *w = arg;
  bert_serve_batcher *b = w->b;
  bert_threads_set(b->opt.threads);
  void *instance = NULL;
  int rc = b->opt.backend->instance_create(b->opt.model, &instance, &w->create_err);
  bert_serve_request **reqs = rc ? NULL : malloc(sizeof *reqs * (size_t)b->max_rows);
  if (!rc && !reqs) rc = bert_error_set(&w->create_err, BERT_ENOMEM, "out of memory");
  pthread_mutex_lock(&b->lock);
  w->create_rc = rc, w->started = 1, b->n_started++;
  pthread_cond_broadcast(&b->ready);
  pthread_mutex_unlock(&b->lock);
  for (int n; !rc && (n = take_batch(b, reqs)) > 0;) run_batch(b, instance, reqs, n);
  free(reqs);
  if (instance) b->opt.backend->instance_free(instance);
  return NULL;
}

static void join_all(bert_serve_batcher *b) {
  pthread_mutex_lock(&b->lock);
  b->stopping = 1;
  pthread_cond_broadcast(&b->work);
  pthread_mutex_unlock(&b->lock);
  if (b->joined) return;
  for (int i = 0; i < b->n_workers; i++) pthread_join(b->workers[i].thread, NULL);
  b->joined = 1;
}

static void destroy(bert_serve_batcher *b) {
  pthread_cond_destroy(&b->work);
  pthread_cond_destroy(&b->ready);
  pthread_mutex_destroy(&b->lock);
  free(b->workers);
  free(b);
}

static int wait_started(bert_serve_batcher *b, bert_error *err) {
  pthread_mutex_lock(&b->lock);
  while (b->n_started < b->n_workers) pthread_cond_wait(&b->ready, &b->lock);
  pthread_mutex_unlock(&b->lock);
  for (int i = 0; i < b->n_workers; i++)
    if (b->workers[i].create_rc) {
      if (err) *err = b->workers[i].create_err;
      return b->workers[i].create_rc;
    }
  return BERT_OK;
}

int bert_serve_batcher_start(bert_serve_batcher **out, const bert_serve_batcher_options *opt, bert_error *err) {
  *out = NULL;
  bert_serve_batcher *b = calloc(1, sizeof *b);
  int count = opt->cfg->instance_count > 0 ? opt->cfg->instance_count : 1;
  if (!b || !(b->workers = calloc((size_t)count, sizeof *b->workers))) {
    free(b);
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  b->opt = *opt;
  b->max_rows = opt->cfg->max_batch_size > 0 ? opt->cfg->max_batch_size : 1;
  pthread_mutex_init(&b->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* queue delays must not follow wall-clock jumps */
  pthread_cond_init(&b->work, &attr);
  pthread_condattr_destroy(&attr);
  pthread_cond_init(&b->ready, NULL);
  int rc = BERT_OK;
  for (int i = 0; i < count && !rc; i++) {
    b->workers[i].b = b;
    if (pthread_create(&b->workers[i].thread, NULL, worker_main, &b->workers[i]))
      rc = bert_error_set(err, BERT_ENOMEM, "model '%s': cannot start instance thread %d", opt->cfg->name, i);
    else
      b->n_workers++;
  }
  if (!rc) rc = wait_started(b, err);
  if (rc) {
    join_all(b);
    destroy(b);
    return rc;
  }
  *out = b;
  return BERT_OK;
}

int bert_serve_batcher_submit(bert_serve_batcher *b, bert_serve_request *r, bert_error *err) {
  pthread_mutex_lock(&b->lock);
  if (b->stopping) {
    pthread_mutex_unlock(&b->lock);
    return bert_error_set(err, BERT_EUNSUPPORTED, "the server is shutting down");
  }
  r->next = NULL;
  r->enqueued_ns = bert_serve_now_ns();
  if (b->tail) b->tail->next = r;
  else b->head = r;
  b->tail = r;
  bert_serve_stats_pending(b->opt.stats, 1);
  pthread_cond_signal(&b->work);
  pthread_mutex_unlock(&b->lock);
  return BERT_OK;
}

void bert_serve_batcher_flush(bert_serve_batcher *b) {
  if (!b) return;
  pthread_mutex_lock(&b->lock);
  b->flushing = 1;
  pthread_cond_broadcast(&b->work);
  pthread_mutex_unlock(&b->lock);
}

void bert_serve_batcher_stop(bert_serve_batcher *b) {
  if (b) join_all(b);
}

void bert_serve_batcher_free(bert_serve_batcher *b) {
  if (!b) return;
  join_all(b);
  destroy(b);
}
