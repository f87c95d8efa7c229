/* Heads on the encoder output: pooler, MLM (at the gathered masked positions, decoder tied to
 * the word embeddings), NSP (one [CLS] per row, or one per packed slot with a mask), question
 * answering and token classification; their losses and accuracies as the reference defines. */
#include <math.h>
#include <string.h>

#include "model/internal.h"
#include "tensor/activation.h"
#include "tensor/cross_entropy.h"
#include "tensor/layernorm.h"

/* Token position read by pooler slot s of a row: [CLS] first (unpacked) or the last S tokens
 * (packed: slot S-1 is sequence 1 at position L-1). */
static int pooler_position(const bert_workspace *ws, int slot) {
  return ws->task == BERT_TASK_PRETRAINING_PACKED ? ws->len - ws->slots + slot : 0;
}

static void gather_rows(const float *seq, int64_t H, int B, int L, int per_row, const int32_t *positions,
                        int (*fixed)(const bert_workspace *, int), const bert_workspace *ws, float *out) {
  for (int b = 0; b < B; b++)
    for (int j = 0; j < per_row; j++) {
      int pos = positions ? positions[b * per_row + j] : fixed(ws, j);
      memcpy(out + ((int64_t)b * per_row + j) * H, seq + ((int64_t)b * L + pos) * H, (size_t)H * sizeof(float));
    }
}

static void scatter_rows(const float *rows, int64_t H, int B, int L, int per_row, const int32_t *positions,
                         int (*fixed)(const bert_workspace *, int), const bert_workspace *ws, float *seq) {
  for (int b = 0; b < B; b++)
    for (int j = 0; j < per_row; j++) {
      int pos = positions ? positions[b * per_row + j] : fixed(ws, j);
      float *dst = seq + ((int64_t)b * L + pos) * H;
      const float *src = rows + ((int64_t)b * per_row + j) * H;
      for (int64_t h = 0; h < H; h++) dst[h] += src[h];
    }
}

static int pooler_forward(bert_model *m, bert_workspace *ws, bert_error *err) {
  int64_t H = m->config.hidden_size, rows = (int64_t)ws->batch * ws->slots;
  gather_rows(ws->sequence_output, H, ws->batch, ws->len, ws->slots, NULL, pooler_position, ws, ws->pool_in);
  int rc = bert_model_linear_forward(m, ws, rows, H, H, ws->pool_in, m->layout.pooler_w, m->layout.pooler_b,
                                     ws->pooled, err);
  if (!rc) bert_tanh_forward(rows * H, ws->pooled, ws->pooled);
  return rc;
}

static void mlm_metrics(bert_workspace *ws, const bert_batch *b) {
  int64_t rows = (int64_t)b->batch * b->masked;
  double loss = 0, acc_sum = 0;
  int count = 0;
  for (int64_t r = 0; r < rows; r++)
    if (b->masked_labels[r] != 0) loss += ws->mlm_loss_rows[r], count++;
  for (int s = 0; s < b->batch; s++) {
    int correct = 0, n = 0;
    for (int j = 0; j < b->masked; j++) {
      int64_t r = (int64_t)s * b->masked + j;
      if (b->masked_labels[r] == 0) continue;
      n++;
      correct += ws->mlm_argmax[r] == b->masked_labels[r];
    }
    acc_sum += n ? (double)correct / n : NAN; /* the reference: a sample without masks gives NaN */
  }
  ws->out.mlm_count = count;
  ws->out.mlm_loss = count ? (float)(loss / count) : 0.0f;
  ws->out.mlm_acc = (float)(acc_sum / b->batch);
}

static int mlm_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, bert_error *err) {
  const bert_layout *l = &m->layout;
  int64_t H = m->config.hidden_size, V = m->config.vocab_size, rows = (int64_t)b->batch * b->masked;
  gather_rows(ws->sequence_output, H, b->batch, b->len, b->masked, b->masked_positions, NULL, ws, ws->mlm_in);
  int rc = bert_model_linear_forward(m, ws, rows, H, H, ws->mlm_in, l->mlm_dense_w, l->mlm_dense_b, ws->mlm_pre, err);
  if (rc) return rc;
  bert_gelu_forward(m->config.hidden_act, rows * H, ws->mlm_pre, ws->mlm_act);
  bert_layernorm_forward(rows, H, ws->mlm_act, m->params + l->mlm_ln_g, m->params + l->mlm_ln_b,
                         m->config.layer_norm_eps, ws->mlm_out, ws->mlm_mean, ws->mlm_rstd);
  if ((rc = bert_model_linear_forward(m, ws, rows, H, V, ws->mlm_out, l->word_emb, l->mlm_bias, ws->mlm_logits, err)))
    return rc;
  if (!b->masked_labels) return BERT_OK;
  bert_cross_entropy_forward(rows, V, ws->mlm_logits, b->masked_labels, 0, ws->mlm_loss_rows, ws->mlm_argmax);
  mlm_metrics(ws, b);
  return BERT_OK;
}

