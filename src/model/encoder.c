/* One post-LN encoder layer: fused-QKV attention, output projection, residual + LayerNorm, FFN
 * with GELU, residual + LayerNorm. */
#include <string.h>

#include "model/internal.h"
#include "tensor/activation.h"
#include "tensor/dropout.h"
#include "tensor/layernorm.h"

static void add_into(int64_t n, const float *a, const float *b, float *out) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* Without dropout the residual add is fused into the product (y = x W + b + residual), and in
 * inference, where the backward's GELU input is not kept, so is the GELU. In bf16 inference the
 * operands of the products stay bf16 from the producer to the consumer: the QKV and FFN-in
 * products and the attention context are written in bf16, the LayerNorms write a bf16 copy. */
int bert_encoder_layer_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                               const float *x, bert_error *err) {
  const bert_config *c = &m->config;
  const bert_layer_offsets *o = &m->layout.layers[layer];
  bert_layer_acts *a = &ws->layers[layer];
  int64_t N = (int64_t)b->batch * b->len, H = c->hidden_size, I = c->intermediate_size;
  float p = ws->dropout_on ? c->hidden_dropout_prob : 0.0f;
  int fuse_residual = p <= 0.0f, fuse_gelu = !ws->training, bf16_io = bert_model_bf16_io(m, ws);
  bert_post residual = fuse_residual ? BERT_POST_ADD : BERT_POST_NONE;
  bert_post gelu = c->hidden_act == BERT_GELU_TANH ? BERT_POST_GELU_TANH : BERT_POST_GELU_ERF;
  uint16_t *x16 = bf16_io ? ws->bf16_x : NULL; /* bf16 copy of the layer input, then of each operand */
  int rc;
  bert_linear_io qkv = {.x = x, .x_bf16 = x16, .y = bf16_io ? NULL : a->qkv, .y_bf16 = bf16_io ? ws->bf16_b : NULL};
  if ((rc = bert_model_linear(m, ws, N, H, 3 * H, o->qkv_w, o->qkv_b, &qkv, err))) return rc;
  if ((rc = bert_attention_forward(m, ws, b, layer, err))) return rc;
  /* attention output: dense -> dropout -> LayerNorm(x + .) */
  bert_linear_io attn_out = {.x = a->ctx, .x_bf16 = x16, .y = a->attn_ln_in, .post = residual, .addend = x};
  if ((rc = bert_model_linear(m, ws, N, H, H, o->attn_out_w, o->attn_out_b, &attn_out, err))) return rc;
  if (!fuse_residual) {
    bert_model_dropout_forward(ws, layer, BERT_SITE_ATTN_OUT, p, N * H, a->attn_ln_in, a->attn_ln_in, a->attn_out_keep);
    add_into(N * H, a->attn_ln_in, x, a->attn_ln_in);
  }
  bert_layernorm_forward_bf16(N, H, a->attn_ln_in, m->params + o->attn_ln_g, m->params + o->attn_ln_b,
                              c->layer_norm_eps, a->attn_ln_out, x16, a->attn_ln_mean, a->attn_ln_rstd);
  /* feed-forward */
  uint16_t *act16 = bf16_io ? ws->bf16_a : NULL;
  if (fuse_gelu) {
    bert_linear_io in = {.x = a->attn_ln_out, .x_bf16 = x16, .y = act16 ? NULL : a->ffn_act, .y_bf16 = act16,
                         .post = gelu};
    rc = bert_model_linear(m, ws, N, H, I, o->ffn_in_w, o->ffn_in_b, &in, err);
  } else {
    /* ffn_pre keeps GELU's slope for the backward instead of its input */
    rc = bert_model_linear_forward(m, ws, N, H, I, a->attn_ln_out, o->ffn_in_w, o->ffn_in_b, a->ffn_pre, err);
    if (!rc) bert_gelu_forward_slope(c->hidden_act, N * I, a->ffn_pre, a->ffn_act);
  }
  if (rc) return rc;
  bert_linear_io ffn_out = {.x = a->ffn_act, .x_bf16 = act16, .y = a->ffn_ln_in, .post = residual,
                            .addend = a->attn_ln_out};
  if ((rc = bert_model_linear(m, ws, N, I, H, o->ffn_out_w, o->ffn_out_b, &ffn_out, err))) return rc;
  if (!fuse_residual) {
    bert_model_dropout_forward(ws, layer, BERT_SITE_FFN_OUT, p, N * H, a->ffn_ln_in, a->ffn_ln_in, a->ffn_out_keep);
    add_into(N * H, a->ffn_ln_in, a->attn_ln_out, a->ffn_ln_in);
  }
  bert_layernorm_forward_bf16(N, H, a->ffn_ln_in, m->params + o->ffn_ln_g, m->params + o->ffn_ln_b,
                              c->layer_norm_eps, a->out, x16, a->ffn_ln_mean, a->ffn_ln_rstd);
  return BERT_OK;
}

int bert_encoder_layer_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                                const float *x, bert_error *err) {
  const bert_config *c = &m->config;
  const bert_layer_offsets *o = &m->layout.layers[layer];
  bert_layer_acts *a = &ws->layers[layer];
  int64_t N = (int64_t)b->batch * b->len, H = c->hidden_size, I = c->intermediate_size;
  float p = ws->dropout_on ? c->hidden_dropout_prob : 0.0f;
  float *dh = ws->d_hidden, *da = ws->d_a, *dt = ws->d_t, *dw = ws->d_wide;
  float *g = m->grads;
  int rc;
  /* output LayerNorm: ∂(ffn_ln_in) -> da; the residual sends it on to attn_ln_out */
  bert_layernorm_backward(N, H, dh, a->ffn_ln_in, a->ffn_ln_mean, a->ffn_ln_rstd, m->params + o->ffn_ln_g,
                          da, g + o->ffn_ln_g, g + o->ffn_ln_b);
  bert_model_dropout_backward(p, N * H, a->ffn_out_keep, da, dt);
  if ((rc = bert_model_linear_backward(m, ws, N, I, H, dt, a->ffn_act, o->ffn_out_w, o->ffn_out_b, dw, 0, err)))
    return rc;
  bert_gelu_backward_slope(N * I, a->ffn_pre, dw, dw);
  if ((rc = bert_model_linear_backward(m, ws, N, H, I, dw, a->attn_ln_out, o->ffn_in_w, o->ffn_in_b, da, 1, err)))
    return rc;
  /* attention LayerNorm: ∂(attn_ln_in) -> dh, which the residual sends on to x */
  bert_layernorm_backward(N, H, da, a->attn_ln_in, a->attn_ln_mean, a->attn_ln_rstd, m->params + o->attn_ln_g,
                          dh, g + o->attn_ln_g, g + o->attn_ln_b);
  bert_model_dropout_backward(p, N * H, a->attn_out_keep, dh, dt);
  if ((rc = bert_model_linear_backward(m, ws, N, H, H, dt, a->ctx, o->attn_out_w, o->attn_out_b, da, 0, err)))
    return rc;
  if ((rc = bert_attention_backward(m, ws, b, layer, da, dw, err))) return rc;
  return bert_model_linear_backward(m, ws, N, H, 3 * H, dw, x, o->qkv_w, o->qkv_b, dh, 1, err);
}
