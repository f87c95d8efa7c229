#include "tensor/embedding.h"

#include <string.h>

void bert_embedding_forward(int64_t rows, int64_t dim, const int32_t *ids, const float *table,
                            float *out, int accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float *src = table + (int64_t)ids[r] * dim;
    float *dst = out + r * dim;
    if (accumulate)
      for (int64_t j = 0; j < dim; j++) dst[j] += src[j];
    else
      memcpy(dst, src, (size_t)dim * sizeof *dst);
  }
}

/* Threads own column blocks, so repeated ids never race. */
void bert_embedding_backward(int64_t rows, int64_t dim, const int32_t *ids, const float *dout,
                             float *dtable) {
#pragma omp parallel for schedule(static)
  for (int64_t j0 = 0; j0 < dim; j0 += 16) {
    int64_t j1 = j0 + 16 < dim ? j0 + 16 : dim;
    for (int64_t r = 0; r < rows; r++) {
      float *dst = dtable + (int64_t)ids[r] * dim;
      const float *src = dout + r * dim;
      for (int64_t j = j0; j < j1; j++) dst[j] += src[j];
    }
  }
}
