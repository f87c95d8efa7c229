/* serve/http_client: the small HTTP/1.1 client of `bert bench-serve` — one keep-alive TCP
 * connection (TCP_NODELAY) per bert_serve_conn, non-blocking, so one thread can drive many
 * connections with poll() (asynchronous clients) or wait on one (synchronous clients). Bodies are
 * sent from the caller's buffer without copying; responses need a Content-Length (what v2
 * servers send). A connection the server closed while idle is reopened on the next request. */
#ifndef BERT_SERVE_HTTP_CLIENT_H
#define BERT_SERVE_HTTP_CLIENT_H

#include <stddef.h>

#include "base/error.h"

typedef struct bert_serve_conn {
  int fd;                   /* -1 when closed */
  char host[256];
  int port;
  char head[1024];          /* request line + headers of the request being sent */
  size_t head_len;
  const char *body;         /* the caller's, valid until the response is complete */
  size_t body_len, sent;    /* bytes of head + body sent */
  char *in;                 /* response bytes received */
  size_t in_len, in_cap;
  size_t header_end;        /* offset of the body in `in` (0 until the headers are complete) */
  size_t content_length;
  int status;               /* HTTP status of the complete response */
  int busy;                 /* a request is in progress */
  int close_after;          /* the server said Connection: close */
} bert_serve_conn;

void bert_serve_conn_init(bert_serve_conn *c, const char *host, int port);
void bert_serve_conn_close(bert_serve_conn *c);
/* Starts a request; `extra_headers` ("Name: value\r\n"..., may be NULL) are added. Opens the
 * connection if needed. */
int bert_serve_conn_start(bert_serve_conn *c, const char *method, const char *path, const char *extra_headers,
                          const void *body, size_t body_len, bert_error *err);
/* The poll() events the connection waits for (POLLOUT while sending, POLLIN while receiving). */
short bert_serve_conn_events(const bert_serve_conn *c);
/* Sends / receives what the socket allows; returns 1 when the response is complete, 0 when
 * not yet, or a negative error (the connection is then closed). */
int bert_serve_conn_step(bert_serve_conn *c, bert_error *err);
/* Blocking request: start, then step until complete (timeout in seconds, 0 = none). */
int bert_serve_conn_request(bert_serve_conn *c, const char *method, const char *path, const char *extra_headers,
                            const void *body, size_t body_len, double timeout, bert_error *err);

/* The complete response's body, and a header's value (case-insensitive name) copied into out. */
const char *bert_serve_conn_body(const bert_serve_conn *c, size_t *len);
int bert_serve_conn_header(const bert_serve_conn *c, const char *name, char *out, size_t cap);

/* "host:port", "http://host:port[/]", "[v6addr]:port" or "host" (port 8000) -> host and port. */
int bert_serve_parse_url(const char *url, char *host, size_t cap, int *port, bert_error *err);

#endif
