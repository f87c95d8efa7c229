#include "serve/qa_text_backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "serve/bert_backend.h"
#include "serve/stats.h"
#include "squad/qa.h"
#include "text/vocab.h"

/* Windows run together in one forward pass: a long context is a few windows. */
enum { WINDOW_BATCH = 4 };

enum { IN_QUESTION, IN_CONTEXT };

/* What an output holds of an answer or of an n-best candidate. */
typedef enum field { FIELD_TEXT, FIELD_SCORE, FIELD_PROBABILITY, FIELD_START, FIELD_END } field;

typedef struct output_kind {
  const char *name;
  bert_serve_dtype dtype;
  field field;
  int nbest; /* 1: one element per n-best candidate (dims [N]); 0: the answer's one (dims [1]) */
} output_kind;

enum { OUT_COUNT = 9 };
static const output_kind outputs[OUT_COUNT] = {
    {"answer", BERT_SERVE_BYTES, FIELD_TEXT, 0},
    {"score", BERT_SERVE_FP32, FIELD_SCORE, 0},
    {"start", BERT_SERVE_INT32, FIELD_START, 0},
    {"end", BERT_SERVE_INT32, FIELD_END, 0},
    {"nbest_answer", BERT_SERVE_BYTES, FIELD_TEXT, 1},
    {"nbest_score", BERT_SERVE_FP32, FIELD_SCORE, 1},
    {"nbest_probability", BERT_SERVE_FP32, FIELD_PROBABILITY, 1},
    {"nbest_start", BERT_SERVE_INT32, FIELD_START, 1},
    {"nbest_end", BERT_SERVE_INT32, FIELD_END, 1},
};

typedef struct text_model {
  const bert_serve_model_config *cfg;
  bert_model model;
  int have_model;
  bert_vocab vocab;
  int have_vocab;
  bert_tokenizer *tok;
  bert_squad_feature_config features;
  bert_squad_post_config post;
  int in[2], out[OUT_COUNT];
  int nbest; /* N of the declared n-best outputs (0: none declared) */
} text_model;

typedef struct text_instance {
  const text_model *tm;
  bert_model view; /* the shared parameters with this instance's own GEMM context */
  bert_squad_runner runner;
} text_instance;

/* ---- loading ---- */

static int check_io(text_model *t, const bert_serve_model_config *cfg, bert_error *err) {
  const char *in_names[2] = {"question", "context"};
  for (int k = 0; k < 2; k++) {
    int i = t->in[k] = bert_serve_model_config_input(cfg, in_names[k]);
    if (i < 0 || cfg->inputs[i].dtype != BERT_SERVE_BYTES)
      return bert_error_set(err, BERT_EINVAL, "model '%s': the bertc-qa-text backend needs a TYPE_STRING input \"%s\"",
                            cfg->name, in_names[k]);
  }
  if (cfg->n_inputs != 2)
    return bert_error_set(err, BERT_EINVAL, "model '%s': inputs are \"question\" and \"context\" only", cfg->name);
  for (int k = 0; k < OUT_COUNT; k++) {
    int o = t->out[k] = bert_serve_model_config_output(cfg, outputs[k].name);
    if (o >= 0 && cfg->outputs[o].dtype != outputs[k].dtype)
      return bert_error_set(err, BERT_EINVAL, "model '%s': output \"%s\" must be %s", cfg->name, outputs[k].name,
                            bert_serve_dtype_config_name(outputs[k].dtype));
  }
  for (int o = 0; o < cfg->n_outputs; o++) {
    int known = 0;
    for (int k = 0; k < OUT_COUNT; k++) known |= t->out[k] == o;
    if (!known)
      return bert_error_set(err, BERT_EINVAL,
                            "model '%s': unknown output \"%s\" (answer, score, start, end, nbest_answer, nbest_score, "
                            "nbest_probability, nbest_start, nbest_end)",
                            cfg->name, cfg->outputs[o].name);
  }
  return BERT_OK;
}

