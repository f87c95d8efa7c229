/* tensor/embedding: table lookups (rows of a [vocab, dim] table by id) and their scatter-add
 * backward, plus row gathers by position (the MLM head's masked positions). */
#ifndef BERT_TENSOR_EMBEDDING_H
#define BERT_TENSOR_EMBEDDING_H

#include <stdint.h>

/* out[r] (+)= table[ids[r]] */
void bert_embedding_forward(int64_t rows, int64_t dim, const int32_t *ids, const float *table,
                            float *out, int accumulate);
/* dtable[ids[r]] += dout[r] */
void bert_embedding_backward(int64_t rows, int64_t dim, const int32_t *ids, const float *dout,
                             float *dtable);

#endif
