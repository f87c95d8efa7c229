#include "base/rng_stream.h"

#include <string.h>

bert_rng_stream bert_rng_stream_make(bert_rng rng) {
  bert_rng_stream s = {rng, 0, {0, 0, 0, 0}, 0};
  return s;
}

uint32_t bert_rng_stream_u32(bert_rng_stream *s) {
  if (!s->avail) {
    bert_rng_block(s->rng, s->counter++, s->words);
    s->avail = 4;
  }
  return s->words[4 - s->avail--];
}

uint64_t bert_rng_stream_u64(bert_rng_stream *s) {
  uint64_t hi = bert_rng_stream_u32(s);
  return hi << 32 | bert_rng_stream_u32(s);
}

double bert_rng_stream_double(bert_rng_stream *s) {
  uint32_t a = bert_rng_stream_u32(s) >> 5, b = bert_rng_stream_u32(s) >> 6;
  return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

uint64_t bert_rng_stream_below(bert_rng_stream *s, uint64_t n) {
  return (uint64_t)(((unsigned __int128)bert_rng_stream_u64(s) * n) >> 64);
}

int64_t bert_rng_stream_range(bert_rng_stream *s, int64_t lo, int64_t hi) {
  return lo + (int64_t)bert_rng_stream_below(s, (uint64_t)(hi - lo) + 1);
}

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size) {
  unsigned char tmp[64];
  while (size) {
    size_t n = size < sizeof tmp ? size : sizeof tmp;
    memcpy(tmp, a, n);
    memcpy(a, b, n);
    memcpy(b, tmp, n);
    a += n, b += n, size -= n;
  }
}

void bert_rng_stream_shuffle(bert_rng_stream *s, void *items, size_t n, size_t size) {
  unsigned char *p = items;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)bert_rng_stream_below(s, i);
    if (j != i - 1) swap_bytes(p + j * size, p + (i - 1) * size, size);
  }
}
