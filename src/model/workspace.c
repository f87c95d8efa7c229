/* Workspace sizing: one pass counts the bytes every buffer needs, the arena is allocated once, a
 * second pass hands the buffers out. */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"
#include "model/model.h"

typedef struct carver {
  bert_arena *arena; /* NULL while counting */
  size_t bytes;
} carver;

static void *take(carver *c, size_t count, size_t elem) {
  size_t bytes = bert_align_up(count * elem);
  c->bytes += bytes;
  return c->arena ? bert_arena_alloc(c->arena, bytes) : NULL;
}
#define TAKE_F(c, n) ((float *)take((c), (size_t)(n), sizeof(float)))
#define TAKE_I(c, n) ((int32_t *)take((c), (size_t)(n), sizeof(int32_t)))

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Attention scores held at once: all of them in training (the backward needs them), one block of
 * heads of one sequence in inference (the largest block over the lengths up to max_len). */
static int64_t scores_held(const bert_workspace *ws, const bert_config *cfg) {
  int64_t nh = cfg->num_attention_heads, L = ws->max_len;
  if (ws->training) return (int64_t)ws->max_batch * nh * L * L;
  int64_t most = BERT_ATTENTION_BLOCK_BYTES / (int64_t)sizeof(float);
  most = most > L * L ? most : L * L;
  return most < nh * L * L ? most : nh * L * L;
}

static void carve_layers(carver *c, bert_workspace *ws, const bert_config *cfg) {
  int64_t N = (int64_t)ws->max_batch * ws->max_len, H = cfg->hidden_size, I = cfg->intermediate_size;
  int64_t P = scores_held(ws, cfg);
  /* Inference keeps no activations for a backward pass: every layer reuses one set of buffers
   * (a layer reads its input for the last time before it writes its output). */
  int sets = ws->training ? cfg->num_hidden_layers : 1;
  for (int l = 0; l < cfg->num_hidden_layers; l++) {
    bert_layer_acts *a = &ws->layers[l];
    if (l >= sets) {
      *a = ws->layers[0];
      continue;
    }
    a->qkv = TAKE_F(c, N * 3 * H);
    a->probs = TAKE_F(c, P);
    a->ctx = TAKE_F(c, N * H);
    a->attn_ln_in = TAKE_F(c, N * H);
    a->attn_ln_mean = TAKE_F(c, N);
    a->attn_ln_rstd = TAKE_F(c, N);
    a->attn_ln_out = TAKE_F(c, N * H);
    a->ffn_pre = ws->training ? TAKE_F(c, N * I) : NULL; /* inference fuses the GELU */
    a->ffn_act = TAKE_F(c, N * I);
    a->ffn_ln_in = TAKE_F(c, N * H);
    a->ffn_ln_mean = TAKE_F(c, N);
    a->ffn_ln_rstd = TAKE_F(c, N);
    a->out = TAKE_F(c, N * H);
    if (ws->training) {
      a->probs_keep = take(c, (size_t)P, 1);
      a->attn_out_keep = take(c, (size_t)(N * H), 1);
      a->ffn_out_keep = take(c, (size_t)(N * H), 1);
    }
  }
}

static void carve_heads(carver *c, bert_workspace *ws, const bert_config *cfg) {
  int64_t B = ws->max_batch, L = ws->max_len, N = B * L, H = cfg->hidden_size, V = cfg->vocab_size;
  int64_t BM = B * ws->max_masked, BS = B * ws->max_slots;
  switch (ws->task) {
    case BERT_TASK_PRETRAINING:
    case BERT_TASK_PRETRAINING_PACKED:
      ws->mlm_in = TAKE_F(c, BM * H);
      ws->mlm_pre = TAKE_F(c, BM * H);
      ws->mlm_act = TAKE_F(c, BM * H);
      ws->mlm_mean = TAKE_F(c, BM);
      ws->mlm_rstd = TAKE_F(c, BM);
      ws->mlm_out = TAKE_F(c, BM * H);
      ws->mlm_logits = TAKE_F(c, BM * V);
      ws->mlm_loss_rows = TAKE_F(c, BM);
      ws->mlm_weight = TAKE_F(c, BM);
      ws->mlm_argmax = TAKE_I(c, BM);
      ws->nsp_logits = TAKE_F(c, BS * 2);
      ws->nsp_loss_rows = TAKE_F(c, BS);
      ws->nsp_weight = TAKE_F(c, BS);
      ws->nsp_argmax = TAKE_I(c, BS);
      break;
    case BERT_TASK_QA:
      ws->qa_logits = TAKE_F(c, N * 2);
      ws->start_logits = TAKE_F(c, N);
      ws->end_logits = TAKE_F(c, N);
      ws->qa_loss_rows = TAKE_F(c, 2 * B);
      ws->qa_weight = TAKE_F(c, 2 * B);
      ws->qa_labels = TAKE_I(c, 2 * B);
      ws->qa_argmax = TAKE_I(c, 2 * B);
      break;
    case BERT_TASK_TOKEN_CLASSIFICATION:
      ws->token_logits = TAKE_F(c, N * cfg->num_labels);
      break;
    case BERT_TASK_BASE:
      break;
  }
  ws->pool_in = TAKE_F(c, BS * H);
  ws->pooled = TAKE_F(c, BS * H);
}

