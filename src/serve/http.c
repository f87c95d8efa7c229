/* libmicrohttpd plumbing: body collection with a size limit, suspend/resume, replies, counting. */
#include "serve/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "serve/infer_request.h"

/* Bytes of an oversized body read and dropped before the connection is cut instead: the 413 is
 * sent only after the body, and a client streaming without end must not hold a thread forever. */
#define HTTP_DISCARD_LIMIT ((size_t)64 << 20)

/* Where a connection is in its request cycle: what its timeout is, and whether it may be closed
 * to make room (idle first, then stalled partial requests; never a request being answered). */
typedef enum conn_phase {
  CONN_HEADERS, /* waiting for the request line and headers: --header-timeout, total */
  CONN_BODY,    /* reading the body: --body-timeout between reads */
  CONN_BUSY,    /* handled, suspended for inference, or replying: never cut by us */
  CONN_IDLE,    /* keep-alive between requests: --idle-timeout */
} conn_phase;

/* One open connection, from MHD's start notification to its close notification. */
typedef struct http_conn {
  struct http_conn *prev, *next; /* in bert_serve_http.conns, least recent progress first */
  int fd;
  conn_phase phase;
  double since; /* last progress (phase change or body bytes) */
  int cut;      /* shut down by us: MHD closes it on its next pass */
} http_conn;

struct bert_serve_http {
  struct MHD_Daemon *daemon;
  bert_serve_http_options opt;
  int port;
  atomic_int in_flight;
  pthread_mutex_t conns_lock; /* guards the list; MHD frees a connection only after its close notification */
  http_conn *oldest, *newest;
  int n_live;                  /* open and not cut */
  MHD_socket quiesced;         /* the listening socket once quiesced, closed after MHD stops */
};

/* Where a call is between the handler and its reply. A suspended call belongs to two threads: the
 * connection's, which may see the client leave, and the one that resumes it (a batcher). */
typedef enum call_state {
  CALL_ACTIVE,     /* in a handler or replied: nothing pending */
  CALL_SUSPENDED,  /* waiting for bert_serve_http_resume */
  CALL_RESUMED,    /* resumed; the continuation runs on the next pass of the connection */
  CALL_ORPHANED,   /* the connection ended while suspended: resume cancels and frees */
} call_state;

struct bert_serve_http_call {
  bert_serve_http *h;
  struct MHD_Connection *conn;
  http_conn *tracked;         /* NULL when it could not be tracked (out of memory) */
  const char *method, *path;  /* MHD's, valid for the whole request */
  char *body;
  size_t len, cap;
  size_t expected;            /* Content-Length, 0 when unknown */
  int too_large, replied;
  pthread_mutex_t lock;       /* guards state */
  call_state state;
  bert_serve_http_continuation then;
  bert_serve_http_cancel cancel;
  void *then_arg;
};

/* ---- replies ---- */

void bert_serve_http_reply(bert_serve_http_call *c, int status, const char *content_type, char *body, size_t len,
                           const char *extra_name, const char *extra_value) {
  const char *headers[] = {extra_name, extra_value, NULL};
  bert_serve_http_reply_headers(c, status, content_type, body, len, headers);
}

void bert_serve_http_reply_headers(bert_serve_http_call *c, int status, const char *content_type, char *body, size_t len,
                                   const char *const *headers) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE
                                                                                                : MHD_RESPMEM_PERSISTENT);
  if (!r) {
    free(body);
    return; /* out of memory: MHD closes the connection when the handler queues nothing */
  }
  if (content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  for (; headers && headers[0]; headers += 2) MHD_add_response_header(r, headers[0], headers[1]);
  MHD_queue_response(c->conn, (unsigned)status, r);
  MHD_destroy_response(r);
  c->replied = 1;
}

void bert_serve_http_reply_json(bert_serve_http_call *c, int status, bert_strbuf *json) {
  if (json->failed) {
    bert_strbuf_free(json);
    bert_serve_http_reply_error(c, 500, "out of memory");
    return;
  }
  char *body = json->data;
  size_t len = json->len;
  json->data = NULL, json->len = json->cap = 0;
  bert_serve_http_reply(c, status, "application/json", body, len, NULL, NULL);
}

void bert_serve_http_reply_error(bert_serve_http_call *c, int status, const char *message) {
  bert_strbuf s = {0};
  bert_strbuf_puts(&s, "{\"error\":");
  bert_serve_json_string(&s, message, strlen(message));
  bert_strbuf_puts(&s, "}");
  if (s.failed) { /* still JSON, without the message */
    bert_strbuf_free(&s);
    bert_serve_http_reply(c, status, "application/json", NULL, 0, NULL, NULL);
    return;
  }
  bert_serve_http_reply_json(c, status, &s);
}

