#include "serve/http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/clock.h"

void bert_serve_conn_init(bert_serve_conn *c, const char *host, int port) {
  memset(c, 0, sizeof *c);
  c->fd = -1;
  snprintf(c->host, sizeof c->host, "%s", host);
  c->port = port;
}

void bert_serve_conn_close(bert_serve_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->busy = 0;
}

static int fail(bert_serve_conn *c, bert_error *err, const char *what) {
  int e = errno;
  bert_serve_conn_close(c);
  return bert_error_set(err, BERT_EIO, "%s:%d: %s%s%s", c->host, c->port, what, e ? ": " : "", e ? strerror(e) : "");
}

static int open_socket(bert_serve_conn *c, bert_error *err) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC, hints.ai_socktype = SOCK_STREAM, hints.ai_flags = AI_NUMERICSERV;
  char service[16];
  snprintf(service, sizeof service, "%d", c->port);
  int rc = getaddrinfo(c->host, service, &hints, &res);
  if (rc) return bert_error_set(err, BERT_EIO, "%s: %s", c->host, gai_strerror(rc));
  errno = 0;
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int e = errno;
    close(fd);
    fd = -1;
    errno = e;
  }
  freeaddrinfo(res);
  if (fd < 0) return fail(c, err, "cannot connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  c->fd = fd;
  return BERT_OK;
}

