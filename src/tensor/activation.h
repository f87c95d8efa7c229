/* tensor/activation: GELU (exact erf, or the tanh approximation of `gelu_new`) and tanh (pooler),
 * forward and backward. Backward functions take the forward's input (or output for tanh). */
#ifndef BERT_TENSOR_ACTIVATION_H
#define BERT_TENSOR_ACTIVATION_H

#include <stdint.h>

typedef enum bert_gelu_kind { BERT_GELU_ERF = 0, BERT_GELU_TANH = 1 } bert_gelu_kind;

void bert_gelu_forward(bert_gelu_kind kind, int64_t n, const float *x, float *y);
/* dx = dy * gelu'(x) (overwritten; dx may alias dy) */
void bert_gelu_backward(bert_gelu_kind kind, int64_t n, const float *x, const float *dy, float *dx);

/* Training: y = gelu(x) and x replaced by gelu'(x), in one pass; the backward is then one
 * multiplication: dx = dy * slope (dx may alias dy). */
void bert_gelu_forward_slope(bert_gelu_kind kind, int64_t n, float *x_slope, float *y);
void bert_gelu_backward_slope(int64_t n, const float *slope, const float *dy, float *dx);

void bert_tanh_forward(int64_t n, const float *x, float *y);
/* dx = dy * (1 - y²) (overwritten), y = tanh output */
void bert_tanh_backward(int64_t n, const float *y, const float *dy, float *dx);

#endif
