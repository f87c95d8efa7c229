#include "data/loader.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/glob.h"
#include "base/rng_stream.h"
#include "data/example.h"
#include "data/order.h"
#include "data/tfrecord.h"

#define DEFAULT_WINDOW 16
#define MAX_WORKERS 256
#define GENERATED_TAG 0x67656e6572617465ull /* "generate" */

static const char kNotEnoughData[] =
    "Not enough data in input_files for current configuration, try reducing deviceIterations or "
    "gradientAccumulation.";

/* An open data file with its index, cached per thread. */
typedef struct file_entry {
  int file; /* -1: empty entry */
  uint64_t used;
  bert_tfrecord_reader reader;
  bert_tfrecord_index index;
} file_entry;

/* What one thread needs to produce batches: its own readers, order cache and scratch, so
 * threads share nothing but the slot ring. */
typedef struct loader_ctx {
  bert_loader *l;
  bert_data_order order;
  file_entry *cache;
  int cache_cap;
  uint64_t clock;
  int64_t *ints; /* decode scratch, max(L, M, S) values */
  float *floats;
  pthread_t thread;
  int started;
} loader_ctx;

typedef enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY } slot_state;

typedef struct loader_slot {
  bert_loader_batch batch;
  void *mem;
  slot_state state;
  uint64_t seq, gen; /* micro-batch number and seek generation it was filled for */
  int rc;
  bert_error err;
} loader_slot;

struct bert_loader {
  bert_loader_config cfg; /* input_files not kept */
  bert_strlist files;
  uint64_t *counts;
  uint64_t samples, steps_per_pass;
  int mb_per_step, ring, nctx;
  loader_slot *slots;
  loader_ctx *ctx;
  /* Ring state, guarded by mu. Micro-batches are numbered from the run's start; micro-batch m
   * lives in slot m % ring. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int threaded;
  uint64_t next;  /* handed out next */
  uint64_t base;  /* lowest micro-batch whose slot is not yet released */
  uint64_t claim; /* next micro-batch a worker takes */
  uint64_t gen;   /* bumped by seek: in-flight work for an older generation is dropped */
  int held, halt, stop;
  int failed; /* a batch failed: returned again until a seek */
  bert_error fail_err;
};

/* ---------------------------------------------------------------- configuration */

static int check_config(const bert_loader_config *c, bert_error *err) {
  if (c->seq_len < 1 || c->masked < 1 || (c->packed && c->slots < 1))
    return bert_error_set(err, BERT_EINVAL, "loader: sequence length %d, mask slots %d, NSP slots %d must be >= 1",
                          c->seq_len, c->masked, c->slots);
  if (c->micro_batch < 1 || c->global_batch < 1)
    return bert_error_set(err, BERT_EINVAL, "loader: micro batch %d and global batch %d must be >= 1",
                          c->micro_batch, c->global_batch);
  if (c->world < 1 || c->rank < 0 || c->rank >= c->world)
    return bert_error_set(err, BERT_EINVAL, "loader: rank %d of %d ranks", c->rank, c->world);
  if (c->global_batch % c->world || (c->global_batch / c->world) % c->micro_batch)
    return bert_error_set(err, BERT_EINVAL,
                          "loader: %d samples per step do not split into %d ranks x micro batches of %d",
                          c->global_batch, c->world, c->micro_batch);
  if (c->workers < 0 || c->workers > MAX_WORKERS || c->window_files < 0)
    return bert_error_set(err, BERT_EINVAL, "loader: %d workers (0..%d), window of %d files", c->workers,
                          MAX_WORKERS, c->window_files);
  if (c->generated && c->vocab_size < 1)
    return bert_error_set(err, BERT_EINVAL, "loader: generated data needs a vocabulary size");
  if (!c->generated && c->input_file_count < 1)
    return bert_error_set(err, BERT_EINVAL, "loader: no --input-files given");
  return BERT_OK;
}

/* ---------------------------------------------------------------- files and indexes */

