/* oneDNN products against a naive triple loop: linear forward/backward, accumulation, bias,
 * strided batched (per-head) views, bf16 operands, fused post-ops (GELU, residual add), and int8
 * products (exact against integer sums) with the quantizers around them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "tensor/activation.h"
#include "tensor/gemm.h"
#include "tensor/quantize.h"
#include "test_util.h"

static void fill(float *x, int64_t n, uint64_t seed) {
  bert_rng rng = bert_rng_make(seed, 99, 0, 0);
  for (int64_t i = 0; i < n; i++) x[i] = bert_rng_uniform(rng, (uint64_t)i) * 2.0f - 1.0f;
}

static double max_rel(const float *x, const float *y, int64_t n) {
  double m = 0, scale = 1e-6;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(y[i]));
  for (int64_t i = 0; i < n; i++) m = test_worse(m, fabs((double)x[i] - y[i]) / scale);
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
          worst = test_worse(worst, fabs(acc - s[((bb * nh + h) * L + i) * L + j]));
        }
  CHECK_MSG(worst < 1e-5, "per-head scores off by %g", worst);
  free(qkv), free(s);
}

static void naive_linear(int64_t rows, int64_t in, int64_t out, const float *x, const float *w, const float *b,
                         float *y) {
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < out; j++) {
      double acc = b ? b[j] : 0;
      for (int64_t k = 0; k < in; k++) acc += (double)x[i * in + k] * w[j * in + k];
      y[i * out + j] = (float)acc;
    }
}

/* post(x Wᵀ + b) against the unfused product followed by the element-wise step. */
static void test_post_ops(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in, int64_t out) {
  bert_error err = {0};
  float *x = malloc(sizeof(float) * rows * in), *w = malloc(sizeof(float) * out * in), *b = malloc(sizeof(float) * out);
  float *r = malloc(sizeof(float) * rows * out), *y = malloc(sizeof(float) * rows * out);
  float *ref = malloc(sizeof(float) * rows * out);
  uint16_t *xb = malloc(2 * rows * in), *wb = malloc(2 * out * in);
  fill(x, rows * in, 11), fill(w, out * in, 12), fill(b, out, 13), fill(r, rows * out, 14);
  bert_to_bf16(x, xb, rows * in), bert_to_bf16(w, wb, out * in);
  const void *xo = x, *wo = w;
  if (p == BERT_BF16) {
    for (int64_t i = 0; i < rows * in; i++) x[i] = bert_bf16_to_float(xb[i]);
    for (int64_t i = 0; i < out * in; i++) w[i] = bert_bf16_to_float(wb[i]);
    xo = xb, wo = wb;
  }
  naive_linear(rows, in, out, x, w, b, ref);
  float *g = malloc(sizeof(float) * rows * out);
  static const bert_post posts[] = {BERT_POST_GELU_ERF, BERT_POST_GELU_TANH, BERT_POST_ADD};
  for (int t = 0; t < 3; t++) {
    CHECK(bert_linear_forward_post(ctx, p, rows, in, out, xo, wo, b, posts[t], r, y, 0, &err) == 0);
    if (posts[t] == BERT_POST_ADD)
      for (int64_t i = 0; i < rows * out; i++) g[i] = ref[i] + r[i];
    else
      bert_gelu_forward(posts[t] == BERT_POST_GELU_ERF ? BERT_GELU_ERF : BERT_GELU_TANH, rows * out, ref, g);
    double e = max_rel(y, g, rows * out);
    CHECK_MSG(e < 2e-5, "%s post-op %d %lldx%lldx%lld off by %g", p == BERT_BF16 ? "bf16" : "fp32", t,
              (long long)rows, (long long)in, (long long)out, e);
  }
  free(x), free(w), free(b), free(r), free(y), free(ref), free(xb), free(wb), free(g);
}

/* A bf16 result is the f32 result rounded (within one bf16 step where native kernels sum in
 * another order), and a strided bf16 result touches only its view: here the first half of the
 * columns of each row, the other half keeps its sentinel. */
static void test_bf16_result(bert_gemm_ctx *ctx) {
  enum { M = 24, K = 40, N = 16 };
  bert_error err = {0};
  float x[M * K], w[N * K], b[N], ref[M * N];
  uint16_t xb[M * K], wb[N * K], y[M * 2 * N];
  fill(x, M * K, 31), fill(w, N * K, 32), fill(b, N, 33);
  bert_to_bf16(x, xb, M * K), bert_to_bf16(w, wb, N * K);
  for (int i = 0; i < M * K; i++) x[i] = bert_bf16_to_float(xb[i]);
  for (int i = 0; i < N * K; i++) w[i] = bert_bf16_to_float(wb[i]);
  naive_linear(M, K, N, x, w, b, ref);
  for (int i = 0; i < M * 2 * N; i++) y[i] = 0x7777;
  bert_gemm_desc d;
  memset(&d, 0, sizeof d);
  d.m = M, d.n = N, d.k = K, d.operands = BERT_BF16, d.with_bias = 1, d.c_bf16 = 1;
  d.a_stride[2] = K, d.a_stride[3] = 1, d.b_stride[2] = 1, d.b_stride[3] = K;
  d.c_stride[2] = 2 * N, d.c_stride[3] = 1;
  CHECK(bert_gemm(ctx, &d, xb, wb, b, y, &err) == 0);
  int sentinel = 1;
  double worst = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < 2 * N; j++) {
      if (j >= N) {
        sentinel &= y[i * 2 * N + j] == 0x7777;
        continue;
      }
      float got = bert_bf16_to_float(y[i * 2 * N + j]), want = ref[i * N + j];
      worst = test_worse(worst, fabs(got - want) / fmax(fabs(want), 1e-3));
    }
  CHECK_MSG(worst <= 1.0 / 128, "bf16 result off by %g (more than one bf16 step)", worst);
  CHECK_MSG(sentinel, "a strided bf16 result wrote outside its view");
  d.accumulate = 1;
  CHECK(bert_gemm(ctx, &d, xb, wb, b, y, &err) == BERT_EINVAL);
}

