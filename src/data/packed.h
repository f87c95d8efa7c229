/* data/packed: one pretraining sequence in the unpacked format (reference 5.1) and one pack in
 * the packed format (reference 5.2), generalised to S sequences per pack:
 *   packed_input_ids      [L]        non-[CLS] tokens of sequences 1..n from position 0, zeros,
 *                                    then the [CLS] tokens at the end (sequence k's at L-k)
 *   packed_input_mask     [L]        sequence index k per token (its [CLS] included), 0 padding
 *   packed_segment_ids    [L]        each sequence's segment ids ([CLS] keeps its own)
 *   packed_position_ids   [L]        1..len-1 for the non-[CLS] tokens, 0 for [CLS] and padding
 *   packed_masked_lm_positions/ids [M+S-1]   absolute positions (original - 1 + offset), labels
 *   packed_masked_lm_mask [M+S-1]    float: sequence index per masked slot, 0 padding
 *   packed_next_sentence_labels [S]  slot S-k = sequence k, 0 padding
 *   packed_next_sentence_mask   [S]  float: 1 where sequence k is present
 * M+S-1 masked slots because per-sequence rounding of the 15 % can exceed M in total; a pack
 * whose masks still do not fit is rejected (the reference drops it: "~1 in 10M"). */
#ifndef BERT_DATA_PACKED_H
#define BERT_DATA_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct bert_unpacked {
  int len;        /* real tokens: the leading 1s of input_mask, [CLS] and [SEP]s included */
  int masked;     /* real masked slots: the leading non-zero masked_lm_positions */
  int64_t nsp;    /* next_sentence_labels[0] */
  int64_t *ids, *seg;   /* [L] input_ids, segment_ids */
  int64_t *mpos, *mids; /* [M] masked_lm_positions, masked_lm_ids */
  int64_t *mask;        /* [L] input_mask (scratch) */
} bert_unpacked;

int bert_unpacked_init(bert_unpacked *u, int L, int M, bert_error *err);
void bert_unpacked_free(bert_unpacked *u);
/* Decodes and checks a tf.train.Example payload: features input_ids, input_mask, segment_ids [L],
 * masked_lm_positions, masked_lm_ids [M], next_sentence_labels [1]; input_mask must be 1s then
 * 0s with at least one 1; the masked positions must be non-zero ones first, then zeros, and lie
 * inside the sequence. Messages name the feature (the caller adds file and record). */
int bert_unpacked_decode(bert_unpacked *u, int L, int M, const uint8_t *data, size_t size, bert_error *err);

#define BERT_PACKED_FEATURES 9
extern const char *const bert_packed_feature_names[BERT_PACKED_FEATURES];

typedef struct bert_packed {
  int L, M, S, slots; /* slots = M + S - 1 */
  int sequences;      /* added so far */
  int seq_offset, mlm_offset;
  int64_t *input_ids, *input_mask, *segment_ids, *position_ids; /* [L] */
  int64_t *mlm_positions, *mlm_ids;                              /* [slots] */
  float *mlm_mask;                                               /* [slots] */
  int64_t *nsp_labels;                                           /* [S] */
  float *nsp_mask;                                               /* [S] */
} bert_packed;

int bert_packed_init(bert_packed *p, int L, int M, int S, bert_error *err);
void bert_packed_free(bert_packed *p);
/* Empties the pack (all zeros). */
void bert_packed_reset(bert_packed *p);
/* Appends a sequence. Returns 0, or 1 when it does not fit (tokens beyond L, more than S
 * sequences, or masked slots beyond M+S-1): the pack is then to be discarded. */
int bert_packed_add(bert_packed *p, const bert_unpacked *u);
/* Serialised tf.train.Example size bound, and the encoding (features in the reference's order). */
size_t bert_packed_max_size(const bert_packed *p);
int bert_packed_encode(const bert_packed *p, uint8_t *out, size_t cap, size_t *written, bert_error *err);

#endif
