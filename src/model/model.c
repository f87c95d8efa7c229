#include "model/model.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/internal.h"
#include "tensor/dropout.h"
#include "tensor/quantize.h"

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

static void int8_weights_free(bert_int8_weights *q) {
  free(q->offsets);
  free(q->values);
  free(q->scales);
  bert_aligned_free(q->block);
  memset(q, 0, sizeof *q);
}

static void packing_free(bert_model_packing *pk) {
  bert_packed_set_free(pk->set);
  free(pk->offsets);
  free(pk->weights);
  uint64_t serial = pk->serial;
  memset(pk, 0, sizeof *pk);
  pk->serial = serial; /* the next set gets another */
}

void bert_model_free(bert_model *m) {
  packing_free(&m->packing);
  int8_weights_free(&m->int8);
  bert_aligned_free(m->params);
  bert_aligned_free(m->grads);
  bert_aligned_free(m->params_bf16);
  bert_gemm_ctx_destroy(m->gemm);
  bert_layout_free(&m->layout);
  bert_config_free(&m->config);
  memset(m, 0, sizeof *m);
}

int bert_model_enable_grads(bert_model *m, bert_error *err) {
  if (m->fp32_released)
    return bert_error_set(err, BERT_EINVAL, "model: its fp32 weights were released for inference; it cannot train");
  if (m->grads) return BERT_OK;
  m->grads = bert_aligned_alloc(m->layout.total * sizeof(float));
  if (!m->grads) return bert_error_set(err, BERT_ENOMEM, "model: cannot allocate gradients");
  bert_model_zero_grads(m);
  return BERT_OK;
}

void bert_model_zero_grads(bert_model *m) {
  if (m->grads) memset(m->grads, 0, m->layout.total * sizeof(float));
}

/* The four linear weights of every encoder layer: [out, in] shapes in layer order. */
static int encoder_linear_weights(const bert_model *m, size_t *offsets, int64_t *outs, int64_t *ins) {
  const bert_config *c = &m->config;
  int64_t H = c->hidden_size, I = c->intermediate_size;
  int n = 0;
  for (int l = 0; l < c->num_hidden_layers; l++) {
    const bert_layer_offsets *o = &m->layout.layers[l];
    const size_t off[4] = {o->qkv_w, o->attn_out_w, o->ffn_in_w, o->ffn_out_w};
    const int64_t out[4] = {3 * H, H, I, H}, in[4] = {H, H, H, I};
    for (int i = 0; i < 4; i++, n++)
      if (offsets) offsets[n] = off[i], outs[n] = out[i], ins[n] = in[i];
  }
  return n;
}

static int quantize_encoder(bert_model *m, bert_error *err) {
  bert_int8_weights *q = &m->int8;
  int n = encoder_linear_weights(m, NULL, NULL, NULL);
  int64_t *outs = calloc((size_t)n, sizeof *outs), *ins = calloc((size_t)n, sizeof *ins);
  q->offsets = calloc((size_t)n, sizeof *q->offsets);
  q->values = calloc((size_t)n, sizeof *q->values);
  q->scales = calloc((size_t)n, sizeof *q->scales);
  size_t bytes = 0;
  if (outs && ins && q->offsets) {
    encoder_linear_weights(m, q->offsets, outs, ins);
    for (int i = 0; i < n; i++) bytes += bert_align_up((size_t)(outs[i] * ins[i])) + bert_align_up((size_t)outs[i] * sizeof(float));
  }
  if (!outs || !ins || !q->offsets || !q->values || !q->scales || !(q->block = bert_aligned_alloc(bytes))) {
    free(outs), free(ins), int8_weights_free(q);
    return bert_error_set(err, BERT_ENOMEM, "model: cannot allocate the int8 weights");
  }
  char *p = q->block;
  for (int i = 0; i < n; i++) {
    q->values[i] = (int8_t *)p, p += bert_align_up((size_t)(outs[i] * ins[i]));
    q->scales[i] = (float *)p, p += bert_align_up((size_t)outs[i] * sizeof(float));
    bert_quantize_weights(m->params + q->offsets[i], outs[i], ins[i], q->values[i], q->scales[i]);
  }
  q->count = n;
  free(outs), free(ins);
  return BERT_OK;
}

