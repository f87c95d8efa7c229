/* gRPC core's completion-queue API: every operation on a call is a batch whose completion comes
 * back on the queue with the tag it was started with. A call object lives as long as one of its
 * batches is in progress or an answer is owed (refs), so a handler's late answer, a client that
 * left and the server's own end can come in any order. Completions are never delivered inline,
 * so the call's lock may be held while batches start. */
#include "serve/grpc_server.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

/* Calls requested from gRPC ahead of their arrival: a burst of new clients waits for none (and a
 * call that reached gRPC before a stop is one of ours, so it is answered, not cancelled). */
#define CALLS_AHEAD 64

/* gRPC core is not built with ThreadSanitizer, so what it orders is invisible to TSan: a batch
 * started on one thread happens before its completion is taken on another. Say so: a tag is
 * released when its batch starts and acquired when its completion comes back. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TAG_RELEASE(t) __tsan_release(t)
#define TAG_ACQUIRE(t) __tsan_acquire(t)
#else
#define TAG_RELEASE(t) ((void)(t))
#define TAG_ACQUIRE(t) ((void)(t))
#endif

typedef enum tag_kind { TAG_NEW_CALL, TAG_RECV, TAG_SEND, TAG_CLOSE, TAG_SHUTDOWN } tag_kind;

typedef struct tag {
  tag_kind kind;
  void *owner;
} tag;

typedef struct answer {
  grpc_byte_buffer *msg;
  struct answer *next;
} answer;

struct bert_serve_grpc_call {
  bert_serve_grpc *g;
  const bert_serve_grpc_method *method;
  grpc_call *call;
  pthread_mutex_t lock;
  int refs;                  /* batches in progress + answers owed */
  tag t_recv, t_send, t_close;
  grpc_byte_buffer *recv_buf;
  int cancelled;             /* set by RECV_CLOSE_ON_SERVER */
  int recv_paused;           /* too many unanswered messages: reading waits */
  int half_closed;           /* the client sends no more */
  int pending;               /* messages handed to the handler, not yet answered */
  answer *head, *tail;       /* answers waiting for the send in progress */
  grpc_byte_buffer *sending; /* the message of the send in progress */
  int send_busy, metadata_sent, status_sent;
  int send_answers;          /* the send in progress carries an answer (counted in flight) */
  int broken;                /* cancelled or a send failed: answers are dropped */
  int in_handler;            /* a queue thread is in the method's handler for this call */
  int scheduled;             /* on the sender's list */
  int fail_pending, fail_code; /* a unary failure answered from another thread, to send */
  char *fail_details;
  struct bert_serve_grpc_call *next_scheduled;
  grpc_slice status_details;
};

typedef struct new_call {
  tag t;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array metadata;
} new_call;

struct bert_serve_grpc {
  bert_serve_grpc_options opt;
  grpc_server *server;
  grpc_completion_queue *cq;
  pthread_t *threads;
  int n_threads, port;
  int quiesced;              /* under lock */
  int shutdown_notified;     /* the server's shutdown tag came back */
  int inflight;              /* answers owed or still being sent, all calls */
  tag t_shutdown;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  /* the sender: starts the sends of answers given on other threads (the model's instance threads),
   * whose time then goes to the next batch instead of gRPC's inline write */
  pthread_t sender;
  int sender_started, sender_stop;
  bert_serve_grpc_call *send_head, *send_tail;
  pthread_mutex_t send_lock;
  pthread_cond_t send_wake;
};

/* ---- answers owed, for the graceful stop ---- */

static void inflight_add(bert_serve_grpc *g, int delta) {
  pthread_mutex_lock(&g->lock);
  g->inflight += delta;
  if (!g->inflight) pthread_cond_broadcast(&g->changed);
  pthread_mutex_unlock(&g->lock);
}

/* ---- call lifetime ---- */

