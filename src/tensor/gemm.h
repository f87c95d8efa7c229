/* tensor/gemm: every matrix product of bertc, through oneDNN matmul (f32, or bf16 operands with
 * f32 results). Primitives are created once per shape and cached in the context, so the training
 * loop only sets data pointers and executes. C = A·B (+ bias) (+ C when accumulating), with
 * arbitrary row/column strides, so transposes and per-head views cost no copies. */
#ifndef BERT_TENSOR_GEMM_H
#define BERT_TENSOR_GEMM_H

#include <stdint.h>

#include "base/error.h"

typedef enum bert_precision { BERT_FP32 = 0, BERT_BF16 = 1 } bert_precision;

typedef struct bert_gemm_ctx bert_gemm_ctx;

int bert_gemm_ctx_create(bert_gemm_ctx **ctx, bert_error *err);
void bert_gemm_ctx_destroy(bert_gemm_ctx *ctx);

/* A product over up to two batch dimensions: for each batch index (b0, b1),
 * C[m, n] (+)= sum_k A[m, k] B[k, n] (+ bias[n]). Strides are in elements, for the dims
 * {batch0, batch1, rows, cols} (unused batch strides ignored). */
typedef struct bert_gemm_desc {
  int batch_dims;          /* 0, 1 or 2 */
  int64_t batch[2];
  int64_t m, n, k;
  int64_t a_stride[4];     /* A is [batch..., m, k] */
  int64_t b_stride[4];     /* B is [batch..., k, n] */
  int64_t c_stride[4];     /* C is [batch..., m, n], always f32 */
  bert_precision operands; /* element type of A and B */
  int with_bias;           /* bias is f32 [n] (2-D products only) */
  int accumulate;          /* C += A·B instead of C = A·B */
} bert_gemm_desc;

int bert_gemm(bert_gemm_ctx *ctx, const bert_gemm_desc *desc, const void *a, const void *b,
              const float *bias, float *c, bert_error *err);

/* The three products of a linear layer y = x Wᵀ + b with W stored [out, in] (HuggingFace layout).
 * In bf16 mode x, w, dy are bf16 arrays (uint16_t). */
int bert_linear_forward(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in, int64_t out,
                        const void *x, const void *w, const float *bias, float *y, bert_error *err);
/* dx (+)= dy W */
int bert_linear_backward_input(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                               int64_t out, const void *dy, const void *w, float *dx, int accumulate,
                               bert_error *err);
/* dW += dyᵀ x */
int bert_linear_backward_weight(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in,
                                int64_t out, const void *dy, const void *x, float *dw, bert_error *err);

/* db[j] += sum_i dy[i, j] */
void bert_bias_backward(int64_t rows, int64_t cols, const float *dy, float *db);

/* 1 when oneDNN multiplies bf16 natively on this CPU; 0 when bf16 products are emulated (operands
 * widened to f32: the same numbers, at f32 speed). */
int bert_gemm_bf16_native(bert_gemm_ctx *ctx);

/* bf16 conversion (round to nearest even). */
void bert_to_bf16(const float *src, uint16_t *dst, int64_t n);
float bert_bf16_to_float(uint16_t v);

#endif
