#include "tensor/activation.h"

#include "tensor/vmath.h"

#define SQRT_HALF 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define SQRT_2_OVER_PI 0.79788456080286536f

/* GELU and its slope at v, in one place for the forward, the backward and the fused pass. */
static inline float gelu_erf(float v) { return 0.5f * v * (1.0f + bert_verf(v * SQRT_HALF)); }
static inline float gelu_erf_slope(float v) {
  return 0.5f * (1.0f + bert_verf(v * SQRT_HALF)) + v * INV_SQRT_2PI * bert_vexp(-0.5f * v * v);
}
static inline float gelu_tanh(float v) {
  return 0.5f * v * (1.0f + bert_vtanh(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)));
}
static inline float gelu_tanh_slope(float v) {
  float t = bert_vtanh(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v));
  float dinner = SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * v * v);
  return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dinner;
}

void bert_gelu_forward(bert_gelu_kind kind, int64_t n, const float *x, float *y) {
  if (kind == BERT_GELU_ERF) {
#pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) y[i] = gelu_erf(x[i]);
  } else {
#pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) y[i] = gelu_tanh(x[i]);
  }
}

void bert_gelu_backward(bert_gelu_kind kind, int64_t n, const float *x, const float *dy, float *dx) {
  if (kind == BERT_GELU_ERF) {
#pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_erf_slope(x[i]);
  } else {
#pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_tanh_slope(x[i]);
  }
}

void bert_gelu_forward_slope(bert_gelu_kind kind, int64_t n, float *x_slope, float *y) {
  if (kind == BERT_GELU_ERF) {
#pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) {
      float v = x_slope[i];
      y[i] = gelu_erf(v);
      x_slope[i] = gelu_erf_slope(v);
    }
  } else {
#pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) {
      float v = x_slope[i];
      y[i] = gelu_tanh(v);
      x_slope[i] = gelu_tanh_slope(v);
    }
  }
}

void bert_gelu_backward_slope(int64_t n, const float *slope, const float *dy, float *dx) {
#pragma omp parallel for simd schedule(static) if (n >= 32768)
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * slope[i];
}

void bert_tanh_forward(int64_t n, const float *x, float *y) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = bert_vtanh(x[i]);
}

void bert_tanh_backward(int64_t n, const float *y, const float *dy, float *dx) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
