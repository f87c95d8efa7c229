/* tensor/quantize: post-training int8 quantization for inference. Weights: symmetric s8 per output
 * channel (row of a [out, in] matrix), scale = max |w| / 127. Activations: dynamic per-tensor u8
 * with a zero point, from the tensor's own range (widened to include 0, so zero padding and ReLU-like
 * values stay exact), to at most `qmax` (255, or 127 where the CPU's u8 x s8 products saturate). */
#ifndef BERT_TENSOR_QUANTIZE_H
#define BERT_TENSOR_QUANTIZE_H

#include <stdint.h>

#include "tensor/gemm.h"

/* q[r, c] = round(w[r, c] / scale[r]); an all-zero row gets scale 1. */
void bert_quantize_weights(const float *w, int64_t rows, int64_t cols, int8_t *q, float *scale);

/* q = clamp(round(x / scale) + zero_point, 0, qmax); fills out->{data = q, scale, zero_point}. */
void bert_quantize_activations(const float *x, int64_t n, int qmax, uint8_t *q, bert_int8_input *out);

#endif