/* ---- call accessors ---- */

const char *bert_serve_http_method(const bert_serve_http_call *c) { return c->method; }
const char *bert_serve_http_path(const bert_serve_http_call *c) { return c->path; }
size_t bert_serve_http_body_len(const bert_serve_http_call *c) { return c->len; }

const char *bert_serve_http_header(const bert_serve_http_call *c, const char *name) {
  return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

char *bert_serve_http_take_body(bert_serve_http_call *c, size_t *len) {
  char *b = c->body;
  *len = c->len;
  c->body = NULL, c->len = c->cap = 0;
  return b;
}

static void call_free(bert_serve_http_call *c) {
  pthread_mutex_destroy(&c->lock);
  free(c->body);
  free(c);
}

/* Moves the state from `from` to `to` (when it is `from`); returns the state it had. */
static call_state call_swap(bert_serve_http_call *c, call_state from, call_state to) {
  pthread_mutex_lock(&c->lock);
  call_state was = c->state;
  if (was == from) c->state = to;
  pthread_mutex_unlock(&c->lock);
  return was;
}

void bert_serve_http_suspend(bert_serve_http_call *c, bert_serve_http_continuation then, bert_serve_http_cancel cancel,
                             void *arg) {
  c->then = then, c->cancel = cancel, c->then_arg = arg;
  call_swap(c, CALL_ACTIVE, CALL_SUSPENDED);
  MHD_suspend_connection(c->conn);
}

void bert_serve_http_resume(bert_serve_http_call *c) {
  struct MHD_Connection *conn = c->conn; /* once resumed, the connection's thread may free c */
  call_state was = call_swap(c, CALL_SUSPENDED, CALL_RESUMED);
  if (was == CALL_SUSPENDED) {
    MHD_resume_connection(conn);
  } else if (was == CALL_ORPHANED) { /* the connection is gone (and MHD's object with it) */
    c->cancel(c->then_arg);
    call_free(c);
  }
}

/* ---- connections: a timeout per phase, room under the cap ---- */

static void conns_unlink(bert_serve_http *h, http_conn *t) {
  if (t->prev) t->prev->next = t->next; else h->oldest = t->next;
  if (t->next) t->next->prev = t->prev; else h->newest = t->prev;
  t->prev = t->next = NULL;
}

static void conns_append(bert_serve_http *h, http_conn *t) {
  t->prev = h->newest;
  if (h->newest) h->newest->next = t; else h->oldest = t;
  h->newest = t;
}

/* Ends a connection from outside its thread: MHD sees the end of the stream and closes it on its
 * own thread. Never close(): MHD still owns the descriptor, which a new connection could reuse.
 * The descriptor stays open until the close notification, which takes conns_lock (held here). */
static void conn_cut(bert_serve_http *h, http_conn *t) {
  shutdown(t->fd, SHUT_RDWR);
  t->cut = 1;
  h->n_live--;
}

/* The least recently active connection, not cut, that is idle (or else stalled in a request). */
static http_conn *oldest_cuttable(bert_serve_http *h, int partial) {
  for (http_conn *t = h->oldest; t; t = t->next)
    if (!t->cut && (partial ? t->phase == CONN_HEADERS || t->phase == CONN_BODY : t->phase == CONN_IDLE)) return t;
  return NULL;
}

/* From 90% of the cap on, room is made before MHD's own limit is reached: MHD splits its limit
 * between the pool threads, and a thread at its share stops accepting, so new clients would
 * wait in the listen queue instead. */
static int high_water(int max_connections) {
  int high = max_connections - max_connections / 10;
  return high > 1 ? high : 1;
}

/* Runs as a connection arrives, which is when room matters: cuts the connections past their
 * header deadline (MHD's timeout restarts on every byte, so headers sent a byte at a time would
 * outlive it; on a kept-alive connection the next request's headers are read in the idle phase,
 * so idle + header is its deadline), then, while at the high-water mark, the oldest idle
 * connection, or if none is idle the oldest stalled partial request. The list is in order of
 * progress, so the deadline walk stops at the first connection younger than it. Caller holds
 * conns_lock. */
static void make_room(bert_serve_http *h, double now) {
  const bert_serve_conn_limits *l = &h->opt.limits;
  double headers_due = now - l->header_timeout, next_headers_due = headers_due - l->idle_timeout;
  for (http_conn *t = h->oldest; t && t->since <= headers_due; t = t->next)
    if (!t->cut && (t->phase == CONN_HEADERS || (t->phase == CONN_IDLE && t->since <= next_headers_due))) conn_cut(h, t);
  int high = high_water(l->max_connections);
  while (h->n_live + 1 > high) {
    http_conn *t = oldest_cuttable(h, 0);
    if (!t && !(t = oldest_cuttable(h, 1))) break; /* all busy: MHD's limit refuses the excess */
    conn_cut(h, t);
  }
}

static http_conn *conn_track(bert_serve_http *h, int fd) {
  http_conn *t = calloc(1, sizeof *t);
  if (!t) return NULL; /* untracked: MHD's timeouts still bound it */
  t->fd = fd, t->phase = CONN_HEADERS, t->since = bert_seconds();
  pthread_mutex_lock(&h->conns_lock);
  make_room(h, t->since);
  conns_append(h, t);
  h->n_live++;
  pthread_mutex_unlock(&h->conns_lock);
  return t;
}

static void conn_closed(bert_serve_http *h, http_conn *t) {
  if (!t) return;
  pthread_mutex_lock(&h->conns_lock);
  conns_unlink(h, t);
  if (!t->cut) h->n_live--;
  pthread_mutex_unlock(&h->conns_lock);
  free(t);
}

/* Moves a connection to `phase`, its progress now, with MHD's inactivity timeout set to
 * `timeout` seconds (-1: unchanged). On the connection's own thread, as MHD requires. */
static void conn_enter(bert_serve_http *h, struct MHD_Connection *conn, http_conn *t, conn_phase phase, int timeout) {
  if (!t) return;
  pthread_mutex_lock(&h->conns_lock);
  t->phase = phase, t->since = bert_seconds();
  conns_unlink(h, t);
  conns_append(h, t);
  pthread_mutex_unlock(&h->conns_lock);
  if (timeout >= 0) MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)timeout);
}

