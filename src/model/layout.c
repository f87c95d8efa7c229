#include "model/layout.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "tensor/vmath.h"

typedef struct builder {
  bert_layout *layout;
  int capacity;
  size_t cursor;
} builder;

/* Adds a parameter; `packed` keeps it adjacent to the previous one (fused QKV), otherwise it
 * starts on a 64-byte boundary. */
static size_t add(builder *b, int part, int packed, int64_t rows, int64_t cols, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static size_t add(builder *b, int part, int packed, int64_t rows, int64_t cols, const char *fmt, ...) {
  bert_layout *l = b->layout;
  bert_param *p = &l->params[l->count++];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->name, sizeof p->name, fmt, ap);
  va_end(ap);
  p->ndim = cols ? 2 : 1;
  p->shape[0] = rows;
  p->shape[1] = cols;
  p->size = (size_t)rows * (size_t)(cols ? cols : 1);
  if (!packed) b->cursor = (b->cursor + 15) & ~(size_t)15;
  p->offset = b->cursor;
  p->part = part;
  b->cursor += p->size;
  return p->offset;
}

static void add_encoder(builder *b, const bert_config *c) {
  bert_layout *l = b->layout;
  int64_t H = c->hidden_size, I = c->intermediate_size;
  l->word_emb = add(b, BERT_PART_ENCODER, 0, c->vocab_size, H, "bert.embeddings.word_embeddings.weight");
  l->pos_emb = add(b, BERT_PART_ENCODER, 0, c->max_position_embeddings, H, "bert.embeddings.position_embeddings.weight");
  l->type_emb = add(b, BERT_PART_ENCODER, 0, c->type_vocab_size, H, "bert.embeddings.token_type_embeddings.weight");
  l->emb_ln_g = add(b, BERT_PART_ENCODER, 0, H, 0, "bert.embeddings.LayerNorm.weight");
  l->emb_ln_b = add(b, BERT_PART_ENCODER, 0, H, 0, "bert.embeddings.LayerNorm.bias");
  for (int i = 0; i < c->num_hidden_layers; i++) {
    bert_layer_offsets *o = &l->layers[i];
    const char *pre = "bert.encoder.layer";
    o->qkv_w = add(b, BERT_PART_ENCODER, 0, H, H, "%s.%d.attention.self.query.weight", pre, i);
    add(b, BERT_PART_ENCODER, 1, H, H, "%s.%d.attention.self.key.weight", pre, i);
    add(b, BERT_PART_ENCODER, 1, H, H, "%s.%d.attention.self.value.weight", pre, i);
    o->qkv_b = add(b, BERT_PART_ENCODER, 0, H, 0, "%s.%d.attention.self.query.bias", pre, i);
    add(b, BERT_PART_ENCODER, 1, H, 0, "%s.%d.attention.self.key.bias", pre, i);
    add(b, BERT_PART_ENCODER, 1, H, 0, "%s.%d.attention.self.value.bias", pre, i);
    o->attn_out_w = add(b, BERT_PART_ENCODER, 0, H, H, "%s.%d.attention.output.dense.weight", pre, i);
    o->attn_out_b = add(b, BERT_PART_ENCODER, 0, H, 0, "%s.%d.attention.output.dense.bias", pre, i);
    o->attn_ln_g = add(b, BERT_PART_ENCODER, 0, H, 0, "%s.%d.attention.output.LayerNorm.weight", pre, i);
    o->attn_ln_b = add(b, BERT_PART_ENCODER, 0, H, 0, "%s.%d.attention.output.LayerNorm.bias", pre, i);
    o->ffn_in_w = add(b, BERT_PART_ENCODER, 0, I, H, "%s.%d.intermediate.dense.weight", pre, i);
    o->ffn_in_b = add(b, BERT_PART_ENCODER, 0, I, 0, "%s.%d.intermediate.dense.bias", pre, i);
    o->ffn_out_w = add(b, BERT_PART_ENCODER, 0, H, I, "%s.%d.output.dense.weight", pre, i);
    o->ffn_out_b = add(b, BERT_PART_ENCODER, 0, H, 0, "%s.%d.output.dense.bias", pre, i);
    o->ffn_ln_g = add(b, BERT_PART_ENCODER, 0, H, 0, "%s.%d.output.LayerNorm.weight", pre, i);
    o->ffn_ln_b = add(b, BERT_PART_ENCODER, 0, H, 0, "%s.%d.output.LayerNorm.bias", pre, i);
  }
}

