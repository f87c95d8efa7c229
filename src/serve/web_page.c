/* The question-answering page: the embedded qa.html with this response's CSP nonce and an
 * <option> per bertc-qa-text model filled in. */
#include "serve/web_page.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/svg.h"
#include "serve/qa_text_backend.h"

/* Generated from src/serve/web/qa.html by cmake/embed.cmake. */
extern const char bert_serve_web_qa_html[];
extern const size_t bert_serve_web_qa_html_len;

static int qa_model_count(const bert_serve_repository *repo) {
  int n = 0;
  for (int i = 0; i < repo->count; i++) n += repo->models[i]->backend == &bert_serve_qa_text_backend;
  return n;
}

/* 18 random bytes in base64 (24 characters): fresh for every response, so markup that found its
 * way into the page could not guess it and run. */
static int make_nonce(char out[25]) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char raw[18];
  for (size_t got = 0; got < sizeof raw;) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno != EINTR) return -1;
    if (n > 0) got += (size_t)n;
  }
  for (int i = 0; i < 6; i++) {
    uint32_t v = (uint32_t)raw[3 * i] << 16 | (uint32_t)raw[3 * i + 1] << 8 | raw[3 * i + 2];
    for (int k = 0; k < 4; k++) out[4 * i + k] = b64[(v >> (18 - 6 * k)) & 63];
  }
  out[24] = '\0';
  return 0;
}

static void model_options(bert_strbuf *s, const bert_serve_repository *repo) {
  for (int i = 0; i < repo->count; i++) {
    if (repo->models[i]->backend != &bert_serve_qa_text_backend) continue;
    bert_strbuf_puts(s, "<option>");
    bert_svg_escape(s, repo->models[i]->config.name); /* XML escaping, valid HTML */
    bert_strbuf_puts(s, "</option>");
  }
}

/* The page with its {{NONCE}} and {{MODEL_OPTIONS}} placeholders filled in. */
static void render(bert_strbuf *s, const bert_serve_repository *repo, const char *nonce) {
  const char *t = bert_serve_web_qa_html, *end = t + bert_serve_web_qa_html_len;
  while (t < end) {
    const char *p = memmem(t, (size_t)(end - t), "{{", 2);
    bert_strbuf_append(s, t, (size_t)((p ? p : end) - t));
    if (!p) break;
    if (!strncmp(p, "{{NONCE}}", 9)) bert_strbuf_puts(s, nonce), t = p + 9;
    else if (!strncmp(p, "{{MODEL_OPTIONS}}", 17)) model_options(s, repo), t = p + 17;
    else bert_strbuf_append(s, p, 2), t = p + 2;
  }
}

static void reply_page(bert_serve_endpoints *ep, bert_serve_http_call *c) {
  char nonce[25], csp[400];
  bert_strbuf s = {0};
  if (make_nonce(nonce)) {
    bert_serve_http_reply_error(c, 500, "no random bytes for the page's nonce");
    return;
  }
  render(&s, ep->repo, nonce);
  if (s.failed) {
    bert_strbuf_free(&s);
    bert_serve_http_reply_error(c, 500, "out of memory");
    return;
  }
  snprintf(csp, sizeof csp,
           "default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; connect-src 'self'; img-src data:; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
           nonce, nonce);
  const char *headers[] = {"Content-Security-Policy", csp, "X-Content-Type-Options", "nosniff",
                           "Cache-Control", "no-store", "Referrer-Policy", "no-referrer", NULL};
  bert_serve_http_reply_headers(c, 200, "text/html; charset=utf-8", s.data, s.len, headers);
}

int bert_serve_web_page_handle(bert_serve_endpoints *ep, bert_serve_http_call *c) {
  const char *path = bert_serve_http_path(c), *method = bert_serve_http_method(c);
  if ((strcmp(path, "/") && strcmp(path, "/qa")) || !qa_model_count(ep->repo)) return 0;
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    static const char msg[] = "{\"error\":\"the question-answering page takes GET or HEAD only\"}";
    char *body = strdup(msg);
    bert_serve_http_reply(c, 405, "application/json", body, body ? sizeof msg - 1 : 0, "Allow", "GET, HEAD");
    return 1;
  }
  reply_page(ep, c);
  return 1;
}