static void call_free(bert_serve_grpc_call *c) {
  free(c->fail_details);
  for (answer *a = c->head, *next; a; a = next) next = a->next, grpc_byte_buffer_destroy(a->msg), free(a);
  if (c->sending) grpc_byte_buffer_destroy(c->sending);
  if (c->recv_buf) grpc_byte_buffer_destroy(c->recv_buf);
  grpc_slice_unref(c->status_details);
  grpc_call_unref(c->call);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* Drops one reference (under the lock, which it releases); frees the call at zero. */
static void call_release_locked(bert_serve_grpc_call *c) {
  int left = --c->refs;
  pthread_mutex_unlock(&c->lock);
  if (!left) call_free(c);
}

/* Starts a batch under the lock; a batch that cannot start breaks the call. */
static int start_batch(bert_serve_grpc_call *c, const grpc_op *ops, size_t n, tag *t) {
  TAG_RELEASE(t);
  if (grpc_call_start_batch(c->call, ops, n, t, NULL) != GRPC_CALL_OK) {
    c->broken = 1;
    return -1;
  }
  c->refs++;
  return 0;
}

static void start_recv(bert_serve_grpc_call *c) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &c->recv_buf;
  start_batch(c, &op, 1, &c->t_recv);
}

static void start_close_watch(bert_serve_grpc_call *c) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->cancelled;
  start_batch(c, &op, 1, &c->t_close);
}

/* Sends initial metadata when not yet sent, `msg` when given, and the status when `code` >= 0.
 * `answer`: the batch carries an answer, in flight until it is sent. */
static void start_send(bert_serve_grpc_call *c, grpc_byte_buffer *msg, int code, const char *details, int answer) {
  grpc_op ops[3];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  if (!c->metadata_sent) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA, c->metadata_sent = 1;
  if (msg) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = msg;
  }
  if (code >= 0) {
    grpc_slice_unref(c->status_details);
    c->status_details = grpc_slice_from_copied_string(details ? details : "");
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)code;
    ops[n++].data.send_status_from_server.status_details = details ? &c->status_details : NULL;
    c->status_sent = 1;
  }
  c->sending = msg;
  if (start_batch(c, ops, n, &c->t_send)) {
    if (msg) grpc_byte_buffer_destroy(msg);
    c->sending = NULL;
    if (answer) inflight_add(c->g, -1);
    return;
  }
  c->send_busy = 1, c->send_answers = answer;
}

/* The next send of a call (under its lock): the next answer, or a stream's final OK once the
 * client has closed its side and everything is answered. */
static void pump_sends(bert_serve_grpc_call *c) {
  if (c->fail_pending && (c->broken || c->status_sent)) c->fail_pending = 0, inflight_add(c->g, -1);
  if (c->send_busy || c->status_sent || c->broken) return;
  if (c->fail_pending) {
    c->fail_pending = 0;
    start_send(c, NULL, c->fail_code, c->fail_details, 1);
  } else if (c->head) {
    answer *a = c->head;
    c->head = a->next;
    if (!c->head) c->tail = NULL;
    grpc_byte_buffer *msg = a->msg;
    free(a);
    start_send(c, msg, c->method->streaming ? -1 : GRPC_STATUS_OK, NULL, 1);
  } else if (c->method->streaming && c->half_closed && !c->pending) {
    start_send(c, NULL, GRPC_STATUS_OK, NULL, 0);
  }
}

static void drop_answers(bert_serve_grpc_call *c) {
  int n = 0;
  for (answer *a = c->head, *next; a; a = next, n++) next = a->next, grpc_byte_buffer_destroy(a->msg), free(a);
  c->head = c->tail = NULL;
  if (n) inflight_add(c->g, -n);
}

/* ---- answers ---- */

static grpc_byte_buffer *message_buffer(uint8_t *msg, size_t len) {
  grpc_slice s = msg && len ? grpc_slice_new(msg, len, free) : grpc_empty_slice();
  if (!(msg && len)) free(msg);
  grpc_byte_buffer *b = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return b;
}

/* Under the lock: one answer given; a paused stream reads again. */
static void answered(bert_serve_grpc_call *c) {
  c->pending--;
  if (c->recv_paused && c->pending < BERT_SERVE_GRPC_STREAM_PENDING && !c->half_closed && !c->broken) {
    c->recv_paused = 0;
    start_recv(c);
  }
}

