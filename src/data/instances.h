/* data/instances: pretraining instances (sentence pair + masks) from tokenized documents, with the
 * algorithm of Google's create_pretraining_data.py as adapted by Graphcore (section 5.4 of the
 * reference): chunks of sentences up to a target length (a short target with probability
 * short_seq_prob), segment A = the first a_end sentences, B = the rest (actual next) or, with
 * probability 0.5 or when the chunk has one sentence, text from another document (random next;
 * the unused sentences are put back), pair truncation from the front or back of the longer side,
 * [CLS] A [SEP] B [SEP], then 80/10/10 masking of
 *   n = max(min(M, max(1, round(len * mlm_prob))), len - L + M)
 * positions (whole words when asked), sorted. Random draws come from a counter-based stream per
 * (round, document), so the result does not depend on which thread runs which document. */
#ifndef BERT_DATA_INSTANCES_H
#define BERT_DATA_INSTANCES_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rng_stream.h"
#include "data/corpus.h"
#include "text/vocab.h"

typedef struct bert_instance_options {
  int sequence_length;   /* L */
  int mask_tokens;       /* M, the most masked positions per instance */
  double mlm_prob;
  double short_seq_prob;
  int whole_word_masking;
  int32_t cls_id, sep_id, mask_id;
  int32_t vocab_size;            /* random replacements are drawn from [0, vocab_size) */
  const uint8_t *continuation;   /* [vocab_size]: 1 for "##" pieces (whole-word masking) */
} bert_instance_options;

/* Fills ids and the word-piece table from a vocabulary; fails if [CLS], [SEP] or [MASK] is
 * missing or the sizes are unusable (L < 5, M < 1 or M > L). *continuation is malloc'ed. */
int bert_instance_options_init(bert_instance_options *o, const bert_vocab *vocab, int sequence_length,
                               int mask_tokens, double mlm_prob, double short_seq_prob, int whole_word_masking,
                               uint8_t **continuation, bert_error *err);

typedef struct bert_instance {
  int n_tokens;        /* [CLS] A [SEP] B [SEP], at most L */
  int len_a;           /* tokens of A: segment 0 covers positions 0 .. len_a + 1 */
  int n_masked;        /* at most M */
  int is_random_next;
  int32_t *tokens;     /* [L], after masking */
  int32_t *positions;  /* [M], ascending */
  int32_t *labels;     /* [M], original ids */
} bert_instance;

typedef int (*bert_instance_sink)(const bert_instance *inst, void *ctx);

/* Creates the instances of document `doc` of `order` (a permutation of the corpus's documents;
 * random-next text comes from any document of it). Each instance is handed to `sink` (its arrays
 * are reused afterwards); a non-zero return from sink stops and is returned. */
int bert_instances_from_document(const bert_corpus *c, const size_t *order, size_t n_docs, size_t doc,
                                 const bert_instance_options *o, bert_rng_stream *rng, bert_instance_sink sink,
                                 void *ctx);

/* Upper bound of an encoded, framed instance (bytes). */
size_t bert_instance_record_bound(const bert_instance_options *o);
/* Writes the instance as a framed TFRecord of a tf.train.Example in the reference's unpacked
 * format (input_ids, input_mask, segment_ids [L]; masked_lm_positions, masked_lm_ids [M];
 * masked_lm_weights float [M]; next_sentence_labels [1]); masked_lm_ids are padded with
 * ignore_index. Returns the framed size, 0 if cap is too small. */
size_t bert_instance_encode(const bert_instance *inst, const bert_instance_options *o, int64_t ignore_index,
                            uint8_t *out, size_t cap);

#endif
