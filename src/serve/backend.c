/* The backend table: a new model kind is one more line here. */
#include "serve/backend.h"

#include <stdio.h>
#include <string.h>

#include "serve/bert_backend.h"
#include "serve/qa_text_backend.h"

static const bert_serve_backend *const backends[] = {
    &bert_serve_bert_backend,
    &bert_serve_qa_text_backend,
};

const bert_serve_backend *bert_serve_backend_find(const char *name) {
  for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
    if (!strcmp(backends[i]->name, name)) return backends[i];
  return NULL;
}

void bert_serve_backend_names(char *out, size_t cap) {
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof backends / sizeof backends[0] && n < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "%s\"%s\"", i ? ", " : "", backends[i]->name);
}