/* Under the call's lock: the answers go out now when on a queue thread (in the handler),
 * else through the sender. */
static void send_soon(bert_serve_grpc_call *c) {
  bert_serve_grpc *g = c->g;
  if (c->in_handler || !g->sender_started) {
    pump_sends(c);
    return;
  }
  if (c->scheduled) return;
  c->scheduled = 1, c->refs++;
  pthread_mutex_lock(&g->send_lock);
  c->next_scheduled = NULL;
  if (g->send_tail) g->send_tail->next_scheduled = c;
  else g->send_head = c;
  g->send_tail = c;
  pthread_cond_signal(&g->send_wake);
  pthread_mutex_unlock(&g->send_lock);
}

static void *sender_thread(void *arg) {
  bert_serve_grpc *g = arg;
  pthread_mutex_lock(&g->send_lock);
  for (;;) {
    while (!g->send_head && !g->sender_stop) pthread_cond_wait(&g->send_wake, &g->send_lock);
    bert_serve_grpc_call *c = g->send_head;
    if (!c) break; /* stopping, and nothing left to send */
    g->send_head = c->next_scheduled;
    if (!g->send_head) g->send_tail = NULL;
    pthread_mutex_unlock(&g->send_lock);
    pthread_mutex_lock(&c->lock);
    c->scheduled = 0;
    pump_sends(c);
    call_release_locked(c);
    pthread_mutex_lock(&g->send_lock);
  }
  pthread_mutex_unlock(&g->send_lock);
  return NULL;
}

void bert_serve_grpc_reply(bert_serve_grpc_call *c, uint8_t *msg, size_t len) {
  bert_serve_grpc *g = c->g;
  answer *a = malloc(sizeof *a);
  pthread_mutex_lock(&c->lock);
  if (c->broken || !a) {
    free(msg), free(a);
    if (!c->broken) c->broken = 1, grpc_call_cancel(c->call, NULL); /* out of memory: end the call */
    inflight_add(g, -1);
  } else {
    *a = (answer){message_buffer(msg, len), NULL};
    if (c->tail) c->tail->next = a;
    else c->head = a;
    c->tail = a;
  }
  answered(c);
  send_soon(c);
  call_release_locked(c);
}

void bert_serve_grpc_fail(bert_serve_grpc_call *c, bert_serve_grpc_code code, const char *message) {
  char *details = strdup(message ? message : "");
  pthread_mutex_lock(&c->lock);
  free(c->fail_details);
  c->fail_details = details, c->fail_code = (int)code, c->fail_pending = 1;
  answered(c);
  send_soon(c);
  call_release_locked(c);
}

/* ---- completions ---- */

static void set_in_handler(bert_serve_grpc_call *c, int on) {
  pthread_mutex_lock(&c->lock);
  c->in_handler = on;
  pthread_mutex_unlock(&c->lock);
}

static void on_message(bert_serve_grpc_call *c, grpc_byte_buffer *buf) {
  set_in_handler(c, 1);
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, buf)) { /* a compressed message we cannot read */
    bert_serve_grpc_fail(c, BERT_GRPC_INVALID_ARGUMENT, "the request message cannot be read (unsupported compression)");
  } else {
    grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    c->method->handler(c->g->opt.ctx, c, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
    grpc_slice_unref(s);
  }
  set_in_handler(c, 0);
}

static void on_recv(bert_serve_grpc_call *c, int success) {
  pthread_mutex_lock(&c->lock);
  grpc_byte_buffer *buf = c->recv_buf;
  c->recv_buf = NULL;
  if (!success || !buf) {
    c->half_closed = 1;
    if (!c->method->streaming && !c->status_sent && !c->broken)
      start_send(c, NULL, GRPC_STATUS_INVALID_ARGUMENT, "the call carries no request message", 0);
    pump_sends(c);
    call_release_locked(c);
    return;
  }
  c->pending++, c->refs++; /* the answer owed; released by reply / fail */
  pthread_mutex_unlock(&c->lock);
  inflight_add(c->g, 1);
  on_message(c, buf);
  grpc_byte_buffer_destroy(buf);
  pthread_mutex_lock(&c->lock);
  if (!c->method->streaming) c->half_closed = 1;
  else if (!c->half_closed && !c->broken) {
    if (c->pending < BERT_SERVE_GRPC_STREAM_PENDING) start_recv(c);
    else c->recv_paused = 1;
  }
  call_release_locked(c);
}

