/* train/loss_scale: loss scaling for half-precision gradients (reference 4.5). In `fp16` mode the
 * accumulated gradients are rounded to IEEE half after every micro-batch, as an fp16 gradient
 * accumulator would hold them, so values beyond 65504 overflow to inf and small ones flush — the
 * reason loss scaling exists. A static scale multiplies the loss and divides the gradients back;
 * automatic loss scaling (PopART's rule) then adapts it after every update: halve it when more
 * than 1e-7 of the gradient elements lie in the top 1/16 of the fp16 range, else double it, within
 * [1, 2^24]. An update whose gradients hold inf or NaN is skipped (and counted), and the scale
 * halved. */
#ifndef BERT_TRAIN_LOSS_SCALE_H
#define BERT_TRAIN_LOSS_SCALE_H

#include <stddef.h>
#include <stdint.h>

#define BERT_FP16_MAX 65504.0f

typedef struct bert_loss_scaler {
  double scale;
  int automatic;
  int64_t skipped; /* updates dropped for non-finite gradients */
} bert_loss_scaler;

typedef struct bert_grad_stats {
  size_t nonfinite; /* inf or NaN elements */
  size_t large;     /* |g| >= 65504 / 16 */
  size_t count;
} bert_grad_stats;

void bert_loss_scaler_init(bert_loss_scaler *s, double initial, int automatic);
/* Rounds g[0..n) to the nearest fp16 value in place (overflow to inf). */
void bert_grads_round_half(float *g, size_t n);
bert_grad_stats bert_grads_stats(const float *g, size_t n);
/* Decides after an update's gradients are known: returns 1 to apply the update, 0 to skip it;
 * then adapts the scale (automatic mode) for the next update. */
int bert_loss_scaler_update(bert_loss_scaler *s, const bert_grad_stats *stats);

#endif
