#include "tensor/cross_entropy.h"

#include <math.h>
#include <stddef.h>

#include "tensor/vmath.h"

static float row_max(const float *x, int64_t n, int32_t *argmax) {
  float m = x[0];
  int32_t at = 0;
  for (int64_t j = 1; j < n; j++)
    if (x[j] > m) m = x[j], at = (int32_t)j;
  if (argmax) *argmax = at;
  return m;
}

static float row_sum_exp(const float *x, int64_t n, float max) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < n; j++) s += bert_vexp(x[j] - max);
  return s;
}

void bert_cross_entropy_forward(int64_t rows, int64_t classes, const float *logits,
                                const int32_t *labels, int32_t ignore, float *loss, int32_t *argmax) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float *x = logits + r * classes;
    int32_t label = labels[r];
    float max = row_max(x, classes, argmax ? &argmax[r] : NULL);
    if (label == ignore || label < 0 || label >= classes) {
      loss[r] = 0.0f;
      continue;
    }
    loss[r] = (float)(log((double)row_sum_exp(x, classes, max)) + max - x[label]);
  }
}

void bert_cross_entropy_backward(int64_t rows, int64_t classes, const float *logits,
                                 const int32_t *labels, int32_t ignore, const float *weight,
                                 float *dlogits) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float *x = logits + r * classes;
    float *d = dlogits + r * classes;
    int32_t label = labels[r];
    if (label == ignore || label < 0 || label >= classes) {
#pragma omp simd
      for (int64_t j = 0; j < classes; j++) d[j] = 0.0f;
      continue;
    }
    float max = row_max(x, classes, NULL);
    float w = weight[r] / row_sum_exp(x, classes, max);
#pragma omp simd
    for (int64_t j = 0; j < classes; j++) d[j] = w * bert_vexp(x[j] - max);
    d[label] -= weight[r];
  }
}
