/* data/pack: `bert data pack` (see pack.h). Pass 1 (scan) and the assignment of sequences to
 * packs are here; pass 2 (reading, building, writing the packs) is in pack_write.c. */
#include "data/pack.h"

#include <inttypes.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/rng_stream.h"
#include "data/fetch.h"
#include "data/pack_internal.h"
#include "data/packed.h"
#include "data/shards.h"
#include "data/tfrecord.h"

void bert_pack_options_default(bert_pack_options *o) {
  memset(o, 0, sizeof *o);
  bert_pack_plan_options_default(&o->plan);
  o->mask_tokens = 20, o->seed = 12345, o->threads = 0, o->packs_per_file = 500000;
  o->check_crc = 1, o->progress = -1;
}

/* ---------------------------------------------------------------- pass 1: lengths and locators */

static int seqs_reserve(pack_seqs *s, size_t n, bert_error *err) {
  if (n <= s->cap) return BERT_OK;
  size_t cap = s->cap ? s->cap : 4096;
  while (cap < n) cap *= 2;
  uint64_t *loc = realloc(s->loc, cap * sizeof *loc);
  if (loc) s->loc = loc;
  uint16_t *len = loc ? realloc(s->len, cap * sizeof *len) : NULL;
  if (!len) return bert_error_set(err, BERT_ENOMEM, "out of memory for %zu sequences", cap);
  s->len = len, s->cap = cap;
  return BERT_OK;
}

void pack_seqs_free(pack_seqs *s) {
  free(s->loc), free(s->len);
  memset(s, 0, sizeof *s);
}

static int scan_records(const packer *pk, size_t file, bert_tfrecord_reader *r, bert_unpacked *u, pack_seqs *out,
                        bert_error *err) {
  const char *path = pk->inputs->items[file];
  for (;;) {
    uint64_t offset = r->offset;
    int64_t record = r->record;
    const uint8_t *data;
    size_t size;
    int rc = bert_tfrecord_read(r, &data, &size, err);
    if (rc <= 0) return rc;
    rc = bert_loc_check(path, file, offset, err);
    if (!rc) rc = bert_unpacked_decode(u, pk->L, pk->M, data, size, err);
    if (rc) return bert_error_prefix(err, "%s: record %" PRId64 " at byte offset %" PRIu64 ": ", path, record, offset);
    if ((rc = seqs_reserve(out, out->n + 1, err))) return rc;
    out->loc[out->n] = bert_loc_make((uint32_t)file, offset), out->len[out->n++] = (uint16_t)u->len;
  }
}

static int scan_file(const packer *pk, size_t file, pack_seqs *out, bert_error *err) {
  bert_tfrecord_reader r;
  bert_unpacked u;
  out->n = 0;
  int rc = bert_unpacked_init(&u, pk->L, pk->M, err);
  if (rc) return rc;
  if (!(rc = bert_tfrecord_reader_open(&r, pk->inputs->items[file], pk->o->check_crc, err))) {
    rc = scan_records(pk, file, &r, &u, out, err);
    bert_tfrecord_reader_close(&r);
  }
  bert_unpacked_free(&u);
  return rc;
}

static int append(pack_seqs *all, const pack_seqs *part, bert_error *err) {
  int rc = seqs_reserve(all, all->n + part->n, err);
  if (rc) return rc;
  memcpy(all->loc + all->n, part->loc, part->n * sizeof *part->loc);
  memcpy(all->len + all->n, part->len, part->n * sizeof *part->len);
  all->n += part->n;
  return BERT_OK;
}

/* Files are scanned in blocks of `threads`, one file per thread, and appended in file order, so
 * the sequence order is the files' whatever the thread count. */
static int scan_block(packer *pk, size_t first, size_t count, pack_seqs *parts, bert_error *errs, int *rcs) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(pk->threads)
  for (size_t j = 0; j < count; j++) rcs[j] = scan_file(pk, first + j, &parts[j], &errs[j]);
  for (size_t j = 0; j < count; j++)
    if (rcs[j]) return rcs[j];
  return BERT_OK;
}