static void on_send(bert_serve_grpc_call *c, int success) {
  pthread_mutex_lock(&c->lock);
  c->send_busy = 0;
  if (c->send_answers) c->send_answers = 0, inflight_add(c->g, -1);
  if (c->sending) grpc_byte_buffer_destroy(c->sending), c->sending = NULL;
  if (!success) c->broken = 1, drop_answers(c);
  pump_sends(c);
  call_release_locked(c);
}

static void on_close(bert_serve_grpc_call *c) {
  pthread_mutex_lock(&c->lock);
  if (c->cancelled) c->broken = 1, drop_answers(c);
  call_release_locked(c);
}

static const bert_serve_grpc_method *find_method(const bert_serve_grpc *g, grpc_slice path) {
  size_t len = GRPC_SLICE_LENGTH(path);
  for (int i = 0; i < g->opt.n_methods; i++) {
    const char *p = g->opt.methods[i].path;
    if (strlen(p) == len && !memcmp(p, GRPC_SLICE_START_PTR(path), len)) return &g->opt.methods[i];
  }
  return NULL;
}

static const bert_serve_grpc_method unknown_method = {"", 0, NULL};

static void request_call(bert_serve_grpc *g, new_call *nc);

static void on_new_call(bert_serve_grpc *g, new_call *nc, int success) {
  grpc_call *call = nc->call;
  const bert_serve_grpc_method *m = success ? find_method(g, nc->details.method) : NULL;
  char path[200];
  snprintf(path, sizeof path, "%.*s", success ? (int)GRPC_SLICE_LENGTH(nc->details.method) : 0,
           success ? (const char *)GRPC_SLICE_START_PTR(nc->details.method) : "");
  grpc_call_details_destroy(&nc->details);
  grpc_metadata_array_destroy(&nc->metadata);
  if (!success) { /* the server is shutting down */
    free(nc);
    return;
  }
  request_call(g, nc);
  bert_serve_grpc_call *c = calloc(1, sizeof *c);
  if (!c) {
    grpc_call_cancel(call, NULL);
    grpc_call_unref(call);
    return;
  }
  *c = (bert_serve_grpc_call){.g = g, .method = m ? m : &unknown_method, .call = call};
  c->t_recv = (tag){TAG_RECV, c}, c->t_send = (tag){TAG_SEND, c}, c->t_close = (tag){TAG_CLOSE, c};
  c->status_details = grpc_empty_slice();
  c->refs = 1; /* held while starting */
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_lock(&c->lock);
  start_close_watch(c);
  if (m) {
    start_recv(c);
  } else {
    char msg[300];
    snprintf(msg, sizeof msg, "bert serve does not implement the method %s", path);
    start_send(c, NULL, GRPC_STATUS_UNIMPLEMENTED, msg, 0);
  }
  call_release_locked(c);
}

static void request_call(bert_serve_grpc *g, new_call *nc) {
  memset(nc, 0, sizeof *nc);
  nc->t = (tag){TAG_NEW_CALL, nc};
  grpc_call_details_init(&nc->details);
  grpc_metadata_array_init(&nc->metadata);
  TAG_RELEASE(&nc->t);
  if (grpc_server_request_call(g->server, &nc->call, &nc->details, &nc->metadata, g->cq, g->cq, &nc->t) != GRPC_CALL_OK) {
    grpc_call_details_destroy(&nc->details);
    grpc_metadata_array_destroy(&nc->metadata);
    free(nc);
  }
}

