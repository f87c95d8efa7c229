#include "data/pretraining.h"

#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/progress.h"
#include "base/rng_stream.h"
#include "data/corpus.h"
#include "data/instances.h"
#include "data/tfrecord.h"

#define ARENA_BLOCK ((size_t)4 << 20)
#define WRITE_BATCH 4096

void bert_pretraining_options_default(bert_pretraining_options *o) {
  *o = (bert_pretraining_options){.sequence_length = 128, .mask_tokens = 20, .seed = 1984,
                                  .duplication_factor = 6, .mlm_prob = 0.15, .short_seq_prob = 0.1,
                                  .max_samples = -1, .ignore_index_value = 0, .threads = 0,
                                  .whole_word_masking = 0, .group_files = 50, .progress = -1};
}

/* ---------------------------------------------------------------- compact instances
 * A group's instances wait for the shuffle in a compact form (about 2 bytes per token instead of
 * ~7 encoded): header {n_tokens, len_a, n_masked: uint16; is_random_next, id width: uint8}, then
 * tokens, positions (uint16) and labels. Ids take 2 bytes when the vocabulary allows. */
#define COMPACT_HEADER 8

typedef struct arena {
  uint8_t **blocks;
  size_t n_blocks, used; /* bytes used in the last block */
} arena;

/* One per thread, on its own cache lines (they are written at every instance). */
typedef struct thread_store {
  arena mem;
  uint8_t **records;
  size_t n_records, cap_records;
  int width; /* bytes per id */
  int rc;
} __attribute__((aligned(64))) thread_store;

static uint8_t *arena_alloc(arena *a, size_t n) {
  if (!a->n_blocks || a->used + n > ARENA_BLOCK) {
    uint8_t **b = realloc(a->blocks, (a->n_blocks + 1) * sizeof *b);
    if (!b) return NULL;
    a->blocks = b;
    if (!(b[a->n_blocks] = malloc(ARENA_BLOCK))) return NULL;
    a->n_blocks++;
    a->used = 0;
  }
  uint8_t *p = a->blocks[a->n_blocks - 1] + a->used;
  a->used += n;
  return p;
}

static void arena_free(arena *a) {
  for (size_t i = 0; i < a->n_blocks; i++) free(a->blocks[i]);
  free(a->blocks);
  memset(a, 0, sizeof *a);
}

static void put_id(uint8_t *p, int width, int32_t v) {
  if (width == 2) {
    uint16_t s = (uint16_t)v;
    memcpy(p, &s, 2);
  } else {
    memcpy(p, &v, 4);
  }
}

