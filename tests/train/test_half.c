/* train/half against GCC's own _Float16 conversions (libgcc, IEEE round to nearest even): every
 * one of the 65536 halves to float; float to half for every exact halfway point between adjacent
 * halves and its neighbours (the rounding-critical inputs), and a stride sweep over all 2^32 float
 * bit patterns. NaN only has to stay NaN. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "test_util.h"
#include "train/half.h"

static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static uint16_t gcc_half_bits(float f) {
  volatile _Float16 h = (_Float16)f; /* volatile: keep GCC from folding through our own code */
  _Float16 copy = h;
  uint16_t u;
  memcpy(&u, &copy, 2);
  return u;
}

static int failures_f32_to_f16 = 0;

static void check_f32(float f) {
  uint16_t got = bert_f32_to_f16(f), want = gcc_half_bits(f);
  int ok = isnan(f) ? ((got & 0x7c00u) == 0x7c00u && (got & 0x3ffu)) : got == want;
  if (!ok && failures_f32_to_f16++ < 10)
    CHECK_MSG(0, "float 0x%08x -> half 0x%04x, expected 0x%04x", (unsigned)to_bits(f), got, want);
}

int main(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    _Float16 x;
    uint16_t bits = (uint16_t)h;
    memcpy(&x, &bits, 2);
    float want = (float)x, got = bert_f16_to_f32(bits);
    int ok = isnan(want) ? isnan(got) : to_bits(got) == to_bits(want);
    if (!ok && bad++ < 10) CHECK_MSG(0, "half 0x%04x -> %a, expected %a", (unsigned)h, got, want);
    if (!isnan(want)) CHECK(bert_f32_to_f16(got) == bits); /* round trip is exact */
  }
  CHECK(bad == 0);

  /* halfway points between consecutive finite halves (and beyond the largest), +-1 float ulp */
  for (uint32_t h = 0; h < 0x7c00u; h++)
    for (int sign = 0; sign < 2; sign++) {
      double lo = (double)bert_f16_to_f32((uint16_t)h);
      double hi = h + 1 < 0x7c00u ? (double)bert_f16_to_f32((uint16_t)(h + 1)) : 65536.0;
      float mid = (float)((lo + hi) / 2); /* exact: halves have 11 significant bits */
      if (sign) mid = -mid;
      check_f32(mid);
      check_f32(nextafterf(mid, INFINITY));
      check_f32(nextafterf(mid, -INFINITY));
    }
  for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) check_f32(from_bits((uint32_t)u));
  check_f32(INFINITY), check_f32(-INFINITY), check_f32(NAN), check_f32(65504.0f), check_f32(65520.0f);
  check_f32(0.0f), check_f32(-0.0f), check_f32(5.9604645e-08f), check_f32(2.9802322e-08f);
  CHECK(failures_f32_to_f16 == 0);
  return test_summary("test_half");
}
