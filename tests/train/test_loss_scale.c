/* Loss scaling: fp16 rounding of gradients (overflow, flush, ties to even), the statistics, and
 * the automatic rule (halve above 1e-7 large elements or on inf/NaN, double otherwise, within
 * [1, 2^24], skip and count non-finite updates). */
#include <math.h>
#include <stdlib.h>

#include "test_util.h"
#include "train/loss_scale.h"

int main(void) {
  float g[8] = {1.0f, 70000.0f, -70000.0f, 1e-9f, 1.0f + 1.0f / 4096, 2048.5f, 65504.0f, -0.0f};
  bert_grads_round_half(g, 8);
  CHECK(g[0] == 1.0f && isinf(g[1]) && g[1] > 0 && isinf(g[2]) && g[2] < 0);
  CHECK(g[3] == 0.0f);                                    /* below the smallest subnormal */
  CHECK(g[4] == 1.0f);                                    /* 1 + 2^-12 ties to even: 1 */
  CHECK(g[5] == 2048.0f);                                 /* spacing 2 above 2048: ties to even */
  CHECK(g[6] == 65504.0f && g[7] == 0.0f && signbit(g[7]));

  size_t n = 20000000;
  float *big = calloc(n, sizeof(float));
  big[5] = 5000.0f, big[6] = -4094.0f; /* 2 of 2e7 = 1e-7: not more than the threshold */
  bert_grad_stats st = bert_grads_stats(big, n);
  CHECK(st.nonfinite == 0 && st.large == 2 && st.count == n);
  bert_loss_scaler s;
  bert_loss_scaler_init(&s, 1.0, 1);
  CHECK(bert_loss_scaler_update(&s, &st) == 1 && s.scale == 2.0);
  big[7] = 4100.0f; /* 3 of 2e7 > 1e-7: halve */
  st = bert_grads_stats(big, n);
  CHECK(bert_loss_scaler_update(&s, &st) == 1 && s.scale == 1.0);
  CHECK(bert_loss_scaler_update(&s, &st) == 1 && s.scale == 1.0); /* not below 1 */
  big[8] = NAN;
  st = bert_grads_stats(big, n);
  bert_loss_scaler_init(&s, 64.0, 1);
  CHECK(st.nonfinite == 1 && bert_loss_scaler_update(&s, &st) == 0 && s.scale == 32.0 && s.skipped == 1);
  big[8] = INFINITY;
  st = bert_grads_stats(big, n);
  CHECK(st.nonfinite == 1);
  free(big);

  bert_grad_stats clean = {0, 0, 100};
  bert_loss_scaler_init(&s, 8388608.0, 1);
  CHECK(bert_loss_scaler_update(&s, &clean) && s.scale == 16777216.0);
  CHECK(bert_loss_scaler_update(&s, &clean) && s.scale == 16777216.0); /* not above 2^24 */
  bert_loss_scaler_init(&s, 128.0, 0); /* static: never changes, still skips */
  bert_grad_stats inf = {1, 0, 100};
  CHECK(bert_loss_scaler_update(&s, &inf) == 0 && s.scale == 128.0 && s.skipped == 1);
  CHECK(bert_loss_scaler_update(&s, &clean) == 1 && s.scale == 128.0);
  return test_summary("loss scale");
}
