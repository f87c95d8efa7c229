#include "base/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bert_rng bert_rng_make(uint64_t seed, uint32_t purpose, uint64_t step, uint32_t rank) {
  bert_rng rng = {seed, splitmix64(splitmix64(splitmix64(purpose) ^ step) ^ rank)};
  return rng;
}

bert_rng bert_rng_child(bert_rng rng, uint64_t id) {
  rng.stream = splitmix64(rng.stream ^ splitmix64(id + 0x632BE59BD9B4E019ull));
  return rng;
}

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
  uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  *lo = (uint32_t)p;
}

void bert_rng_block(bert_rng rng, uint64_t index, uint32_t out[4]) {
  uint32_t c[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)rng.stream,
                   (uint32_t)(rng.stream >> 32)};
  uint32_t k0 = (uint32_t)rng.seed, k1 = (uint32_t)(rng.seed >> 32);
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c[0], &hi0, &lo0);
    mulhilo(0xCD9E8D57u, c[2], &hi1, &lo1);
    uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int i = 0; i < 4; i++) out[i] = c[i];
}

float bert_rng_uniform(bert_rng rng, uint64_t index) {
  uint32_t r[4];
  bert_rng_block(rng, index, r);
  return (float)(r[0] >> 8) * (1.0f / 16777216.0f);
}

double bert_rng_uniform_double(bert_rng rng, uint64_t index) {
  uint32_t r[4];
  bert_rng_block(rng, index, r);
  uint64_t bits = ((uint64_t)r[0] << 21) ^ (r[1] >> 11);
  return (double)(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double bert_rng_normal(bert_rng rng, uint64_t index) {
  uint32_t r[4];
  bert_rng_block(rng, index, r);
  double u1 = ((double)(((uint64_t)r[0] << 21) ^ (r[1] >> 11)) + 1.0) / 9007199254740993.0;
  double u2 = (double)(((uint64_t)r[2] << 21) ^ (r[3] >> 11)) / 9007199254740992.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