int pack_scan(packer *pk, bert_error *err) {
  size_t files = pk->inputs->count, T = (size_t)pk->threads;
  pack_seqs *parts = calloc(T, sizeof *parts);
  bert_error *errs = calloc(T, sizeof *errs);
  int *rcs = calloc(T, sizeof *rcs), rc = BERT_OK;
  if (!parts || !errs || !rcs) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
  bert_progress bar;
  bert_progress_init(&bar, "reading", files, "files", 1, pk->o->progress);
  for (size_t first = 0; first < files && !rc; first += T) {
    size_t count = files - first < T ? files - first : T;
    rc = scan_block(pk, first, count, parts, errs, rcs);
    for (size_t j = 0; j < count && rc; j++)
      if (rcs[j]) {
        if (err) *err = errs[j];
        break;
      }
    for (size_t j = 0; j < count && !rc; j++) rc = append(&pk->seqs, &parts[j], err);
    bert_progress_set(&bar, first + count);
  }
  bert_progress_finish(&bar);
  for (size_t j = 0; parts && j < T; j++) pack_seqs_free(&parts[j]);
  free(parts), free(errs), free(rcs);
  return rc;
}

/* ---------------------------------------------------------------- bins */

/* Sorts the locators by length in place (American flag sort: each element moves straight to its
 * bin), so no second array of 8 bytes per sequence is needed. Deterministic. */
static void sort_by_length(pack_seqs *s, const size_t *bin_start, int L, size_t *next) {
  for (int l = 1; l <= L; l++) next[l] = bin_start[l];
  for (int l = 1; l <= L; l++) {
    while (next[l] < bin_start[l + 1]) {
      size_t i = next[l];
      int xl = s->len[i];
      if (xl == l) {
        next[l]++;
        continue;
      }
      size_t j = next[xl]++;
      uint64_t tl = s->loc[i];
      uint16_t tn = s->len[i];
      s->loc[i] = s->loc[j], s->len[i] = s->len[j];
      s->loc[j] = tl, s->len[j] = tn;
    }
  }
}

static bert_rng pack_rng(const packer *pk) {
  return bert_rng_make(pk->o->seed, BERT_RNG_DATA, UINT64_C(0x7061636b), 0); /* step "pack" */
}

/* Appends the placeholders, sorts into bins and shuffles each bin with its own stream. */
int pack_make_bins(packer *pk, bert_error *err) {
  int L = pk->L;
  size_t total = pk->seqs.n;
  for (int l = 1; l <= L; l++) total += (size_t)pk->plan.padding[l - 1];
  int rc = seqs_reserve(&pk->seqs, total, err);
  pk->bin_start = calloc((size_t)L + 2, sizeof *pk->bin_start);
  size_t *next = calloc((size_t)L + 2, sizeof *next);
  if (!rc && (!pk->bin_start || !next)) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int l = 1; l <= L && !rc; l++)
    for (int64_t i = 0; i < pk->plan.padding[l - 1]; i++)
      pk->seqs.loc[pk->seqs.n] = BERT_LOC_NONE, pk->seqs.len[pk->seqs.n++] = (uint16_t)l;
  if (!rc) {
    pk->bin_start[1] = 0;
    for (int l = 1; l <= L; l++)
      pk->bin_start[l + 1] = pk->bin_start[l] + (size_t)(pk->hist[l - 1] + pk->plan.padding[l - 1]);
    sort_by_length(&pk->seqs, pk->bin_start, L, next);
    free(pk->seqs.len), pk->seqs.len = NULL; /* the bins say it now */
    bert_rng rng = pack_rng(pk);
#pragma omp parallel for schedule(dynamic, 8) num_threads(pk->threads)
    for (int l = 1; l <= L; l++) {
      bert_rng_stream st = bert_rng_stream_make(bert_rng_child(rng, (uint64_t)l));
      bert_rng_stream_shuffle(&st, pk->seqs.loc + pk->bin_start[l], pk->bin_start[l + 1] - pk->bin_start[l],
                              sizeof(uint64_t));
    }
  }
  free(next);
  return rc;
}

/* ---------------------------------------------------------------- slicing and pack order */