static http_conn *conn_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info ? info->socket_context : NULL;
}

/* ---- the request cycle ---- */

/* Content-Length as announced; 0 when absent or not a number (the body then decides). */
static size_t announced_length(struct MHD_Connection *conn) {
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (!v) return 0;
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  return *v && !*end ? (size_t)n : 0;
}

static int start_call(bert_serve_http *h, struct MHD_Connection *conn, const char *method, const char *url,
                      bert_serve_http_call **out) {
  bert_serve_http_call *c = calloc(1, sizeof *c);
  if (!c) return 0;
  pthread_mutex_init(&c->lock, NULL);
  c->state = CALL_ACTIVE;
  c->h = h, c->conn = conn, c->method = method, c->path = url;
  c->expected = announced_length(conn);
  c->tracked = conn_of(conn);
  conn_enter(h, conn, c->tracked, CONN_BODY, h->opt.limits.body_timeout);
  atomic_fetch_add(&h->in_flight, 1);
  *out = c;
  if (c->expected > h->opt.max_body_bytes) { /* refuse before the body is read */
    char msg[200];
    snprintf(msg, sizeof msg, "request body of %zu bytes exceeds the server's limit of %zu (--max-body-bytes)", c->expected,
             h->opt.max_body_bytes);
    bert_serve_http_reply_error(c, 413, msg);
  }
  return 1;
}

/* Appends an upload chunk; returns 0 to cut the connection. */
static int collect(bert_serve_http_call *c, const char *data, size_t n) {
  size_t limit = c->h->opt.max_body_bytes;
  if (c->too_large || c->len + n > limit) {
    c->too_large = 1;
    c->len += n; /* counted, not kept */
    return c->len <= limit + HTTP_DISCARD_LIMIT;
  }
  if (c->len + n > c->cap) {
    size_t cap = c->cap ? c->cap : (c->expected ? c->expected : 65536);
    while (cap < c->len + n) cap *= 2;
    char *grown = realloc(c->body, cap);
    if (!grown) return 0;
    c->body = grown, c->cap = cap;
  }
  memcpy(c->body + c->len, data, n);
  c->len += n;
  return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
  (void)version;
  bert_serve_http *h = cls;
  bert_serve_http_call *c = *con_cls;
  if (!c) return start_call(h, conn, method, url, (bert_serve_http_call **)con_cls) ? MHD_YES : MHD_NO;
  if (c->replied) { /* answered early (413): the rest of the body is dropped */
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size) {
    conn_enter(h, conn, c->tracked, CONN_BODY, -1);
    int ok = collect(c, upload_data, *upload_size);
    *upload_size = 0;
    return ok ? MHD_YES : MHD_NO;
  }
  conn_enter(h, conn, c->tracked, CONN_BUSY, -1); /* suspended connections are never timed out by MHD */
  if (call_swap(c, CALL_RESUMED, CALL_ACTIVE) == CALL_RESUMED) {
    c->then(c->then_arg, c);
  } else if (c->too_large) {
    char msg[200];
    snprintf(msg, sizeof msg, "request body exceeds the server's limit of %zu bytes (--max-body-bytes)", h->opt.max_body_bytes);
    bert_serve_http_reply_error(c, 413, msg);
  } else {
    h->opt.handler(h->opt.ctx, c);
  }
  int pending = call_swap(c, CALL_ACTIVE, CALL_ACTIVE) != CALL_ACTIVE; /* suspended, maybe resumed already */
  if (!c->replied && !pending) bert_serve_http_reply_error(c, 500, "internal error: the request got no reply");
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
  bert_serve_http *h = cls;
  bert_serve_http_call *c = *con_cls;
  if (!c) return;
  *con_cls = NULL;
  /* kept alive for the next request, or closing */
  conn_enter(h, conn, c->tracked, CONN_IDLE, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? h->opt.limits.idle_timeout : -1);
  atomic_fetch_sub(&h->in_flight, 1);
  /* A client that leaves while its call is suspended is noticed only after the resume (MHD does
   * not watch suspended sockets), so the continuation is pending and never runs: cancel instead,
   * or leave that to the resume if it is still to come. */
  call_state was = call_swap(c, CALL_SUSPENDED, CALL_ORPHANED);
  if (was == CALL_SUSPENDED) return;
  if (was == CALL_RESUMED) c->cancel(c->then_arg);
  call_free(c);
}

