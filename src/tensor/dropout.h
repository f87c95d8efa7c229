/* tensor/dropout: inverted dropout whose keep mask comes from the counter-based RNG: element i of
 * a site uses block i/4, so a mask is a function of (site, i). The training forward keeps the mask
 * (a byte per element) for the backward, which then applies it without drawing it again. */
#ifndef BERT_TENSOR_DROPOUT_H
#define BERT_TENSOR_DROPOUT_H

#include <stdint.h>

#include "base/rng.h"

/* y = x * keep / (1 - p); y may alias x. p == 0 copies (when y != x). */
void bert_dropout_forward(bert_rng site, float p, int64_t n, const float *x, float *y);
/* bert_dropout_forward that also stores keep[i] = 1 (kept) or 0 (dropped); p > 0. */
void bert_dropout_forward_keep(bert_rng site, float p, int64_t n, const float *x, float *y, uint8_t *keep);
/* y = x * keep / (1 - p) with a stored mask; y may alias x. */
void bert_dropout_apply(float p, int64_t n, const uint8_t *keep, const float *x, float *y);

#endif
