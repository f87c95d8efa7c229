/* base/glob: expands comma-separated lists of shell patterns into sorted file lists, the way the
 * reference's --input-file / --input-files options are given. Every pattern must match. */
#ifndef BERT_BASE_GLOB_H
#define BERT_BASE_GLOB_H

#include <stddef.h>

#include "base/error.h"

typedef struct bert_strlist {
  size_t count;
  char **items; /* malloc'ed strings */
} bert_strlist;

void bert_strlist_free(bert_strlist *list);
int bert_strlist_push(bert_strlist *list, const char *s, bert_error *err);
/* Splits "a,b,c" on commas (empty items are an error, naming the option text). */
int bert_split_commas(const char *text, bert_strlist *out, bert_error *err);
/* Expands each comma-separated pattern (sorted matches, in pattern order); a pattern that
 * matches nothing is an error naming it. */
int bert_glob_expand(const char *patterns, bert_strlist *out, bert_error *err);

#endif
