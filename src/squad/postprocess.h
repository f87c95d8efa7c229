/* squad/postprocess: start/end logits of an example's features turned into its answer, as the
 * reference's post-processing (6.4, the HuggingFace notebook): per feature the n_best (20) highest
 * start and end positions; pairs that are not both context tokens, end before start or span more
 * than max_answer_length (30) tokens are discarded; score = start logit + end logit; the answer is
 * the context between the start token's first byte and the end token's last. SQuAD v2.0: the null
 * score of a feature is the [CLS] start + end logit, the example's is the LARGEST over its features
 * (as the reference's code does, despite its `min_null_score` name), and the answer is empty unless
 * the best score beats it.
 *
 * Only positions that hold tokens take part in the top-n choice: bertc may run a batch trimmed to
 * its longest feature, and padding positions can never be answers (the reference, which runs 384
 * positions, can lose context candidates to padding logits there).
 *
 * The n-best list is HuggingFace's utils_qa form: the best n_best candidates over all features
 * (v2.0: plus the null answer), best first, with softmax probabilities over the list. */
#ifndef BERT_SQUAD_POSTPROCESS_H
#define BERT_SQUAD_POSTPROCESS_H

#include <stdint.h>

#include "base/strbuf.h"
#include "squad/features.h"

#define BERT_SQUAD_MAX_NBEST 64

typedef struct bert_squad_post_config {
  int n_best;            /* 20, at most BERT_SQUAD_MAX_NBEST */
  int max_answer_length; /* 30 tokens */
  int v2;                /* null answers allowed */
} bert_squad_post_config;

void bert_squad_post_config_default(bert_squad_post_config *c);

typedef struct bert_squad_candidate {
  uint32_t byte_start, byte_end; /* in the context; equal for the null answer */
  float start_logit, end_logit;
  double probability;
  int null;                      /* v2.0's empty answer */
} bert_squad_candidate;

typedef struct bert_squad_prediction {
  bert_squad_candidate best; /* the answer: an empty span when none was found or the null won */
  float score;               /* best's start + end logit (0 when no candidate) */
  int answered;              /* 0: the answer is empty */
  float null_score;          /* v2.0: the largest [CLS] score over the features */
  int nbest_count;
  bert_squad_candidate nbest[BERT_SQUAD_MAX_NBEST];
} bert_squad_prediction;

/* The prediction of example `e` from logits[feature][position] rows of `stride` floats, row i
 * holding feature example_first[e] + i; only each feature's first length(feature) positions are
 * read. */
void bert_squad_postprocess_example(const bert_squad_features *f, int64_t e, const float *start_logits,
                                    const float *end_logits, int64_t stride, const bert_squad_post_config *cfg,
                                    bert_squad_prediction *out);

/* predictions.json ({"id": "answer", ...}) and nbest_predictions.json ({"id": [{"text",
 * "probability", "start_logit", "end_logit"}, ...], ...}) for every example of the dataset, from
 * logits rows for all features (feature i at row i). Files are written atomically. */
int bert_squad_write_predictions(const bert_squad_features *f, const float *start_logits, const float *end_logits,
                                 int64_t stride, const bert_squad_post_config *cfg, const char *predictions_path,
                                 const char *nbest_path, bert_error *err);

#endif