static int expand_globs(bert_loader *l, const bert_loader_config *cfg, bert_error *err) {
  for (int i = 0; i < cfg->input_file_count; i++) {
    bert_strlist matches;
    int rc = bert_glob_expand(cfg->input_files[i], &matches, err);
    if (rc) return rc; /* the message names the pattern that matched nothing */
    for (size_t j = 0; !rc && j < matches.count; j++) rc = bert_strlist_push(&l->files, matches.items[j], err);
    bert_strlist_free(&matches);
    if (rc) return rc;
  }
  return BERT_OK;
}

/* Lines of a .index file = its records; counted without keeping the index, so opening a huge
 * corpus costs O(files) memory. */
static int count_index(const char *data_path, uint64_t *count, bert_error *err) {
  char path[4096];
  int rc = bert_tfrecord_index_path(data_path, path, sizeof path, err);
  if (rc) return rc;
  FILE *f = fopen(path, "rb");
  if (!f && errno == ENOENT)
    return bert_error_set(err, BERT_EIO, "%s: its index file %s does not exist; create it with `bert data index %s`",
                          data_path, path, data_path);
  if (!f) return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", path, strerror(errno));
  static const size_t chunk = 1 << 16;
  char *buf = malloc(chunk);
  uint64_t lines = 0;
  char last = '\n';
  size_t n;
  while (buf && (n = fread(buf, 1, chunk, f)) > 0) {
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++) lines++;
    last = buf[n - 1];
  }
  if (!buf) rc = bert_error_set(err, BERT_ENOMEM, "out of memory reading %s", path);
  else if (ferror(f)) rc = bert_error_set(err, BERT_EIO, "%s: read error", path);
  free(buf);
  fclose(f);
  *count = lines + (last != '\n'); /* a last line without its newline still counts */
  return rc;
}

static int count_records(bert_loader *l, bert_error *err) {
  l->counts = calloc(l->files.count, sizeof *l->counts);
  if (!l->counts) return bert_error_set(err, BERT_ENOMEM, "out of memory listing %zu files", l->files.count);
  for (size_t f = 0; f < l->files.count; f++) {
    int rc = count_index(l->files.items[f], &l->counts[f], err);
    if (rc) return rc;
    l->samples += l->counts[f];
  }
  return BERT_OK;
}

static void entry_close(file_entry *e) {
  if (e->file >= 0) {
    bert_tfrecord_reader_close(&e->reader);
    bert_tfrecord_index_free(&e->index);
  }
  e->file = -1;
  e->used = 0;
}

static int entry_open(const bert_loader *l, file_entry *e, int file, bert_error *err) {
  const char *path = l->files.items[file];
  char index_path[4096];
  int rc = bert_tfrecord_index_path(path, index_path, sizeof index_path, err);
  if (!rc) rc = bert_tfrecord_index_load(index_path, &e->index, err);
  if (rc) return rc;
  if ((uint64_t)e->index.count != l->counts[file]) {
    bert_tfrecord_index_free(&e->index);
    return bert_error_set(err, BERT_EMISMATCH, "%s: lists %" PRId64 " records, %" PRIu64
                          " when the loader opened (rewritten during the run?)", index_path, e->index.count,
                          l->counts[file]);
  }
  rc = bert_tfrecord_reader_open(&e->reader, path, l->cfg.check_crc, err);
  if (rc) {
    bert_tfrecord_index_free(&e->index);
    return rc;
  }
  e->file = file;
  return BERT_OK;
}

/* The thread's open reader for `file`, evicting the least recently used one when full. */
static int cache_get(loader_ctx *c, int file, file_entry **out, bert_error *err) {
  file_entry *victim = &c->cache[0];
  for (int i = 0; i < c->cache_cap; i++) {
    file_entry *e = &c->cache[i];
    if (e->file == file) {
      e->used = ++c->clock;
      *out = e;
      return BERT_OK;
    }
    if (e->used < victim->used) victim = e; /* empty entries have used == 0 */
  }
  entry_close(victim);
  int rc = entry_open(c->l, victim, file, err);
  if (rc) return rc;
  victim->used = ++c->clock;
  *out = victim;
  return BERT_OK;
}

