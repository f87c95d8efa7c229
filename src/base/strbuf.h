/* base/strbuf: a growable byte string for building output (JSON lines, reports) without a fixed
 * limit; appends never fail silently: a failed allocation sets `failed` and later appends are
 * ignored, so callers check once at the end. */
#ifndef BERT_BASE_STRBUF_H
#define BERT_BASE_STRBUF_H

#include <stddef.h>

typedef struct bert_strbuf {
  char *data;   /* NUL-terminated when len > 0 */
  size_t len, cap;
  int failed;
} bert_strbuf;

void bert_strbuf_append(bert_strbuf *s, const char *bytes, size_t n);
void bert_strbuf_puts(bert_strbuf *s, const char *text);
void bert_strbuf_printf(bert_strbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A float as JSON: %.9g (round-trips fp32), or null when not finite. */
void bert_strbuf_float(bert_strbuf *s, float v);
void bert_strbuf_clear(bert_strbuf *s);
void bert_strbuf_free(bert_strbuf *s);

#endif
