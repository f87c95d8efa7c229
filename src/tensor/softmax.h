/* tensor/softmax: the attention softmax with BERT's additive mask, forward and backward.
 * probs = softmax(scores * scale + (allowed ? 0 : -10000)) over the keys of each query row, as
 * transformers 4.18 does. A key is allowed by the 2-D padding mask (key_mask[b, j] != 0) or, for
 * packed sequences, when query and key carry the same sequence index (block-diagonal mask). */
#ifndef BERT_TENSOR_SOFTMAX_H
#define BERT_TENSOR_SOFTMAX_H

#include <stdint.h>

typedef struct bert_attention_mask {
  const int32_t *key_mask;  /* [B, L] 1 = token, 0 = padding; NULL = no padding mask */
  const int32_t *seq_index; /* [B, L] packed sequence index per token; NULL = not packed */
} bert_attention_mask;

#define BERT_MASK_VALUE (-10000.0f)

/* scores [B, heads, L, L]: raw Q·Kᵀ in, probabilities out. */
void bert_attention_softmax_forward(int64_t batch, int64_t heads, int64_t len, float scale,
                                    const bert_attention_mask *mask, float *scores);
/* grad [B, heads, L, L]: ∂L/∂probs in, ∂L/∂(Q·Kᵀ) out (the scale included). */
void bert_attention_softmax_backward(int64_t batch, int64_t heads, int64_t len, float scale,
                                     const float *probs, float *grad);

#endif
