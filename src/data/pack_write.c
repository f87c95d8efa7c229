/* data/pack_write: pass 2 of `bert data pack` — packs in output order, in batches: gather the
 * batch's locators, read them (data/fetch: sorted by file and offset, threads), build and encode
 * the packs in parallel (one pack per task, per-thread buffers), then write them in order, rotating
 * output files every packs_per_file packs. A failure removes the files this run wrote. */
#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"
#include "data/fetch.h"
#include "data/pack_internal.h"
#include "data/packed.h"
#include "data/shards.h"

#define BATCH_RECORDS 8192 /* sequences read per batch: a few MB of payloads */

typedef struct worker {
  bert_unpacked u;
  bert_packed p;
  uint8_t *arena;
  size_t used, cap;
  int rc;
  bert_error err;
} worker;

typedef struct built {
  uint32_t thread;
  int overflow;  /* masked tokens beyond M+S-1: discarded */
  int sequences; /* real sequences in the pack */
  size_t offset, size;
} built;

typedef struct batch {
  uint64_t *locs;
  size_t nlocs, cap_locs;
  size_t *rec_start; /* [packs + 1] */
  built *b;
  size_t packs, cap_packs;
} batch;

/* ---------------------------------------------------------------- batches */

static int batch_reserve(batch *bt, size_t packs, size_t locs, bert_error *err) {
  if (packs + 1 > bt->cap_packs) {
    size_t cap = 2 * (packs + 1);
    size_t *rs = realloc(bt->rec_start, cap * sizeof *rs);
    if (rs) bt->rec_start = rs;
    built *b = rs ? realloc(bt->b, cap * sizeof *b) : NULL;
    if (!b) return bert_error_set(err, BERT_ENOMEM, "out of memory for a batch of %zu packs", cap);
    bt->b = b, bt->cap_packs = cap;
  }
  if (locs > bt->cap_locs) {
    size_t cap = 2 * locs;
    uint64_t *l = realloc(bt->locs, cap * sizeof *l);
    if (!l) return bert_error_set(err, BERT_ENOMEM, "out of memory for a batch of %zu sequences", cap);
    bt->locs = l, bt->cap_locs = cap;
  }
  return BERT_OK;
}

/* Packs order[pos ..] until the batch holds BATCH_RECORDS slots; returns the next position. */
static int collect(const packer *pk, batch *bt, size_t pos, size_t *next, bert_error *err) {
  bt->packs = bt->nlocs = 0;
  while (pos < pk->packs && bt->nlocs < BATCH_RECORDS) {
    uint64_t g = pk->order[pos++];
    size_t s = pack_strategy_of(pk, g), k0 = pk->plan.start[s], k1 = pk->plan.start[s + 1];
    uint64_t j = g - pk->pack_start[s];
    int rc = batch_reserve(bt, bt->packs + 1, bt->nlocs + (k1 - k0), err);
    if (rc) return rc;
    bt->rec_start[bt->packs++] = bt->nlocs;
    for (size_t k = k0; k < k1; k++) bt->locs[bt->nlocs++] = pk->seqs.loc[pk->slot_base[k] + j];
  }
  bt->rec_start[bt->packs] = bt->nlocs;
  *next = pos;
  return BERT_OK;
}

static int arena_reserve(worker *w, size_t extra) {
  if (w->used + extra <= w->cap) return BERT_OK;
  size_t cap = w->cap ? w->cap : 1 << 16;
  while (cap < w->used + extra) cap *= 2;
  uint8_t *a = realloc(w->arena, cap);
  if (!a) return bert_error_set(&w->err, BERT_ENOMEM, "out of memory for %zu bytes of packs", cap);
  w->arena = a, w->cap = cap;
  return BERT_OK;
}

static void build_one(const packer *pk, const bert_fetch *f, batch *bt, size_t b, worker *w, uint32_t id) {
  built *out = &bt->b[b];
  out->overflow = 0, out->thread = id, out->size = 0;
  bert_packed_reset(&w->p);
  for (size_t r = bt->rec_start[b]; r < bt->rec_start[b + 1]; r++) {
    size_t size;
    const uint8_t *data = bert_fetch_get(f, r, &size);
    if (!data) continue; /* placeholder */
    if ((w->rc = bert_unpacked_decode(&w->u, pk->L, pk->M, data, size, &w->err))) {
      uint64_t loc = bt->locs[r];
      bert_error_prefix(&w->err, "%s: record at byte offset %" PRIu64 ": ", pk->inputs->items[bert_loc_file(loc)],
                        bert_loc_offset(loc));
      return;
    }
    if (bert_packed_add(&w->p, &w->u)) {
      out->overflow = 1;
      return;
    }
  }
  size_t bound = bert_packed_max_size(&w->p);
  out->sequences = w->p.sequences;
  if ((w->rc = arena_reserve(w, bound))) return;
  out->offset = w->used;
  if (!(w->rc = bert_packed_encode(&w->p, w->arena + w->used, bound, &out->size, &w->err))) w->used += out->size;
}

