#include "base/glob.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>

void bert_strlist_free(bert_strlist *list) {
  for (size_t i = 0; i < list->count; i++) free(list->items[i]);
  free(list->items);
  list->items = NULL;
  list->count = 0;
}

int bert_strlist_push(bert_strlist *list, const char *s, bert_error *err) {
  char **items = realloc(list->items, (list->count + 1) * sizeof *items);
  char *copy = items ? strdup(s) : NULL;
  if (items) list->items = items;
  if (!copy) return bert_error_set(err, BERT_ENOMEM, "out of memory listing files");
  list->items[list->count++] = copy;
  return BERT_OK;
}

int bert_split_commas(const char *text, bert_strlist *out, bert_error *err) {
  memset(out, 0, sizeof *out);
  const char *p = text;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n == 0) {
      bert_strlist_free(out);
      return bert_error_set(err, BERT_EINVAL, "empty item in the list \"%s\"", text);
    }
    char *item = strndup(p, n);
    int rc = item ? bert_strlist_push(out, item, err) : bert_error_set(err, BERT_ENOMEM, "out of memory");
    free(item);
    if (rc) {
      bert_strlist_free(out);
      return rc;
    }
    if (!comma) return BERT_OK;
    p = comma + 1;
  }
}

static int expand_one(const char *pattern, bert_strlist *out, bert_error *err) {
  glob_t g;
  int rc = glob(pattern, GLOB_ERR, NULL, &g);
  if (rc == GLOB_NOMATCH) return bert_error_set(err, BERT_EIO, "%s: no such file (the pattern matches nothing)", pattern);
  if (rc != 0) return bert_error_set(err, BERT_EIO, "%s: cannot expand the pattern", pattern);
  int status = BERT_OK;
  for (size_t i = 0; i < g.gl_pathc && !status; i++) status = bert_strlist_push(out, g.gl_pathv[i], err);
  globfree(&g);
  return status;
}

int bert_glob_expand(const char *patterns, bert_strlist *out, bert_error *err) {
  bert_strlist list;
  int rc = bert_split_commas(patterns, &list, err);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < list.count && !rc; i++) rc = expand_one(list.items[i], out, err);
  bert_strlist_free(&list);
  if (rc) bert_strlist_free(out);
  return rc;
}
