/* data/shuffle: buffered shuffle of TFRecord datasets by locator (see shuffle.h). */
#include "data/shuffle.h"

#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/rng_stream.h"
#include "data/fetch.h"
#include "data/shards.h"
#include "data/tfrecord.h"

#define BATCH_RECORDS 8192 /* records read per batch when writing a buffer */

void bert_shuffle_options_default(bert_shuffle_options *o) {
  *o = (bert_shuffle_options){.seed = 12345, .buffer_size = 2500000, .records_per_file = 500000, .threads = 0,
                              .check_crc = 1, .progress = -1};
}

typedef struct shuffler {
  const bert_strlist *inputs;
  const bert_shuffle_options *o;
  FILE *out;
  uint64_t *buf; /* locators of the buffer */
  size_t n, cap;
  bert_fetch fetch;
  bert_shards shards;
  bert_shuffle_report *rep;
  bert_progress bar;
} shuffler;

static int grow(shuffler *sh, bert_error *err) {
  if (sh->n < sh->cap) return BERT_OK;
  size_t cap = sh->cap ? 2 * sh->cap : 1 << 16;
  if (sh->o->buffer_size > 0 && cap > (size_t)sh->o->buffer_size) cap = (size_t)sh->o->buffer_size;
  uint64_t *b = realloc(sh->buf, cap * sizeof *b);
  if (!b) return bert_error_set(err, BERT_ENOMEM, "out of memory for a buffer of %zu records", cap);
  sh->buf = b, sh->cap = cap;
  return BERT_OK;
}

/* Shuffles the buffer with its own stream and writes it out, a new file for each buffer. */
static int flush(shuffler *sh, bert_error *err) {
  if (!sh->n) return BERT_OK;
  bert_rng rng = bert_rng_make(sh->o->seed, BERT_RNG_DATA, UINT64_C(0x73687566), 0); /* step "shuf" */
  bert_rng_stream st = bert_rng_stream_make(bert_rng_child(rng, sh->rep->buffers));
  bert_rng_stream_shuffle(&st, sh->buf, sh->n, sizeof *sh->buf);
  if (sh->out) fprintf(sh->out, "The number of packs being shuffled is %zu.\n", sh->n);
  int rc = BERT_OK;
  for (size_t i = 0; i < sh->n && !rc; i += BATCH_RECORDS) {
    size_t m = sh->n - i < BATCH_RECORDS ? sh->n - i : BATCH_RECORDS;
    rc = bert_fetch_read(&sh->fetch, sh->buf + i, m, err);
    for (size_t j = 0; j < m && !rc; j++) {
      size_t size;
      const uint8_t *data = bert_fetch_get(&sh->fetch, j, &size);
      rc = bert_shards_write(&sh->shards, data, size, err);
    }
    sh->rep->records += m;
    bert_progress_set(&sh->bar, sh->rep->records);
  }
  if (!rc) rc = bert_shards_end_file(&sh->shards, err);
  sh->rep->buffers++, sh->n = 0;
  return rc;
}

/* The record offsets of a file: its .index, or a scan when there is none. */
static int offsets_of(const char *path, int check_crc, bert_tfrecord_index *idx, bert_error *err) {
  char index_path[4096];
  int rc = bert_tfrecord_index_path(path, index_path, sizeof index_path, err);
  if (rc) return rc;
  if (!bert_path_exists(path)) return bert_error_set(err, BERT_EIO, "%s: no such file", path);
  if (bert_path_exists(index_path)) return bert_tfrecord_index_load(index_path, idx, err);
  return bert_tfrecord_index_build(path, check_crc, idx, err);
}

static int add_file(shuffler *sh, size_t f, bert_error *err) {
  const char *path = sh->inputs->items[f];
  bert_tfrecord_index idx = {0};
  int rc = offsets_of(path, sh->o->check_crc, &idx, err);
  for (int64_t i = 0; !rc && i < idx.count; i++) {
    rc = bert_loc_check(path, f, idx.offsets[i], err);
    if (!rc) rc = grow(sh, err);
    if (!rc) sh->buf[sh->n++] = bert_loc_make((uint32_t)f, idx.offsets[i]);
    if (!rc && sh->o->buffer_size > 0 && sh->n == (size_t)sh->o->buffer_size) rc = flush(sh, err);
  }
  bert_tfrecord_index_free(&idx);
  return rc;
}

static int run(shuffler *sh, const char *output_dir, bert_error *err) {
  int threads = sh->o->threads > 0 ? sh->o->threads : omp_get_max_threads();
  int rc = bert_output_dir_prepare(output_dir, err);
  if (!rc) rc = bert_fetch_init(&sh->fetch, (const char *const *)sh->inputs->items, sh->inputs->count, threads,
                                sh->o->check_crc, err);
  if (rc) return rc;
  bert_shards_init(&sh->shards, output_dir, sh->o->records_per_file, sh->out, "packs");
  bert_progress_init(&sh->bar, "shuffling", 0, "records", 1, sh->o->progress);
  for (size_t f = 0; f < sh->inputs->count && !rc; f++) rc = add_file(sh, f, err);
  if (!rc) rc = flush(sh, err);
  if (!rc) rc = bert_shards_finish(&sh->shards, err);
  bert_progress_finish(&sh->bar);
  sh->rep->files = sh->shards.written.count;
  if (rc) bert_shards_abandon(&sh->shards), sh->rep->files = 0;
  else bert_shards_warn_stale(&sh->shards);
  bert_shards_free(&sh->shards);
  bert_fetch_free(&sh->fetch);
  return rc;
}

int bert_shuffle_dataset(const bert_strlist *inputs, const char *output_dir, const bert_shuffle_options *o,
                         FILE *out, bert_shuffle_report *report, bert_error *err) {
  bert_shuffle_report local;
  shuffler sh = {.inputs = inputs, .o = o, .out = out, .rep = report ? report : &local};
  memset(sh.rep, 0, sizeof *sh.rep);
  if (o->buffer_size < 0 || o->records_per_file < 1)
    return bert_error_set(err, BERT_EINVAL, "buffer size must be >= 0 and records per file >= 1");
  if (inputs->count >= BERT_LOC_MAX_FILES)
    return bert_error_set(err, BERT_ERANGE, "%zu input files are more than %u", inputs->count, BERT_LOC_MAX_FILES);
  int rc = bert_shards_check_inputs(output_dir, inputs, err);
  if (rc) return rc;
  double t0 = omp_get_wtime();
  if (out) fprintf(out, "\nInput files: %zu\n\nReading the data.\n", inputs->count);
  rc = run(&sh, output_dir, err);
  free(sh.buf);
  if (!rc && out)
    fprintf(out, "\n-----------------------------------------------------------\n\nTotal time to write data into files: "
            "%.2f seconds.\n", omp_get_wtime() - t0);
  return rc;
}
