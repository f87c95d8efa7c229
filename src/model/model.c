#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

int bert_model_create(bert_model *m, const bert_config *cfg, int parts, bert_error *err) {
  memset(m, 0, sizeof *m);
  int rc = bert_config_validate(cfg, err);
  if (rc) return rc;
  if ((rc = bert_config_copy(&m->config, cfg, err))) return rc;
  if ((rc = bert_layout_build(&m->layout, cfg, parts | BERT_PART_ENCODER, err))) goto fail;
  m->params = bert_aligned_alloc(m->layout.total * sizeof(float));
  if (!m->params) {
    rc = bert_error_set(err, BERT_ENOMEM, "model: cannot allocate %zu parameters", m->layout.total);
    goto fail;
  }
  memset(m->params, 0, m->layout.total * sizeof(float));
  if ((rc = bert_gemm_ctx_create(&m->gemm, err))) goto fail;
  return BERT_OK;
fail:
  bert_model_free(m);
  return rc;
}

void bert_model_free(bert_model *m) {
  bert_aligned_free(m->params);
  bert_aligned_free(m->grads);
  bert_aligned_free(m->params_bf16);
  bert_gemm_ctx_destroy(m->gemm);
  bert_layout_free(&m->layout);
  bert_config_free(&m->config);
  memset(m, 0, sizeof *m);
}

int bert_model_enable_grads(bert_model *m, bert_error *err) {
  if (m->grads) return BERT_OK;
  m->grads = bert_aligned_alloc(m->layout.total * sizeof(float));
  if (!m->grads) return bert_error_set(err, BERT_ENOMEM, "model: cannot allocate gradients");
  bert_model_zero_grads(m);
  return BERT_OK;
}

void bert_model_zero_grads(bert_model *m) {
  if (m->grads) memset(m->grads, 0, m->layout.total * sizeof(float));
}

int bert_model_set_precision(bert_model *m, bert_precision p, bert_error *err) {
  m->precision = p;
  if (p == BERT_FP32) {
    bert_aligned_free(m->params_bf16);
    m->params_bf16 = NULL;
    return BERT_OK;
  }
  if (!m->params_bf16 && !(m->params_bf16 = bert_aligned_alloc(m->layout.total * sizeof(uint16_t))))
    return bert_error_set(err, BERT_ENOMEM, "model: cannot allocate the bf16 parameter copy");
  bert_model_sync_bf16(m);
  return BERT_OK;
}

void bert_model_sync_bf16(bert_model *m) {
  if (m->params_bf16) bert_to_bf16(m->params, m->params_bf16, (int64_t)m->layout.total);
}

bert_rng bert_model_dropout_site(const bert_workspace *ws, int layer, int site) {
  return bert_rng_child(ws->dropout_rng, (uint64_t)(layer + 1) * 8 + (uint64_t)site);
}

int bert_model_linear_forward(bert_model *m, bert_workspace *ws, int64_t rows, int64_t in,
                              int64_t out, const float *x, size_t w_off, size_t b_off, float *y,
                              bert_error *err) {
  const float *bias = b_off == BERT_NO_BIAS ? NULL : m->params + b_off;
  if (m->precision == BERT_BF16) {
    bert_to_bf16(x, ws->bf16_a, rows * in);
    return bert_linear_forward(m->gemm, BERT_BF16, rows, in, out, ws->bf16_a, m->params_bf16 + w_off,
                               bias, y, err);
  }
  return bert_linear_forward(m->gemm, BERT_FP32, rows, in, out, x, m->params + w_off, bias, y, err);
}

int bert_model_linear_backward(bert_model *m, bert_workspace *ws, int64_t rows, int64_t in,
                               int64_t out, const float *dy, const float *x, size_t w_off,
                               size_t b_off, float *dx, int accumulate_dx, bert_error *err) {
  int rc;
  const void *dy_op = dy, *x_op = x, *w_op = m->params + w_off;
  bert_precision p = m->precision;
  if (p == BERT_BF16) {
    bert_to_bf16(dy, ws->bf16_a, rows * out);
    bert_to_bf16(x, ws->bf16_b, rows * in);
    dy_op = ws->bf16_a, x_op = ws->bf16_b, w_op = m->params_bf16 + w_off;
  }
  if ((rc = bert_linear_backward_weight(m->gemm, p, rows, in, out, dy_op, x_op, m->grads + w_off, err)))
    return rc;
  if (b_off != BERT_NO_BIAS) bert_bias_backward(rows, out, dy, m->grads + b_off);
  if (dx) return bert_linear_backward_input(m->gemm, p, rows, in, out, dy_op, w_op, dx, accumulate_dx, err);
  return BERT_OK;
}

int bert_model_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, int train,
                       bert_rng dropout_rng, bert_error *err) {
  int rc = bert_batch_validate(m, ws, b, err);
  if (rc) return rc;
  if (train && !ws->training)
    return bert_error_set(err, BERT_EINVAL, "forward: dropout needs a training workspace");
  ws->batch = b->batch, ws->len = b->len, ws->masked = b->masked, ws->slots = b->slots;
  ws->dropout_on = train;
  ws->dropout_rng = dropout_rng;
  memset(&ws->out, 0, sizeof ws->out);
  if ((rc = bert_embeddings_forward(m, ws, b))) return rc;
  const float *x = ws->emb_out;
  for (int l = 0; l < m->config.num_hidden_layers; l++) {
    if ((rc = bert_encoder_layer_forward(m, ws, b, l, x, err))) return rc;
    x = ws->layers[l].out;
  }
  ws->sequence_output = (float *)x;
  return bert_heads_forward(m, ws, b, err);
}

int bert_model_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, float loss_scale,
                        bert_error *err) {
  if (!m->grads || !ws->training)
    return bert_error_set(err, BERT_EINVAL, "backward needs gradients and a training workspace");
  int rc = bert_heads_backward(m, ws, b, loss_scale, err);
  if (rc) return rc;
  for (int l = m->config.num_hidden_layers - 1; l >= 0; l--) {
    const float *x = l ? ws->layers[l - 1].out : ws->emb_out;
    if ((rc = bert_encoder_layer_backward(m, ws, b, l, x, err))) return rc;
  }
  bert_embeddings_backward(m, ws, b);
  return BERT_OK;
}
