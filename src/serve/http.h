/* serve/http: the HTTP/1.1 front of the server on libmicrohttpd — epoll in a small thread pool,
 * keep-alive, TCP_NODELAY — reduced to what the v2 endpoints need: a call (method, path,
 * headers, the whole body, at most max_body_bytes: larger ones are answered 413 without being
 * kept) handed to one handler, and a reply. A handler whose answer takes time (inference)
 * suspends the call and resumes it from any thread when the answer is ready; the connection's
 * thread then calls the continuation, which replies, or a cancel when the client has left
 * meanwhile (MHD notices only after the resume). Connections in flight are counted, so a
 * graceful stop can stop accepting, wait for them, and close. Slow and idle clients are bounded
 * (bert_serve_conn_limits): a timeout per phase of the request and a cap on connections, near
 * which the oldest idle ones are closed to let new clients in; a request being answered is never
 * cut. */
#ifndef BERT_SERVE_HTTP_H
#define BERT_SERVE_HTTP_H

#include <stddef.h>

#include "base/error.h"
#include "base/strbuf.h"

typedef struct bert_serve_http bert_serve_http;
typedef struct bert_serve_http_call bert_serve_http_call;
typedef void (*bert_serve_http_handler)(void *ctx, bert_serve_http_call *call);

/* How long a client may take, and how many connections it may hold (docs/serve.md, "Slow and
 * idle clients"). Seconds are whole: MHD counts its timeouts in seconds. */
typedef struct bert_serve_conn_limits {
  int header_timeout;        /* request line and headers, in all (after a keep-alive: idle + header) */
  int body_timeout;          /* between two reads of the body (and writes of the reply) */
  int idle_timeout;          /* keep-alive, between a reply and the next request */
  int max_connections;       /* in all; from 90% on the oldest idle connections are closed first */
  int max_connections_per_ip; /* 0 = no cap */
} bert_serve_conn_limits;

typedef struct bert_serve_http_options {
  const char *host;          /* numeric address or name to listen on */
  int port;                  /* 0 = any free port */
  int threads;               /* connection threads */
  size_t max_body_bytes;
  bert_serve_http_handler handler;
  void *ctx;
  bert_serve_conn_limits limits;
} bert_serve_http_options;

int bert_serve_http_start(bert_serve_http **out, const bert_serve_http_options *opt, bert_error *err);
int bert_serve_http_port(const bert_serve_http *h);
/* Stops accepting connections (open ones are still served). */
void bert_serve_http_quiesce(bert_serve_http *h);
/* Waits until no request is in flight or `timeout` seconds pass; returns the number left. */
int bert_serve_http_wait_idle(bert_serve_http *h, double timeout);
/* Closes every connection and frees. Nothing may be suspended (MHD forbids it): every suspended
 * call must have been resumed. */
void bert_serve_http_stop(bert_serve_http *h);

const char *bert_serve_http_method(const bert_serve_http_call *c);
const char *bert_serve_http_path(const bert_serve_http_call *c);
/* A request header (case-insensitive name), or NULL. */
const char *bert_serve_http_header(const bert_serve_http_call *c, const char *name);
/* The body received; ownership moves to the caller (a malloc'ed buffer, or NULL when empty). */
char *bert_serve_http_take_body(bert_serve_http_call *c, size_t *len);
size_t bert_serve_http_body_len(const bert_serve_http_call *c);

/* Replies; `body` (malloc'ed or NULL) is taken over. `extra_name`/`extra_value` is one more
 * header (may be NULL). */
void bert_serve_http_reply(bert_serve_http_call *c, int status, const char *content_type, char *body, size_t len,
                           const char *extra_name, const char *extra_value);
/* The same with any number of extra headers: `headers` is name, value, name, value, ..., NULL. */
void bert_serve_http_reply_headers(bert_serve_http_call *c, int status, const char *content_type, char *body, size_t len,
                                   const char *const *headers);
/* The buffer of `json` is taken over (it is left empty). */
void bert_serve_http_reply_json(bert_serve_http_call *c, int status, bert_strbuf *json);
/* {"error": message}: what tritonclient parses from every failed call. */
void bert_serve_http_reply_error(bert_serve_http_call *c, int status, const char *message);

typedef void (*bert_serve_http_continuation)(void *arg, bert_serve_http_call *c);
typedef void (*bert_serve_http_cancel)(void *arg);
/* Parks the call until bert_serve_http_resume; then `then(arg, call)` runs on a connection
 * thread and must reply. Only from the handler. When the client has gone by then, `cancel(arg)`
 * runs instead (on the connection's thread, or in bert_serve_http_resume): exactly one of the
 * two runs, and always after the resume, so `arg` is free to release what was parked. */
void bert_serve_http_suspend(bert_serve_http_call *c, bert_serve_http_continuation then, bert_serve_http_cancel cancel,
                             void *arg);
/* Safe from any thread, once per suspend. */
void bert_serve_http_resume(bert_serve_http_call *c);

#endif
