#include "squad/runner.h"

#include <stdlib.h>
#include <string.h>

enum { LENGTH_QUANTUM = 64 };

int bert_squad_runner_create(bert_squad_runner *r, bert_model *m, int max_batch, int seq_len, int training,
                             bert_error *err) {
  memset(r, 0, sizeof *r);
  r->model = m, r->max_batch = max_batch, r->seq_len = seq_len;
  size_t cells = (size_t)max_batch * (size_t)seq_len;
  r->ids = malloc(cells * sizeof *r->ids);
  r->types = malloc(cells * sizeof *r->types);
  r->mask = malloc(cells * sizeof *r->mask);
  r->start_labels = malloc((size_t)max_batch * sizeof *r->start_labels);
  r->end_labels = malloc((size_t)max_batch * sizeof *r->end_labels);
  if (!r->ids || !r->types || !r->mask || !r->start_labels || !r->end_labels) {
    bert_squad_runner_free(r);
    return bert_error_set(err, BERT_ENOMEM, "SQuAD runner: out of memory");
  }
  int rc = bert_workspace_create(&r->ws, m, BERT_TASK_QA, max_batch, seq_len, 0, 1, training, err);
  r->have_ws = rc == BERT_OK;
  if (rc) bert_squad_runner_free(r);
  return rc;
}

void bert_squad_runner_free(bert_squad_runner *r) {
  if (r->have_ws) bert_workspace_free(&r->ws);
  free(r->ids);
  free(r->types);
  free(r->mask);
  free(r->start_labels);
  free(r->end_labels);
  memset(r, 0, sizeof *r);
}

static int batch_length(const bert_squad_runner *r, const bert_squad_features *f, const int64_t *index, int n) {
  int len = 1;
  for (int i = 0; i < n; i++)
    if (index[i] >= 0 && bert_squad_feature_length(f, index[i]) > len) len = bert_squad_feature_length(f, index[i]);
  len = (len + LENGTH_QUANTUM - 1) / LENGTH_QUANTUM * LENGTH_QUANTUM;
  return len < r->seq_len ? len : r->seq_len;
}

int bert_squad_runner_forward(bert_squad_runner *r, const bert_squad_features *f, const int64_t *index, int n,
                              int labels, int train, bert_rng dropout, bert_error *err) {
  if (n < 1 || n > r->max_batch)
    return bert_error_set(err, BERT_EINVAL, "SQuAD batch of %d features: expected 1 to %d", n, r->max_batch);
  int len = batch_length(r, f, index, n);
  bert_squad_features_fill(f, index, n, len, r->ids, r->types, r->mask, labels ? r->start_labels : NULL,
                           labels ? r->end_labels : NULL);
  bert_batch *b = &r->batch;
  memset(b, 0, sizeof *b);
  b->batch = n, b->len = len;
  b->input_ids = r->ids, b->token_type_ids = r->types, b->attention_mask = r->mask;
  b->slots = 1;
  if (labels) b->start_positions = r->start_labels, b->end_positions = r->end_labels;
  return bert_model_forward(r->model, &r->ws, b, train, dropout, err);
}

int bert_squad_runner_backward(bert_squad_runner *r, float loss_scale, bert_error *err) {
  return bert_model_backward(r->model, &r->ws, &r->batch, loss_scale, err);
}

int bert_squad_runner_logits(bert_squad_runner *r, const bert_squad_features *f, int64_t first, int64_t count,
                             float *start_logits, float *end_logits, int64_t stride, bert_error *err) {
  int64_t index[r->max_batch];
  bert_rng none = {0, 0};
  for (int64_t done = 0; done < count;) {
    int n = count - done < r->max_batch ? (int)(count - done) : r->max_batch;
    for (int i = 0; i < n; i++) index[i] = first + done + i;
    int rc = bert_squad_runner_forward(r, f, index, n, 0, 0, none, err);
    if (rc) return rc;
    int len = r->batch.len;
    for (int i = 0; i < n; i++) {
      memcpy(start_logits + (done + i) * stride, r->ws.start_logits + (size_t)i * len, (size_t)len * sizeof(float));
      memcpy(end_logits + (done + i) * stride, r->ws.end_logits + (size_t)i * len, (size_t)len * sizeof(float));
    }
    done += n;
  }
  return BERT_OK;
}
