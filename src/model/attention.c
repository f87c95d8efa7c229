/* Scaled dot-product self-attention on the fused QKV activations [B, L, 3H]: per-head products
 * are strided views (no transposes copied); the mask is the 2-D padding mask or the packed
 * block-diagonal mask. */
#include <math.h>
#include <string.h>

#include "model/internal.h"
#include "tensor/dropout.h"
#include "tensor/softmax.h"

typedef struct attn_shape {
  int64_t B, L, nh, d, H;
} attn_shape;

static attn_shape shape_of(const bert_model *m, const bert_batch *b) {
  attn_shape s = {b->batch, b->len, m->config.num_attention_heads, 0, m->config.hidden_size};
  s.d = s.H / s.nh;
  return s;
}

/* Strides {batch, head, row, col} of the views the products use. */
static void qkv_rows(const attn_shape *s, int64_t st[4]) {        /* Q, K or V as [L, d] */
  st[0] = s->L * 3 * s->H, st[1] = s->d, st[2] = 3 * s->H, st[3] = 1;
}
static void qkv_cols(const attn_shape *s, int64_t st[4]) {        /* Kᵀ or Vᵀ as [d, L] */
  st[0] = s->L * 3 * s->H, st[1] = s->d, st[2] = 1, st[3] = 3 * s->H;
}
static void probs_rows(const attn_shape *s, int64_t st[4]) {      /* P as [L, L] */
  st[0] = s->nh * s->L * s->L, st[1] = s->L * s->L, st[2] = s->L, st[3] = 1;
}
static void probs_cols(const attn_shape *s, int64_t st[4]) {      /* Pᵀ */
  st[0] = s->nh * s->L * s->L, st[1] = s->L * s->L, st[2] = 1, st[3] = s->L;
}
static void ctx_rows(const attn_shape *s, int64_t st[4]) {        /* context [L, d] in [B, L, H] */
  st[0] = s->L * s->H, st[1] = s->d, st[2] = s->H, st[3] = 1;
}

static int product(bert_model *m, const attn_shape *s, int64_t rows, int64_t cols, int64_t inner,
                   void (*a_view)(const attn_shape *, int64_t *), const void *a,
                   void (*b_view)(const attn_shape *, int64_t *), const void *b,
                   void (*c_view)(const attn_shape *, int64_t *), float *c, int accumulate,
                   bert_precision operands, bert_error *err) {
  bert_gemm_desc g;
  memset(&g, 0, sizeof g);
  g.batch_dims = 2, g.batch[0] = s->B, g.batch[1] = s->nh;
  g.m = rows, g.n = cols, g.k = inner;
  a_view(s, g.a_stride), b_view(s, g.b_stride), c_view(s, g.c_stride);
  g.operands = operands;
  g.accumulate = accumulate;
  return bert_gemm(m->gemm, &g, a, b, NULL, c, err);
}

/* The attention products' operands: bf16 in bf16 mode, else fp32 (int8 mode included: the
 * activation x activation products are not quantized). */
static bert_precision operands(const bert_model *m) { return m->precision == BERT_BF16 ? BERT_BF16 : BERT_FP32; }

/* Element size of the operands, to offset into Q/K/V inside a qkv buffer of either type. */
static const void *offset(const bert_model *m, const void *base, int64_t elems) {
  return (const char *)base + elems * (operands(m) == BERT_BF16 ? 2 : 4);
}

