/* train/half: IEEE 754 binary16 conversion for the optimizer's fp16 first moment: round to nearest
 * even, subnormals kept, overflow to inf, NaN stays NaN (quiet). Branch-light, inline, so the
 * element loops that use it still vectorise; no dependence on F16C or _Float16 support. */
#ifndef BERT_TRAIN_HALF_H
#define BERT_TRAIN_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint16_t bert_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x47800000u) return (uint16_t)(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u)); /* overflow, NaN */
  if (x < 0x38800000u) {
    /* Result is subnormal or zero: adding 0.5 lines the 10 mantissa bits up at the bottom and
     * lets the FPU's own round-to-nearest-even do the rounding. */
    float a;
    memcpy(&a, &x, 4);
    a += 0.5f;
    memcpy(&x, &a, 4);
    return (uint16_t)(sign | (x - 0x3f000000u));
  }
  uint32_t odd = (x >> 13) & 1u;
  x += 0xc8000fffu + odd; /* rebias the exponent (-112 << 23) and round half to even */
  return (uint16_t)(sign | (x >> 13));
}

static inline float bert_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t x = (uint32_t)(h & 0x7fffu) << 13;
  uint32_t exp = x & 0x0f800000u;
  x += (uint32_t)(127 - 15) << 23;
  float f;
  if (exp == 0x0f800000u) {
    x += (uint32_t)(128 - 16) << 23; /* inf / NaN */
    memcpy(&f, &x, 4);
  } else if (exp == 0) {
    x += 1u << 23; /* subnormal: renormalise through the FPU */
    memcpy(&f, &x, 4);
    f -= 6.103515625e-05f; /* 2^-14 */
  } else {
    memcpy(&f, &x, 4);
  }
  uint32_t y;
  memcpy(&y, &f, 4);
  y |= sign;
  memcpy(&f, &y, 4);
  return f;
}

#endif
