#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bert_error_set(bert_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

int bert_error_prefix(bert_error *err, const char *fmt, ...) {
  if (!err) return BERT_EINVAL;
  char prefix[512], rest[sizeof err->message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(rest, err->message, sizeof rest);
  size_t n = strlen(prefix);
  if (n >= sizeof err->message) n = sizeof err->message - 1;
  memcpy(err->message, prefix, n);
  snprintf(err->message + n, sizeof err->message - n, "%.*s", (int)(sizeof err->message - n - 1), rest);
  return err->code;
}

const char *bert_error_name(int code) {
  switch (code) {
    case BERT_OK: return "ok";
    case BERT_EINVAL: return "invalid argument";
    case BERT_EIO: return "I/O error";
    case BERT_EFORMAT: return "format error";
    case BERT_ENOMEM: return "out of memory";
    case BERT_EUNSUPPORTED: return "unsupported";
    case BERT_ERANGE: return "out of range";
    case BERT_EMISMATCH: return "mismatch";
    default: return "error";
  }
}