/* ---------------------------------------------------------------- decoding */

/* n int64 values of a feature into int32, refusing values int32 cannot hold. */
static int get_ints(loader_ctx *c, const bert_example *ex, const char *name, int32_t *out, size_t n,
                    bert_error *err) {
  int rc = bert_example_get_int64(ex, name, c->ints, n, err);
  for (size_t i = 0; !rc && i < n; i++) {
    if (c->ints[i] < INT32_MIN || c->ints[i] > INT32_MAX)
      return bert_error_set(err, BERT_ERANGE, "feature '%s' value %zu is %" PRId64 ", outside 32-bit range", name, i,
                            c->ints[i]);
    out[i] = (int32_t)c->ints[i];
  }
  return rc;
}

static int decode_unpacked(loader_ctx *c, const bert_example *ex, bert_loader_batch *b, int t, bert_error *err) {
  size_t L = (size_t)b->len, M = (size_t)b->masked;
  int rc = get_ints(c, ex, "input_ids", b->input_ids + t * L, L, err);
  if (!rc) rc = get_ints(c, ex, "input_mask", b->input_mask + t * L, L, err);
  if (!rc) rc = get_ints(c, ex, "segment_ids", b->segment_ids + t * L, L, err);
  if (!rc) rc = get_ints(c, ex, "masked_lm_positions", b->masked_positions + t * M, M, err);
  if (!rc) rc = get_ints(c, ex, "masked_lm_ids", b->masked_labels + t * M, M, err);
  if (!rc) rc = get_ints(c, ex, "next_sentence_labels", b->nsp_labels + t, 1, err);
  return rc;
}

static int decode_packed(loader_ctx *c, const bert_example *ex, bert_loader_batch *b, int t, bert_error *err) {
  size_t L = (size_t)b->len, M = (size_t)b->masked, S = (size_t)b->slots;
  int rc = get_ints(c, ex, "packed_input_ids", b->input_ids + t * L, L, err);
  if (!rc) rc = get_ints(c, ex, "packed_input_mask", b->input_mask + t * L, L, err);
  if (!rc) rc = get_ints(c, ex, "packed_segment_ids", b->segment_ids + t * L, L, err);
  if (!rc) rc = get_ints(c, ex, "packed_position_ids", b->position_ids + t * L, L, err);
  if (!rc) rc = get_ints(c, ex, "packed_masked_lm_positions", b->masked_positions + t * M, M, err);
  if (!rc) rc = get_ints(c, ex, "packed_masked_lm_ids", b->masked_labels + t * M, M, err);
  /* The model takes padding from the labels, but the reference reads this feature: check it. */
  if (!rc) rc = bert_example_get_float(ex, "packed_masked_lm_mask", c->floats, M, err);
  if (!rc) rc = get_ints(c, ex, "packed_next_sentence_labels", b->nsp_labels + t * S, S, err);
  if (!rc) rc = bert_example_get_float(ex, "packed_next_sentence_mask", b->nsp_mask + t * S, S, err);
  return rc;
}

/* Record `record` of `file` into row t of b; errors name file, record and byte offset. */
static int read_record(loader_ctx *c, int file, uint64_t record, bert_loader_batch *b, int t, bert_error *err) {
  file_entry *e;
  int rc = cache_get(c, file, &e, err);
  if (rc) return rc;
  const uint8_t *data;
  size_t size;
  rc = bert_tfrecord_read_at(&e->reader, &e->index, (int64_t)record, &data, &size, err);
  if (rc) return rc; /* the reader's message names file, record and offset */
  bert_example ex = {0};
  rc = bert_example_decode(&ex, data, size, err);
  if (!rc) rc = b->packed ? decode_packed(c, &ex, b, t, err) : decode_unpacked(c, &ex, b, t, err);
  bert_example_free(&ex);
  if (rc) {
    bert_error_prefix(err, "%s: record %" PRIu64 " at byte offset %" PRIu64 ": ", e->reader.path, record,
                      e->index.offsets[record]);
    return rc;
  }
  b->records[t] = (int64_t)bert_data_order_record_id(&c->order, file, record);
  return BERT_OK;
}