/* The int8 product is exact: y = x_scale · w_scale[j] · Σ (q - zero) W_q + b, recomputed with integers;
 * the quantizers' round trip stays within half a step; the whole int8 linear layer is close to fp32. */
static void test_int8(bert_gemm_ctx *ctx, int64_t rows, int64_t in, int64_t out) {
  bert_error err = {0};
  int qmax = bert_gemm_int8_activation_max(ctx);
  CHECK(qmax == 127 || qmax == 255);
  float *x = malloc(sizeof(float) * rows * in), *w = malloc(sizeof(float) * out * in), *b = malloc(sizeof(float) * out);
  float *r = malloc(sizeof(float) * rows * out), *y = malloc(sizeof(float) * rows * out);
  float *ref = malloc(sizeof(float) * rows * out), *wscale = malloc(sizeof(float) * out);
  uint8_t *xq = malloc((size_t)(rows * in));
  int8_t *wq = malloc((size_t)(out * in));
  fill(x, rows * in, 21), fill(w, out * in, 22), fill(b, out, 23), fill(r, rows * out, 24);
  for (int64_t i = 0; i < rows * in; i++) x[i] = x[i] * 3.0f + 0.5f; /* an asymmetric range */
  bert_int8_input xin;
  bert_quantize_activations(x, rows * in, qmax, xq, &xin);
  bert_quantize_weights(w, out, in, wq, wscale);
  double worst_x = 0, worst_w = 0;
  for (int64_t i = 0; i < rows * in; i++)
    worst_x = test_worse(worst_x, fabs((xq[i] - xin.zero_point) * xin.scale - x[i]) / xin.scale);
  for (int64_t j = 0; j < out; j++)
    for (int64_t k = 0; k < in; k++) worst_w = test_worse(worst_w, fabs(wq[j * in + k] * wscale[j] - w[j * in + k]) / wscale[j]);
  CHECK_MSG(worst_x <= 0.5001 && worst_w <= 0.5001, "quantization error %g / %g steps", worst_x, worst_w);
  for (int t = 0; t < 2; t++) {
    bert_post post = t ? BERT_POST_ADD : BERT_POST_NONE;
    CHECK(bert_linear_forward_int8(ctx, rows, in, out, &xin, wq, wscale, b, post, r, y, &err) == 0);
    double worst = 0, scale = 1e-6;
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < out; j++) {
        int64_t acc = 0;
        for (int64_t k = 0; k < in; k++) acc += (int64_t)(xq[i * in + k] - xin.zero_point) * wq[j * in + k];
        double want = (double)xin.scale * wscale[j] * (double)acc + b[j] + (t ? r[i * out + j] : 0.0);
        worst = test_worse(worst, fabs(y[i * out + j] - want));
        scale = fmax(scale, fabs(want));
      }
    CHECK_MSG(worst / scale < 1e-5, "int8 %lldx%lldx%lld (post %d, qmax %d) off the integer sums by %g",
              (long long)rows, (long long)in, (long long)out, t, qmax, worst / scale);
  }
  naive_linear(rows, in, out, x, w, b, ref);
  CHECK(bert_linear_forward_int8(ctx, rows, in, out, &xin, wq, wscale, b, BERT_POST_NONE, NULL, y, &err) == 0);
  double e = max_rel(y, ref, rows * out);
  CHECK_MSG(e < 0.03, "int8 linear vs fp32: %g", e);
  free(x), free(w), free(b), free(r), free(y), free(ref), free(wscale), free(xq), free(wq);
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
  test_post_ops(ctx, BERT_FP32, 37, 64, 96);
  test_post_ops(ctx, BERT_BF16, 16, 48, 40);
  test_bf16_result(ctx);
  test_int8(ctx, 33, 64, 48);
  test_int8(ctx, 128, 256, 96);
  test_int8(ctx, 1, 768, 5);
  float db[3] = {1, 1, 1}, dy[6] = {1, 2, 3, 4, 5, 6};
  bert_bias_backward(2, 3, dy, db);
  CHECK(db[0] == 6 && db[1] == 8 && db[2] == 10);
  bert_gemm_ctx_destroy(ctx);
  return test_summary("gemm");
}
