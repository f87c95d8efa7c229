/* squad/qa: answering one question about one context with a QA model — the features, the model
 * run and the post-processing of `bert squad`, for `bert qa` and the server's text model. Offsets
 * shown to users are Unicode code points into the context, end exclusive (SQuAD's answer_start
 * units). */
#ifndef BERT_SQUAD_QA_H
#define BERT_SQUAD_QA_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "squad/postprocess.h"
#include "squad/runner.h"
#include "text/tokenizer.h"

/* One entry of the n-best list (squad/postprocess.h): SQuAD 2.0's null answer is "" at 0, 0. */
typedef struct bert_qa_candidate {
  char *text;          /* malloc'ed, NUL-terminated */
  float score;         /* start logit + end logit */
  float probability;   /* softmax over the whole n-best list (post->n_best long), as nbest_predictions.json */
  int64_t start, end;  /* code points into the context, end exclusive */
} bert_qa_candidate;

typedef struct bert_qa_answer {
  char *text;         /* malloc'ed, NUL-terminated; "" when there is no answer */
  float score;        /* start logit + end logit of the answer (0 when none) */
  int64_t start, end; /* code points into the context, end exclusive (0, 0 when none) */
  int answered;
  float null_score;   /* the largest [CLS] start + end logit over the windows */
  int nbest_count;    /* the first min(asked, list length) candidates, best first (0 when not asked) */
  bert_qa_candidate *nbest;
} bert_qa_answer;

void bert_qa_answer_free(bert_qa_answer *a);

/* Answers with the runner's model (its batch size bounds the windows run at once). `post->v2`
 * allows the empty answer when the null score wins. `nbest` > 0 also fills out->nbest with the
 * first `nbest` candidates of the n-best list (at most post->n_best: the list the answer was
 * chosen from, so asking for it never changes the answer). */
int bert_qa_answer_question(bert_squad_runner *runner, const bert_tokenizer *tok,
                            const bert_squad_feature_config *features, const bert_squad_post_config *post, int nbest,
                            const char *question, size_t question_len, const char *context, size_t context_len,
                            bert_qa_answer *out, bert_error *err);

/* A QA model folder opened for answering: the model (QA head), its vocabulary and casing (the
 * folder's vocab.txt and tokenizer_config.json, else `fallback_vocab`) and one runner. */
typedef struct bert_qa_engine {
  bert_model model;
  bert_vocab vocab;
  bert_tokenizer *tok;
  bert_squad_runner runner;
  bert_squad_feature_config features;
  bert_squad_post_config post;
  int nbest; /* candidates of the n-best list each answer carries (0: none) */
  int have_model, have_vocab;
} bert_qa_engine;

/* `features` NULL: 384-token windows sharing 128 (capped at the model's positions). */
int bert_qa_engine_open(bert_qa_engine *e, const char *model_dir, const char *fallback_vocab,
                        const bert_squad_feature_config *features, int batch, bert_precision precision,
                        bert_error *err);
void bert_qa_engine_close(bert_qa_engine *e);
int bert_qa_engine_answer(bert_qa_engine *e, const char *question, const char *context, bert_qa_answer *out,
                          bert_error *err);

#endif
