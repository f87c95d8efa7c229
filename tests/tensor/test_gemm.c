/* oneDNN products against a naive triple loop: linear forward/backward, accumulation, bias,
 * strided batched (per-head) views, bf16 operands. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "tensor/gemm.h"
#include "test_util.h"

static void fill(float *x, int64_t n, uint64_t seed) {
  bert_rng rng = bert_rng_make(seed, 99, 0, 0);
  for (int64_t i = 0; i < n; i++) x[i] = bert_rng_uniform(rng, (uint64_t)i) * 2.0f - 1.0f;
}

static double max_rel(const float *x, const float *y, int64_t n) {
  double m = 0, scale = 1e-6;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(y[i]));
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i] - y[i]) / scale);
  return m;
}

static void test_linear(bert_gemm_ctx *ctx, int64_t rows, int64_t in, int64_t out) {
  float *x = malloc(rows * in * 4), *w = malloc(out * in * 4), *b = malloc(out * 4);
  float *y = malloc(rows * out * 4), *ref = malloc(rows * out * 4);
  float *dy = malloc(rows * out * 4), *dx = malloc(rows * in * 4), *dxr = malloc(rows * in * 4);
  float *dw = malloc(out * in * 4), *dwr = malloc(out * in * 4);
  fill(x, rows * in, 1), fill(w, out * in, 2), fill(b, out, 3), fill(dy, rows * out, 4);
  bert_error err = {0};
  CHECK(bert_linear_forward(ctx, BERT_FP32, rows, in, out, x, w, b, y, &err) == 0);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t o = 0; o < out; o++) {
      double s = b[o];
      for (int64_t k = 0; k < in; k++) s += (double)x[i * in + k] * w[o * in + k];
      ref[i * out + o] = (float)s;
    }
  CHECK_MSG(max_rel(y, ref, rows * out) < 1e-5, "forward %lldx%lldx%lld", (long long)rows, (long long)in, (long long)out);

  /* dx accumulates onto what is there */
  for (int64_t i = 0; i < rows * in; i++) dx[i] = dxr[i] = 0.5f;
  CHECK(bert_linear_backward_input(ctx, BERT_FP32, rows, in, out, dy, w, dx, 1, &err) == 0);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t k = 0; k < in; k++) {
      double s = 0;
      for (int64_t o = 0; o < out; o++) s += (double)dy[i * out + o] * w[o * in + k];
      dxr[i * in + k] += (float)s;
    }
  CHECK(max_rel(dx, dxr, rows * in) < 1e-5);

  for (int64_t i = 0; i < out * in; i++) dw[i] = dwr[i] = 1.0f;
  CHECK(bert_linear_backward_weight(ctx, BERT_FP32, rows, in, out, dy, x, dw, &err) == 0);
  for (int64_t o = 0; o < out; o++)
    for (int64_t k = 0; k < in; k++) {
      double s = 0;
      for (int64_t i = 0; i < rows; i++) s += (double)dy[i * out + o] * x[i * in + k];
      dwr[o * in + k] += (float)s;
    }
  CHECK(max_rel(dw, dwr, out * in) < 1e-5);

  /* bf16 operands: same product within bf16 rounding */
  uint16_t *xb = malloc(rows * in * 2), *wb = malloc(out * in * 2);
  bert_to_bf16(x, xb, rows * in);
  bert_to_bf16(w, wb, out * in);
  CHECK(bert_linear_forward(ctx, BERT_BF16, rows, in, out, xb, wb, b, y, &err) == 0);
  CHECK_MSG(max_rel(y, ref, rows * out) < 2e-2, "bf16 %g", max_rel(y, ref, rows * out));
  free(xb), free(wb);
  free(x), free(w), free(b), free(y), free(ref), free(dy), free(dx), free(dxr), free(dw), free(dwr);
}

/* scores[b, h, i, j] = sum_d q[b, i, h, d] k[b, j, h, d], with q and k inside one [B, L, 3H] buffer */
static void test_per_head(bert_gemm_ctx *ctx) {
  int64_t B = 2, L = 5, nh = 3, d = 4, H = nh * d;
  float *qkv = malloc(B * L * 3 * H * 4), *s = malloc(B * nh * L * L * 4);
  fill(qkv, B * L * 3 * H, 7);
  bert_gemm_desc g;
  memset(&g, 0, sizeof g);
  g.batch_dims = 2, g.batch[0] = B, g.batch[1] = nh, g.m = L, g.n = L, g.k = d;
  int64_t a[4] = {L * 3 * H, d, 3 * H, 1}, b[4] = {L * 3 * H, d, 1, 3 * H}, c[4] = {nh * L * L, L * L, L, 1};
  memcpy(g.a_stride, a, sizeof a), memcpy(g.b_stride, b, sizeof b), memcpy(g.c_stride, c, sizeof c);
  bert_error err = {0};
  CHECK(bert_gemm(ctx, &g, qkv, qkv + H, NULL, s, &err) == 0);
  double worst = 0;
  for (int64_t bb = 0; bb < B; bb++)
    for (int64_t h = 0; h < nh; h++)
      for (int64_t i = 0; i < L; i++)
        for (int64_t j = 0; j < L; j++) {
          double acc = 0;
          for (int64_t e = 0; e < d; e++)
            acc += (double)qkv[(bb * L + i) * 3 * H + h * d + e] * qkv[(bb * L + j) * 3 * H + H + h * d + e];
          worst = fmax(worst, fabs(acc - s[((bb * nh + h) * L + i) * L + j]));
        }
  CHECK_MSG(worst < 1e-5, "per-head scores off by %g", worst);
  free(qkv), free(s);
}

int main(void) {
  bert_gemm_ctx *ctx;
  bert_error err = {0};
  CHECK(bert_gemm_ctx_create(&ctx, &err) == 0);
  test_linear(ctx, 7, 13, 5);
  test_linear(ctx, 64, 96, 128);
  test_linear(ctx, 1, 33, 2);
  test_linear(ctx, 130, 64, 257);
  test_per_head(ctx);
  float db[3] = {1, 1, 1}, dy[6] = {1, 2, 3, 4, 5, 6};
  bert_bias_backward(2, 3, dy, db);
  CHECK(db[0] == 6 && db[1] == 8 && db[2] == 10);
  bert_gemm_ctx_destroy(ctx);
  return test_summary("gemm");
}