static int build(const packer *pk, const bert_fetch *f, batch *bt, worker *ws, bert_error *err) {
  for (int t = 0; t < pk->threads; t++) ws[t].used = 0, ws[t].rc = 0;
#pragma omp parallel for schedule(dynamic, 16) num_threads(pk->threads)
  for (size_t b = 0; b < bt->packs; b++) {
    int t = omp_get_thread_num();
    if (!ws[t].rc) build_one(pk, f, bt, b, &ws[t], (uint32_t)t);
  }
  for (int t = 0; t < pk->threads; t++)
    if (ws[t].rc) return err ? (*err = ws[t].err, ws[t].rc) : ws[t].rc;
  return BERT_OK;
}

static int write_batch(const packer *pk, const batch *bt, const worker *ws, bert_shards *o, bert_error *err) {
  for (size_t b = 0; b < bt->packs; b++) {
    const built *x = &bt->b[b];
    if (x->overflow) {
      pk->report->packs_overflow++;
      continue;
    }
    int rc = bert_shards_write(o, ws[x->thread].arena + x->offset, x->size, err);
    if (rc) return rc;
    pk->report->packs_written++;
    pk->report->sequences_packed += (uint64_t)x->sequences;
  }
  return BERT_OK;
}

/* ---------------------------------------------------------------- driver */

static int workers_init(const packer *pk, worker *ws, bert_error *err) {
  for (int t = 0; t < pk->threads; t++) {
    int rc = bert_unpacked_init(&ws[t].u, pk->L, pk->M, err);
    if (!rc) rc = bert_packed_init(&ws[t].p, pk->L, pk->M, pk->S, err);
    if (rc) return rc;
  }
  return BERT_OK;
}

static void workers_free(const packer *pk, worker *ws) {
  for (int t = 0; ws && t < pk->threads; t++) {
    bert_unpacked_free(&ws[t].u);
    bert_packed_free(&ws[t].p);
    free(ws[t].arena);
  }
  free(ws);
}

static int write_all(const packer *pk, bert_fetch *f, worker *ws, bert_shards *o, bert_error *err) {
  batch bt = {0};
  bert_progress bar;
  bert_progress_init(&bar, "packing", pk->packs, "packs", 1, pk->o->progress);
  int rc = BERT_OK;
  for (size_t pos = 0, next = 0; pos < pk->packs && !rc; pos = next) {
    rc = collect(pk, &bt, pos, &next, err);
    if (!rc) rc = bert_fetch_read(f, bt.locs, bt.nlocs, err);
    if (!rc) rc = build(pk, f, &bt, ws, err);
    if (!rc) rc = write_batch(pk, &bt, ws, o, err);
    bert_progress_set(&bar, next);
  }
  bert_progress_finish(&bar);
  free(bt.locs), free(bt.rec_start), free(bt.b);
  return rc;
}

int pack_write(packer *pk, const char *output_dir, FILE *out, bert_error *err) {
  bert_shards o;
  bert_shards_init(&o, output_dir, pk->o->packs_per_file, out, "packs");
  bert_fetch f;
  worker *ws = calloc((size_t)pk->threads, sizeof *ws);
  if (out) fputs("Adding padding sequence to pack the remainder of sequences.\nBegin packing and writing.\n", out);
  int rc = ws ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
  if (!rc) rc = workers_init(pk, ws, err);
  if (!rc) rc = bert_fetch_init(&f, (const char *const *)pk->inputs->items, pk->inputs->count, pk->threads,
                                pk->o->check_crc, err);
  if (!rc) {
    rc = write_all(pk, &f, ws, &o, err);
    bert_fetch_free(&f);
  }
  if (!rc) rc = bert_shards_finish(&o, err);
  if (rc) bert_shards_abandon(&o);
  else bert_shards_warn_stale(&o);
  pk->report->files = rc ? 0 : o.written.count;
  if (!rc && out)
    fprintf(out, "Wrote %" PRIu64 " packs of %" PRIu64 " sequences into %zu file(s); %" PRIu64
            " packs of placeholders only not written; %" PRIu64 " packs discarded (masked tokens beyond %d).\n",
            pk->report->packs_written, pk->report->sequences_packed, o.written.count, pk->report->packs_empty,
            pk->report->packs_overflow, pk->M + pk->S - 1);
  bert_shards_free(&o);
  workers_free(pk, ws);
  return rc;
}
