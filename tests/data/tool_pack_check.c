/* Checks packed pretraining TFRecords against the unpacked ones they were made from: every pack
 * satisfies the packed format's invariants (reference 5.2), and unpacking every pack gives back
 * exactly the original sequences (as a multiset: all of them, or a part with --allow-dropped).
 * Used by tests/data/test_data_pack.sh.
 *
 * usage: tool_pack_check [--schema REF.tfrecord] [--allow-dropped] L M S ORIGINAL... -- PACKED...
 *   --schema: the packs must have the same feature names, kinds and lengths as REF's first record
 * Prints "packs P sequences N masked X efficiency E max_per_pack K"; exits 1 naming the file and
 * record of the first bad pack. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/example.h"
#include "data/packed.h"
#include "data/tfrecord.h"

typedef struct keys {
  int64_t **items; /* each: [count, values...] */
  size_t n, cap;
} keys;

typedef struct pack {
  int64_t ids[4096], mask[4096], seg[4096], pos[4096], mpos[1024], mids[1024], nsp[64];
  float mmask[1024], nmask[64];
} pack;

typedef struct ctx {
  int L, M, S, slots;
  const char *file;
  int64_t record;
  keys originals, unpacked;
  uint64_t packs, sequences, masked, tokens;
  int max_per_pack;
} ctx;

static int fail(const ctx *c, const char *what) {
  fprintf(stderr, "%s: record %" PRId64 ": %s\n", c->file, c->record, what);
  return 1;
}

static int push_key(keys *k, const int64_t *v, size_t n) {
  if (k->n == k->cap) {
    k->cap = k->cap ? 2 * k->cap : 256;
    k->items = realloc(k->items, k->cap * sizeof *k->items);
    if (!k->items) return 1;
  }
  int64_t *item = malloc((n + 1) * sizeof *item);
  if (!item) return 1;
  item[0] = (int64_t)n;
  memcpy(item + 1, v, n * sizeof *v);
  k->items[k->n++] = item;
  return 0;
}