/* Micro-batch m of this rank: step s = m / (micro-batches per step); it is micro-batch
 * rank + world * micro of global batch s (rows t = 0..B-1), i.e. positions k * G + ... of pass
 * s / steps. Whole micro-batches go to ranks, so every micro-batch holds the same samples whatever
 * the number of ranks, and so do the per-micro-batch loss means. */
static int fill(loader_ctx *c, uint64_t m, bert_loader_batch *b, bert_error *err) {
  const bert_loader *l = c->l;
  const bert_loader_config *cfg = &l->cfg;
  b->step = m / (uint64_t)l->mb_per_step;
  b->micro = (int)(m % (uint64_t)l->mb_per_step);
  uint64_t pass = b->step / l->steps_per_pass, k = b->step % l->steps_per_pass;
  for (int t = 0; t < b->batch; t++) {
    uint64_t micro = (uint64_t)cfg->rank + (uint64_t)cfg->world * (uint64_t)b->micro;
    uint64_t position = k * (uint64_t)cfg->global_batch + micro * (uint64_t)b->batch + (uint64_t)t;
    int file;
    uint64_t record;
    bert_data_order_locate(&c->order, pass, position, &file, &record);
    int rc = read_record(c, file, record, b, t, err);
    if (rc) return rc;
  }
  return BERT_OK;
}

/* ---------------------------------------------------------------- generated mode */

/* The reference's generated dataset: one random sample, every row the same. */
static void fill_generated(const bert_loader_config *cfg, bert_loader_batch *b) {
  bert_rng rng = bert_rng_child(bert_rng_make(cfg->seed, BERT_RNG_DATA, 0, 0), GENERATED_TAG);
  bert_rng_stream s = bert_rng_stream_make(rng);
  size_t L = (size_t)b->len, M = (size_t)b->masked, S = (size_t)b->slots;
  uint64_t vocab = (uint64_t)cfg->vocab_size;
  for (size_t i = 0; i < L; i++) {
    b->input_ids[i] = (int32_t)bert_rng_stream_below(&s, vocab);
    b->input_mask[i] = 1; /* packed: one sequence, index 1, fills the row */
    b->segment_ids[i] = 0;
    if (b->position_ids) b->position_ids[i] = (int32_t)i;
  }
  for (size_t i = 0; i < M; i++) b->masked_positions[i] = (int32_t)bert_rng_stream_below(&s, L);
  for (size_t i = 0; i < M; i++) b->masked_labels[i] = (int32_t)bert_rng_stream_below(&s, vocab);
  for (size_t i = 0; i < S; i++) b->nsp_labels[i] = (int32_t)bert_rng_stream_below(&s, 2);
  if (b->nsp_mask)
    for (size_t i = 0; i < S; i++) b->nsp_mask[i] = 1.0f;
  b->records[0] = 0;
  for (int t = 1; t < b->batch; t++) {
    memcpy(b->input_ids + t * L, b->input_ids, L * sizeof *b->input_ids);
    memcpy(b->input_mask + t * L, b->input_mask, L * sizeof *b->input_mask);
    memcpy(b->segment_ids + t * L, b->segment_ids, L * sizeof *b->segment_ids);
    if (b->position_ids) memcpy(b->position_ids + t * L, b->position_ids, L * sizeof *b->position_ids);
    memcpy(b->masked_positions + t * M, b->masked_positions, M * sizeof *b->masked_positions);
    memcpy(b->masked_labels + t * M, b->masked_labels, M * sizeof *b->masked_labels);
    memcpy(b->nsp_labels + t * S, b->nsp_labels, S * sizeof *b->nsp_labels);
    if (b->nsp_mask) memcpy(b->nsp_mask + t * S, b->nsp_mask, S * sizeof *b->nsp_mask);
    b->records[t] = 0;
  }
}

