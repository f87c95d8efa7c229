#include "tensor/dropout.h"

#include <string.h>

/* Element i is kept when the top 24 bits of value i%4 of Philox block i/4 are >= p·2^24, so
 * forward and backward regenerate the same mask from (site, index) alone. The stream is copied
 * into locals so that the block loop vectorises. */
static void apply(bert_rng site, float p, int64_t n, const float *in, float *out) {
  if (p <= 0.0f) {
    if (out != in) memcpy(out, in, (size_t)n * sizeof *out);
    return;
  }
  const uint32_t threshold = (uint32_t)(p * 16777216.0f);
  const float scale = 1.0f / (1.0f - p);
  const int64_t full = n / 4;
  const uint64_t seed = site.seed, stream = site.stream;
#pragma omp parallel for schedule(static) if (n >= 16384)
  for (int64_t b0 = 0; b0 < full; b0 += 1024) {
    int64_t b1 = b0 + 1024 < full ? b0 + 1024 : full;
#pragma omp simd
    for (int64_t b = b0; b < b1; b++) {
      uint32_t r0, r1, r2, r3;
      bert_rng_block4(seed, stream, (uint64_t)b, &r0, &r1, &r2, &r3);
      out[b * 4 + 0] = in[b * 4 + 0] * ((r0 >> 8) >= threshold ? scale : 0.0f);
      out[b * 4 + 1] = in[b * 4 + 1] * ((r1 >> 8) >= threshold ? scale : 0.0f);
      out[b * 4 + 2] = in[b * 4 + 2] * ((r2 >> 8) >= threshold ? scale : 0.0f);
      out[b * 4 + 3] = in[b * 4 + 3] * ((r3 >> 8) >= threshold ? scale : 0.0f);
    }
  }
  if (full * 4 < n) {
    uint32_t r[4];
    bert_rng_block(site, (uint64_t)full, r);
    for (int64_t i = full * 4; i < n; i++) out[i] = (r[i - full * 4] >> 8) >= threshold ? in[i] * scale : 0.0f;
  }
}

void bert_dropout_forward(bert_rng site, float p, int64_t n, const float *x, float *y) {
  apply(site, p, n, x, y);
}

void bert_dropout_backward(bert_rng site, float p, int64_t n, const float *dy, float *dx) {
  apply(site, p, n, dy, dx);
}
