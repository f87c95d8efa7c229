/* base/rng_stream: sequential draws from one counter-based stream (base/rng), for algorithms that
 * consume an unknown number of random values in order (data creation, shuffles). All four words
 * of each Philox block are used. The values depend only on (stream, position), so two runs — and
 * any thread that owns the stream — draw the same sequence. */
#ifndef BERT_BASE_RNG_STREAM_H
#define BERT_BASE_RNG_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

typedef struct bert_rng_stream {
  bert_rng rng;
  uint64_t counter; /* next Philox block */
  uint32_t words[4];
  int avail;        /* unused words left in `words` */
} bert_rng_stream;

bert_rng_stream bert_rng_stream_make(bert_rng rng);
uint32_t bert_rng_stream_u32(bert_rng_stream *s);
uint64_t bert_rng_stream_u64(bert_rng_stream *s);
/* Uniform double in [0, 1) with 53 bits (Python's random() construction). */
double bert_rng_stream_double(bert_rng_stream *s);
/* Uniform integer in [0, n) for n >= 1 (64-bit multiply-shift; bias below 2^-40 for n < 2^24). */
uint64_t bert_rng_stream_below(bert_rng_stream *s, uint64_t n);
/* Uniform integer in [lo, hi] (hi >= lo), like Python's randint. */
int64_t bert_rng_stream_range(bert_rng_stream *s, int64_t lo, int64_t hi);
/* Fisher-Yates shuffle of n elements of `size` bytes. */
void bert_rng_stream_shuffle(bert_rng_stream *s, void *items, size_t n, size_t size);

#endif