/* ---------------------------------------------------------------- buffers and contexts */

/* One allocation per slot, carved into the batch's arrays. */
static int slot_alloc(const bert_loader_config *cfg, loader_slot *s, bert_error *err) {
  size_t B = (size_t)cfg->micro_batch, L = (size_t)cfg->seq_len, M = (size_t)cfg->masked, S = (size_t)cfg->slots;
  size_t ints = B * (L * (cfg->packed ? 4 : 3) + 2 * M + S);
  s->mem = calloc(1, B * sizeof(int64_t) + ints * sizeof(int32_t) + (cfg->packed ? B * S * sizeof(float) : 0));
  if (!s->mem) return bert_error_set(err, BERT_ENOMEM, "out of memory for a micro-batch of %zu x %zu", B, L);
  bert_loader_batch *b = &s->batch;
  *b = (bert_loader_batch){.batch = cfg->micro_batch, .len = cfg->seq_len, .masked = cfg->masked,
                           .slots = cfg->slots, .packed = cfg->packed};
  b->records = s->mem;
  int32_t *p = (int32_t *)(b->records + B);
  b->input_ids = p, p += B * L;
  b->input_mask = p, p += B * L;
  b->segment_ids = p, p += B * L;
  if (cfg->packed) b->position_ids = p, p += B * L;
  b->masked_positions = p, p += B * M;
  b->masked_labels = p, p += B * M;
  b->nsp_labels = p, p += B * S;
  if (cfg->packed) b->nsp_mask = (float *)p;
  return BERT_OK;
}

static int ctx_init(bert_loader *l, loader_ctx *c, bert_error *err) {
  c->l = l;
  int rc = bert_data_order_init(&c->order, l->counts, (int)l->files.count, l->cfg.window_files, l->cfg.seed, err);
  if (rc) return rc;
  /* Two windows' worth: a batch at a window boundary reads from both. */
  int K = c->order.window;
  c->cache_cap = 2 * K < c->order.files ? 2 * K : c->order.files;
  c->cache = calloc((size_t)c->cache_cap, sizeof *c->cache);
  size_t n = (size_t)l->cfg.seq_len;
  if ((size_t)l->cfg.masked > n) n = (size_t)l->cfg.masked;
  if ((size_t)l->cfg.slots > n) n = (size_t)l->cfg.slots;
  c->ints = malloc(n * sizeof *c->ints);
  c->floats = malloc(n * sizeof *c->floats);
  if (!c->cache || !c->ints || !c->floats) return bert_error_set(err, BERT_ENOMEM, "out of memory for a loader thread");
  for (int i = 0; i < c->cache_cap; i++) c->cache[i].file = -1;
  return BERT_OK;
}

static void ctx_free(loader_ctx *c) {
  for (int i = 0; c->cache && i < c->cache_cap; i++) entry_close(&c->cache[i]);
  free(c->cache);
  free(c->ints);
  free(c->floats);
  bert_data_order_free(&c->order);
}

/* Reads the first record at open, so a wrong format or length fails now, not in a worker. */
static int check_first_record(bert_loader *l, bert_error *err) {
  for (size_t f = 0; f < l->files.count; f++)
    if (l->counts[f]) return read_record(&l->ctx[0], (int)f, 0, &l->slots[0].batch, 0, err);
  return BERT_OK;
}

/* ---------------------------------------------------------------- workers */

static int can_claim(const bert_loader *l) {
  uint64_t ring = (uint64_t)l->ring;
  return !l->halt && l->claim < l->base + ring && l->slots[l->claim % ring].state == SLOT_FREE;
}