static int32_t get_id(const uint8_t *p, int width) {
  if (width == 2) {
    uint16_t s;
    memcpy(&s, p, 2);
    return s;
  }
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void put_u16(uint8_t *p, int v) {
  uint16_t s = (uint16_t)v;
  memcpy(p, &s, 2);
}

static int get_u16(const uint8_t *p) {
  uint16_t s;
  memcpy(&s, p, 2);
  return s;
}

/* The instance sink: stores one instance compactly in the thread's arena. */
static int store_instance(const bert_instance *in, void *ctx) {
  thread_store *ts = ctx;
  int w = ts->width;
  size_t size = COMPACT_HEADER + (size_t)in->n_tokens * w + (size_t)in->n_masked * (2 + w);
  if (ts->n_records == ts->cap_records) {
    size_t cap = ts->cap_records ? 2 * ts->cap_records : 4096;
    uint8_t **r = realloc(ts->records, cap * sizeof *r);
    if (!r) return BERT_ENOMEM;
    ts->records = r;
    ts->cap_records = cap;
  }
  uint8_t *p = arena_alloc(&ts->mem, size);
  if (!p) return BERT_ENOMEM;
  ts->records[ts->n_records++] = p;
  put_u16(p, in->n_tokens), put_u16(p + 2, in->len_a), put_u16(p + 4, in->n_masked);
  p[6] = (uint8_t)in->is_random_next, p[7] = (uint8_t)w;
  p += COMPACT_HEADER;
  for (int i = 0; i < in->n_tokens; i++, p += w) put_id(p, w, in->tokens[i]);
  for (int i = 0; i < in->n_masked; i++, p += 2) put_u16(p, in->positions[i]);
  for (int i = 0; i < in->n_masked; i++, p += w) put_id(p, w, in->labels[i]);
  return 0;
}

static void load_instance(const uint8_t *p, bert_instance *in) {
  in->n_tokens = get_u16(p), in->len_a = get_u16(p + 2), in->n_masked = get_u16(p + 4);
  in->is_random_next = p[6];
  int w = p[7];
  p += COMPACT_HEADER;
  for (int i = 0; i < in->n_tokens; i++, p += w) in->tokens[i] = get_id(p, w);
  for (int i = 0; i < in->n_masked; i++, p += 2) in->positions[i] = get_u16(p);
  for (int i = 0; i < in->n_masked; i++, p += w) in->labels[i] = get_id(p, w);
}

/* ---------------------------------------------------------------- run state */

typedef struct run {
  const bert_pretraining_options *o;
  bert_instance_options inst;
  uint8_t *continuation;
  const bert_tokenizer *tok;
  int threads;
  bert_corpus corpus;
  thread_store *stores;   /* [threads] */
  uint8_t **bufs;         /* [2 * threads] encoding buffers */
  size_t *buf_caps;
  bert_tfrecord_writer *writers;
  size_t n_writers;
  bert_progress progress;
  bert_pretraining_stats *stats;
} run;

static void reset_stores(run *r) {
  for (int t = 0; t < r->threads; t++) {
    thread_store *ts = &r->stores[t];
    arena_free(&ts->mem);
    ts->n_records = 0;
    ts->rc = 0;
  }
}

/* ---------------------------------------------------------------- instance creation */

typedef struct task_slot {
  int thread;
  size_t start, count; /* records of this task in its thread's store */
} task_slot;

/* Every (round, document) is a task with its own random stream; tasks run on any thread. */
static void create_task(run *r, const size_t *order, size_t n_docs, size_t k, bert_rng group, task_slot *slot) {
  int t = omp_get_thread_num();
  thread_store *ts = &r->stores[t];
  size_t round = k / n_docs, doc = k % n_docs;
  bert_rng_stream rng = bert_rng_stream_make(bert_rng_child(bert_rng_child(group, 2 + round), doc));
  slot->thread = t;
  slot->start = ts->n_records;
  if (!ts->rc) ts->rc = bert_instances_from_document(&r->corpus, order, n_docs, doc, &r->inst, &rng, store_instance, ts);
  slot->count = ts->n_records - slot->start;
}

static int create_instances(run *r, const size_t *order, size_t n_docs, bert_rng group, uint64_t group_bytes,
                            uint8_t ***out, size_t *n_out, bert_error *err) {
  size_t tasks = (size_t)r->o->duplication_factor * n_docs, done = 0;
  uint64_t base = r->progress.done;
  task_slot *slots = malloc((tasks ? tasks : 1) * sizeof *slots);
  if (!slots) return bert_error_set(err, BERT_ENOMEM, "out of memory for %zu tasks", tasks);
#pragma omp parallel for schedule(dynamic, 4) num_threads(r->threads)
  for (size_t k = 0; k < tasks; k++) {
    create_task(r, order, n_docs, k, group, &slots[k]);
#pragma omp atomic
    done++;
    if (omp_get_thread_num() == 0) {
      size_t d;
#pragma omp atomic read
      d = done;
      bert_progress_set(&r->progress, base + group_bytes * d / tasks);
    }
  }
  int rc = 0;
  for (int t = 0; t < r->threads && !rc; t++) rc = r->stores[t].rc;
  size_t total = 0;
  for (size_t k = 0; k < tasks; k++) total += slots[k].count;
  uint8_t **all = rc ? NULL : malloc((total ? total : 1) * sizeof *all);
  if (all) {
    size_t n = 0;
    for (size_t k = 0; k < tasks; k++)
      for (size_t i = 0; i < slots[k].count; i++) all[n++] = r->stores[slots[k].thread].records[slots[k].start + i];
  }
  free(slots);
  if (!all) return bert_error_set(err, BERT_ENOMEM, "out of memory creating instances");
  *out = all;
  *n_out = total;
  return BERT_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct encoded {
  int thread;
  size_t offset, size;
} encoded;

/* Encoding buffers come in two sets (by batch parity), one buffer per thread in each: while one
 * batch is written from one set, the next is encoded into the other. */
static int ensure_buf(run *r, int set, int t, size_t need) {
  size_t k = (size_t)set * (size_t)r->threads + (size_t)t;
  if (need <= r->buf_caps[k]) return 0;
  size_t cap = r->buf_caps[k] ? r->buf_caps[k] : ((size_t)1 << 20);
  while (cap < need) cap *= 2;
  uint8_t *b = realloc(r->bufs[k], cap);
  if (!b) return BERT_ENOMEM;
  r->bufs[k] = b;
  r->buf_caps[k] = cap;
  return 0;
}

typedef struct batch {
  uint8_t *const *records;
  size_t count;
  encoded *enc; /* [count] */
  int set;
} batch;

static int write_batch(run *r, const batch *b, bert_error *err) {
  int rc = 0;
  for (size_t i = 0; i < b->count && !rc; i++) {
    const encoded *e = &b->enc[i];
    bert_tfrecord_writer *w = &r->writers[r->stats->written % r->n_writers];
    rc = bert_tfrecord_write_framed(w, r->bufs[b->set * r->threads + e->thread] + e->offset, e->size, err);
    r->stats->written++;
  }
  return rc;
}

/* One thread's share of encoding: records claimed 16 at a time, so the thread that writes the
 * previous batch joins in when it is done. Returns non-zero on failure. */
static int encode_share(run *r, batch *b, size_t *next) {
  int t = omp_get_thread_num(), failed = 0;
  size_t used = 0, bound = bert_instance_record_bound(&r->inst);
  size_t L = (size_t)r->inst.sequence_length, M = (size_t)r->inst.mask_tokens;
  int32_t *arrays = malloc((L + 2 * M) * sizeof *arrays);
  if (!arrays) return 1;
  bert_instance in = {.tokens = arrays, .positions = arrays + L, .labels = arrays + L + M};
  for (;;) {
    size_t first;
#pragma omp atomic capture
    { first = *next; *next += 16; }
    if (first >= b->count || failed) break;
    for (size_t i = first; i < first + 16 && i < b->count && !failed; i++) {
      if (ensure_buf(r, b->set, t, used + bound)) failed = 1;
      if (failed) break;
      load_instance(b->records[i], &in);
      size_t size = bert_instance_encode(&in, &r->inst, r->o->ignore_index_value,
                                         r->bufs[b->set * r->threads + t] + used, bound);
      b->enc[i] = (encoded){t, used, size};
      used += size;
      failed |= size == 0;
    }
  }
  free(arrays);
  return failed;
}

/* Encodes `cur` on every thread while thread 0 first writes `prev` (NULL for none). */
static int encode_while_writing(run *r, batch *cur, const batch *prev, bert_error *err) {
  size_t next = 0;
  int failed = 0, written = 0;
#pragma omp parallel num_threads(r->threads) reduction(| : failed)
  {
    if (omp_get_thread_num() == 0 && prev) written = write_batch(r, prev, err);
    failed |= encode_share(r, cur, &next);
  }
  if (written) return written;
  return failed ? bert_error_set(err, BERT_ENOMEM, "out of memory encoding instances") : BERT_OK;
}

static int write_records(run *r, uint8_t *const *records, size_t n, bert_error *err) {
  size_t per = n < WRITE_BATCH ? (n ? n : 1) : WRITE_BATCH;
  encoded *enc = malloc(2 * per * sizeof *enc);
  if (!enc) return bert_error_set(err, BERT_ENOMEM, "out of memory writing");
  batch b[2] = {{NULL, 0, enc, 0}, {NULL, 0, enc + per, 1}};
  int rc = 0, k = 0;
  for (size_t first = 0; first < n && !rc; first += WRITE_BATCH, k ^= 1) {
    b[k].records = records + first;
    b[k].count = n - first < WRITE_BATCH ? n - first : WRITE_BATCH;
    rc = encode_while_writing(r, &b[k], first ? &b[k ^ 1] : NULL, err);
  }
  if (!rc && n) rc = write_batch(r, &b[k ^ 1], err); /* the last batch encoded */
  free(enc);
  return rc;
}

/* ---------------------------------------------------------------- groups */

static int read_group(run *r, const bert_strlist *inputs, size_t first, size_t count, bert_error *err) {
  bert_corpus_clear(&r->corpus);
  for (size_t i = first; i < first + count; i++) {
    int rc = bert_corpus_add_file(&r->corpus, inputs->items[i], r->tok, r->threads, &r->progress, err);
    if (rc) return rc;
  }
  bert_pretraining_stats *s = r->stats;
  s->bytes += r->corpus.bytes, s->lines += r->corpus.lines, s->documents += r->corpus.n_documents;
  s->sentences += r->corpus.n_sentences, s->tokens += r->corpus.n_tokens;
  return BERT_OK;
}

static uint64_t remaining_samples(const run *r, size_t n) {
  if (r->o->max_samples < 0) return n;
  uint64_t left = (uint64_t)r->o->max_samples > r->stats->written ? (uint64_t)r->o->max_samples - r->stats->written : 0;
  return left < n ? left : n;
}

static int process_group(run *r, const bert_strlist *inputs, size_t g, size_t first, size_t count, bert_error *err) {
  double t0 = omp_get_wtime();
  int rc = read_group(r, inputs, first, count, err);
  double t1 = omp_get_wtime();
  r->stats->seconds_tokenize += t1 - t0;
  uint64_t group_bytes = r->corpus.bytes;
  size_t n_docs = r->corpus.n_documents;
  if (rc || n_docs == 0) {
    bert_progress_set(&r->progress, r->progress.done + group_bytes);
    return rc;
  }
  size_t *order = malloc(n_docs * sizeof *order);
  if (!order) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (size_t d = 0; d < n_docs; d++) order[d] = d;
  bert_rng group = bert_rng_make(r->o->seed, BERT_RNG_DATA, g, 0);
  bert_rng_stream doc_rng = bert_rng_stream_make(bert_rng_child(group, 0));
  bert_rng_stream_shuffle(&doc_rng, order, n_docs, sizeof *order);
  uint8_t **records = NULL;
  size_t n = 0;
  rc = create_instances(r, order, n_docs, group, group_bytes, &records, &n, err);
  free(order);
  double t2 = omp_get_wtime();
  r->stats->seconds_create += t2 - t1;
  if (!rc) {
    bert_rng_stream shuffle_rng = bert_rng_stream_make(bert_rng_child(group, 1));
    bert_rng_stream_shuffle(&shuffle_rng, records, n, sizeof *records);
    r->stats->instances += n;
    rc = write_records(r, records, remaining_samples(r, n), err);
    r->stats->seconds_write += omp_get_wtime() - t2;
  }
  free(records);
  reset_stores(r);
  return rc;
}

/* ---------------------------------------------------------------- set-up */

static int open_writers(run *r, const bert_strlist *outputs, bert_error *err) {
  for (size_t i = 0; i < outputs->count; i++)
    for (size_t j = 0; j < i; j++)
      if (!strcmp(outputs->items[i], outputs->items[j]))
        return bert_error_set(err, BERT_EINVAL, "%s: given twice as an output file", outputs->items[i]);
  r->writers = calloc(outputs->count, sizeof *r->writers);
  if (!r->writers) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (size_t i = 0; i < outputs->count; i++) {
    bert_remove_stale_beside(outputs->items[i], stderr); /* what killed runs left beside it */
    int rc = bert_tfrecord_writer_open(&r->writers[i], outputs->items[i], 1, err);
    if (rc) return rc;
    r->n_writers++;
  }
  return BERT_OK;
}

/* All output files (and indexes) appear together or not at all. */
static int close_writers(run *r, int ok, bert_error *err) {
  int rc = ok ? bert_tfrecord_writers_close(r->writers, r->n_writers, err) : BERT_OK;
  for (size_t i = 0; !ok && i < r->n_writers; i++) bert_tfrecord_writer_abort(&r->writers[i]);
  free(r->writers);
  return rc;
}

static uint64_t total_bytes(const bert_strlist *inputs) {
  uint64_t total = 0;
  struct stat st;
  for (size_t i = 0; i < inputs->count; i++)
    if (stat(inputs->items[i], &st) == 0) total += (uint64_t)st.st_size;
  return total;
}

static int init_run(run *r, const bert_strlist *inputs, const bert_tokenizer *tok, const bert_pretraining_options *o,
                    bert_error *err) {
  memset(r, 0, sizeof *r);
  r->o = o;
  r->tok = tok;
  r->threads = o->threads > 0 ? o->threads : omp_get_max_threads();
  const bert_vocab *vocab = bert_tokenizer_vocab(tok);
  int rc = bert_instance_options_init(&r->inst, vocab, o->sequence_length, o->mask_tokens, o->mlm_prob,
                                      o->short_seq_prob, o->whole_word_masking, &r->continuation, err);
  if (rc) return rc;
  if (o->duplication_factor < 1 || o->group_files < 1)
    return bert_error_set(err, BERT_EINVAL, "--duplication-factor and --group-files must be at least 1");
  bert_corpus_init(&r->corpus);
  r->stores = aligned_alloc(64, (size_t)r->threads * sizeof *r->stores);
  if (r->stores) memset(r->stores, 0, (size_t)r->threads * sizeof *r->stores);
  r->bufs = calloc(2 * (size_t)r->threads, sizeof *r->bufs);
  r->buf_caps = calloc(2 * (size_t)r->threads, sizeof *r->buf_caps);
  if (!r->stores || !r->bufs || !r->buf_caps) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int t = 0; t < r->threads; t++) r->stores[t].width = vocab->size <= 65536 ? 2 : 4;
  /* Each input byte counts twice on the bar: once tokenized, once turned into instances. */
  bert_progress_init(&r->progress, "data create", 2 * total_bytes(inputs), "MB", 2e6, o->progress);
  return BERT_OK;
}

static void free_run(run *r) {
  if (r->stores) reset_stores(r);
  for (int t = 0; t < r->threads && r->stores; t++) free(r->stores[t].records);
  for (int t = 0; t < 2 * r->threads && r->bufs; t++) free(r->bufs[t]);
  free(r->stores);
  free(r->bufs);
  free(r->buf_caps);
  free(r->continuation);
  bert_corpus_free(&r->corpus);
}

static int run_groups(run *r, const bert_strlist *inputs, bert_error *err) {
  size_t per = (size_t)r->o->group_files;
  int rc = 0;
  for (size_t first = 0, g = 0; first < inputs->count && !rc; first += per, g++) {
    if (r->o->max_samples >= 0 && r->stats->written >= (uint64_t)r->o->max_samples) break;
    size_t count = inputs->count - first < per ? inputs->count - first : per;
    rc = process_group(r, inputs, g, first, count, err);
    r->stats->groups++;
  }
  r->stats->files = inputs->count;
  return rc;
}

int bert_pretraining_create(const bert_strlist *inputs, const bert_strlist *outputs, const bert_tokenizer *tok,
                            const bert_pretraining_options *o, bert_pretraining_stats *stats, bert_error *err) {
  memset(stats, 0, sizeof *stats);
  if (!inputs->count || !outputs->count)
    return bert_error_set(err, BERT_EINVAL, "no %s files given", inputs->count ? "output" : "input");
  run r;
  int rc = init_run(&r, inputs, tok, o, err);
  r.stats = stats;
  if (!rc) rc = open_writers(&r, outputs, err);
  if (!rc) rc = run_groups(&r, inputs, err);
  bert_progress_finish(&r.progress);
  if (!rc && stats->documents == 0)
    rc = bert_error_set(err, BERT_EFORMAT, "no documents in the %zu input file(s): every file is empty or blank",
                        inputs->count);
  int closed = close_writers(&r, rc == 0, err);
  free_run(&r);
  if (!rc) rc = closed;
  return rc;
}
