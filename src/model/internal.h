/* model/internal: helpers shared by the model's forward/backward files (not a public API). */
#ifndef BERT_MODEL_INTERNAL_H
#define BERT_MODEL_INTERNAL_H

#include <stddef.h>

#include "model/model.h"

#define BERT_NO_BIAS ((size_t)-1)

/* y = x Wᵀ + b with W, b at parameter offsets; converts x to bf16 in bf16 mode. */
int bert_model_linear_forward(bert_model *m, bert_workspace *ws, int64_t rows, int64_t in,
                              int64_t out, const float *x, size_t w_off, size_t b_off, float *y,
                              bert_error *err);
/* A linear layer's operands: x in fp32 (converted or quantized as the precision needs) or, in bf16
 * mode, already in bf16; y in fp32 or (bf16 mode) bf16; the post-op fused into the product. */
typedef struct bert_linear_io {
  const float *x;
  const uint16_t *x_bf16; /* instead of x */
  float *y;
  uint16_t *y_bf16;       /* instead of y */
  bert_post post;
  const float *addend;    /* BERT_POST_ADD */
} bert_linear_io;
int bert_model_linear(bert_model *m, bert_workspace *ws, int64_t rows, int64_t in, int64_t out, size_t w_off,
                      size_t b_off, const bert_linear_io *io, bert_error *err);
/* 1 when bf16 activations flow from product to product (bf16 inference): the products and
 * LayerNorms that feed other products write bf16 directly, with no fp32 round trip. */
int bert_model_bf16_io(const bert_model *m, const bert_workspace *ws);
/* dW += dyᵀ x, db += Σ dy, dx (+)= dy W (dx may be NULL). */
int bert_model_linear_backward(bert_model *m, bert_workspace *ws, int64_t rows, int64_t in,
                               int64_t out, const float *dy, const float *x, size_t w_off,
                               size_t b_off, float *dx, int accumulate_dx, bert_error *err);

/* Dropout at a site: the forward keeps the mask in `keep` (training workspaces), the backward
 * applies it; p == 0 copies (or does nothing in place). */
void bert_model_dropout_forward(const bert_workspace *ws, int layer, int site, float p, int64_t n, const float *x,
                                float *y, uint8_t *keep);
void bert_model_dropout_backward(float p, int64_t n, const uint8_t *keep, const float *dy, float *dx);
/* Dropout site ids: each place dropout happens draws from its own stream. */
bert_rng bert_model_dropout_site(const bert_workspace *ws, int layer, int site);
enum { BERT_SITE_EMBEDDINGS = 0, BERT_SITE_ATTN_PROBS = 1, BERT_SITE_ATTN_OUT = 2, BERT_SITE_FFN_OUT = 3 };

int bert_embeddings_forward(bert_model *m, bert_workspace *ws, const bert_batch *b);
void bert_embeddings_backward(bert_model *m, bert_workspace *ws, const bert_batch *b);
int bert_encoder_layer_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                               const float *x, bert_error *err);
/* d_hidden holds ∂L/∂(layer output) on entry and ∂L/∂(layer input) on return. */
int bert_encoder_layer_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                                const float *x, bert_error *err);
/* Inference attention works on blocks of heads whose scores fit in this many bytes (at least one
 * head): about a core's L2. */
#define BERT_ATTENTION_BLOCK_BYTES ((int64_t)1 << 20)
int64_t bert_attention_block_heads(int64_t heads, int64_t len);
int bert_attention_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                           bert_error *err);
/* d_ctx in, d_qkv out. */
int bert_attention_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, int layer,
                            const float *d_ctx, float *d_qkv, bert_error *err);

int bert_heads_forward(bert_model *m, bert_workspace *ws, const bert_batch *b, bert_error *err);
/* Writes ∂L/∂(sequence output) into ws->d_hidden. */
int bert_heads_backward(bert_model *m, bert_workspace *ws, const bert_batch *b, float loss_scale,
                        bert_error *err);

#endif
