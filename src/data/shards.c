/* data/shards: rotating numbered TFRecord outputs (see shards.h). */
#include "data/shards.h"

#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"

int bert_shards_check_inputs(const char *dir, const bert_strlist *inputs, bert_error *err) {
  char out[PATH_MAX], in[PATH_MAX];
  if (!realpath(dir, out)) return BERT_OK;
  for (size_t i = 0; i < inputs->count; i++) {
    if (!realpath(inputs->items[i], in)) continue; /* reported when it is read */
    if (!strcmp(dirname(in), out))
      return bert_error_set(err, BERT_EINVAL, "%s: the output folder holds the input %s; write the output elsewhere",
                            dir, inputs->items[i]);
  }
  return BERT_OK;
}

void bert_shards_init(bert_shards *s, const char *dir, int64_t per_file, FILE *out, const char *what) {
  memset(s, 0, sizeof *s);
  s->dir = dir, s->per_file = per_file > 0 ? per_file : 1, s->out = out, s->what = what;
}

static int open_next(bert_shards *s, bert_error *err) {
  char name[64];
  snprintf(name, sizeof name, "wiki_%03" PRIu64 ".tfrecord", s->next);
  if (bert_path_join(s->path, sizeof s->path, s->dir, name))
    return bert_error_set(err, BERT_EINVAL, "%s: output path too long", s->dir);
  int rc = bert_tfrecord_writer_open(&s->w, s->path, 1, err);
  if (!rc) s->open = 1, s->in_file = 0;
  return rc;
}

int bert_shards_write(bert_shards *s, const void *payload, size_t n, bert_error *err) {
  int rc = s->open ? BERT_OK : open_next(s, err);
  if (!rc) rc = bert_tfrecord_write(&s->w, payload, n, err);
  if (!rc && ++s->in_file == s->per_file) rc = bert_shards_end_file(s, err);
  return rc;
}

static int stage(bert_shards *s, bert_error *err) {
  if (s->n_staged == s->cap_staged) {
    size_t cap = s->cap_staged ? 2 * s->cap_staged : 8;
    bert_tfrecord_writer *staged = realloc(s->staged, cap * sizeof *staged);
    if (!staged) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", s->path);
    s->staged = staged, s->cap_staged = cap;
  }
  s->staged[s->n_staged++] = s->w;
  return BERT_OK;
}

int bert_shards_end_file(bert_shards *s, bert_error *err) {
  if (!s->open) return BERT_OK;
  int rc = stage(s, err);
  if (rc) return rc; /* still open: bert_shards_abandon drops it */
  s->open = 0;
  rc = bert_tfrecord_writer_finish(&s->staged[s->n_staged - 1], err);
  if (!rc) rc = bert_strlist_push(&s->written, s->path, err);
  if (!rc && s->out) fprintf(s->out, "Wrote %" PRId64 " %s into %s.\n", s->in_file, s->what, s->path), fflush(s->out);
  s->next++;
  return rc;
}

int bert_shards_finish(bert_shards *s, bert_error *err) {
  int rc = bert_shards_end_file(s, err);
  if (rc) return rc;
  rc = bert_tfrecord_writers_close(s->staged, s->n_staged, err);
  s->n_staged = 0; /* published, or dropped by the failed close */
  return rc;
}

int bert_shards_warn_stale(const bert_shards *s) {
  int stale = 0;
  char name[64], path[4096];
  for (uint64_t i = s->next;; i++, stale++) {
    snprintf(name, sizeof name, "wiki_%03" PRIu64 ".tfrecord", i);
    if (bert_path_join(path, sizeof path, s->dir, name) || !bert_path_exists(path)) break;
  }
  if (stale)
    bert_warn("%s still holds %d older file(s) from wiki_%03" PRIu64 ".tfrecord on, not written by this run",
              s->dir, stale, s->next);
  return stale;
}

void bert_shards_abandon(bert_shards *s) {
  if (s->open) bert_tfrecord_writer_abort(&s->w);
  s->open = 0;
  for (size_t i = 0; i < s->n_staged; i++) bert_tfrecord_writer_abort(&s->staged[i]);
  s->n_staged = 0;
}

void bert_shards_free(bert_shards *s) {
  bert_shards_abandon(s);
  free(s->staged);
  s->staged = NULL;
  bert_strlist_free(&s->written);
}
