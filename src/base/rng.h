/* base/rng: counter-based random numbers (Philox4x32-10). A value depends only on
 * (seed, stream, index), so any element of any step can be drawn in any order, by any thread,
 * and a resumed run continues exactly. Streams are built from (purpose, step, rank, ...). */
#ifndef BERT_BASE_RNG_H
#define BERT_BASE_RNG_H

#include <stdint.h>

typedef struct bert_rng {
  uint64_t seed;
  uint64_t stream;
} bert_rng;

/* Purposes keep independent uses apart even with the same seed and step. */
enum {
  BERT_RNG_INIT = 1,
  BERT_RNG_DROPOUT = 2,
  BERT_RNG_DATA = 3,
  BERT_RNG_MASKING = 4,
};

bert_rng bert_rng_make(uint64_t seed, uint32_t purpose, uint64_t step, uint32_t rank);
/* A sub-stream, e.g. one per layer or per dropout site. */
bert_rng bert_rng_child(bert_rng rng, uint64_t id);

/* Block `index` of the stream: four 32-bit values (Philox4x32-10). Inline so that loops over
 * blocks (dropout masks) vectorise. */
static inline void bert_rng_block4(uint64_t seed, uint64_t stream, uint64_t index, uint32_t *r0,
                                   uint32_t *r1, uint32_t *r2, uint32_t *r3) {
  uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = (uint32_t)stream,
           c3 = (uint32_t)(stream >> 32);
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = (uint32_t)p1;
    c2 = n2;
    c3 = (uint32_t)p0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  *r0 = c0, *r1 = c1, *r2 = c2, *r3 = c3;
}

static inline void bert_rng_block(bert_rng rng, uint64_t index, uint32_t out[4]) {
  bert_rng_block4(rng.seed, rng.stream, index, &out[0], &out[1], &out[2], &out[3]);
}
/* Uniform in [0, 1) from 24 random bits, element `index` of the stream. */
float bert_rng_uniform(bert_rng rng, uint64_t index);
/* Uniform in [0, 1) with 53 bits. */
double bert_rng_uniform_double(bert_rng rng, uint64_t index);
/* Standard normal (Box-Muller on one Philox block). */
double bert_rng_normal(bert_rng rng, uint64_t index);

#endif