int bert_attention_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                           bert_error *err) {
  attn_shape s = shape_of(m, b);
  bert_layer_acts *a = &ws->layers[layer];
  int64_t P = s.B * s.nh * s.L * s.L;
  float p = ws->dropout_on ? m->config.attention_probs_dropout_prob : 0.0f;
  const void *qkv = a->qkv;
  if (m->precision == BERT_BF16) {
    bert_to_bf16(a->qkv, ws->bf16_b, s.B * s.L * 3 * s.H);
    qkv = ws->bf16_b;
  }
  int rc = product(m, &s, s.L, s.L, s.d, qkv_rows, qkv, qkv_cols, offset(m, qkv, s.H), probs_rows, a->probs, 0, operands(m), err);
  if (rc) return rc;
  bert_attention_mask mask = {b->attention_mask, b->seq_index};
  bert_attention_softmax_forward(s.B, s.nh, s.L, 1.0f / sqrtf((float)s.d), &mask, a->probs);
  const float *dropped = a->probs;
  if (p > 0.0f) {
    bert_dropout_forward(bert_model_dropout_site(ws, layer, BERT_SITE_ATTN_PROBS), p, P, a->probs, ws->probs_dropped);
    dropped = ws->probs_dropped;
  }
  const void *probs = dropped;
  if (m->precision == BERT_BF16) {
    bert_to_bf16(dropped, ws->bf16_c, P);
    probs = ws->bf16_c;
  }
  return product(m, &s, s.L, s.d, s.L, probs_rows, probs, qkv_rows, offset(m, qkv, 2 * s.H), ctx_rows, a->ctx, 0, operands(m), err);
}

static void qkv_out_rows(const attn_shape *s, int64_t st[4]) { qkv_rows(s, st); }

int bert_attention_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                            const float *d_ctx, float *d_qkv, bert_error *err) {
  attn_shape s = shape_of(m, b);
  bert_layer_acts *a = &ws->layers[layer];
  int64_t P = s.B * s.nh * s.L * s.L;
  float p = ws->dropout_on ? m->config.attention_probs_dropout_prob : 0.0f;
  bert_rng site = bert_model_dropout_site(ws, layer, BERT_SITE_ATTN_PROBS);
  int bf16 = m->precision == BERT_BF16;
  const void *qkv = a->qkv, *dctx = d_ctx, *dropped = a->probs;
  if (p > 0.0f) {
    bert_dropout_forward(site, p, P, a->probs, ws->probs_dropped);
    dropped = ws->probs_dropped;
  }
  if (bf16) {
    bert_to_bf16(a->qkv, ws->bf16_b, s.B * s.L * 3 * s.H);
    bert_to_bf16(d_ctx, ws->bf16_a, s.B * s.L * s.H);
    bert_to_bf16(dropped, ws->bf16_c, P);
    qkv = ws->bf16_b, dctx = ws->bf16_a, dropped = ws->bf16_c;
  }
  int rc;
  /* ∂P = ∂ctx · Vᵀ ; ∂V = Pᵀ · ∂ctx */
  if ((rc = product(m, &s, s.L, s.L, s.d, ctx_rows, dctx, qkv_cols, offset(m, qkv, 2 * s.H), probs_rows,
                    ws->d_probs, 0, operands(m), err)))
    return rc;
  if ((rc = product(m, &s, s.L, s.d, s.L, probs_cols, dropped, ctx_rows, dctx, qkv_out_rows, d_qkv + 2 * s.H, 0, operands(m), err)))
    return rc;
  if (p > 0.0f) bert_dropout_backward(site, p, P, ws->d_probs, ws->d_probs);
  bert_attention_softmax_backward(s.B, s.nh, s.L, 1.0f / sqrtf((float)s.d), a->probs, ws->d_probs);
  /* ∂Q = ∂S · K ; ∂K = ∂Sᵀ · Q in fp32 even in bf16 mode: ∂S = P ⊙ (∂P − ⟨P, ∂P⟩) cancels, and
   * rounding it to bf16 costs more accuracy than these two small products cost time. */
  const float *ds = ws->d_probs;
  if ((rc = product(m, &s, s.L, s.d, s.L, probs_rows, ds, qkv_rows, a->qkv + s.H, qkv_out_rows, d_qkv, 0, BERT_FP32, err)))
    return rc;
  return product(m, &s, s.L, s.d, s.L, probs_cols, ds, qkv_rows, a->qkv, qkv_out_rows, d_qkv + s.H, 0, BERT_FP32, err);
}
