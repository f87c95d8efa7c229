/* data/fetch: batched random-access TFRecord reads (see fetch.h). */
#include "data/fetch.h"

#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

int bert_loc_check(const char *path, size_t file, uint64_t offset, bert_error *err) {
  if (file >= BERT_LOC_MAX_FILES)
    return bert_error_set(err, BERT_ERANGE, "%s: more than %u input files", path, BERT_LOC_MAX_FILES);
  if (offset >> BERT_LOC_OFFSET_BITS)
    return bert_error_set(err, BERT_ERANGE, "%s: byte offset %" PRIu64 " beyond the 1 TiB a file may have", path,
                          offset);
  return BERT_OK;
}

int bert_fetch_init(bert_fetch *f, const char *const *paths, size_t files, int threads, int check_crc,
                    bert_error *err) {
  memset(f, 0, sizeof *f);
  f->paths = paths, f->files = files, f->threads = threads > 0 ? threads : 1, f->check_crc = check_crc;
  f->t = calloc((size_t)f->threads, sizeof *f->t);
  if (!f->t) return bert_error_set(err, BERT_ENOMEM, "out of memory for %d reader threads", f->threads);
  for (int i = 0; i < f->threads; i++) f->t[i].open_file = -1;
  return BERT_OK;
}

void bert_fetch_free(bert_fetch *f) {
  for (int i = 0; f->t && i < f->threads; i++) {
    if (f->t[i].open_file >= 0) bert_tfrecord_reader_close(&f->t[i].reader);
    free(f->t[i].arena);
  }
  free(f->t), free(f->sorted), free(f->thread), free(f->offset), free(f->size);
  memset(f, 0, sizeof *f);
}

static int reserve(bert_fetch *f, size_t n, bert_error *err) {
  if (n <= f->cap) return BERT_OK;
  size_t cap = f->cap ? f->cap : 1024;
  while (cap < n) cap *= 2;
  bert_fetch_entry *s = realloc(f->sorted, cap * sizeof *s);
  if (s) f->sorted = s;
  uint32_t *t = s ? realloc(f->thread, cap * sizeof *t) : NULL;
  if (t) f->thread = t;
  size_t *o = t ? realloc(f->offset, cap * sizeof *o) : NULL;
  if (o) f->offset = o;
  size_t *z = o ? realloc(f->size, cap * sizeof *z) : NULL;
  if (!z) return bert_error_set(err, BERT_ENOMEM, "out of memory for %zu record requests", cap);
  f->size = z, f->cap = cap;
  return BERT_OK;
}

static int by_loc(const void *a, const void *b) {
  const bert_fetch_entry *x = a, *y = b;
  return x->loc < y->loc ? -1 : x->loc > y->loc;
}

/* The reader reports "record -1" for a seek by offset alone: say "the record" instead. */
static void reword(bert_error *err) {
  char *p = strstr(err->message, "record -1 at");
  if (p) memmove(p + 6, p + 9, strlen(p + 9) + 1), memcpy(p, "record", 6);
}

static int ensure_file(bert_fetch *f, bert_fetch_thread *t, uint32_t file) {
  if (t->open_file == (int64_t)file) return BERT_OK;
  if (t->open_file >= 0) bert_tfrecord_reader_close(&t->reader);
  t->open_file = -1;
  if (file >= f->files) return bert_error_set(&t->err, BERT_EINVAL, "record locator names file %u of %zu", file, f->files);
  int rc = bert_tfrecord_reader_open(&t->reader, f->paths[file], f->check_crc, &t->err);
  if (!rc) t->open_file = file;
  return rc;
}

static int keep(bert_fetch_thread *t, const uint8_t *data, size_t size) {
  if (t->used + size > t->cap) {
    size_t cap = t->cap ? t->cap : 1 << 16;
    while (cap < t->used + size) cap *= 2;
    uint8_t *a = realloc(t->arena, cap);
    if (!a) return bert_error_set(&t->err, BERT_ENOMEM, "out of memory for %zu bytes of records", cap);
    t->arena = a, t->cap = cap;
  }
  memcpy(t->arena + t->used, data, size);
  t->used += size;
  return BERT_OK;
}

/* Thread `id` reads sorted entries [lo, hi). */
static void read_range(bert_fetch *f, int id, size_t lo, size_t hi) {
  bert_fetch_thread *t = &f->t[id];
  t->used = 0, t->rc = 0;
  for (size_t e = lo; e < hi && !t->rc; e++) {
    uint64_t loc = f->sorted[e].loc;
    size_t i = f->sorted[e].index, size = 0;
    const uint8_t *data = NULL;
    if ((t->rc = ensure_file(f, t, bert_loc_file(loc)))) break;
    /* Neighbouring records are read on without a seek, which would drop stdio's buffer. */
    if (t->reader.offset != bert_loc_offset(loc))
      t->rc = bert_tfrecord_reader_seek(&t->reader, bert_loc_offset(loc), -1, &t->err);
    if (!t->rc) {
      t->reader.record = -1; /* unknown: messages then say "the record at byte offset" */
      int got = bert_tfrecord_read(&t->reader, &data, &size, &t->err);
      if (got == 0)
        t->rc = bert_error_set(&t->err, BERT_EFORMAT, "%s: no record at byte offset %" PRIu64 " (file shortened?)",
                               f->paths[bert_loc_file(loc)], bert_loc_offset(loc));
      else if (got < 0) t->rc = got;
    }
    if (!t->rc) {
      f->thread[i] = (uint32_t)id, f->offset[i] = t->used, f->size[i] = size;
      t->rc = keep(t, data, size);
    }
  }
  if (t->rc) reword(&t->err);
}

int bert_fetch_read(bert_fetch *f, const uint64_t *locs, size_t n, bert_error *err) {
  int rc = reserve(f, n, err);
  if (rc) return rc;
  size_t real = 0;
  for (size_t i = 0; i < n; i++) {
    f->size[i] = 0, f->thread[i] = UINT32_MAX;
    if (locs[i] != BERT_LOC_NONE) f->sorted[real++] = (bert_fetch_entry){locs[i], i};
  }
  f->n = n;
  qsort(f->sorted, real, sizeof *f->sorted, by_loc);
  int threads = real < 64 ? 1 : f->threads;
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int id = 0; id < threads; id++)
    read_range(f, id, real * (size_t)id / (size_t)threads, real * (size_t)(id + 1) / (size_t)threads);
  for (int id = 0; id < threads; id++)
    if (f->t[id].rc) {
      if (err) *err = f->t[id].err;
      return f->t[id].rc;
    }
  return BERT_OK;
}

const uint8_t *bert_fetch_get(const bert_fetch *f, size_t i, size_t *size) {
  if (i >= f->n || f->thread[i] == UINT32_MAX) return *size = 0, NULL;
  *size = f->size[i];
  return f->t[f->thread[i]].arena + f->offset[i];
}