int bert_model_set_precision(bert_model *m, bert_precision p, bert_error *err) {
  if (m->fp32_released)
    return bert_error_set(err, BERT_EINVAL, "model: its fp32 weights were released for %s inference; "
                          "load it again for another precision", bert_precision_name(m->precision));
  packing_free(&m->packing);
  int8_weights_free(&m->int8);
  if (p != BERT_BF16) {
    bert_aligned_free(m->params_bf16);
    m->params_bf16 = NULL;
  }
  m->precision = BERT_FP32;
  if (p == BERT_INT8) {
    int rc = quantize_encoder(m, err);
    if (!rc) m->precision = p;
    return rc;
  }
  if (p == BERT_FP32) return BERT_OK;
  if (!m->params_bf16 && !(m->params_bf16 = bert_aligned_alloc(m->layout.total * sizeof(uint16_t))))
    return bert_error_set(err, BERT_ENOMEM, "model: cannot allocate the bf16 parameter copy");
  m->precision = p;
  bert_model_sync_bf16(m);
  return BERT_OK;
}

int bert_model_release_fp32_weights(bert_model *m, bert_error *err) {
  if (m->precision == BERT_FP32)
    return bert_error_set(err, BERT_EINVAL, "model: fp32 inference reads its fp32 weights: nothing to release");
  if (m->grads)
    return bert_error_set(err, BERT_EINVAL, "model: a model with gradients is training: its fp32 weights stay");
  int n = encoder_linear_weights(m, NULL, NULL, NULL);
  size_t *offsets = calloc((size_t)n, sizeof *offsets);
  int64_t *outs = calloc((size_t)n, sizeof *outs), *ins = calloc((size_t)n, sizeof *ins);
  if (!offsets || !outs || !ins) {
    free(offsets), free(outs), free(ins);
    return bert_error_set(err, BERT_ENOMEM, "model: out of memory");
  }
  encoder_linear_weights(m, offsets, outs, ins);
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  for (int i = 0; i < n; i++) {
    /* the whole pages inside the weight: zero-filled if ever touched again, which nothing does */
    uintptr_t start = (uintptr_t)(m->params + offsets[i]), end = start + (uintptr_t)(outs[i] * ins[i]) * sizeof(float);
    start = (start + page - 1) / page * page, end = end / page * page;
    if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
  }
  free(offsets), free(outs), free(ins);
  m->fp32_released = 1;
  return BERT_OK;
}

int bert_model_prepare_inference(bert_model *m, bert_precision p, int64_t rows, bert_error *err) {
  int rc = bert_model_set_precision(m, p, err);
  if (!rc) rc = bert_model_pack_weights(m, rows, 0, err);
  if (!rc && p != BERT_FP32) rc = bert_model_release_fp32_weights(m, err);
  return rc;
}

const char *bert_precision_name(bert_precision p) {
  return p == BERT_BF16 ? "bf16" : p == BERT_INT8 ? "int8" : "fp32";
}

int bert_precision_parse(const char *name, bert_precision *p) {
  static const bert_precision all[] = {BERT_FP32, BERT_BF16, BERT_INT8};
  for (int i = 0; i < 3; i++)
    if (name && !strcmp(name, bert_precision_name(all[i]))) return *p = all[i], 0;
  return -1;
}

int bert_model_pack_weights(bert_model *m, int64_t rows, int force, bert_error *err) {
  bert_model_packing *pk = &m->packing;
  packing_free(pk);
  int n = encoder_linear_weights(m, NULL, NULL, NULL);
  int64_t *outs = calloc((size_t)n, sizeof *outs), *ins = calloc((size_t)n, sizeof *ins);
  pk->offsets = calloc((size_t)n, sizeof *pk->offsets);
  pk->weights = calloc((size_t)n, sizeof *pk->weights);
  int rc = outs && ins && pk->offsets && pk->weights ? bert_packed_set_create(&pk->set, ++pk->serial, err)
                                                    : bert_error_set(err, BERT_ENOMEM, "model: out of memory packing");
  if (!rc) encoder_linear_weights(m, pk->offsets, outs, ins);
  for (int i = 0; i < n && !rc; i++) {
    size_t off = pk->offsets[i];
    const void *w = m->precision == BERT_INT8   ? (const void *)m->int8.values[i]
                    : m->precision == BERT_BF16 ? (const void *)(m->params_bf16 + off)
                                                : (const void *)(m->params + off);
    rc = bert_gemm_pack_weights(m->gemm, pk->set, m->precision, rows, ins[i], outs[i], w, force, &pk->weights[i], err);
  }
  free(outs), free(ins);
  if (rc) return packing_free(pk), rc;
  pk->count = n;
  return BERT_OK;
}