/* Connections are tracked from start to close (their phase, for the timeouts and the cap).
 * Small replies must leave at once: Nagle's algorithm would hold them for the client's delayed
 * ACK (40 ms), the whole latency budget of a BERT request. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx, enum MHD_ConnectionNotificationCode code) {
  bert_serve_http *h = cls;
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_closed(h, *socket_ctx);
    *socket_ctx = NULL;
    return;
  }
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!info) return;
  int one = 1;
  setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *socket_ctx = conn_track(h, info->connect_fd);
}

/* ---- the daemon ---- */

static int resolve(const char *host, int port, struct sockaddr_storage *addr, socklen_t *len, bert_error *err) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC, hints.ai_socktype = SOCK_STREAM, hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc || !res) return bert_error_set(err, BERT_EINVAL, "--host %s: %s", host, rc ? gai_strerror(rc) : "no address");
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return BERT_OK;
}

int bert_serve_http_start(bert_serve_http **out, const bert_serve_http_options *opt, bert_error *err) {
  *out = NULL;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int rc = resolve(opt->host, opt->port, &addr, &addr_len, err);
  if (rc) return rc;
  bert_serve_http *h = calloc(1, sizeof *h);
  if (!h) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  h->opt = *opt;
  h->quiesced = MHD_INVALID_SOCKET;
  atomic_init(&h->in_flight, 0);
  pthread_mutex_init(&h->conns_lock, NULL);
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
  h->daemon = MHD_start_daemon(flags, (uint16_t)opt->port, NULL, NULL, on_request, h,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                               MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opt->threads > 0 ? opt->threads : 1),
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opt->limits.header_timeout,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)opt->limits.max_connections,
                               MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)opt->limits.max_connections_per_ip,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                               MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                               MHD_OPTION_END);
  if (!h->daemon) {
    pthread_mutex_destroy(&h->conns_lock);
    free(h);
    return bert_error_set(err, BERT_EIO, "cannot listen on %s:%d (address in use, or not an address of this machine?)",
                          opt->host, opt->port);
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? info->port : opt->port;
  *out = h;
  return BERT_OK;
}

int bert_serve_http_port(const bert_serve_http *h) { return h->port; }

/* MHD's threads drop the listening socket from their epoll sets only later, so closing it now
 * could hand its number to another file under them; shutdown() stops the listening at once (new
 * clients are refused) and the descriptor is closed once MHD has stopped. */
void bert_serve_http_quiesce(bert_serve_http *h) {
  if (!h || h->quiesced != MHD_INVALID_SOCKET) return;
  h->quiesced = MHD_quiesce_daemon(h->daemon);
  if (h->quiesced != MHD_INVALID_SOCKET) shutdown(h->quiesced, SHUT_RDWR);
}

int bert_serve_http_wait_idle(bert_serve_http *h, double timeout) {
  if (!h) return 0;
  double end = bert_seconds() + timeout;
  struct timespec pause = {0, 5 * 1000 * 1000};
  int left;
  while ((left = atomic_load(&h->in_flight)) > 0 && bert_seconds() < end) nanosleep(&pause, NULL);
  return left;
}

void bert_serve_http_stop(bert_serve_http *h) {
  if (!h) return;
  MHD_stop_daemon(h->daemon); /* every close notification has run: the list is empty */
  if (h->quiesced != MHD_INVALID_SOCKET) close(h->quiesced);
  pthread_mutex_destroy(&h->conns_lock);
  free(h);
}
