#include "data/order.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng_stream.h"

/* Six rounds: Luby-Rackoff needs four for a strong pseudo-random permutation; two more cost little
 * and help on the tiny domains of small files. */
#define FEISTEL_ROUNDS 6
/* Keeps the loader's streams apart from other users of BERT_RNG_DATA (data creation). */
#define ORDER_TAG 0x6c6f61646572ull /* "loader" */

/* One pass of the balanced Feistel network on 2h bits. */
static uint64_t feistel(uint64_t x, int h, bert_rng key) {
  uint64_t mask = (1ull << h) - 1, left = x >> h, right = x & mask;
  for (uint64_t round = 0; round < FEISTEL_ROUNDS; round++) {
    uint32_t r[4];
    bert_rng_block(key, round << 32 | right, r); /* right < 2^32 since h <= 32 */
    uint64_t t = left ^ ((((uint64_t)r[0] << 32) | r[1]) & mask);
    left = right;
    right = t;
  }
  return left << h | right;
}

uint64_t bert_permute(uint64_t x, uint64_t n, bert_rng key) {
  int bits = 0;
  while (bits < 64 && (n - 1) >> bits) bits++;
  int h = bits < 2 ? 1 : (bits + 1) / 2;
  /* Cycle-walking: the domain 2^(2h) < 4n, so fewer than 4 steps on average; it ends because x's
   * cycle contains x itself, which is < n. */
  do x = feistel(x, h, key);
  while (x >= n);
  return x;
}

int bert_data_order_init(bert_data_order *o, const uint64_t *counts, int files, int window, uint64_t seed,
                         bert_error *err) {
  memset(o, 0, sizeof *o);
  if (files < 1) return bert_error_set(err, BERT_EINVAL, "data order: no input files");
  o->seed = seed;
  o->files = files;
  o->window = window <= 0 || window > files ? files : window;
  o->counts = malloc((size_t)files * sizeof *o->counts);
  o->first = malloc((size_t)(files + 1) * sizeof *o->first);
  o->perm = malloc((size_t)files * sizeof *o->perm);
  o->cum = malloc((size_t)(files + 1) * sizeof *o->cum);
  if (!o->counts || !o->first || !o->perm || !o->cum) {
    bert_data_order_free(o);
    return bert_error_set(err, BERT_ENOMEM, "data order: out of memory for %d files", files);
  }
  memcpy(o->counts, counts, (size_t)files * sizeof *counts);
  o->first[0] = 0;
  for (int f = 0; f < files; f++) o->first[f + 1] = o->first[f] + counts[f];
  o->total = o->first[files];
  return BERT_OK;
}

void bert_data_order_free(bert_data_order *o) {
  free(o->counts);
  free(o->first);
  free(o->perm);
  free(o->cum);
  memset(o, 0, sizeof *o);
}

static bert_rng pass_rng(const bert_data_order *o, uint64_t pass) {
  return bert_rng_child(bert_rng_make(o->seed, BERT_RNG_DATA, pass, 0), ORDER_TAG);
}

/* The pass's file order and cumulative counts; O(files), once per pass per thread. */
static void set_pass(bert_data_order *o, uint64_t pass) {
  if (o->have_pass && o->pass == pass) return;
  for (int f = 0; f < o->files; f++) o->perm[f] = (uint32_t)f;
  bert_rng_stream s = bert_rng_stream_make(bert_rng_child(pass_rng(o, pass), 0));
  bert_rng_stream_shuffle(&s, o->perm, (size_t)o->files, sizeof *o->perm);
  o->cum[0] = 0;
  for (int q = 0; q < o->files; q++) o->cum[q + 1] = o->cum[q] + o->counts[o->perm[q]];
  o->pass = pass;
  o->have_pass = 1;
}

/* Largest q in [lo, hi) with cum[q * stride] <= v (cum non-decreasing, cum[lo * stride] <= v);
 * `stride` walks window starts (K) or files (1). Taking the largest skips empty files and
 * windows, whose cum equals the next one's. */
static int search(const uint64_t *cum, int lo, int hi, int stride, uint64_t v) {
  while (hi - lo > 1) {
    int mid = lo + (hi - lo) / 2;
    if (cum[mid * stride] <= v) lo = mid;
    else hi = mid;
  }
  return lo;
}

void bert_data_order_locate(bert_data_order *o, uint64_t pass, uint64_t position, int *file, uint64_t *record) {
  set_pass(o, pass);
  int K = o->window, windows = (o->files + K - 1) / K;
  int w = search(o->cum, 0, windows, K, position);
  int lo = w * K, hi = lo + K < o->files ? lo + K : o->files;
  uint64_t base = o->cum[lo], size = o->cum[hi] - base;
  uint64_t a = base + bert_permute(position - base, size, bert_rng_child(pass_rng(o, pass), 1 + (uint64_t)w));
  int q = search(o->cum, lo, hi, 1, a);
  *file = (int)o->perm[q];
  *record = a - o->cum[q];
}
