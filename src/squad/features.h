/* squad/features: SQuAD examples turned into model inputs as HuggingFace's run_qa.py does it
 * (reference 6.2): [CLS] question [SEP] context-window [SEP], padded to max_seq_length (384).
 * A context longer than the room left by the question is split into windows; `doc_stride` (128)
 * tokens are shared by consecutive windows, as the fast tokenizer's `stride` with
 * return_overflowing_tokens (not Google's doc_stride, which is the step). The question is never
 * truncated, except when it is so long that a window could not advance (HuggingFace raises an
 * error there): it is then cut to max_seq_length - doc_stride - 4 tokens, with a warning.
 *
 * Tokens are stored once per question and once per context (a context serves all its questions),
 * with each context token's byte span in the context; a feature is a window over them, so the
 * full [N, 384] input arrays only exist batch by batch (bert_squad_features_fill).
 *
 * Training labels are the sequence positions of the first answer's first and last tokens; [CLS]
 * (0) when the answer is not entirely inside the window or the question is impossible (v2.0).
 * HuggingFace's scan has an edge case: when the answer starts at the window's last context token
 * its start label runs past the [SEP] into the padding; here it stays on that token. Answers that
 * lie outside their context (a broken file) give no training feature. */
#ifndef BERT_SQUAD_FEATURES_H
#define BERT_SQUAD_FEATURES_H

#include <stdint.h>

#include "base/error.h"
#include "squad/dataset.h"
#include "text/tokenizer.h"

typedef struct bert_squad_feature_config {
  int max_seq_length; /* 384 */
  int doc_stride;     /* 128 */
} bert_squad_feature_config;

void bert_squad_feature_config_default(bert_squad_feature_config *c);

typedef struct bert_squad_feature {
  int32_t example;         /* index into the dataset's examples */
  int32_t question_tokens; /* Q, after any truncation: the context starts at position Q + 2 */
  int32_t context_first;   /* the window's first token among its context's tokens */
  int32_t context_count;   /* context tokens in the window */
  int32_t start_position, end_position; /* training labels; -1: no usable answer (no training) */
} bert_squad_feature;

typedef struct bert_squad_features {
  const bert_squad_dataset *ds;
  int seq_len;
  bert_squad_feature *items;
  int64_t count;
  int64_t *example_first;   /* [examples + 1]: example e's features are [first[e], first[e + 1]) */
  int32_t *question_ids;
  int64_t *question_first;  /* [examples + 1] into question_ids */
  int32_t *context_ids;
  uint32_t *context_spans;  /* 2 per context token: byte start, byte end in the context */
  int64_t *context_first;   /* [contexts + 1] into context_ids */
  int32_t cls_id, sep_id;
  int64_t truncated_questions;
} bert_squad_features;

/* Tokenizes every question and context of `ds` (which must outlive `f`) and cuts the windows.
 * Fails on a vocabulary without [CLS]/[SEP], a max_seq_length outside [8, 512] or a stride that
 * leaves no room to advance, and on allocation failure. */
int bert_squad_features_build(bert_squad_features *f, const bert_squad_dataset *ds, const bert_tokenizer *tok,
                              const bert_squad_feature_config *cfg, bert_error *err);
void bert_squad_features_free(bert_squad_features *f);

/* Tokens of feature i before padding: Q + window + 3. */
int bert_squad_feature_length(const bert_squad_features *f, int64_t i);

/* Fills rows [n, len] of input ids, token types, attention mask (any may be NULL) and, when not
 * NULL, start/end labels [n] for the features index[0..n-1]. A negative index is a padding row
 * (the reference's padded last batch): zeros, labels = len, which the QA loss ignores. A label
 * of -1 (no usable answer) is written as len too. `len` must cover every feature's length. */
void bert_squad_features_fill(const bert_squad_features *f, const int64_t *index, int n, int len, int32_t *ids,
                              int32_t *types, int32_t *mask, int32_t *start_labels, int32_t *end_labels);

/* Byte span in the context of the token at sequence position `pos` of feature i; 0 when that
 * position is not a context token (question, special token or padding). */
int bert_squad_feature_span(const bert_squad_features *f, int64_t i, int pos, uint32_t *start, uint32_t *end);

#endif