static int cmp_key(const void *a, const void *b) {
  const int64_t *x = *(int64_t *const *)a, *y = *(int64_t *const *)b;
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  for (int64_t i = 1; i <= x[0]; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

/* [len, masked, nsp, ids[len], seg[len], mpos[masked], mids[masked]] */
static size_t sequence_key(int64_t *out, int len, int masked, int64_t nsp, const int64_t *ids, const int64_t *seg,
                           const int64_t *mpos, const int64_t *mids) {
  size_t n = 0;
  out[n++] = len, out[n++] = masked, out[n++] = nsp;
  for (int i = 0; i < len; i++) out[n++] = ids[i];
  for (int i = 0; i < len; i++) out[n++] = seg[i];
  for (int i = 0; i < masked; i++) out[n++] = mpos[i];
  for (int i = 0; i < masked; i++) out[n++] = mids[i];
  return n;
}

static int read_originals(ctx *c, const char *path) {
  bert_tfrecord_reader r;
  bert_error err;
  bert_unpacked u;
  int64_t *key = malloc(sizeof(int64_t) * (4 * (size_t)c->L + 8));
  if (bert_unpacked_init(&u, c->L, c->M, &err) || bert_tfrecord_reader_open(&r, path, 1, &err))
    return fprintf(stderr, "%s\n", err.message), 1;
  const uint8_t *data;
  size_t size;
  int rc;
  while ((rc = bert_tfrecord_read(&r, &data, &size, &err)) > 0) {
    if (bert_unpacked_decode(&u, c->L, c->M, data, size, &err))
      return fprintf(stderr, "%s: record %" PRId64 ": %s\n", path, r.record - 1, err.message), 1;
    size_t n = sequence_key(key, u.len, u.masked, u.nsp, u.ids, u.seg, u.mpos, u.mids);
    if (push_key(&c->originals, key, n)) return 1;
  }
  if (rc < 0) return fprintf(stderr, "%s\n", err.message), 1;
  bert_tfrecord_reader_close(&r);
  bert_unpacked_free(&u);
  free(key);
  return 0;
}

static int get_features(ctx *c, const bert_example *ex, pack *p) {
  bert_error err;
  const char *const *n = bert_packed_feature_names;
  size_t L = (size_t)c->L, M = (size_t)c->slots, S = (size_t)c->S;
  if (bert_example_get_int64(ex, n[0], p->ids, L, &err) || bert_example_get_int64(ex, n[1], p->mask, L, &err) ||
      bert_example_get_int64(ex, n[2], p->seg, L, &err) || bert_example_get_int64(ex, n[3], p->pos, L, &err) ||
      bert_example_get_int64(ex, n[4], p->mpos, M, &err) || bert_example_get_int64(ex, n[5], p->mids, M, &err) ||
      bert_example_get_float(ex, n[6], p->mmask, M, &err) || bert_example_get_int64(ex, n[7], p->nsp, S, &err) ||
      bert_example_get_float(ex, n[8], p->nmask, S, &err))
    return fail(c, err.message);
  if (bert_example_feature_count(ex) != BERT_PACKED_FEATURES) return fail(c, "unexpected extra features");
  return 0;
}

/* NSP slots: sequence k in slot S-k, present ones exactly the last n slots. Returns n or -1. */
static int check_nsp(const ctx *c, const pack *p) {
  int n = 0;
  while (n < c->S && p->nmask[c->S - 1 - n] == 1.0f) n++;
  for (int s = 0; s < c->S - n; s++)
    if (p->nmask[s] != 0 || p->nsp[s] != 0) return fail(c, "NSP slots: not 1s at the end, 0s (and label 0) before"), -1;
  for (int k = 1; k <= n; k++)
    if (p->nsp[c->S - k] != 0 && p->nsp[c->S - k] != 1) return fail(c, "NSP label not 0/1"), -1;
  if (n == 0) return fail(c, "a pack without sequences"), -1;
  return n;
}

/* Bodies: sequence k's non-[CLS] tokens contiguous, positions 1.., then zeros up to the [CLS]s. */
static int check_tokens(const ctx *c, const pack *p, int n, int *start, int *body) {
  int L = c->L, i = 0;
  for (int k = 1; k <= n; k++) {
    if (p->ids[L - k] != 101 || p->mask[L - k] != k || p->pos[L - k] != 0 || p->seg[L - k] != 0)
      return fail(c, "[CLS] of sequence k is not at L-k with mask k, position 0, segment 0");
    start[k] = i;
    while (i < L - n && p->mask[i] == k) {
      if (p->pos[i] != i - start[k] + 1) return fail(c, "position ids do not count 1, 2, ... within a sequence");
      if (p->seg[i] < (i > start[k] ? p->seg[i - 1] : 0) || p->seg[i] > 1) return fail(c, "segment ids not 0s then 1s");
      i++;
    }
    body[k] = i - start[k];
    if (body[k] > 0 && p->ids[i - 1] != 102) return fail(c, "a sequence does not end with [SEP]");
  }
  for (; i < L - n; i++)
    if (p->ids[i] || p->mask[i] || p->seg[i] || p->pos[i]) return fail(c, "padding is not all zeros");
  return 0;
}

/* Masked slots: real ones first, sequence indices ascending, inside their sequence, <= M each. */
static int check_masks(const ctx *c, const pack *p, int n, const int *start, const int *body, int *count) {
  int m = 0;
  for (int k = 0; k <= n; k++) count[k] = 0;
  while (m < c->slots && p->mmask[m] != 0) m++;
  for (int j = m; j < c->slots; j++)
    if (p->mmask[j] != 0 || p->mpos[j] != 0 || p->mids[j] != 0) return fail(c, "masked padding slots not all zero");
  for (int j = 0; j < m; j++) {
    int k = (int)p->mmask[j];
    if ((float)k != p->mmask[j] || k < 1 || k > n || (j && p->mmask[j - 1] > p->mmask[j]))
      return fail(c, "packed_masked_lm_mask is not ascending sequence indices");
    if (p->mpos[j] < start[k] || p->mpos[j] >= start[k] + body[k])
      return fail(c, "a masked position is outside its sequence");
    if (++count[k] > c->M) return fail(c, "more than M masked tokens in one sequence");
  }
  return 0;
}

/* Rebuilds the unpacked sequences of the pack and records them. */
static int unpack(ctx *c, const pack *p, int n, const int *start, const int *body, const int *count) {
  int64_t ids[4096], seg[4096], mpos[1024], mids[1024], key[4 * 4096 + 8];
  int j = 0;
  for (int k = 1; k <= n; k++) {
    int len = body[k] + 1;
    ids[0] = p->ids[c->L - k], seg[0] = p->seg[c->L - k];
    memcpy(ids + 1, p->ids + start[k], (size_t)body[k] * sizeof *ids);
    memcpy(seg + 1, p->seg + start[k], (size_t)body[k] * sizeof *seg);
    for (int q = 0; q < count[k]; q++, j++) mpos[q] = p->mpos[j] - start[k] + 1, mids[q] = p->mids[j];
    size_t kn = sequence_key(key, len, count[k], p->nsp[c->S - k], ids, seg, mpos, mids);
    if (push_key(&c->unpacked, key, kn)) return 1;
    c->tokens += (uint64_t)len, c->masked += (uint64_t)count[k];
  }
  return 0;
}

static int check_pack(ctx *c, const bert_example *ex) {
  static pack p;
  int start[65], body[65], count[65];
  if (get_features(c, ex, &p)) return 1;
  int n = check_nsp(c, &p);
  if (n < 0 || check_tokens(c, &p, n, start, body) || check_masks(c, &p, n, start, body, count)) return 1;
  if (n > c->max_per_pack) c->max_per_pack = n;
  c->packs++, c->sequences += (uint64_t)n;
  return unpack(c, &p, n, start, body, count);
}

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Names, kinds and lengths of the features of a record, sorted, as one string. */
static void schema_of(const bert_example *ex, char *out, size_t cap) {
  char items[32][160];
  size_t n = bert_example_feature_count(ex), used = 0;
  if (n > 32) n = 32;
  for (size_t i = 0; i < n; i++)
    snprintf(items[i], sizeof items[i], "%s:%s:%zu", bert_example_feature_name(ex, i),
             bert_feature_kind_name(bert_example_feature_kind(ex, i)), bert_example_feature_length(ex, i));
  qsort(items, n, sizeof items[0], cmp_str);
  out[0] = 0;
  for (size_t i = 0; i < n && used < cap; i++) used += (size_t)snprintf(out + used, cap - used, "%s ", items[i]);
}

static int read_packed(ctx *c, const char *path, const char *schema) {
  bert_tfrecord_reader r;
  bert_error err;
  if (bert_tfrecord_reader_open(&r, path, 1, &err)) return fprintf(stderr, "%s\n", err.message), 1;
  const uint8_t *data;
  size_t size;
  int rc, bad = 0;
  c->file = path;
  while (!bad && (rc = bert_tfrecord_read(&r, &data, &size, &err)) > 0) {
    bert_example ex;
    c->record = r.record - 1;
    if (bert_example_decode(&ex, data, size, &err)) return fail(c, err.message);
    char got[4096];
    schema_of(&ex, got, sizeof got);
    if (schema && strcmp(got, schema)) bad = fail(c, "features differ from the reference's");
    if (!bad) bad = check_pack(c, &ex);
    bert_example_free(&ex);
  }
  bert_tfrecord_reader_close(&r);
  return bad || rc < 0 ? (rc < 0 ? fprintf(stderr, "%s\n", err.message) : 0, 1) : 0;
}

static int reference_schema(const char *path, char *out, size_t cap) {
  bert_tfrecord_reader r;
  bert_error err;
  const uint8_t *data;
  size_t size;
  bert_example ex;
  if (bert_tfrecord_reader_open(&r, path, 1, &err) || bert_tfrecord_read(&r, &data, &size, &err) <= 0 ||
      bert_example_decode(&ex, data, size, &err))
    return fprintf(stderr, "%s: %s\n", path, err.message), 1;
  schema_of(&ex, out, cap);
  bert_example_free(&ex);
  bert_tfrecord_reader_close(&r);
  return 0;
}

/* unpacked must equal originals (or be contained in them with allow_dropped). */
static int compare(ctx *c, int allow_dropped) {
  qsort(c->originals.items, c->originals.n, sizeof(int64_t *), cmp_key);
  qsort(c->unpacked.items, c->unpacked.n, sizeof(int64_t *), cmp_key);
  size_t i = 0, j = 0;
  while (j < c->unpacked.n) {
    while (i < c->originals.n && cmp_key(&c->originals.items[i], &c->unpacked.items[j]) < 0 && allow_dropped) i++;
    if (i == c->originals.n || cmp_key(&c->originals.items[i], &c->unpacked.items[j]))
      return fprintf(stderr, "an unpacked sequence (%" PRId64 " tokens) is not among the originals (or is repeated)\n",
                     c->unpacked.items[j][1]), 1;
    i++, j++;
  }
  if (!allow_dropped && c->unpacked.n != c->originals.n)
    return fprintf(stderr, "%zu of %zu original sequences are missing from the packs\n",
                   c->originals.n - c->unpacked.n, c->originals.n), 1;
  return 0;
}

static void free_keys(keys *k) {
  for (size_t i = 0; i < k->n; i++) free(k->items[i]);
  free(k->items);
}

int main(int argc, char **argv) {
  ctx c = {0};
  const char *schema_file = NULL;
  int allow_dropped = 0, a = 1;
  for (; a < argc && !strncmp(argv[a], "--", 2) && strcmp(argv[a], "--"); a++) {
    if (!strcmp(argv[a], "--schema") && a + 1 < argc) schema_file = argv[++a];
    else if (!strcmp(argv[a], "--allow-dropped")) allow_dropped = 1;
    else return fprintf(stderr, "unknown option %s\n", argv[a]), 2;
  }
  if (argc - a < 6) return fprintf(stderr, "usage: tool_pack_check [--schema REF] [--allow-dropped] L M S ORIG... -- PACKED...\n"), 2;
  c.L = atoi(argv[a]), c.M = atoi(argv[a + 1]), c.S = atoi(argv[a + 2]), c.slots = c.M + c.S - 1;
  if (c.L < 2 || c.L > 4096 || c.M < 1 || c.slots > 1024 || c.S < 1 || c.S > 64) return fprintf(stderr, "bad L M S\n"), 2;
  char schema[4096];
  if (schema_file && reference_schema(schema_file, schema, sizeof schema)) return 1;
  for (a += 3; a < argc && strcmp(argv[a], "--"); a++)
    if (read_originals(&c, argv[a])) return 1;
  for (a++; a < argc; a++)
    if (read_packed(&c, argv[a], schema_file ? schema : NULL)) return 1;
  int bad = compare(&c, allow_dropped);
  free_keys(&c.originals), free_keys(&c.unpacked);
  if (bad) return 1;
  printf("packs %" PRIu64 " sequences %" PRIu64 " masked %" PRIu64 " efficiency %.4f max_per_pack %d\n", c.packs,
         c.sequences, c.masked, c.packs ? (double)c.tokens / ((double)c.packs * c.L) : 0.0, c.max_per_pack);
  return 0;
}