static int64_t multiplicity(const uint16_t *lens, size_t n, uint16_t l) {
  int64_t c = 0;
  for (size_t i = 0; i < n; i++) c += lens[i] == l;
  return c;
}

/* The reference's slice_examples on complete bins: strategies in plan order take as many packs
 * as their bins allow; each slot takes the next block from the end of its bin. */
int pack_slice(packer *pk, bert_error *err) {
  const bert_pack_plan *p = &pk->plan;
  size_t *end = malloc(((size_t)pk->L + 2) * sizeof *end);
  pk->slot_base = malloc((p->start[p->count] + 1) * sizeof *pk->slot_base);
  pk->pack_start = malloc((p->count + 1) * sizeof *pk->pack_start);
  if (!end || !pk->slot_base || !pk->pack_start) return free(end), bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int l = 1; l <= pk->L; l++) end[l] = pk->bin_start[l + 1];
  pk->pack_start[0] = 0;
  for (size_t s = 0; s < p->count; s++) {
    const uint16_t *lens = p->lengths + p->start[s];
    size_t n = p->start[s + 1] - p->start[s];
    int64_t feasible = p->repeat[s];
    for (size_t k = 0; k < n; k++) {
      int64_t avail = (int64_t)(end[lens[k]] - pk->bin_start[lens[k]]) / multiplicity(lens, n, lens[k]);
      if (avail < feasible) feasible = avail;
    }
    for (size_t k = 0; k < n; k++) end[lens[k]] -= (size_t)feasible, pk->slot_base[p->start[s] + k] = end[lens[k]];
    pk->report->packs_left += (uint64_t)(p->repeat[s] - feasible);
    pk->pack_start[s + 1] = pk->pack_start[s] + (uint64_t)feasible;
  }
  free(end);
  return BERT_OK;
}

/* Strategy of global pack g (binary search over pack_start). */
size_t pack_strategy_of(const packer *pk, uint64_t g) {
  size_t lo = 0, hi = pk->plan.count; /* pack_start[lo] <= g < pack_start[hi] */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (pk->pack_start[mid] <= g) lo = mid;
    else hi = mid;
  }
  return lo;
}

static int all_placeholders(const packer *pk, size_t s, uint64_t j) {
  for (size_t k = pk->plan.start[s]; k < pk->plan.start[s + 1]; k++)
    if (pk->seqs.loc[pk->slot_base[k] + j] != BERT_LOC_NONE) return 0;
  return 1;
}

/* Lists the packs that hold at least one real sequence and shuffles their order. */
int pack_order(packer *pk, bert_error *err) {
  uint64_t total = pk->pack_start[pk->plan.count];
  if (total > UINT32_MAX) return bert_error_set(err, BERT_ERANGE, "%" PRIu64 " packs are more than 2^32", total);
  pk->order = malloc((total + 1) * sizeof *pk->order);
  if (!pk->order) return bert_error_set(err, BERT_ENOMEM, "out of memory for %" PRIu64 " packs", total);
  pk->packs = 0;
  for (size_t s = 0; s < pk->plan.count; s++)
    for (uint64_t j = 0; j < pk->pack_start[s + 1] - pk->pack_start[s]; j++) {
      if (all_placeholders(pk, s, j)) pk->report->packs_empty++;
      else pk->order[pk->packs++] = (uint32_t)(pk->pack_start[s] + j);
    }
  bert_rng_stream st = bert_rng_stream_make(bert_rng_child(pack_rng(pk), 0));
  bert_rng_stream_shuffle(&st, pk->order, pk->packs, sizeof *pk->order);
  return BERT_OK;
}

/* ---------------------------------------------------------------- driver */

static void print_inputs(const bert_strlist *inputs, FILE *out) {
  fprintf(out, "\nInput files: %zu (", inputs->count);
  for (size_t i = 0; i < inputs->count && i < 3; i++) fprintf(out, "%s%s", i ? ", " : "", inputs->items[i]);
  fprintf(out, "%s)\n", inputs->count > 3 ? ", ..." : "");
}

static int histogram(packer *pk, bert_error *err) {
  pk->hist = calloc((size_t)pk->L, sizeof *pk->hist);
  if (!pk->hist) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (size_t i = 0; i < pk->seqs.n; i++) pk->hist[pk->seqs.len[i] - 1]++;
  if (pk->seqs.n == 0) return bert_error_set(err, BERT_EFORMAT, "the input files hold no records");
  return BERT_OK;
}