void bert_model_sync_bf16(bert_model *m) {
  if (m->fp32_released) return; /* nothing to sync from: the bf16 copy is all there is */
  packing_free(&m->packing);
  if (m->params_bf16) bert_to_bf16(m->params, m->params_bf16, (int64_t)m->layout.total);
}

bert_rng bert_model_dropout_site(const bert_workspace *ws, int layer, int site) {
  return bert_rng_child(ws->dropout_rng, (uint64_t)(layer + 1) * 8 + (uint64_t)site);
}

void bert_model_dropout_forward(const bert_workspace *ws, int layer, int site, float p, int64_t n, const float *x,
                                float *y, uint8_t *keep) {
  if (p > 0.0f) bert_dropout_forward_keep(bert_model_dropout_site(ws, layer, site), p, n, x, y, keep);
  else if (x != y) memcpy(y, x, (size_t)n * sizeof *y);
}

void bert_model_dropout_backward(float p, int64_t n, const uint8_t *keep, const float *dy, float *dx) {
  if (p > 0.0f) bert_dropout_apply(p, n, keep, dy, dx);
  else if (dx != dy) memcpy(dx, dy, (size_t)n * sizeof *dx);
}

int bert_model_linear_forward(bert_model *m, bert_workspace *ws, int64_t rows, int64_t in,
                              int64_t out, const float *x, size_t w_off, size_t b_off, float *y,
                              bert_error *err) {
  bert_linear_io io = {.x = x, .y = y};
  return bert_model_linear(m, ws, rows, in, out, w_off, b_off, &io, err);
}

static int weight_index(const size_t *offsets, int count, size_t w_off) {
  for (int i = 0; i < count; i++)
    if (offsets[i] == w_off) return i;
  return -1;
}

int bert_model_bf16_io(const bert_model *m, const bert_workspace *ws) {
  return m->precision == BERT_BF16 && !ws->training;
}

int bert_model_linear(bert_model *m, bert_workspace *ws, int64_t rows, int64_t in, int64_t out, size_t w_off,
                      size_t b_off, const bert_linear_io *io, bert_error *err) {
  const float *bias = b_off == BERT_NO_BIAS ? NULL : m->params + b_off;
  int q = m->precision == BERT_INT8 ? weight_index(m->int8.offsets, m->int8.count, w_off) : -1;
  /* training changes the weights at every step: its products read them, never a packed copy */
  int k = ws->training ? -1 : weight_index(m->packing.offsets, m->packing.count, w_off);
  const bert_packed_weights *packed = k >= 0 ? &m->packing.weights[k] : NULL;
  if ((io->x_bf16 || io->y_bf16) && m->precision != BERT_BF16)
    return bert_error_set(err, BERT_EINVAL, "linear: bf16 operands outside bf16 mode");
  if (q >= 0) {
    bert_int8_input xq;
    bert_quantize_activations(io->x, rows * in, bert_gemm_int8_activation_max(m->gemm), ws->u8_a, &xq);
    return bert_linear_forward_int8_packed(m->gemm, rows, in, out, &xq, m->int8.values[q], packed, m->int8.scales[q],
                                           bias, io->post, io->addend, io->y, err);
  }
  void *y = io->y_bf16 ? (void *)io->y_bf16 : (void *)io->y;
  if (m->precision == BERT_BF16) {
    const uint16_t *x = io->x_bf16;
    if (!x) bert_to_bf16(io->x, ws->bf16_a, rows * in), x = ws->bf16_a;
    return bert_linear_forward_packed(m->gemm, BERT_BF16, rows, in, out, x, m->params_bf16 + w_off, packed, bias,
                                      io->post, io->addend, y, io->y_bf16 != NULL, err);
  }
  return bert_linear_forward_packed(m->gemm, BERT_FP32, rows, in, out, io->x, m->params + w_off, packed, bias,
                                    io->post, io->addend, y, 0, err);
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
  if (ws->precision != m->precision)
    return bert_error_set(err, BERT_EINVAL, "forward: the workspace was sized for %s, the model is now %s",
                          bert_precision_name(ws->precision), bert_precision_name(m->precision));
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
