/* Scaled dot-product self-attention on the fused QKV activations [B, L, 3H]: per-head products
 * are strided views (no transposes copied); the mask is the 2-D padding mask or the packed
 * block-diagonal mask. Training keeps every probability for the backward pass; inference works
 * one (sequence, block of heads) at a time, so the scores of a block stay in cache between the
 * two products and the softmax, and the B x heads x L x L probabilities are never written out. */
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
                   void (*c_view)(const attn_shape *, int64_t *), void *c, int accumulate,
                   bert_precision operands, bert_error *err) {
  bert_gemm_desc g;
  memset(&g, 0, sizeof g);
  g.batch_dims = 2, g.batch[0] = s->B, g.batch[1] = s->nh;
  g.m = rows, g.n = cols, g.k = inner;
  a_view(s, g.a_stride), b_view(s, g.b_stride), c_view(s, g.c_stride);
  g.operands = operands;
  g.accumulate = accumulate < 0 ? 0 : accumulate;
  g.c_bf16 = accumulate < 0; /* BF16_RESULT */
  return bert_gemm(m->gemm, &g, a, b, NULL, c, err);
}

/* The attention products' operands: bf16 in bf16 mode, else fp32 (int8 mode included: the
 * activation x activation products are not quantized). */
static bert_precision operands(const bert_model *m) { return m->precision == BERT_BF16 ? BERT_BF16 : BERT_FP32; }

enum { BF16_RESULT = -1 }; /* `accumulate` value of a product writing a bf16 result */

/* Element size of the operands, to offset into Q/K/V inside a qkv buffer of either type. */
static const void *offset(const bert_model *m, const void *base, int64_t elems) {
  return (const char *)base + elems * (operands(m) == BERT_BF16 ? 2 : 4);
}

int64_t bert_attention_block_heads(int64_t heads, int64_t len) {
  int64_t fit = BERT_ATTENTION_BLOCK_BYTES / ((int64_t)sizeof(float) * len * len);
  return fit < 1 ? 1 : fit > heads ? heads : fit;
}

/* Inference: Q·Kᵀ, the masked softmax and P·V per (sequence, head block) in a block-sized buffer. */
static int attention_forward_blocked(bert_model *m, bert_workspace *ws, const bert_batch *b, const attn_shape *s,
                                     const void *qkv, float *scores, void *ctx, bert_error *err) {
  /* bf16 inference writes the context in bf16: the operand of the output projection */
  int ctx16 = bert_model_bf16_io(m, ws);
  size_t ctx_elem = ctx16 ? sizeof(uint16_t) : sizeof(float);
  int64_t hb = bert_attention_block_heads(s->nh, s->L), d = s->d, L = s->L;
  int rc = BERT_OK;
  for (int64_t i = 0; i < s->B && !rc; i++) {
    bert_attention_mask mask = {b->attention_mask ? b->attention_mask + i * L : NULL,
                                b->seq_index ? b->seq_index + i * L : NULL};
    for (int64_t h0 = 0; h0 < s->nh && !rc; h0 += hb) {
      attn_shape blk = {1, L, h0 + hb <= s->nh ? hb : s->nh - h0, d, s->H};
      const void *q = offset(m, qkv, i * L * 3 * s->H + h0 * d);
      rc = product(m, &blk, L, L, d, qkv_rows, q, qkv_cols, offset(m, q, s->H), probs_rows, scores, 0, operands(m), err);
      if (rc) break;
      bert_attention_softmax_forward(1, blk.nh, L, 1.0f / sqrtf((float)d), &mask, scores);
      const void *probs = scores;
      if (operands(m) == BERT_BF16) {
        bert_to_bf16(scores, ws->bf16_c, blk.nh * L * L);
        probs = ws->bf16_c;
      }
      rc = product(m, &blk, L, d, L, probs_rows, probs, qkv_rows, offset(m, q, 2 * s->H), ctx_rows,
                   (char *)ctx + (size_t)(i * L * s->H + h0 * d) * ctx_elem, ctx16 ? BF16_RESULT : 0, operands(m), err);
    }
  }
  return rc;
}

int bert_attention_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                           bert_error *err) {
  attn_shape s = shape_of(m, b);
  bert_layer_acts *a = &ws->layers[layer];
  int64_t P = s.B * s.nh * s.L * s.L;
  float p = ws->dropout_on ? m->config.attention_probs_dropout_prob : 0.0f;
  const void *qkv = a->qkv;
  if (operands(m) == BERT_BF16) {
    if (!bert_model_bf16_io(m, ws)) bert_to_bf16(a->qkv, ws->bf16_b, s.B * s.L * 3 * s.H); /* else written so */
    qkv = ws->bf16_b;
  }
  if (!ws->training)
    return attention_forward_blocked(m, ws, b, &s, qkv, a->probs, bert_model_bf16_io(m, ws) ? (void *)ws->bf16_x : a->ctx,
                                     err);
  int rc = product(m, &s, s.L, s.L, s.d, qkv_rows, qkv, qkv_cols, offset(m, qkv, s.H), probs_rows, a->probs, 0, operands(m), err);
  if (rc) return rc;
  bert_attention_mask mask = {b->attention_mask, b->seq_index};
  bert_attention_softmax_forward(s.B, s.nh, s.L, 1.0f / sqrtf((float)s.d), &mask, a->probs);
  const float *dropped = a->probs;
  if (p > 0.0f) {
    bert_model_dropout_forward(ws, layer, BERT_SITE_ATTN_PROBS, p, P, a->probs, ws->probs_dropped, a->probs_keep);
    dropped = ws->probs_dropped;
  }
  const void *probs = dropped;
  if (operands(m) == BERT_BF16) {
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
  int bf16 = m->precision == BERT_BF16;
  const void *qkv = a->qkv, *dctx = d_ctx, *dropped = a->probs;
  if (p > 0.0f) {
    bert_model_dropout_backward(p, P, a->probs_keep, a->probs, ws->probs_dropped); /* the forward's dropped probs */
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
  if (p > 0.0f) bert_model_dropout_backward(p, P, a->probs_keep, ws->d_probs, ws->d_probs);
  bert_attention_softmax_backward(s.B, s.nh, s.L, 1.0f / sqrtf((float)s.d), a->probs, ws->d_probs);
  /* ∂Q = ∂S · K ; ∂K = ∂Sᵀ · Q in fp32 even in bf16 mode: ∂S = P ⊙ (∂P − ⟨P, ∂P⟩) cancels, and
   * rounding it to bf16 costs more accuracy than these two small products cost time. */
  const float *ds = ws->d_probs;
  if ((rc = product(m, &s, s.L, s.d, s.L, probs_rows, ds, qkv_rows, a->qkv + s.H, qkv_out_rows, d_qkv, 0, BERT_FP32, err)))
    return rc;
  return product(m, &s, s.L, s.d, s.L, probs_cols, ds, qkv_rows, a->qkv, qkv_out_rows, d_qkv + s.H, 0, BERT_FP32, err);
}