/* An idle keep-alive connection the server has closed reads as end-of-file. */
static int closed_by_peer(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return 0;
  char b;
  ssize_t n = recv(fd, &b, 1, MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int bert_serve_conn_start(bert_serve_conn *c, const char *method, const char *path, const char *extra_headers,
                          const void *body, size_t body_len, bert_error *err) {
  if (c->fd >= 0 && (c->close_after || closed_by_peer(c->fd))) bert_serve_conn_close(c);
  if (c->fd < 0) {
    int rc = open_socket(c, err);
    if (rc) return rc;
  }
  int n = snprintf(c->head, sizeof c->head, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\n%s\r\n", method, path,
                   c->host, c->port, body_len, extra_headers ? extra_headers : "");
  if (n < 0 || (size_t)n >= sizeof c->head) return bert_error_set(err, BERT_EINVAL, "request headers too long");
  c->head_len = (size_t)n;
  c->body = body, c->body_len = body_len, c->sent = 0;
  c->in_len = c->header_end = c->content_length = 0;
  c->status = 0, c->busy = 1, c->close_after = 0;
  return BERT_OK;
}

short bert_serve_conn_events(const bert_serve_conn *c) {
  return c->sent < c->head_len + c->body_len ? POLLOUT : POLLIN;
}

static int send_some(bert_serve_conn *c, bert_error *err) {
  while (c->sent < c->head_len + c->body_len) {
    struct iovec v[2];
    int nv = 0;
    if (c->sent < c->head_len) v[nv++] = (struct iovec){c->head + c->sent, c->head_len - c->sent};
    size_t body_sent = c->sent > c->head_len ? c->sent - c->head_len : 0;
    if (c->body_len > body_sent) v[nv++] = (struct iovec){(char *)c->body + body_sent, c->body_len - body_sent};
    ssize_t n = writev(c->fd, v, nv);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(c, err, "send failed");
    c->sent += (size_t)n;
  }
  return 0;
}

static const char *find_header(const bert_serve_conn *c, const char *name, size_t *len) {
  size_t k = strlen(name);
  const char *p = memchr(c->in, '\n', c->header_end);
  const char *end = c->in + c->header_end;
  while (p && p + 1 < end) {
    const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) break;
    if ((size_t)(eol - line) > k && !strncasecmp(line, name, k) && line[k] == ':') {
      const char *v = line + k + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
      *len = (size_t)(ve - v);
      return v;
    }
    p = eol;
  }
  return NULL;
}

int bert_serve_conn_header(const bert_serve_conn *c, const char *name, char *out, size_t cap) {
  size_t len;
  const char *v = c->header_end ? find_header(c, name, &len) : NULL;
  if (!v || len >= cap) return 0;
  memcpy(out, v, len);
  out[len] = '\0';
  return 1;
}

static int parse_head(bert_serve_conn *c, bert_error *err) {
  const char *end = NULL;
  for (size_t i = 3; i < c->in_len && !end; i++)
    if (c->in[i] == '\n' && c->in[i - 1] == '\r' && c->in[i - 2] == '\n' && c->in[i - 3] == '\r') end = c->in + i + 1;
  if (!end) return 0;
  c->header_end = (size_t)(end - c->in);
  if (sscanf(c->in, "HTTP/1.%*d %d", &c->status) != 1) return fail(c, err, "not an HTTP response");
  char v[64];
  if (!bert_serve_conn_header(c, "Content-Length", v, sizeof v)) return fail(c, err, "response without Content-Length");
  c->content_length = (size_t)strtoull(v, NULL, 10);
  c->close_after = bert_serve_conn_header(c, "Connection", v, sizeof v) && !strcasecmp(v, "close");
  return 1;
}

static int receive_some(bert_serve_conn *c, bert_error *err) {
  for (;;) {
    if (c->header_end && c->in_len >= c->header_end + c->content_length) {
      c->busy = 0;
      if (c->close_after) {
        close(c->fd);
        c->fd = -1;
      }
      return 1;
    }
    if (c->in_cap - c->in_len < 65536) {
      size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
      if (c->header_end && cap < c->header_end + c->content_length) cap = c->header_end + c->content_length;
      char *grown = realloc(c->in, cap);
      if (!grown) return bert_error_set(err, BERT_ENOMEM, "out of memory");
      c->in = grown, c->in_cap = cap;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = 0;
    if (n <= 0) return fail(c, err, n == 0 ? "the server closed the connection" : "receive failed");
    c->in_len += (size_t)n;
    if (!c->header_end) {
      int rc = parse_head(c, err);
      if (rc < 0) return rc;
    }
  }
}

int bert_serve_conn_step(bert_serve_conn *c, bert_error *err) {
  if (c->fd < 0) return bert_error_set(err, BERT_EIO, "%s:%d: connection closed", c->host, c->port);
  int rc = send_some(c, err);
  if (rc < 0 || c->sent < c->head_len + c->body_len) return rc;
  return receive_some(c, err);
}

int bert_serve_conn_request(bert_serve_conn *c, const char *method, const char *path, const char *extra_headers,
                            const void *body, size_t body_len, double timeout, bert_error *err) {
  int rc = bert_serve_conn_start(c, method, path, extra_headers, body, body_len, err);
  double end = timeout > 0 ? bert_seconds() + timeout : 0;
  while (!rc) {
    struct pollfd p = {c->fd, bert_serve_conn_events(c), 0};
    int wait_ms = 1000;
    if (end) {
      double left = end - bert_seconds();
      if (left <= 0) {
        errno = 0;
        return fail(c, err, "no response in time");
      }
      wait_ms = left < 1.0 ? (int)(left * 1000) + 1 : 1000;
    }
    if (poll(&p, 1, wait_ms) < 0 && errno != EINTR) return fail(c, err, "poll failed");
    if ((rc = bert_serve_conn_step(c, err)) == 1) return BERT_OK;
  }
  return rc;
}

const char *bert_serve_conn_body(const bert_serve_conn *c, size_t *len) {
  *len = c->content_length;
  return c->in + c->header_end;
}

int bert_serve_parse_url(const char *url, char *host, size_t cap, int *port, bert_error *err) {
  if (!strncmp(url, "http://", 7)) url += 7;
  int bracket = url[0] == '['; /* [IPv6]:port */
  size_t n = bracket ? strcspn(url + 1, "]") : strcspn(url, ":/");
  if (n == 0 || n >= cap || (bracket && url[n + 1] != ']')) return bert_error_set(err, BERT_EINVAL, "--url '%s': no host", url);
  memcpy(host, url + bracket, n);
  host[n] = '\0';
  n += 2 * (size_t)bracket;
  *port = 8000;
  if (url[n] == ':') {
    char *end;
    long p = strtol(url + n + 1, &end, 10);
    if (p <= 0 || p > 65535 || (*end && strcmp(end, "/")))
      return bert_error_set(err, BERT_EINVAL, "--url '%s': bad port", url);
    *port = (int)p;
  } else if (url[n] && strcmp(url + n, "/")) {
    return bert_error_set(err, BERT_EINVAL, "--url '%s': expected host:port", url);
  }
  return BERT_OK;
}