static void *worker_main(void *arg) {
  loader_ctx *c = arg;
  bert_loader *l = c->l;
  bert_error err;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->stop && !can_claim(l)) pthread_cond_wait(&l->cv, &l->mu);
    if (l->stop) break;
    uint64_t m = l->claim++;
    loader_slot *s = &l->slots[m % (uint64_t)l->ring];
    s->state = SLOT_FILLING, s->seq = m, s->gen = l->gen;
    pthread_mutex_unlock(&l->mu);
    err.code = 0, err.message[0] = 0;
    int rc = fill(c, m, &s->batch, &err);
    pthread_mutex_lock(&l->mu);
    if (s->gen != l->gen) {
      s->state = SLOT_FREE; /* a seek made this batch obsolete */
    } else {
      s->state = SLOT_READY, s->rc = rc;
      if (rc) s->err = err, l->halt = 1; /* later batches would only be thrown away */
    }
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

static int start_workers(bert_loader *l, bert_error *err) {
  for (int i = 0; i < l->nctx; i++) {
    int rc = pthread_create(&l->ctx[i].thread, NULL, worker_main, &l->ctx[i]);
    if (rc) return bert_error_set(err, BERT_EINVAL, "loader: cannot start a worker thread: %s", strerror(rc));
    l->ctx[i].started = 1;
  }
  return BERT_OK;
}

/* ---------------------------------------------------------------- open / close */

static int setup_data(bert_loader *l, const bert_loader_config *cfg, bert_error *err) {
  if (cfg->generated) {
    l->samples = (uint64_t)cfg->global_batch; /* the reference's length: one step */
    return BERT_OK;
  }
  int rc = expand_globs(l, cfg, err);
  if (!rc) rc = count_records(l, err);
  return rc;
}

static int setup_buffers(bert_loader *l, bert_error *err) {
  const bert_loader_config *cfg = &l->cfg;
  l->threaded = !cfg->generated && cfg->workers > 0;
  l->ring = l->threaded ? 2 * cfg->workers + 2 : 1;
  l->nctx = cfg->generated ? 0 : l->threaded ? cfg->workers : 1;
  l->slots = calloc((size_t)l->ring, sizeof *l->slots);
  l->ctx = calloc((size_t)(l->nctx ? l->nctx : 1), sizeof *l->ctx);
  if (!l->slots || !l->ctx) return bert_error_set(err, BERT_ENOMEM, "out of memory for the loader");
  for (int i = 0; i < l->ring; i++) {
    int rc = slot_alloc(cfg, &l->slots[i], err);
    if (rc) return rc;
  }
  for (int i = 0; i < l->nctx; i++) {
    int rc = ctx_init(l, &l->ctx[i], err);
    if (rc) return rc;
  }
  return BERT_OK;
}

int bert_loader_open(bert_loader **out, const bert_loader_config *cfg, bert_error *err) {
  *out = NULL;
  int rc = check_config(cfg, err);
  if (rc) return rc;
  bert_loader *l = calloc(1, sizeof *l);
  if (!l) return bert_error_set(err, BERT_ENOMEM, "out of memory for the loader");
  l->cfg = *cfg;
  l->cfg.input_files = NULL;
  if (!l->cfg.packed) l->cfg.slots = 1;
  if (!l->cfg.window_files) l->cfg.window_files = DEFAULT_WINDOW;
  l->mb_per_step = cfg->global_batch / cfg->world / cfg->micro_batch;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  rc = setup_data(l, cfg, err);
  l->steps_per_pass = l->samples / (uint64_t)cfg->global_batch;
  if (!rc && l->steps_per_pass == 0)
    rc = bert_error_set(err, BERT_EINVAL, "%s (%" PRIu64 " samples in %zu files, %d samples per step)", kNotEnoughData,
                        l->samples, l->files.count, cfg->global_batch);
  if (!rc) rc = setup_buffers(l, err);
  if (!rc && cfg->generated) fill_generated(&l->cfg, &l->slots[0].batch);
  if (!rc && !cfg->generated) rc = check_first_record(l, err);
  if (!rc && l->threaded) rc = start_workers(l, err);
  if (rc) {
    bert_loader_close(l);
    return rc;
  }
  *out = l;
  return BERT_OK;
}