/* N, the length of the n-best outputs: their dims [N], the same for all, at most the candidates
 * the post-processing keeps (a longer list would change how the answer is chosen). */
static int nbest_size(text_model *t, const bert_serve_model_config *cfg, bert_error *err) {
  for (int k = 0; k < OUT_COUNT; k++) {
    if (!outputs[k].nbest || t->out[k] < 0) continue;
    const bert_serve_io *io = &cfg->outputs[t->out[k]];
    int n = io->ndim == 1 ? (int)io->dims[0] : -1;
    if (n < 1 || n > t->post.n_best || (t->nbest && n != t->nbest))
      return bert_error_set(err, BERT_EINVAL,
                            "model '%s': output \"%s\" needs dims [ N ], N from 1 to %d and the same for every "
                            "nbest_ output",
                            cfg->name, io->name, t->post.n_best);
    t->nbest = n;
  }
  return BERT_OK;
}

static int int_param(const bert_serve_model_config *cfg, const char *key, int lo, int hi, int *out, bert_error *err) {
  const char *v = bert_serve_model_config_param(cfg, key);
  if (!v) return BERT_OK;
  char *end;
  long x = strtol(v, &end, 10);
  if (!*v || *end || x < lo || x > hi)
    return bert_error_set(err, BERT_EINVAL, "model '%s': parameter %s is \"%s\", expected an integer in [%d, %d]",
                          cfg->name, key, v, lo, hi);
  *out = (int)x;
  return BERT_OK;
}

static int parse_params(text_model *t, const bert_serve_model_config *cfg, uint64_t *seed, bert_precision *precision,
                        bert_error *err) {
  bert_squad_feature_config_default(&t->features);
  bert_squad_post_config_default(&t->post);
  int s = 0, rc = int_param(cfg, "max_seq_length", 8, 512, &t->features.max_seq_length, err);
  if (!rc) rc = int_param(cfg, "doc_stride", 0, 500, &t->features.doc_stride, err);
  if (!rc) rc = int_param(cfg, "max_answer_length", 1, 512, &t->post.max_answer_length, err);
  if (!rc) rc = int_param(cfg, "random_seed", 0, 1 << 30, &s, err);
  *seed = (uint64_t)s;
  const char *v2 = bert_serve_model_config_param(cfg, "v2"), *p = bert_serve_model_config_param(cfg, "precision");
  t->post.v2 = v2 && (!strcmp(v2, "true") || !strcmp(v2, "1"));
  *precision = BERT_FP32;
  if (!rc && p && bert_precision_parse(p, precision))
    rc = bert_error_set(err, BERT_EINVAL, "model '%s': parameter precision is \"%s\", expected \"fp32\", \"bf16\" or \"int8\"",
                        cfg->name, p);
  return rc;
}

static int open_tokenizer(text_model *t, const char *dir, bert_error *err) {
  char path[4200];
  bert_path_join(path, sizeof path, dir, "vocab.txt");
  if (!bert_path_exists(path)) bert_find_project_file("data/vocab.txt", path, sizeof path);
  int rc = bert_tokenizer_open(path, &t->vocab, &t->tok, NULL, err);
  if (rc) return bert_error_prefix(err, "model '%s': vocabulary: ", t->cfg->name);
  t->have_vocab = 1;
  if (t->vocab.size > t->model.config.vocab_size)
    return bert_error_set(err, BERT_EINVAL, "model '%s': %s holds %d tokens, the model only %d", t->cfg->name, path,
                          t->vocab.size, t->model.config.vocab_size);
  return BERT_OK;
}

static void text_unload(void *model) {
  text_model *t = model;
  if (!t) return;
  if (t->tok) bert_tokenizer_free(t->tok);
  if (t->have_vocab) bert_vocab_free(&t->vocab);
  if (t->have_model) bert_model_free(&t->model);
  free(t);
}

