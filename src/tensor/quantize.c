#include "tensor/quantize.h"

#include <float.h>
#include <math.h>

/* Round to nearest (ties to even) for |v| < 2^22, without a libm call, so the loops vectorise. */
static inline float round_near(float v) { return (v + 12582912.0f) - 12582912.0f; }

void bert_quantize_weights(const float *w, int64_t rows, int64_t cols, int8_t *q, float *scale) {
#pragma omp parallel for schedule(static) if (rows * cols >= 65536)
  for (int64_t r = 0; r < rows; r++) {
    const float *row = w + r * cols;
    float amax = 0.0f;
    for (int64_t c = 0; c < cols; c++) amax = fmaxf(amax, fabsf(row[c]));
    /* a row too small for its scale's inverse to be finite counts as zero */
    float s = amax >= 127.0f * FLT_MIN && amax <= FLT_MAX ? amax / 127.0f : 1.0f, inv = 1.0f / s;
    for (int64_t c = 0; c < cols; c++) {
      float v = round_near(row[c] * inv);
      q[r * cols + c] = (int8_t)(v > 127.0f ? 127.0f : v >= -127.0f ? v : -127.0f); /* NaN -> -127, no UB */
    }
    scale[r] = s;
  }
}

void bert_quantize_activations(const float *x, int64_t n, int qmax, uint8_t *q, bert_int8_input *out) {
  float lo = 0.0f, hi = 0.0f;
#pragma omp parallel for simd reduction(min : lo) reduction(max : hi) schedule(static) if (n >= 65536)
  for (int64_t i = 0; i < n; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  float scale = hi > lo && hi - lo <= FLT_MAX ? (hi - lo) / (float)qmax : 1.0f;
  float zero = round_near(-lo / scale), inv = 1.0f / scale, top = (float)qmax;
  zero = zero < 0.0f ? 0.0f : zero > top ? top : zero;
#pragma omp parallel for simd schedule(static) if (n >= 65536)
  for (int64_t i = 0; i < n; i++) {
    float v = round_near(x[i] * inv) + zero;
    q[i] = (uint8_t)(v >= 0.0f ? (v > top ? top : v) : 0.0f); /* NaN -> 0: the cast of a NaN is UB */
  }
  out->data = q;
  out->scale = scale;
  out->zero_point = (int32_t)zero;
}
