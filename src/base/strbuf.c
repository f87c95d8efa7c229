#include "base/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(bert_strbuf *s, size_t extra) {
  if (s->failed) return 0;
  if (s->len + extra + 1 <= s->cap) return 1;
  size_t cap = s->cap ? s->cap : 256;
  while (cap < s->len + extra + 1) cap *= 2;
  char *p = realloc(s->data, cap);
  if (!p) {
    s->failed = 1;
    return 0;
  }
  s->data = p;
  s->cap = cap;
  return 1;
}

void bert_strbuf_append(bert_strbuf *s, const char *bytes, size_t n) {
  if (!reserve(s, n)) return;
  memcpy(s->data + s->len, bytes, n);
  s->len += n;
  s->data[s->len] = '\0';
}

void bert_strbuf_puts(bert_strbuf *s, const char *text) { bert_strbuf_append(s, text, strlen(text)); }

void bert_strbuf_printf(bert_strbuf *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(s, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  s->len += (size_t)n;
}

void bert_strbuf_float(bert_strbuf *s, float v) {
  if (!isfinite(v)) {
    bert_strbuf_append(s, "null", 4);
    return;
  }
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%.9g", (double)v);
  bert_strbuf_append(s, tmp, (size_t)n);
}

void bert_strbuf_clear(bert_strbuf *s) {
  s->len = 0;
  s->failed = 0;
  if (s->data) s->data[0] = '\0';
}

void bert_strbuf_free(bert_strbuf *s) {
  free(s->data);
  memset(s, 0, sizeof *s);
}