static int text_load(const bert_serve_model_config *cfg, const char *version_dir, void **out, bert_error *err) {
  text_model *t = calloc(1, sizeof *t);
  if (!t) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  t->cfg = cfg;
  uint64_t seed = 0;
  bert_precision precision = BERT_FP32;
  int random_init = 0;
  int rc = check_io(t, cfg, err);
  if (!rc) rc = parse_params(t, cfg, &seed, &precision, err);
  if (!rc) rc = nbest_size(t, cfg, err);
  if (!rc && !(rc = bert_serve_bert_load(&t->model, version_dir, seed, &random_init, err))) t->have_model = 1;
  if (!rc && t->features.max_seq_length > t->model.config.max_position_embeddings)
    t->features.max_seq_length = t->model.config.max_position_embeddings;
  /* before the instances' views copy the model: they share the packed weights */
  if (!rc) rc = bert_model_prepare_inference(&t->model, precision, (int64_t)t->features.max_seq_length, err);
  if (!rc) rc = open_tokenizer(t, version_dir, err);
  if (rc) {
    text_unload(t);
    return rc;
  }
  if (random_init) bert_log("%s: no weights: parameters drawn from random_seed %llu", version_dir, (unsigned long long)seed);
  *out = t;
  return BERT_OK;
}

/* ---- instances ---- */

static void text_instance_free(void *instance) {
  text_instance *in = instance;
  if (!in) return;
  if (in->runner.model) bert_squad_runner_free(&in->runner);
  bert_serve_bert_view_free(&in->view);
  free(in);
}

static int text_instance_create(void *model, void **out, bert_error *err) {
  const text_model *t = model;
  text_instance *in = calloc(1, sizeof *in);
  if (!in) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  in->tm = t;
  int rc = bert_serve_bert_view(&in->view, &t->model, err);
  if (!rc) rc = bert_squad_runner_create(&in->runner, &in->view, WINDOW_BATCH, t->features.max_seq_length, 0, err);
  if (rc) {
    text_instance_free(in);
    return rc;
  }
  *out = in;
  return BERT_OK;
}

/* ---- requests ---- */

static int text_validate(void *model, const bert_serve_request *req, bert_error *err) {
  const text_model *t = model;
  for (int k = 0; k < 2; k++) {
    const bert_serve_tensor *x = &req->inputs[t->in[k]];
    int64_t n = bert_serve_shape_elements(x->shape, x->ndim, INT64_MAX);
    if (n != req->batch)
      return bert_error_set(err, BERT_EINVAL, "input '%s': expected one string per batch row (%d), got %lld", x->name,
                            req->batch, (long long)n);
  }
  return BERT_OK;
}

/* Element j of a row of output kind `o`: the answer itself, its j-th n-best candidate, or the
 * padding past the end of a shorter list ("", score -inf, probability 0, start = end = -1). */
static bert_qa_candidate cell(const bert_qa_answer *a, const output_kind *o, int j) {
  static char empty[] = "";
  if (!o->nbest) return (bert_qa_candidate){.text = a->text, .score = a->score, .start = a->start, .end = a->end};
  if (j < a->nbest_count) return a->nbest[j];
  return (bert_qa_candidate){.text = empty, .score = -INFINITY, .start = -1, .end = -1};
}

static int fill_bytes(bert_serve_tensor *out, const output_kind *o, int ndim, const int64_t *shape, int per_row,
                      const bert_qa_answer *answers, int batch, bert_error *err) {
  size_t n = (size_t)batch * (size_t)per_row;
  const char **texts = malloc(n * sizeof *texts);
  uint32_t *lens = malloc(n * sizeof *lens);
  int rc = texts && lens ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (size_t e = 0; !rc && e < n; e++) {
    texts[e] = cell(&answers[e / per_row], o, (int)(e % per_row)).text;
    lens[e] = (uint32_t)strlen(texts[e]);
  }
  if (!rc) rc = bert_serve_tensor_set_bytes(out, o->name, ndim, shape, texts, lens, err);
  free(texts);
  free(lens);
  return rc;
}

