#include "tensor/dropout.h"

#include <string.h>

/* Element i is kept when the top 24 bits of value i%4 of Philox block i/4 are >= p·2^24, so
 * a mask is a function of (site, index) alone (resumed runs draw the same). The stream is copied
 * into locals so that the block loop vectorises. */
static void apply(bert_rng site, float p, int64_t n, const float *in, float *out, uint8_t *keep) {
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
    uint8_t flags[4096];
#pragma omp simd
    for (int64_t b = b0; b < b1; b++) {
      uint32_t r0, r1, r2, r3;
      bert_rng_block4(seed, stream, (uint64_t)b, &r0, &r1, &r2, &r3);
      uint8_t *f = flags + (b - b0) * 4;
      f[0] = (r0 >> 8) >= threshold, f[1] = (r1 >> 8) >= threshold;
      f[2] = (r2 >> 8) >= threshold, f[3] = (r3 >> 8) >= threshold;
      out[b * 4 + 0] = in[b * 4 + 0] * (f[0] ? scale : 0.0f);
      out[b * 4 + 1] = in[b * 4 + 1] * (f[1] ? scale : 0.0f);
      out[b * 4 + 2] = in[b * 4 + 2] * (f[2] ? scale : 0.0f);
      out[b * 4 + 3] = in[b * 4 + 3] * (f[3] ? scale : 0.0f);
    }
    if (keep) memcpy(keep + b0 * 4, flags, (size_t)(b1 - b0) * 4);
  }
  if (full * 4 < n) {
    uint32_t r[4];
    bert_rng_block(site, (uint64_t)full, r);
    for (int64_t i = full * 4; i < n; i++) {
      int kept = (r[i - full * 4] >> 8) >= threshold;
      out[i] = kept ? in[i] * scale : 0.0f;
      if (keep) keep[i] = (uint8_t)kept;
    }
  }
}

void bert_dropout_forward(bert_rng site, float p, int64_t n, const float *x, float *y) {
  apply(site, p, n, x, y, NULL);
}

void bert_dropout_forward_keep(bert_rng site, float p, int64_t n, const float *x, float *y, uint8_t *keep) {
  apply(site, p, n, x, y, keep);
}

void bert_dropout_apply(float p, int64_t n, const uint8_t *keep, const float *x, float *y) {
  const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (n >= 16384)
  for (int64_t i = 0; i < n; i++) y[i] = keep[i] ? x[i] * scale : 0.0f;
}