static int plan(packer *pk, FILE *out, bert_error *err) {
  int rc = bert_pack_plan_make(pk->hist, &pk->o->plan, &pk->plan, err);
  if (!rc && out) bert_pack_plan_print(&pk->plan, out);
  if (!rc && pk->o->plan_output) rc = bert_pack_plan_write_json(&pk->plan, pk->o->plan_output, err);
  bert_pack_stats st;
  if (!rc) bert_pack_plan_stats(&pk->plan, &st), pk->report->packs_planned = (uint64_t)st.packs;
  return rc;
}

static int check_options(const bert_pack_options *o, bert_error *err) {
  int rc = bert_pack_plan_options_check(&o->plan, err);
  if (rc) return rc;
  if (o->mask_tokens < 1 || o->mask_tokens > o->plan.sequence_length)
    return bert_error_set(err, BERT_EINVAL, "--mask-tokens %d outside [1, --sequence-length %d]", o->mask_tokens,
                          o->plan.sequence_length);
  if (o->packs_per_file < 1) return bert_error_set(err, BERT_EINVAL, "packs per file must be positive");
  return BERT_OK;
}

static void packer_free(packer *pk) {
  pack_seqs_free(&pk->seqs);
  bert_pack_plan_free(&pk->plan);
  free(pk->hist), free(pk->bin_start), free(pk->slot_base), free(pk->pack_start), free(pk->order);
}

static int run(packer *pk, const char *output_dir, FILE *out, bert_error *err) {
  bert_pack_report *rep = pk->report;
  if (out) print_inputs(pk->inputs, out), fputs("Looping through dataset to collect sequence length information...\n", out);
  double t0 = omp_get_wtime();
  int rc = pack_scan(pk, err);
  if (!rc) rc = histogram(pk, err);
  rep->sequences = pk->seqs.n, rep->seconds_read = omp_get_wtime() - t0;
  if (!rc && out)
    fprintf(out, "Done looping through dataset. Took %.3f seconds to read %zu sequences\n\nPacked dataset will be "
            "written to %s.\n", rep->seconds_read, pk->seqs.n, output_dir), fflush(out);
  double t1 = omp_get_wtime();
  if (!rc) rc = plan(pk, out, err);
  if (!rc) rc = pack_make_bins(pk, err);
  if (!rc) rc = pack_slice(pk, err);
  if (!rc) rc = pack_order(pk, err);
  rep->seconds_plan = omp_get_wtime() - t1;
  if (!rc) rc = bert_output_dir_prepare(output_dir, err);
  if (!rc) rc = pack_write(pk, output_dir, out, err);
  rep->seconds_write = omp_get_wtime() - t1 - rep->seconds_plan;
  if (!rc && out)
    fprintf(out, "\n-----------------------------------------------------------\nPacking took: %.2f seconds. %" PRIu64
            " packs left to fill.\n\n", omp_get_wtime() - t1, rep->packs_left);
  return rc;
}

int bert_pack_dataset(const bert_strlist *inputs, const char *output_dir, const bert_pack_options *o, FILE *out,
                      bert_pack_report *report, bert_error *err) {
  bert_pack_report local;
  packer pk = {.o = o, .inputs = inputs, .L = o->plan.sequence_length, .M = o->mask_tokens,
               .S = o->plan.max_sequences_per_pack, .report = report ? report : &local};
  memset(pk.report, 0, sizeof *pk.report);
  pk.threads = o->threads > 0 ? o->threads : omp_get_max_threads();
  int rc = check_options(o, err);
  if (!rc) rc = bert_shards_check_inputs(output_dir, inputs, err);
  if (!rc && inputs->count >= BERT_LOC_MAX_FILES)
    rc = bert_error_set(err, BERT_ERANGE, "%zu input files are more than %u", inputs->count, BERT_LOC_MAX_FILES);
  if (!rc) rc = run(&pk, output_dir, out, err);
  packer_free(&pk);
  return rc;
}
