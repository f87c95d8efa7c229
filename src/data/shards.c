/* data/shards: rotating numbered TFRecord outputs (see shards.h). */
#include "data/shards.h"

#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int bert_shards_end_file(bert_shards *s, bert_error *err) {
  if (!s->open) return BERT_OK;
  s->open = 0;
  int rc = bert_tfrecord_writer_close(&s->w, err);
  if (!rc) rc = bert_strlist_push(&s->written, s->path, err);
  if (!rc && s->out) fprintf(s->out, "Wrote %" PRId64 " %s into %s.\n", s->in_file, s->what, s->path), fflush(s->out);
  s->next++;
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
  for (size_t i = 0; i < s->written.count; i++) {
    char index[4096];
    unlink(s->written.items[i]);
    if (!bert_tfrecord_index_path(s->written.items[i], index, sizeof index, NULL)) unlink(index);
  }
}

void bert_shards_free(bert_shards *s) {
  if (s->open) bert_tfrecord_writer_abort(&s->w);
  s->open = 0;
  bert_strlist_free(&s->written);
}
