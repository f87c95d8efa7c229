#include "tensor/softmax.h"

#include "tensor/vmath.h"

/* One query row: scale, mask, exponentiate, normalise — in place. */
static void softmax_row(float *s, int64_t len, float scale, const int32_t *key_mask, const int32_t *seq,
                        int32_t query_seq) {
  float max = -3.0e38f;
  if (seq) {
#pragma omp simd reduction(max : max)
    for (int64_t j = 0; j < len; j++) {
      float v = s[j] * scale + (seq[j] == query_seq ? 0.0f : BERT_MASK_VALUE);
      s[j] = v;
      max = v > max ? v : max;
    }
  } else if (key_mask) {
#pragma omp simd reduction(max : max)
    for (int64_t j = 0; j < len; j++) {
      float v = s[j] * scale + (key_mask[j] ? 0.0f : BERT_MASK_VALUE);
      s[j] = v;
      max = v > max ? v : max;
    }
  } else {
#pragma omp simd reduction(max : max)
    for (int64_t j = 0; j < len; j++) {
      float v = s[j] * scale;
      s[j] = v;
      max = v > max ? v : max;
    }
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < len; j++) {
    float e = bert_vexp(s[j] - max);
    s[j] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t j = 0; j < len; j++) s[j] *= inv;
}

void bert_attention_softmax_forward(int64_t batch, int64_t heads, int64_t len, float scale,
                                    const bert_attention_mask *mask, float *scores) {
  int64_t rows = batch * heads * len;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    int64_t b = r / (heads * len), i = r % len;
    const int32_t *seq = mask->seq_index ? mask->seq_index + b * len : NULL;
    const int32_t *keys = mask->key_mask ? mask->key_mask + b * len : NULL;
    softmax_row(scores + r * len, len, scale, keys, seq, seq ? seq[i] : 0);
  }
}

void bert_attention_softmax_backward(int64_t batch, int64_t heads, int64_t len, float scale,
                                     const float *probs, float *grad) {
  int64_t rows = batch * heads * len;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float *p = probs + r * len;
    float *g = grad + r * len;
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < len; j++) dot += p[j] * g[j];
#pragma omp simd
    for (int64_t j = 0; j < len; j++) g[j] = p[j] * (g[j] - dot) * scale;
  }
}