static void carve_backward(carver *c, bert_workspace *ws, const bert_config *cfg, bert_precision p) {
  int bf16 = p == BERT_BF16;
  int64_t B = ws->max_batch, L = ws->max_len, N = B * L, H = cfg->hidden_size, I = cfg->intermediate_size;
  int64_t P = scores_held(ws, cfg), BM = B * ws->max_masked, BS = B * ws->max_slots;
  int64_t widest = max64(max64(N * I, N * 3 * H), max64(P, BM * (int64_t)cfg->vocab_size));
  widest = max64(widest, BS * H);
  if (ws->training) {
    ws->d_hidden = TAKE_F(c, N * H);
    ws->d_a = TAKE_F(c, max64(N, BM) * H);
    ws->d_t = TAKE_F(c, max64(N, max64(BM, BS)) * H);
    ws->d_wide = TAKE_F(c, max64(N * max64(I, 3 * H), max64(BM, BS) * H));
    ws->d_probs = TAKE_F(c, P);
    ws->d_small = TAKE_F(c, max64(2 * N, BS * H));
    ws->probs_dropped = TAKE_F(c, P);
  }
  if (bf16) {
    ws->bf16_a = take(c, (size_t)widest, sizeof(uint16_t));
    ws->bf16_b = take(c, (size_t)widest, sizeof(uint16_t));
    ws->bf16_c = take(c, (size_t)P, sizeof(uint16_t));
    if (!ws->training) ws->bf16_x = take(c, (size_t)(N * H), sizeof(uint16_t));
  }
  if (p == BERT_INT8) ws->u8_a = take(c, (size_t)(N * max64(H, I)), 1);
}

static void carve(carver *c, bert_workspace *ws, const bert_config *cfg, bert_precision p) {
  int64_t N = (int64_t)ws->max_batch * ws->max_len, H = cfg->hidden_size;
  ws->emb_sum = TAKE_F(c, N * H);
  ws->emb_mean = TAKE_F(c, N);
  ws->emb_rstd = TAKE_F(c, N);
  ws->emb_out = TAKE_F(c, N * H);
  ws->emb_keep = ws->training ? take(c, (size_t)(N * H), 1) : NULL;
  ws->position_ids = TAKE_I(c, N);
  ws->token_type_ids = TAKE_I(c, N);
  carve_layers(c, ws, cfg);
  carve_heads(c, ws, cfg);
  carve_backward(c, ws, cfg, p);
}

