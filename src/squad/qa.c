#include "squad/qa.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "model/checkpoint.h"
#include "text/unicode.h"
#include "text/vocab.h"

void bert_qa_answer_free(bert_qa_answer *a) {
  for (int k = 0; k < a->nbest_count; k++) free(a->nbest[k].text);
  free(a->nbest);
  free(a->text);
  memset(a, 0, sizeof *a);
}

/* Context bytes [a, b) as a malloc'ed string and as code-point offsets. */
static int span(const char *context, size_t a, size_t b, char **text, int64_t *start, int64_t *end, bert_error *err) {
  if (!(*text = malloc(b - a + 1))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  memcpy(*text, context + a, b - a);
  (*text)[b - a] = '\0';
  *start = bert_utf8_code_points(context, a);
  *end = *start + bert_utf8_code_points(context + a, b - a);
  return BERT_OK;
}

static int fill_nbest(const bert_squad_prediction *p, const char *context, int nbest, bert_qa_answer *out,
                      bert_error *err) {
  int n = nbest < p->nbest_count ? nbest : p->nbest_count;
  if (n <= 0) return BERT_OK;
  if (!(out->nbest = calloc((size_t)n, sizeof *out->nbest))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  out->nbest_count = n; /* texts are NULL until set: freeing is safe at any point */
  for (int k = 0; k < n; k++) {
    const bert_squad_candidate *c = &p->nbest[k];
    bert_qa_candidate *q = &out->nbest[k];
    q->score = c->start_logit + c->end_logit;
    q->probability = (float)c->probability;
    int rc = span(context, c->byte_start, c->byte_end, &q->text, &q->start, &q->end, err);
    if (rc) return rc;
  }
  return BERT_OK;
}

static int fill_answer(const bert_squad_prediction *p, const char *context, int nbest, bert_qa_answer *out,
                       bert_error *err) {
  size_t a = p->answered ? p->best.byte_start : 0, b = p->answered ? p->best.byte_end : 0;
  int rc = span(context, a, b, &out->text, &out->start, &out->end, err);
  out->answered = p->answered;
  out->score = p->answered ? p->score : 0.0f;
  out->null_score = p->null_score;
  return rc ? rc : fill_nbest(p, context, nbest, out, err);
}

int bert_qa_answer_question(bert_squad_runner *runner, const bert_tokenizer *tok,
                            const bert_squad_feature_config *features, const bert_squad_post_config *post, int nbest,
                            const char *question, size_t question_len, const char *context, size_t context_len,
                            bert_qa_answer *out, bert_error *err) {
  memset(out, 0, sizeof *out);
  bert_squad_example ex = {.id = "", .question = question, .question_len = question_len};
  bert_squad_context ctx = {context, context_len};
  bert_squad_dataset ds = {.examples = &ex, .count = 1, .contexts = &ctx, .context_count = 1};
  bert_squad_features f;
  int r = bert_squad_features_build(&f, &ds, tok, features, err);
  if (r) return r;
  if (f.seq_len > runner->seq_len) {
    bert_squad_features_free(&f);
    return bert_error_set(err, BERT_EINVAL, "features of %d tokens exceed the runner's %d", f.seq_len, runner->seq_len);
  }
  size_t cells = (size_t)f.count * (size_t)f.seq_len;
  float *start = calloc(cells, sizeof *start), *end = calloc(cells, sizeof *end);
  bert_squad_prediction *p = malloc(sizeof *p);
  r = start && end && p ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
  if (!r) r = bert_squad_runner_logits(runner, &f, 0, f.count, start, end, f.seq_len, err);
  if (!r) {
    bert_squad_postprocess_example(&f, 0, start, end, f.seq_len, post, p);
    r = fill_answer(p, context, nbest, out, err);
  }
  free(start);
  free(end);
  free(p);
  bert_squad_features_free(&f);
  return r;
}

static int open_vocab(bert_qa_engine *e, const char *model_dir, const char *fallback_vocab, bert_error *err) {
  char path[4096];
  bert_path_join(path, sizeof path, model_dir, "vocab.txt");
  if (!bert_path_exists(path)) bert_find_project_file(fallback_vocab, path, sizeof path);
  int r = bert_tokenizer_open(path, &e->vocab, &e->tok, NULL, err);
  if (r) return bert_error_prefix(err, "vocabulary: ");
  e->have_vocab = 1;
  if (e->vocab.size > e->model.config.vocab_size)
    return bert_error_set(err, BERT_EINVAL, "%s holds %d tokens but the model's vocabulary size is %d", path,
                          e->vocab.size, e->model.config.vocab_size);
  return BERT_OK;
}

int bert_qa_engine_open(bert_qa_engine *e, const char *model_dir, const char *fallback_vocab,
                        const bert_squad_feature_config *features, int batch, bert_precision precision,
                        bert_error *err) {
  memset(e, 0, sizeof *e);
  if (features) e->features = *features;
  else bert_squad_feature_config_default(&e->features);
  bert_squad_post_config_default(&e->post);
  bert_load_report report;
  int r = bert_checkpoint_load(&e->model, model_dir, BERT_PART_QA, 0, 0, &report, err);
  if (r) return r;
  e->have_model = 1;
  if (report.parts_initialised & BERT_PART_QA)
    bert_warn("%s has no QA head (qa_outputs): its answers come from random weights", model_dir);
  bert_load_report_free(&report);
  if (e->features.max_seq_length > e->model.config.max_position_embeddings)
    e->features.max_seq_length = e->model.config.max_position_embeddings;
  if (!r) r = bert_model_prepare_inference(&e->model, precision, (int64_t)batch * e->features.max_seq_length, err);
  if (!r) r = open_vocab(e, model_dir, fallback_vocab, err);
  if (!r) r = bert_squad_runner_create(&e->runner, &e->model, batch, e->features.max_seq_length, 0, err);
  if (r) bert_qa_engine_close(e);
  return r;
}

void bert_qa_engine_close(bert_qa_engine *e) {
  if (e->runner.model) bert_squad_runner_free(&e->runner);
  if (e->tok) bert_tokenizer_free(e->tok);
  if (e->have_vocab) bert_vocab_free(&e->vocab);
  if (e->have_model) bert_model_free(&e->model);
  memset(e, 0, sizeof *e);
}

int bert_qa_engine_answer(bert_qa_engine *e, const char *question, const char *context, bert_qa_answer *out,
                          bert_error *err) {
  return bert_qa_answer_question(&e->runner, e->tok, &e->features, &e->post, e->nbest, question, strlen(question),
                                 context, strlen(context), out, err);
}
