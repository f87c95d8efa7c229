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

void bert_rng_block(bert_rng rng, uint64_t index, uint32_t out[4]);
/* Uniform in [0, 1) from 24 random bits, element `index` of the stream. */
float bert_rng_uniform(bert_rng rng, uint64_t index);
/* Uniform in [0, 1) with 53 bits. */
double bert_rng_uniform_double(bert_rng rng, uint64_t index);
/* Standard normal (Box-Muller on one Philox block). */
double bert_rng_normal(bert_rng rng, uint64_t index);

#endif
