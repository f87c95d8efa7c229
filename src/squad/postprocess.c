#include "squad/postprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/file.h"

void bert_squad_post_config_default(bert_squad_post_config *c) {
  c->n_best = 20;
  c->max_answer_length = 30;
  c->v2 = 0;
}

/* Positions of the k largest values of x[0, n), largest first (ties: lower position first, as a
 * stable descending sort). Returns how many (min(k, n)). */
static int top_positions(const float *x, int n, int k, int *out) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m == k && !(x[i] > x[out[m - 1]])) continue;
    int j = m < k ? m++ : m - 1;
    while (j > 0 && x[i] > x[out[j - 1]]) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = i;
  }
  return m;
}

static float score_of(const bert_squad_candidate *c) { return c->start_logit + c->end_logit; }

/* Keeps list[0, *count) the n best candidates, best first; a candidate scoring the same as one
 * already there goes after it (the reference's stable sort over insertion order). */
static void keep_best(bert_squad_candidate *list, int *count, int n, const bert_squad_candidate *c) {
  float s = score_of(c);
  if (*count == n && !(s > score_of(&list[n - 1]))) return;
  int j = *count < n ? (*count)++ : n - 1;
  while (j > 0 && s > score_of(&list[j - 1])) {
    list[j] = list[j - 1];
    j--;
  }
  list[j] = *c;
}

static void feature_candidates(const bert_squad_features *f, int64_t i, const float *start, const float *end,
                               const bert_squad_post_config *cfg, bert_squad_prediction *out) {
  int len = bert_squad_feature_length(f, i), starts[BERT_SQUAD_MAX_NBEST], ends[BERT_SQUAD_MAX_NBEST];
  int ns = top_positions(start, len, cfg->n_best, starts), ne = top_positions(end, len, cfg->n_best, ends);
  for (int a = 0; a < ns; a++) {
    uint32_t s0, s1, e0, e1;
    if (!bert_squad_feature_span(f, i, starts[a], &s0, &s1)) continue;
    for (int b = 0; b < ne; b++) {
      if (ends[b] < starts[a] || ends[b] - starts[a] + 1 > cfg->max_answer_length) continue;
      if (!bert_squad_feature_span(f, i, ends[b], &e0, &e1)) continue;
      bert_squad_candidate c = {.byte_start = s0, .byte_end = e1, .start_logit = start[starts[a]],
                                .end_logit = end[ends[b]]};
      keep_best(out->nbest, &out->nbest_count, cfg->n_best, &c);
    }
  }
}

static void probabilities(bert_squad_prediction *p) {
  if (!p->nbest_count) return;
  double top = score_of(&p->nbest[0]), sum = 0;
  for (int k = 0; k < p->nbest_count; k++) sum += (p->nbest[k].probability = exp(score_of(&p->nbest[k]) - top));
  for (int k = 0; k < p->nbest_count; k++) p->nbest[k].probability /= sum;
}

void bert_squad_postprocess_example(const bert_squad_features *f, int64_t e, const float *start_logits,
                                    const float *end_logits, int64_t stride, const bert_squad_post_config *cfg,
                                    bert_squad_prediction *out) {
  memset(out, 0, sizeof *out);
  bert_squad_candidate null = {.null = 1};
  int have_null = 0;
  for (int64_t i = f->example_first[e]; i < f->example_first[e + 1]; i++) {
    const float *s = start_logits + (i - f->example_first[e]) * stride, *t = end_logits + (i - f->example_first[e]) * stride;
    if (!have_null || s[0] + t[0] > score_of(&null)) {
      null.start_logit = s[0], null.end_logit = t[0];
      have_null = 1;
    }
    feature_candidates(f, i, s, t, cfg, out);
  }
  out->null_score = score_of(&null);
  out->answered = out->nbest_count > 0;
  if (out->answered) out->best = out->nbest[0], out->score = score_of(&out->best);
  if (cfg->v2) {
    if (out->score <= out->null_score) out->answered = 0; /* the reference: best wins only if it beats the null */
    keep_best(out->nbest, &out->nbest_count, cfg->n_best, &null);
  }
  if (!out->answered) {
    memset(&out->best, 0, sizeof out->best);
    out->best.null = cfg->v2;
  }
  probabilities(out);
}

/* ---- files ----------------------------------------------------------------------------------- */

static cJSON *span_string(const bert_squad_context *c, uint32_t a, uint32_t b, char **buf, size_t *cap) {
  size_t n = b > a ? b - a : 0;
  if (n + 1 > *cap) {
    char *p = realloc(*buf, n + 1);
    if (!p) return NULL;
    *buf = p, *cap = n + 1;
  }
  memcpy(*buf, c->text + a, n);
  (*buf)[n] = '\0';
  return cJSON_CreateString(*buf);
}

static cJSON *nbest_json(const bert_squad_prediction *p, const bert_squad_context *c, char **buf, size_t *cap) {
  cJSON *list = cJSON_CreateArray();
  for (int k = 0; list && k < p->nbest_count; k++) {
    const bert_squad_candidate *n = &p->nbest[k];
    cJSON *o = cJSON_CreateObject(), *text = span_string(c, n->byte_start, n->byte_end, buf, cap);
    if (!o || !text) {
      cJSON_Delete(o), cJSON_Delete(text), cJSON_Delete(list);
      return NULL;
    }
    cJSON_AddItemToObject(o, "text", text);
    cJSON_AddNumberToObject(o, "probability", n->probability);
    cJSON_AddNumberToObject(o, "start_logit", n->start_logit);
    cJSON_AddNumberToObject(o, "end_logit", n->end_logit);
    cJSON_AddItemToArray(list, o);
  }
  return list;
}

static int write_json(const char *path, cJSON *root, bert_error *err) {
  char *text = cJSON_Print(root);
  if (!text) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  size_t n = strlen(text);
  text[n] = '\n'; /* replaces the terminator: the file ends with a newline */
  int rc = bert_file_write_atomic(path, text, n + 1, err);
  free(text);
  return rc;
}

int bert_squad_write_predictions(const bert_squad_features *f, const float *start_logits, const float *end_logits,
                                 int64_t stride, const bert_squad_post_config *cfg, const char *predictions_path,
                                 const char *nbest_path, bert_error *err) {
  const bert_squad_dataset *ds = f->ds;
  cJSON *preds = cJSON_CreateObject(), *nbest = cJSON_CreateObject();
  bert_squad_prediction *p = malloc(sizeof *p);
  char *buf = NULL;
  size_t cap = 0;
  int rc = preds && nbest && p ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int64_t e = 0; !rc && e < ds->count; e++) {
    const int64_t row = f->example_first[e] * stride;
    bert_squad_postprocess_example(f, e, start_logits + row, end_logits + row, stride, cfg, p);
    const bert_squad_context *c = &ds->contexts[ds->examples[e].context];
    cJSON *text = span_string(c, p->best.byte_start, p->best.byte_end, &buf, &cap), *list = nbest_json(p, c, &buf, &cap);
    if (!text || !list) {
      cJSON_Delete(text), cJSON_Delete(list);
      rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
      break;
    }
    cJSON_AddItemToObject(preds, ds->examples[e].id, text);
    cJSON_AddItemToObject(nbest, ds->examples[e].id, list);
  }
  if (!rc) rc = write_json(predictions_path, preds, err);
  if (!rc && nbest_path) rc = write_json(nbest_path, nbest, err);
  cJSON_Delete(preds);
  cJSON_Delete(nbest);
  free(p);
  free(buf);
  return rc;
}
