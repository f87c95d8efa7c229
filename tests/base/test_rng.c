#include <math.h>

#include "base/rng.h"
#include "test_util.h"

int main(void) {
  /* Philox4x32-10 known-answer test (Random123 kat_vectors: counter 0, key 0). */
  bert_rng zero = {0, 0};
  uint32_t r[4];
  bert_rng_block(zero, 0, r);
  CHECK(r[0] == 0x6627e8d5u && r[1] == 0xe169c58du && r[2] == 0xbc57ac4cu && r[3] == 0x9b00dbd8u);

  bert_rng a = bert_rng_make(42, BERT_RNG_DROPOUT, 7, 0);
  bert_rng b = bert_rng_make(42, BERT_RNG_DROPOUT, 7, 1);
  CHECK(bert_rng_uniform(a, 5) == bert_rng_uniform(a, 5));
  CHECK(bert_rng_uniform(a, 5) != bert_rng_uniform(b, 5));

  double sum = 0, sq = 0, usum = 0;
  int n = 200000;
  for (int i = 0; i < n; i++) {
    double z = bert_rng_normal(a, (uint64_t)i);
    sum += z;
    sq += z * z;
    float u = bert_rng_uniform(b, (uint64_t)i);
    CHECK(u >= 0.0f && u < 1.0f);
    usum += u;
  }
  CHECK_NEAR(sum / n, 0.0, 0.01);
  CHECK_NEAR(sq / n, 1.0, 0.02);
  CHECK_NEAR(usum / n, 0.5, 0.005);
  return test_summary("rng");
}
