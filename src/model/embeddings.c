/* Embeddings: word + position + token type, LayerNorm, dropout. */
#include <string.h>

#include "model/internal.h"
#include "tensor/dropout.h"
#include "tensor/embedding.h"
#include "tensor/layernorm.h"

static void fill_ids(bert_workspace *ws, const bert_batch *b) {
  int64_t N = (int64_t)b->batch * b->len;
  if (b->position_ids)
    memcpy(ws->position_ids, b->position_ids, (size_t)N * sizeof(int32_t));
  else
    for (int64_t i = 0; i < N; i++) ws->position_ids[i] = (int32_t)(i % b->len);
  if (b->token_type_ids)
    memcpy(ws->token_type_ids, b->token_type_ids, (size_t)N * sizeof(int32_t));
  else
    memset(ws->token_type_ids, 0, (size_t)N * sizeof(int32_t));
}

int bert_embeddings_forward(bert_model *m, bert_workspace *ws, const bert_batch *b) {
  const bert_layout *l = &m->layout;
  int64_t N = (int64_t)b->batch * b->len, H = m->config.hidden_size;
  fill_ids(ws, b);
  bert_embedding_forward(N, H, b->input_ids, m->params + l->word_emb, ws->emb_sum, 0);
  bert_embedding_forward(N, H, ws->position_ids, m->params + l->pos_emb, ws->emb_sum, 1);
  bert_embedding_forward(N, H, ws->token_type_ids, m->params + l->type_emb, ws->emb_sum, 1);
  bert_layernorm_forward_bf16(N, H, ws->emb_sum, m->params + l->emb_ln_g, m->params + l->emb_ln_b,
                              m->config.layer_norm_eps, ws->emb_out, bert_model_bf16_io(m, ws) ? ws->bf16_x : NULL,
                              ws->emb_mean, ws->emb_rstd);
  if (ws->dropout_on)
    bert_model_dropout_forward(ws, -1, BERT_SITE_EMBEDDINGS, m->config.hidden_dropout_prob, N * H, ws->emb_out,
                               ws->emb_out, ws->emb_keep);
  return BERT_OK;
}

void bert_embeddings_backward(bert_model *m, bert_workspace *ws, const bert_batch *b) {
  const bert_layout *l = &m->layout;
  int64_t N = (int64_t)b->batch * b->len, H = m->config.hidden_size;
  float *d = ws->d_hidden;
  if (ws->dropout_on) bert_model_dropout_backward(m->config.hidden_dropout_prob, N * H, ws->emb_keep, d, d);
  bert_layernorm_backward(N, H, d, ws->emb_sum, ws->emb_mean, ws->emb_rstd, m->params + l->emb_ln_g,
                          ws->d_a, m->grads + l->emb_ln_g, m->grads + l->emb_ln_b);
  bert_embedding_backward(N, H, b->input_ids, ws->d_a, m->grads + l->word_emb);
  bert_embedding_backward(N, H, ws->position_ids, ws->d_a, m->grads + l->pos_emb);
  bert_embedding_backward(N, H, ws->token_type_ids, ws->d_a, m->grads + l->type_emb);
}