static void dispatch(bert_serve_grpc *g, tag *t, int success) {
  switch (t->kind) {
    case TAG_NEW_CALL: on_new_call(g, t->owner, success); break;
    case TAG_RECV: on_recv(t->owner, success); break;
    case TAG_SEND: on_send(t->owner, success); break;
    case TAG_CLOSE: on_close(t->owner); break;
    case TAG_SHUTDOWN:
      pthread_mutex_lock(&g->lock);
      g->shutdown_notified = 1;
      pthread_cond_broadcast(&g->changed);
      pthread_mutex_unlock(&g->lock);
      break;
  }
}

static void *cq_thread(void *arg) {
  bert_serve_grpc *g = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type == GRPC_OP_COMPLETE) TAG_ACQUIRE(ev.tag), dispatch(g, ev.tag, ev.success);
  }
  return NULL;
}

/* ---- the server ---- */

static int bind_port(bert_serve_grpc *g, bert_error *err) {
  char addr[300];
  const char *open = strchr(g->opt.host, ':') ? "[" : "", *close = *open ? "]" : "";
  snprintf(addr, sizeof addr, "%s%s%s:%d", open, g->opt.host, close, g->opt.port);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  g->port = grpc_server_add_http2_port(g->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (g->port <= 0)
    return bert_error_set(err, BERT_EIO, "cannot listen for gRPC on %s (address in use, or not an address of this host)", addr);
  return BERT_OK;
}

static void int_arg(grpc_arg *a, const char *key, int value) {
  a->type = GRPC_ARG_INTEGER, a->key = (char *)key, a->value.integer = value;
}

/* Slow and idle clients (docs/serve.md): a connection that does not send the HTTP/2 preface and
 * SETTINGS in time is closed, one without calls for the idle time gets GOAWAY, a peer that holds
 * calls but no longer answers pings is dropped, and one connection opens a bounded number of
 * calls. 0 keeps gRPC's default. Returns the number of args written (at most 4). */
static int limit_args(const bert_serve_grpc_options *o, grpc_arg *args) {
  int n = 0;
  if (o->handshake_timeout > 0) int_arg(&args[n++], GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, o->handshake_timeout * 1000);
  if (o->idle_timeout > 0) {
    int_arg(&args[n++], GRPC_ARG_MAX_CONNECTION_IDLE_MS, o->idle_timeout * 1000);
    int_arg(&args[n++], GRPC_ARG_KEEPALIVE_TIME_MS, o->idle_timeout * 1000);
  }
  if (o->max_streams > 0) int_arg(&args[n++], GRPC_ARG_MAX_CONCURRENT_STREAMS, o->max_streams);
  return n;
}

static int create_server(bert_serve_grpc *g, bert_error *err) {
  size_t max = g->opt.max_message_bytes;
  grpc_arg args[3 + 4];
  memset(args, 0, sizeof args);
  args[0].type = GRPC_ARG_INTEGER, args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = max > INT_MAX ? INT_MAX : (int)max;
  args[1].type = GRPC_ARG_INTEGER, args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, args[1].value.integer = -1;
  /* gRPC binds with SO_REUSEPORT by default: a second server on a taken port would share it silently */
  args[2].type = GRPC_ARG_INTEGER, args[2].key = GRPC_ARG_ALLOW_REUSEPORT, args[2].value.integer = 0;
  grpc_channel_args channel_args = {(size_t)(3 + limit_args(&g->opt, args + 3)), args};
  if (!(g->server = grpc_server_create(&channel_args, NULL)) ||
      !(g->cq = grpc_completion_queue_create_for_next(NULL)))
    return bert_error_set(err, BERT_ENOMEM, "cannot create the gRPC server");
  grpc_server_register_completion_queue(g->server, g->cq, NULL);
  return bind_port(g, err);
}

static int start_threads(bert_serve_grpc *g, bert_error *err) {
  if (pthread_create(&g->sender, NULL, sender_thread, g)) return bert_error_set(err, BERT_EIO, "cannot start the gRPC sender");
  g->sender_started = 1;
  int n = g->opt.threads > 0 ? g->opt.threads : 2;
  if (!(g->threads = calloc((size_t)n, sizeof *g->threads))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (; g->n_threads < n; g->n_threads++)
    if (pthread_create(&g->threads[g->n_threads], NULL, cq_thread, g))
      return bert_error_set(err, BERT_EIO, "cannot start the gRPC threads");
  return BERT_OK;
}

int bert_serve_grpc_start(bert_serve_grpc **out, const bert_serve_grpc_options *opt, bert_error *err) {
  *out = NULL;
  bert_serve_grpc *g = calloc(1, sizeof *g);
  if (!g) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  g->opt = *opt;
  g->t_shutdown = (tag){TAG_SHUTDOWN, g};
  pthread_mutex_init(&g->lock, NULL);
  pthread_cond_init(&g->changed, NULL);
  pthread_mutex_init(&g->send_lock, NULL);
  pthread_cond_init(&g->send_wake, NULL);
  grpc_init();
  int rc = create_server(g, err);
  if (g->server) grpc_server_start(g->server); /* even without a port: stopping needs a started server */
  if (!rc) {
    for (int i = 0; i < CALLS_AHEAD; i++) {
      new_call *nc = malloc(sizeof *nc);
      if (nc) request_call(g, nc);
    }
    rc = start_threads(g, err);
  }
  if (rc) {
    bert_serve_grpc_stop(g);
    return rc;
  }
  *out = g;
  return BERT_OK;
}

int bert_serve_grpc_port(const bert_serve_grpc *g) { return g->port; }

void bert_serve_grpc_quiesce(bert_serve_grpc *g) {
  if (!g || !g->server) return;
  pthread_mutex_lock(&g->lock);
  int first = !g->quiesced;
  g->quiesced = 1;
  pthread_mutex_unlock(&g->lock);
  if (first) TAG_RELEASE(&g->t_shutdown), grpc_server_shutdown_and_notify(g->server, g->cq, &g->t_shutdown);
}

static struct timespec deadline_after(double seconds) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double t = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + (seconds > 0 ? seconds : 0);
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  return ts;
}

int bert_serve_grpc_wait_idle(bert_serve_grpc *g, double timeout) {
  if (!g) return 0;
  struct timespec until = deadline_after(timeout);
  pthread_mutex_lock(&g->lock);
  while (g->inflight && pthread_cond_timedwait(&g->changed, &g->lock, &until) == 0) {
  }
  int left = g->inflight;
  pthread_mutex_unlock(&g->lock);
  return left;
}

static void stop_sender(bert_serve_grpc *g) {
  if (!g->sender_started) return;
  pthread_mutex_lock(&g->send_lock);
  g->sender_stop = 1;
  pthread_cond_signal(&g->send_wake);
  pthread_mutex_unlock(&g->send_lock);
  pthread_join(g->sender, NULL); /* it sends what is scheduled first */
  g->sender_started = 0;
}

void bert_serve_grpc_stop(bert_serve_grpc *g) {
  if (!g) return;
  stop_sender(g);
  if (g->server) {
    bert_serve_grpc_quiesce(g);
    grpc_server_cancel_all_calls(g->server);
    if (g->n_threads) { /* the shutdown tag comes back through a queue thread */
      pthread_mutex_lock(&g->lock);
      while (!g->shutdown_notified) pthread_cond_wait(&g->changed, &g->lock);
      pthread_mutex_unlock(&g->lock);
    } else { /* failed start: drain the queue here */
      while (!g->shutdown_notified) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_OP_COMPLETE) TAG_ACQUIRE(ev.tag), dispatch(g, ev.tag, ev.success);
      }
    }
    grpc_server_destroy(g->server);
  }
  if (g->cq) {
    grpc_completion_queue_shutdown(g->cq);
    for (int i = 0; i < g->n_threads; i++) pthread_join(g->threads[i], NULL);
    if (!g->n_threads) /* no thread drained it */
      while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
      }
    grpc_completion_queue_destroy(g->cq);
  }
  free(g->threads);
  pthread_cond_destroy(&g->send_wake);
  pthread_mutex_destroy(&g->send_lock);
  pthread_cond_destroy(&g->changed);
  pthread_mutex_destroy(&g->lock);
  free(g);
  grpc_shutdown();
}
