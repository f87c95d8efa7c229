/* Dropout: the kept fraction is 1-p, kept values are scaled by 1/(1-p), the backward applies
 * exactly the forward's mask (regenerated, or kept as bytes by the training forward), and
 * different sites (or steps) draw different masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/dropout.h"
#include "test_util.h"

int main(void) {
  int64_t n = 1000003; /* not a multiple of 4: the tail block is used too */
  float p = 0.1f;
  float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
  float *y2 = malloc(n * sizeof(float));
  for (int64_t i = 0; i < n; i++) x[i] = 1.0f + (float)(i % 7);
  bert_rng site = bert_rng_child(bert_rng_make(42, BERT_RNG_DROPOUT, 3, 0), 5);
  bert_dropout_forward(site, p, n, x, y);
  int64_t zeros = 0, wrong_scale = 0;
  for (int64_t i = 0; i < n; i++) {
    if (y[i] == 0.0f) zeros++;
    else if (fabsf(y[i] - x[i] / (1.0f - p)) > 1e-5f * y[i]) wrong_scale++;
  }
  double frac = (double)zeros / n;
  CHECK_MSG(fabs(frac - p) < 0.002, "dropped fraction %g", frac);
  CHECK(wrong_scale == 0);
  CHECK(y[n - 1] == 0.0f || y[n - 1] != x[n - 1]); /* the tail is masked and scaled too */

  /* the kept mask: the same outputs; the backward applies it to the gradient, which equals drawing
   * the mask again (zeros in x included) */
  uint8_t *keep = malloc((size_t)n);
  float *g2 = malloc(n * sizeof(float));
  x[17] = 0.0f;
  bert_dropout_forward(site, p, n, x, y);
  bert_dropout_forward_keep(site, p, n, x, y2, keep);
  CHECK(memcmp(y, y2, n * sizeof(float)) == 0);
  for (int64_t i = 0; i < n; i++) g[i] = 1.0f + (float)(i % 5);
  bert_dropout_forward(site, p, n, g, g2);
  bert_dropout_apply(p, n, keep, g, g);
  CHECK(memcmp(g, g2, n * sizeof(float)) == 0);
  int64_t mismatched = 0;
  for (int64_t i = 0; i < n; i++) mismatched += (g[i] == 0.0f) != (keep[i] == 0);
  CHECK(mismatched == 0);
  int64_t dropped = 0;
  for (int64_t i = 0; i < n; i++) dropped += keep[i] == 0;
  CHECK_MSG(fabs((double)dropped / n - p) < 0.002, "kept mask drops %g", (double)dropped / n);
  free(keep), free(g2);
  x[17] = 1.0f + 17 % 7;
  bert_dropout_forward(site, p, n, x, y);

  bert_dropout_forward(site, p, n, x, y2); /* same site: same mask */
  int64_t same = 0;
  for (int64_t i = 0; i < n; i++) same += y2[i] == y[i];
  CHECK(same == n);
  bert_rng other = bert_rng_child(bert_rng_make(42, BERT_RNG_DROPOUT, 4, 0), 5);
  bert_dropout_forward(other, p, n, x, y2); /* next step: an independent mask */
  int64_t both = 0;
  for (int64_t i = 0; i < n; i++) both += y2[i] == 0.0f && y[i] == 0.0f;
  CHECK_MSG(fabs((double)both / n - p * p) < 0.002, "joint drop rate %g", (double)both / n);

  bert_dropout_forward(site, 0.0f, n, x, y2); /* p = 0 is the identity */
  int64_t ident = 0;
  for (int64_t i = 0; i < n; i++) ident += y2[i] == x[i];
  CHECK(ident == n);
  free(x), free(y), free(g), free(y2);
  return test_summary("dropout");
}
