#include "train/loss_scale.h"

#include <math.h>

#include "train/half.h"

#define ALS_LARGE (BERT_FP16_MAX / 16.0f)
#define ALS_THRESHOLD 1e-7
#define ALS_MIN 1.0
#define ALS_MAX 16777216.0

void bert_loss_scaler_init(bert_loss_scaler *s, double initial, int automatic) {
  s->scale = initial > 0 ? initial : 1.0;
  s->automatic = automatic;
  s->skipped = 0;
}

void bert_grads_round_half(float *g, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
  for (size_t i = 0; i < n; i++) g[i] = bert_f16_to_f32(bert_f32_to_f16(g[i]));
}

bert_grad_stats bert_grads_stats(const float *g, size_t n) {
  size_t nonfinite = 0, large = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : nonfinite, large) if (n >= 65536)
  for (size_t i = 0; i < n; i++) {
    float a = fabsf(g[i]);
    nonfinite += !(a <= 3.4e38f); /* inf and NaN */
    large += a >= ALS_LARGE;
  }
  bert_grad_stats s = {nonfinite, large, n};
  return s;
}

int bert_loss_scaler_update(bert_loss_scaler *s, const bert_grad_stats *st) {
  int apply = st->nonfinite == 0;
  if (!apply) s->skipped++;
  if (s->automatic) {
    int shrink = !apply || (double)st->large > ALS_THRESHOLD * (double)st->count;
    s->scale = shrink ? s->scale / 2 : s->scale * 2;
    s->scale = s->scale < ALS_MIN ? ALS_MIN : s->scale > ALS_MAX ? ALS_MAX : s->scale;
  }
  return apply;
}