static void add_heads(builder *b, const bert_config *c, int parts) {
  bert_layout *l = b->layout;
  int64_t H = c->hidden_size;
  if (parts & BERT_PART_POOLER) {
    l->pooler_w = add(b, BERT_PART_POOLER, 0, H, H, "bert.pooler.dense.weight");
    l->pooler_b = add(b, BERT_PART_POOLER, 0, H, 0, "bert.pooler.dense.bias");
  }
  if (parts & BERT_PART_MLM) {
    l->mlm_dense_w = add(b, BERT_PART_MLM, 0, H, H, "cls.predictions.transform.dense.weight");
    l->mlm_dense_b = add(b, BERT_PART_MLM, 0, H, 0, "cls.predictions.transform.dense.bias");
    l->mlm_ln_g = add(b, BERT_PART_MLM, 0, H, 0, "cls.predictions.transform.LayerNorm.weight");
    l->mlm_ln_b = add(b, BERT_PART_MLM, 0, H, 0, "cls.predictions.transform.LayerNorm.bias");
    l->mlm_bias = add(b, BERT_PART_MLM, 0, c->vocab_size, 0, "cls.predictions.bias");
  }
  if (parts & BERT_PART_NSP) {
    l->nsp_w = add(b, BERT_PART_NSP, 0, 2, H, "cls.seq_relationship.weight");
    l->nsp_b = add(b, BERT_PART_NSP, 0, 2, 0, "cls.seq_relationship.bias");
  }
  if (parts & BERT_PART_QA) {
    l->qa_w = add(b, BERT_PART_QA, 0, 2, H, "qa_outputs.weight");
    l->qa_b = add(b, BERT_PART_QA, 0, 2, 0, "qa_outputs.bias");
  }
  if (parts & BERT_PART_CLASSIFIER) {
    l->cls_w = add(b, BERT_PART_CLASSIFIER, 0, c->num_labels, H, "classifier.weight");
    l->cls_b = add(b, BERT_PART_CLASSIFIER, 0, c->num_labels, 0, "classifier.bias");
  }
}

int bert_layout_build(bert_layout *layout, const bert_config *cfg, int parts, bert_error *err) {
  memset(layout, 0, sizeof *layout);
  int capacity = 5 + 16 * cfg->num_hidden_layers + 16;
  layout->params = calloc((size_t)capacity, sizeof *layout->params);
  layout->layers = calloc((size_t)cfg->num_hidden_layers, sizeof *layout->layers);
  if (!layout->params || !layout->layers) {
    bert_layout_free(layout);
    return bert_error_set(err, BERT_ENOMEM, "model layout: out of memory");
  }
  builder b = {layout, capacity, 0};
  layout->parts = parts;
  add_encoder(&b, cfg);
  add_heads(&b, cfg, parts);
  layout->total = (b.cursor + 15) & ~(size_t)15;
  return BERT_OK;
}

void bert_layout_free(bert_layout *layout) {
  free(layout->params);
  free(layout->layers);
  memset(layout, 0, sizeof *layout);
}

const bert_param *bert_layout_find(const bert_layout *layout, const char *name) {
  for (int i = 0; i < layout->count; i++)
    if (!strcmp(layout->params[i].name, name)) return &layout->params[i];
  return NULL;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* Inverse-CDF sampling of the normal truncated at ±2σ: z = √2 erfinv(u·erf(√2)) with u uniform in
 * (-1, 1) from element i's own Philox value, so every element is a pure function of
 * (seed, parameter, i) and the loop vectorises (no rejection loop). */
static inline float truncated_draw(uint32_t r, float scale) {
  const float erf_sqrt2 = 0.954499736f;
  float u = ((float)(r >> 8) + 0.5f) * (2.0f / 16777216.0f) - 1.0f;
  return scale * bert_verfinv(u * erf_sqrt2);
}

static void truncated_normal(bert_rng rng, float std, size_t size, float *out) {
  const float scale = 1.41421356f * std;
  const uint64_t seed = rng.seed, stream = rng.stream;
  const size_t full = size / 4;
#pragma omp parallel for simd schedule(static) if (size >= 16384)
  for (size_t b = 0; b < full; b++) {
    uint32_t r0, r1, r2, r3;
    bert_rng_block4(seed, stream, (uint64_t)b, &r0, &r1, &r2, &r3);
    out[4 * b] = truncated_draw(r0, scale);
    out[4 * b + 1] = truncated_draw(r1, scale);
    out[4 * b + 2] = truncated_draw(r2, scale);
    out[4 * b + 3] = truncated_draw(r3, scale);
  }
  uint32_t r[4];
  bert_rng_block(rng, (uint64_t)full, r);
  for (size_t i = full * 4; i < size; i++) out[i] = truncated_draw(r[i - full * 4], scale);
}

void bert_layout_init(const bert_layout *layout, const bert_config *cfg, uint64_t seed, int parts,
                      float *params) {
  bert_rng base = bert_rng_make(seed, BERT_RNG_INIT, 0, 0);
  for (int i = 0; i < layout->count; i++) {
    const bert_param *p = &layout->params[i];
    if (!(p->part & parts)) continue;
    float *dst = params + p->offset;
    if (p->ndim == 2) {
      truncated_normal(bert_rng_child(base, (uint64_t)i), cfg->initializer_range, p->size, dst);
      if (p->offset == layout->word_emb)
        memset(dst + (size_t)cfg->pad_token_id * p->shape[1], 0, (size_t)p->shape[1] * sizeof *dst);
    } else {
      float value = ends_with(p->name, "LayerNorm.weight") ? 1.0f : 0.0f;
      for (size_t j = 0; j < p->size; j++) dst[j] = value;
    }
  }
}
