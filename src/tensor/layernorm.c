#include "tensor/layernorm.h"

#include <math.h>

#include "tensor/vmath.h"

/* Two passes in float with vector reductions: mean, then the centred variance (no cancellation). */
static void normalise_row(const float *x, int64_t dim, const float *gamma, const float *beta, float eps, float *y,
                          uint16_t *y_bf16, float *mean, float *rstd) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < dim; j++) sum += x[j];
  float mu = sum / (float)dim;
  float var = 0.0f;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < dim; j++) {
    float c = x[j] - mu;
    var += c * c;
  }
  float rs = 1.0f / sqrtf(var / (float)dim + eps);
#pragma omp simd
  for (int64_t j = 0; j < dim; j++) y[j] = (x[j] - mu) * rs * gamma[j] + beta[j];
  if (y_bf16) {
#pragma omp simd
    for (int64_t j = 0; j < dim; j++) y_bf16[j] = bert_bf16_round(y[j]);
  }
  *mean = mu;
  *rstd = rs;
}

void bert_layernorm_forward(int64_t rows, int64_t dim, const float *x, const float *gamma,
                            const float *beta, float eps, float *y, float *mean, float *rstd) {
  bert_layernorm_forward_bf16(rows, dim, x, gamma, beta, eps, y, NULL, mean, rstd);
}

void bert_layernorm_forward_bf16(int64_t rows, int64_t dim, const float *x, const float *gamma,
                                 const float *beta, float eps, float *y, uint16_t *y_bf16, float *mean,
                                 float *rstd) {
#pragma omp parallel for schedule(static) if (rows * dim >= 16384)
  for (int64_t r = 0; r < rows; r++)
    normalise_row(x + r * dim, dim, gamma, beta, eps, y + r * dim, y_bf16 ? y_bf16 + r * dim : NULL, mean + r,
                  rstd + r);
}

static void input_grad_row(const float *dy, const float *x, float mu, float rs, const float *gamma, int64_t dim,
                           float *dx) {
  float sum_g = 0.0f, sum_gx = 0.0f;
#pragma omp simd reduction(+ : sum_g, sum_gx)
  for (int64_t j = 0; j < dim; j++) {
    float g = dy[j] * gamma[j];
    sum_g += g;
    sum_gx += g * (x[j] - mu) * rs;
  }
  float mg = sum_g / (float)dim, mgx = sum_gx / (float)dim;
#pragma omp simd
  for (int64_t j = 0; j < dim; j++) dx[j] = rs * (dy[j] * gamma[j] - mg - (x[j] - mu) * rs * mgx);
}

void bert_layernorm_backward(int64_t rows, int64_t dim, const float *dy, const float *x,
                             const float *mean, const float *rstd, const float *gamma, float *dx,
                             float *dgamma, float *dbeta) {
#pragma omp parallel for schedule(static) if (rows * dim >= 16384)
  for (int64_t r = 0; r < rows; r++)
    input_grad_row(dy + r * dim, x + r * dim, mean[r], rstd[r], gamma, dim, dx + r * dim);
  /* Parameter gradients column block by column block, so threads never share an accumulator. */
#pragma omp parallel for schedule(static) if (rows * dim >= 16384)
  for (int64_t j0 = 0; j0 < dim; j0 += 64) {
    int64_t n = j0 + 64 < dim ? 64 : dim - j0;
    float dg[64] = {0}, db[64] = {0};
    for (int64_t r = 0; r < rows; r++) {
      const float *dyr = dy + r * dim + j0, *xr = x + r * dim + j0;
      float mu = mean[r], rs = rstd[r];
#pragma omp simd
      for (int64_t j = 0; j < n; j++) {
        dg[j] += dyr[j] * (xr[j] - mu) * rs;
        db[j] += dyr[j];
      }
    }
    for (int64_t j = 0; j < n; j++) {
      dgamma[j0 + j] += dg[j];
      dbeta[j0 + j] += db[j];
    }
  }
}