static void nsp_metrics(bert_workspace *ws, const bert_batch *b) {
  int64_t rows = (int64_t)b->batch * b->slots;
  double loss = 0, correct = 0, weight = 0;
  for (int64_t r = 0; r < rows; r++) {
    double w = b->nsp_mask ? b->nsp_mask[r] : 1.0;
    loss += w * ws->nsp_loss_rows[r];
    correct += w * (ws->nsp_argmax[r] == b->nsp_labels[r]);
    weight += w;
  }
  ws->out.nsp_loss = weight > 0 ? (float)(loss / weight) : 0.0f;
  ws->out.nsp_acc = weight > 0 ? (float)(correct / weight) : NAN;
  ws->out.packing_ratio = (float)(weight / b->batch);
}

static int nsp_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, bert_error *err) {
  int64_t H = m->config.hidden_size, rows = (int64_t)b->batch * b->slots;
  int rc = bert_model_linear_forward(m, ws, rows, H, 2, ws->pooled, m->layout.nsp_w, m->layout.nsp_b,
                                     ws->nsp_logits, err);
  if (rc || !b->nsp_labels) return rc;
  bert_cross_entropy_forward(rows, 2, ws->nsp_logits, b->nsp_labels, -1, ws->nsp_loss_rows, ws->nsp_argmax);
  nsp_metrics(ws, b);
  return BERT_OK;
}

static void qa_labels(bert_workspace *ws, const bert_batch *b) {
  for (int s = 0; s < b->batch; s++) {
    int st = b->start_positions[s], en = b->end_positions[s];
    ws->qa_labels[s] = st < 0 ? 0 : st > b->len ? b->len : st; /* HF clamps to [0, L]; L is ignored */
    ws->qa_labels[b->batch + s] = en < 0 ? 0 : en > b->len ? b->len : en;
  }
}

static float qa_mean(const float *loss, const int32_t *labels, int n, int ignore, int *count) {
  double sum = 0;
  *count = 0;
  for (int i = 0; i < n; i++)
    if (labels[i] != ignore) sum += loss[i], (*count)++;
  return *count ? (float)(sum / *count) : 0.0f;
}

static int qa_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, bert_error *err) {
  int64_t H = m->config.hidden_size, N = (int64_t)b->batch * b->len;
  int rc = bert_model_linear_forward(m, ws, N, H, 2, ws->sequence_output, m->layout.qa_w, m->layout.qa_b,
                                     ws->qa_logits, err);
  if (rc) return rc;
  for (int64_t i = 0; i < N; i++) {
    ws->start_logits[i] = ws->qa_logits[2 * i];
    ws->end_logits[i] = ws->qa_logits[2 * i + 1];
  }
  if (!b->start_positions) return BERT_OK;
  qa_labels(ws, b);
  bert_cross_entropy_forward(b->batch, b->len, ws->start_logits, ws->qa_labels, b->len, ws->qa_loss_rows,
                             ws->qa_argmax);
  bert_cross_entropy_forward(b->batch, b->len, ws->end_logits, ws->qa_labels + b->batch, b->len,
                             ws->qa_loss_rows + b->batch, ws->qa_argmax + b->batch);
  int ns, ne;
  float ls = qa_mean(ws->qa_loss_rows, ws->qa_labels, b->batch, b->len, &ns);
  float le = qa_mean(ws->qa_loss_rows + b->batch, ws->qa_labels + b->batch, b->batch, b->len, &ne);
  ws->out.loss = (ls + le) / 2;
  return BERT_OK;
}

int bert_heads_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, bert_error *err) {
  int64_t H = m->config.hidden_size, N = (int64_t)b->batch * b->len;
  int rc = BERT_OK;
  switch (ws->task) {
    case BERT_TASK_BASE:
      if (m->layout.parts & BERT_PART_POOLER) ws->slots = 1, rc = pooler_forward(m, ws, err);
      return rc;
    case BERT_TASK_PRETRAINING:
    case BERT_TASK_PRETRAINING_PACKED:
      if ((rc = pooler_forward(m, ws, err)) || (rc = nsp_forward(m, ws, b, err)) || (rc = mlm_forward(m, ws, b, err)))
        return rc;
      ws->out.loss = ws->out.mlm_loss + ws->out.nsp_loss;
      return BERT_OK;
    case BERT_TASK_QA:
      return qa_forward(m, ws, b, err);
    case BERT_TASK_TOKEN_CLASSIFICATION:
      return bert_model_linear_forward(m, ws, N, H, m->config.num_labels, ws->sequence_output, m->layout.cls_w,
                                       m->layout.cls_b, ws->token_logits, err);
  }
  return bert_error_set(err, BERT_EINVAL, "unknown task");
}

/* ---- backward ---- */

static int pooler_backward(bert_model *m, bert_workspace *ws, float *d_pooled, bert_error *err) {
  int64_t H = m->config.hidden_size, rows = (int64_t)ws->batch * ws->slots;
  bert_tanh_backward(rows * H, ws->pooled, d_pooled, d_pooled);
  int rc = bert_model_linear_backward(m, ws, rows, H, H, d_pooled, ws->pool_in, m->layout.pooler_w,
                                      m->layout.pooler_b, ws->d_a, 0, err);
  if (!rc) scatter_rows(ws->d_a, H, ws->batch, ws->len, ws->slots, NULL, pooler_position, ws, ws->d_hidden);
  return rc;
}

