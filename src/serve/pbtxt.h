/* serve/pbtxt: protocol-buffer text format (what Triton's config.pbtxt is written in) parsed
 * into a tree of named fields without a schema: scalars (strings, numbers, identifiers such as
 * enum values and true/false) and nested messages. Repeated fields are repeated children;
 * `name: [a, b]` lists become one child per element. Comments (#), optional ':' before a
 * message, '{}' or '<>' braces, ',' / ';' separators and adjacent-string concatenation are
 * accepted as protobuf's own parser does. Errors name the source, line and column. */
#ifndef BERT_SERVE_PBTXT_H
#define BERT_SERVE_PBTXT_H

#include <stddef.h>

#include "base/error.h"

typedef enum bert_pbtxt_kind {
  BERT_PBTXT_MESSAGE = 0,
  BERT_PBTXT_STRING,     /* "..." (escapes decoded) */
  BERT_PBTXT_NUMBER,     /* 12, -1, 0.5, 1e-3, 0x10 (text kept) */
  BERT_PBTXT_IDENT,      /* KIND_CPU, TYPE_FP32, true */
} bert_pbtxt_kind;

typedef struct bert_pbtxt_node {
  char *name;                        /* field name (NULL for the root) */
  bert_pbtxt_kind kind;
  char *value;                       /* scalars: the decoded text */
  size_t value_len;                  /* strings may hold NUL bytes */
  struct bert_pbtxt_node *children;  /* messages: fields in order */
  int count, cap;
  int line;                          /* where the field starts (1-based) */
} bert_pbtxt_node;

/* Parses `text` (len bytes) into `root`, a message node. `source` names the file in errors. */
int bert_pbtxt_parse(const char *text, size_t len, const char *source, bert_pbtxt_node *root, bert_error *err);
void bert_pbtxt_free(bert_pbtxt_node *node);

/* The number of children of `msg` called `name`, and the i-th of them (NULL when absent). */
int bert_pbtxt_count(const bert_pbtxt_node *msg, const char *name);
const bert_pbtxt_node *bert_pbtxt_get(const bert_pbtxt_node *msg, const char *name, int i);

#endif
