/* tensor/cross_entropy: softmax cross-entropy per row of logits. The forward gives each row's
 * loss and argmax; callers reduce (mean over non-ignored rows, masked means) as their loss
 * defines, and pass each row's weight ∂L/∂loss_row to the backward. */
#ifndef BERT_TENSOR_CROSS_ENTROPY_H
#define BERT_TENSOR_CROSS_ENTROPY_H

#include <stdint.h>

/* loss[r] = logsumexp(logits[r]) - logits[r][labels[r]] (0 when labels[r] == ignore or out of
 * range); argmax[r] = index of the largest logit (first one on ties, as torch.argmax). */
void bert_cross_entropy_forward(int64_t rows, int64_t classes, const float *logits,
                                const int32_t *labels, int32_t ignore, float *loss, int32_t *argmax);
/* dlogits[r] = weight[r] * (softmax(logits[r]) - onehot(labels[r])); rows with the ignore label
 * get 0. dlogits may alias logits. */
void bert_cross_entropy_backward(int64_t rows, int64_t classes, const float *logits,
                                 const int32_t *labels, int32_t ignore, const float *weight,
                                 float *dlogits);

#endif