int bert_workspace_create(bert_workspace *ws, const bert_model *m, bert_task task, int max_batch,
                          int max_len, int max_masked, int max_slots, int training, bert_error *err) {
  memset(ws, 0, sizeof *ws);
  if (max_batch <= 0 || max_len <= 0 || max_len > m->config.max_position_embeddings)
    return bert_error_set(err, BERT_EINVAL, "workspace: batch %d and length %d must be positive, length <= %d",
                          max_batch, max_len, m->config.max_position_embeddings);
  static const int needs[] = {0, BERT_PART_MLM | BERT_PART_NSP | BERT_PART_POOLER,
                              BERT_PART_MLM | BERT_PART_NSP | BERT_PART_POOLER, BERT_PART_QA,
                              BERT_PART_CLASSIFIER};
  if ((m->layout.parts & needs[task]) != needs[task])
    return bert_error_set(err, BERT_EINVAL, "workspace: the model lacks the parameters this head needs");
  if (training && m->precision == BERT_INT8)
    return bert_error_set(err, BERT_EINVAL, "workspace: int8 is for inference; train in fp32 or bf16");
  ws->task = task;
  ws->max_batch = max_batch;
  ws->max_len = max_len;
  ws->max_masked = max_masked > 0 ? max_masked : 1;
  ws->max_slots = max_slots > 0 ? max_slots : 1;
  ws->training = training;
  ws->precision = m->precision;
  ws->layers = calloc((size_t)m->config.num_hidden_layers, sizeof *ws->layers);
  if (!ws->layers) return bert_error_set(err, BERT_ENOMEM, "workspace: out of memory");
  carver count = {NULL, 0};
  carve(&count, ws, &m->config, m->precision);
  int rc = bert_arena_init(&ws->arena, count.bytes, err);
  if (rc) {
    free(ws->layers);
    return rc;
  }
  carver real = {&ws->arena, 0};
  carve(&real, ws, &m->config, m->precision);
  return BERT_OK;
}

void bert_workspace_free(bert_workspace *ws) {
  bert_arena_free(&ws->arena);
  free(ws->layers);
  memset(ws, 0, sizeof *ws);
}

static int check_range(const int32_t *v, int64_t n, int lo, int hi, int per_row, const char *field,
                       bert_error *err) {
  if (!v) return BERT_OK;
  for (int64_t i = 0; i < n; i++)
    if (v[i] < lo || v[i] >= hi)
      return bert_error_set(err, BERT_ERANGE, "batch row %lld: %s[%lld] = %d outside [%d, %d)",
                            (long long)(i / per_row), field, (long long)(i % per_row), v[i], lo, hi);
  return BERT_OK;
}

int bert_batch_validate(const bert_model *m, const bert_workspace *ws, const bert_batch *b,
                        bert_error *err) {
  const bert_config *c = &m->config;
  if (b->batch <= 0 || b->batch > ws->max_batch || b->len <= 0 || b->len > ws->max_len)
    return bert_error_set(err, BERT_EINVAL, "batch of %d x %d does not fit the workspace (%d x %d)",
                          b->batch, b->len, ws->max_batch, ws->max_len);
  int64_t N = (int64_t)b->batch * b->len;
  int rc = check_range(b->input_ids, N, 0, c->vocab_size, b->len, "input_ids", err);
  if (!rc) rc = check_range(b->token_type_ids, N, 0, c->type_vocab_size, b->len, "token_type_ids", err);
  if (!rc) rc = check_range(b->position_ids, N, 0, c->max_position_embeddings, b->len, "position_ids", err);
  if (rc) return rc;
  if (ws->task == BERT_TASK_PRETRAINING || ws->task == BERT_TASK_PRETRAINING_PACKED) {
    if (b->masked <= 0 || b->masked > ws->max_masked || b->slots <= 0 || b->slots > ws->max_slots ||
        b->slots > b->len)
      return bert_error_set(err, BERT_EINVAL, "batch: %d masked slots / %d NSP slots do not fit (%d / %d)",
                            b->masked, b->slots, ws->max_masked, ws->max_slots);
    rc = check_range(b->masked_positions, (int64_t)b->batch * b->masked, 0, b->len, b->masked,
                     "masked_lm_positions", err);
    if (!rc) rc = check_range(b->masked_labels, (int64_t)b->batch * b->masked, 0, c->vocab_size, b->masked,
                              "masked_lm_labels", err);
    if (!rc) rc = check_range(b->nsp_labels, (int64_t)b->batch * b->slots, 0, 2, b->slots, "next_sentence_label", err);
    if (rc) return rc;
    if (!b->masked_positions) return bert_error_set(err, BERT_EINVAL, "batch: masked_lm_positions missing");
    if (ws->task == BERT_TASK_PRETRAINING_PACKED && !b->seq_index)
      return bert_error_set(err, BERT_EINVAL, "batch: packed pretraining needs per-token sequence indices");
  }
  if (ws->task == BERT_TASK_QA) {
    if ((b->start_positions == NULL) != (b->end_positions == NULL))
      return bert_error_set(err, BERT_EINVAL, "batch: start and end positions come together");
  }
  return BERT_OK;
}
