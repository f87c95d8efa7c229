/* tensor/layernorm: LayerNorm over the last dimension, forward and backward. The forward keeps
 * each row's mean and 1/std so the backward recomputes the normalised input instead of storing it. */
#ifndef BERT_TENSOR_LAYERNORM_H
#define BERT_TENSOR_LAYERNORM_H

#include <stdint.h>

void bert_layernorm_forward(int64_t rows, int64_t dim, const float *x, const float *gamma,
                            const float *beta, float eps, float *y, float *mean, float *rstd);
/* The same, also writing y rounded to bf16 into y_bf16 (the next product's operand, in one pass). */
void bert_layernorm_forward_bf16(int64_t rows, int64_t dim, const float *x, const float *gamma,
                                 const float *beta, float eps, float *y, uint16_t *y_bf16, float *mean,
                                 float *rstd);
/* dx = ∂L/∂x (overwritten); dgamma, dbeta accumulate (+=). */
void bert_layernorm_backward(int64_t rows, int64_t dim, const float *dy, const float *x,
                             const float *mean, const float *rstd, const float *gamma, float *dx,
                             float *dgamma, float *dbeta);

#endif
