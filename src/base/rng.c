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
