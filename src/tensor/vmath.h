/* tensor/vmath: branch-free float exp, log, erf, erfinv and tanh that the compiler vectorises inside
 * `#pragma omp simd` loops (glibc's expf/erff/tanhf are scalar calls without -ffast-math).
 * Accuracy: exp within 2 ulp on [-87, 88]; erf within 2e-7 absolute; tanh within 3e-7 absolute —
 * below the rounding of the fp32 products around them. */
#ifndef BERT_TENSOR_VMATH_H
#define BERT_TENSOR_VMATH_H

#include <stdint.h>
#include <string.h>

static inline float bert_vexp(float x) {
  /* exp(x) = 2^n * exp(r), r = x - n ln2 in [-ln2/2, ln2/2] (Cody-Waite), Cephes polynomial. */
  /* Plain compares and the 1.5·2^23 rounding trick instead of fminf/floorf, which GCC does not
   * vectorise without -ffast-math. */
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.7f ? 88.7f : x;
  float n = (x * 1.44269504089f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { int32_t i; float f; } scale = {.i = ((int32_t)n + 127) << 23};
  return p * scale.f;
}

static inline float bert_verf(float x) {
  /* Small |x|: odd Taylor-like polynomial; otherwise 1 - t·P(t)·exp(-x²) (Abramowitz-Stegun
   * 7.1.26 refined); both computed and blended, so the loop stays branch-free. */
  float a = __builtin_fabsf(x);
  float x2 = x * x;
  float small = x * (1.12837917f + x2 * (-0.376126723f + x2 * (0.112835406f + x2 * (-0.0268661f + x2 * 0.00497f))));
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  float big = 1.0f - poly * bert_vexp(-x2);
  big = __builtin_copysignf(big, x);
  return a < 0.5f ? small : big;
}

/* float -> bf16, round to nearest even (NaN stays NaN); vectorises inside `omp simd` loops. */
static inline uint16_t bert_bf16_round(float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  uint32_t nan = (bits >> 16) | 0x40u;
  return (uint16_t)((bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

static inline float bert_vtanh(float x) {
  /* tanh(x) = 1 - 2 / (exp(2x) + 1), with an odd polynomial near 0 where that cancels. */
  float x2 = x * x;
  float small = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * (-0.0539682540f + x2 * 0.0218694885f))));
  float big = 1.0f - 2.0f / (bert_vexp(2.0f * x) + 1.0f);
  return __builtin_fabsf(x) < 0.3f ? small : big;
}

static inline float bert_vlog(float x) {
  /* x = m·2^e with m in [√½, √2): log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.172. x > 0 only. */
  union { float f; int32_t i; } v = {.f = x};
  int32_t e = ((v.i >> 23) & 0xff) - 127;
  v.i = (v.i & 0x007fffff) | 0x3f800000;
  float m = v.f;
  int big = m > 1.41421356f;
  m = big ? 0.5f * m : m;
  e += big;
  float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float series = 2.0f * s * (1.0f + s2 * (0.333333333f + s2 * (0.2f + s2 * (0.142857143f + s2 * 0.111111111f))));
  return series + (float)e * 0.693147181f;
}

static inline float bert_verfinv(float x) {
  /* Giles (2010), single precision, central branch: valid while -log(1 - x²) < 5, i.e.
   * |x| < 0.9966 — enough for normals truncated at ±2σ (|x| <= erf(√2) = 0.9545). */
  float w = -bert_vlog((1.0f - x) * (1.0f + x)) - 2.5f;
  float p = 2.81022636e-08f;
  p = 3.43273939e-07f + p * w;
  p = -3.5233877e-06f + p * w;
  p = -4.39150654e-06f + p * w;
  p = 0.00021858087f + p * w;
  p = -0.00125372503f + p * w;
  p = -0.00417768164f + p * w;
  p = 0.246640727f + p * w;
  p = 1.50140941f + p * w;
  return p * x;
}

#endif
