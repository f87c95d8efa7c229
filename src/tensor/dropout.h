/* tensor/dropout: inverted dropout whose keep mask comes from the counter-based RNG, so the
 * backward regenerates the mask instead of storing it. Element i of a site uses block i/4. */
#ifndef BERT_TENSOR_DROPOUT_H
#define BERT_TENSOR_DROPOUT_H

#include <stdint.h>

#include "base/rng.h"

/* y = x * keep / (1 - p); y may alias x. p == 0 copies (when y != x). */
void bert_dropout_forward(bert_rng site, float p, int64_t n, const float *x, float *y);
/* dx = dy * keep / (1 - p); dx may alias dy. */
void bert_dropout_backward(bert_rng site, float p, int64_t n, const float *dy, float *dx);

#endif