static int nsp_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, float scale, bert_error *err) {
  int64_t H = m->config.hidden_size, rows = (int64_t)b->batch * b->slots;
  double total = 0;
  for (int64_t r = 0; r < rows; r++) total += b->nsp_mask ? b->nsp_mask[r] : 1.0;
  for (int64_t r = 0; r < rows; r++)
    ws->nsp_weight[r] = total > 0 ? (float)(scale * (b->nsp_mask ? b->nsp_mask[r] : 1.0) / total) : 0.0f;
  bert_cross_entropy_backward(rows, 2, ws->nsp_logits, b->nsp_labels, -1, ws->nsp_weight, ws->d_small);
  int rc = bert_model_linear_backward(m, ws, rows, H, 2, ws->d_small, ws->pooled, m->layout.nsp_w, m->layout.nsp_b,
                                      ws->d_t, 0, err);
  return rc ? rc : pooler_backward(m, ws, ws->d_t, err);
}

static int mlm_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, float scale, bert_error *err) {
  const bert_layout *l = &m->layout;
  int64_t H = m->config.hidden_size, V = m->config.vocab_size, rows = (int64_t)b->batch * b->masked;
  int count = ws->out.mlm_count;
  for (int64_t r = 0; r < rows; r++) ws->mlm_weight[r] = count ? scale / count : 0.0f;
  bert_cross_entropy_backward(rows, V, ws->mlm_logits, b->masked_labels, 0, ws->mlm_weight, ws->mlm_logits);
  int rc = bert_model_linear_backward(m, ws, rows, H, V, ws->mlm_logits, ws->mlm_out, l->word_emb, l->mlm_bias,
                                      ws->d_a, 0, err);
  if (rc) return rc;
  bert_layernorm_backward(rows, H, ws->d_a, ws->mlm_act, ws->mlm_mean, ws->mlm_rstd, m->params + l->mlm_ln_g,
                          ws->d_t, m->grads + l->mlm_ln_g, m->grads + l->mlm_ln_b);
  bert_gelu_backward(m->config.hidden_act, rows * H, ws->mlm_pre, ws->d_t, ws->d_t);
  if ((rc = bert_model_linear_backward(m, ws, rows, H, H, ws->d_t, ws->mlm_in, l->mlm_dense_w, l->mlm_dense_b,
                                       ws->d_a, 0, err)))
    return rc;
  scatter_rows(ws->d_a, H, b->batch, b->len, b->masked, b->masked_positions, NULL, ws, ws->d_hidden);
  return BERT_OK;
}

static int qa_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, float scale, bert_error *err) {
  int64_t H = m->config.hidden_size, N = (int64_t)b->batch * b->len;
  for (int k = 0; k < 2; k++) {
    int count = 0;
    for (int s = 0; s < b->batch; s++) count += ws->qa_labels[k * b->batch + s] != b->len;
    for (int s = 0; s < b->batch; s++) ws->qa_weight[k * b->batch + s] = count ? 0.5f * scale / count : 0.0f;
  }
  float *d_start = ws->d_small, *d_end = ws->d_small + N;
  bert_cross_entropy_backward(b->batch, b->len, ws->start_logits, ws->qa_labels, b->len, ws->qa_weight, d_start);
  bert_cross_entropy_backward(b->batch, b->len, ws->end_logits, ws->qa_labels + b->batch, b->len,
                              ws->qa_weight + b->batch, d_end);
  for (int64_t i = 0; i < N; i++) ws->d_t[2 * i] = d_start[i], ws->d_t[2 * i + 1] = d_end[i];
  return bert_model_linear_backward(m, ws, N, H, 2, ws->d_t, ws->sequence_output, m->layout.qa_w, m->layout.qa_b,
                                    ws->d_hidden, 1, err);
}

int bert_heads_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, float scale, bert_error *err) {
  int64_t H = m->config.hidden_size, N = (int64_t)b->batch * b->len;
  memset(ws->d_hidden, 0, (size_t)(N * H) * sizeof(float));
  int rc;
  switch (ws->task) {
    case BERT_TASK_PRETRAINING:
    case BERT_TASK_PRETRAINING_PACKED:
      if (!b->masked_labels || !b->nsp_labels)
        return bert_error_set(err, BERT_EINVAL, "backward: pretraining needs MLM and NSP labels");
      if ((rc = mlm_backward(m, ws, b, scale, err))) return rc;
      return nsp_backward(m, ws, b, scale, err);
    case BERT_TASK_QA:
      if (!b->start_positions) return bert_error_set(err, BERT_EINVAL, "backward: QA needs start and end positions");
      return qa_backward(m, ws, b, scale, err);
    default:
      return bert_error_set(err, BERT_EUNSUPPORTED, "backward: this head is forward-only");
  }
}