static int fill_numbers(bert_serve_tensor *out, const output_kind *o, int ndim, const int64_t *shape, int per_row,
                        const bert_qa_answer *answers, int batch, bert_error *err) {
  int rc = bert_serve_tensor_alloc(out, o->name, o->dtype, ndim, shape, err);
  size_t n = (size_t)batch * (size_t)per_row;
  for (size_t e = 0; !rc && e < n; e++) {
    bert_qa_candidate c = cell(&answers[e / per_row], o, (int)(e % per_row));
    if (o->field == FIELD_SCORE || o->field == FIELD_PROBABILITY)
      ((float *)out->data)[e] = o->field == FIELD_SCORE ? c.score : c.probability;
    else
      ((int32_t *)out->data)[e] = (int32_t)(o->field == FIELD_START ? c.start : c.end);
  }
  return rc;
}

/* Output k of a request, shaped as the question input ([batch, 1], or [1] without batching) with
 * its last dimension N for the n-best outputs. */
static int fill_output(const text_model *t, int k, bert_serve_request *r, bert_serve_tensor *out,
                       const bert_qa_answer *answers, bert_error *err) {
  const bert_serve_tensor *q = &r->inputs[t->in[IN_QUESTION]];
  int64_t shape[BERT_SERVE_MAX_DIMS];
  memcpy(shape, q->shape, (size_t)q->ndim * sizeof *shape);
  int per_row = outputs[k].nbest ? t->nbest : 1;
  shape[q->ndim - 1] = per_row;
  if (outputs[k].dtype == BERT_SERVE_BYTES)
    return fill_bytes(out, &outputs[k], q->ndim, shape, per_row, answers, r->batch, err);
  return fill_numbers(out, &outputs[k], q->ndim, shape, per_row, answers, r->batch, err);
}

/* Answers every row of one request, then writes the outputs it asked for; the n-best list is
 * gathered only when one of its outputs is asked for. */
static int answer_request(text_instance *in, bert_serve_request *r, bert_error *err) {
  const text_model *t = in->tm;
  bert_serve_tensor *outs[OUT_COUNT];
  int nbest = 0;
  for (int k = 0; k < OUT_COUNT; k++) {
    outs[k] = t->out[k] >= 0 ? bert_serve_request_output(r, t->out[k]) : NULL;
    if (outs[k] && outputs[k].nbest) nbest = t->nbest;
  }
  bert_qa_answer *answers = calloc((size_t)r->batch, sizeof *answers);
  if (!answers) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  int rc = BERT_OK;
  for (int i = 0; !rc && i < r->batch; i++) {
    uint32_t ql, cl;
    const char *q = bert_serve_bytes_element(r->inputs[t->in[IN_QUESTION]].data, i, &ql);
    const char *c = bert_serve_bytes_element(r->inputs[t->in[IN_CONTEXT]].data, i, &cl);
    rc = bert_qa_answer_question(&in->runner, t->tok, &t->features, &t->post, nbest, q, ql, c, cl, &answers[i], err);
  }
  for (int k = 0; !rc && k < OUT_COUNT; k++)
    if (outs[k]) rc = fill_output(t, k, r, outs[k], answers, err);
  for (int i = 0; i < r->batch; i++) bert_qa_answer_free(&answers[i]);
  free(answers);
  return rc;
}

static int text_execute(void *instance, bert_serve_request **reqs, int n, bert_serve_exec_info *info, bert_error *err) {
  uint64_t t0 = bert_serve_now_ns();
  int rc = BERT_OK;
  for (int r = 0; !rc && r < n; r++) rc = answer_request(instance, reqs[r], err);
  info->compute_input_ns = info->compute_output_ns = 0;
  info->compute_infer_ns = bert_serve_now_ns() - t0;
  info->tokens_real = info->tokens_computed = 0;
  return rc;
}

const bert_serve_backend bert_serve_qa_text_backend = {
    .name = "bertc-qa-text",
    .load = text_load,
    .unload = text_unload,
    .instance_create = text_instance_create,
    .instance_free = text_instance_free,
    .validate = text_validate,
    .execute = text_execute,
};