void bert_loader_close(bert_loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  for (int i = 0; l->ctx && i < l->nctx; i++)
    if (l->ctx[i].started) pthread_join(l->ctx[i].thread, NULL);
  for (int i = 0; l->ctx && i < l->nctx; i++) ctx_free(&l->ctx[i]);
  for (int i = 0; l->slots && i < l->ring; i++) free(l->slots[i].mem);
  free(l->ctx);
  free(l->slots);
  free(l->counts);
  bert_strlist_free(&l->files);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* ---------------------------------------------------------------- consumer */

static int fail(bert_loader *l, int rc, const bert_error *src, bert_error *err) {
  l->failed = rc;
  l->fail_err = *src;
  if (err) *err = *src;
  return rc;
}

static int next_threaded(bert_loader *l, const bert_loader_batch **batch, bert_error *err) {
  uint64_t ring = (uint64_t)l->ring;
  if (l->held) { /* the consumer is done with the batch it got last */
    l->slots[(l->next - 1) % ring].state = SLOT_FREE;
    l->base = l->next, l->held = 0;
    pthread_cond_broadcast(&l->cv);
  }
  loader_slot *s = &l->slots[l->next % ring];
  while (!(s->state == SLOT_READY && s->seq == l->next && s->gen == l->gen)) pthread_cond_wait(&l->cv, &l->mu);
  if (s->rc) {
    s->state = SLOT_FREE;
    return fail(l, s->rc, &s->err, err);
  }
  l->held = 1;
  l->next++;
  *batch = &s->batch;
  return BERT_OK;
}

static int next_inline(bert_loader *l, const bert_loader_batch **batch, bert_error *err) {
  bert_loader_batch *b = &l->slots[0].batch;
  if (l->cfg.generated) {
    b->step = l->next / (uint64_t)l->mb_per_step;
    b->micro = (int)(l->next % (uint64_t)l->mb_per_step);
  } else {
    bert_error local = {0};
    int rc = fill(&l->ctx[0], l->next, b, &local);
    if (rc) return fail(l, rc, &local, err);
  }
  l->next++;
  *batch = b;
  return BERT_OK;
}

int bert_loader_next(bert_loader *l, const bert_loader_batch **batch, bert_error *err) {
  *batch = NULL;
  pthread_mutex_lock(&l->mu);
  int rc;
  if (l->failed) {
    rc = l->failed;
    if (err) *err = l->fail_err;
  } else {
    rc = l->threaded ? next_threaded(l, batch, err) : next_inline(l, batch, err);
  }
  pthread_mutex_unlock(&l->mu);
  return rc;
}

int bert_loader_seek(bert_loader *l, uint64_t step, bert_error *err) {
  if (step > UINT64_MAX / (uint64_t)l->mb_per_step)
    return bert_error_set(err, BERT_ERANGE, "loader: step %" PRIu64 " is out of range", step);
  pthread_mutex_lock(&l->mu);
  l->gen++;
  for (int i = 0; i < l->ring; i++)
    if (l->slots[i].state == SLOT_READY) l->slots[i].state = SLOT_FREE; /* FILLING ones free themselves */
  l->held = l->halt = l->failed = 0;
  l->next = l->base = l->claim = step * (uint64_t)l->mb_per_step;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  return BERT_OK;
}

uint64_t bert_loader_samples(const bert_loader *l) { return l->samples; }
uint64_t bert_loader_steps_per_pass(const bert_loader *l) { return l->steps_per_pass; }
int bert_loader_micro_batches_per_step(const bert_loader *l) { return l->mb_per_step; }
int bert_loader_file_count(const bert_loader *l) { return (int)l->files.count; }
