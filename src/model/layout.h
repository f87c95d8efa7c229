/* model/layout: where every parameter lives in the one fp32 buffer, under its HuggingFace name
 * and shape ([out, in] for linear weights), and how a fresh model is initialised (reference 3.3).
 * The query, key and value weights of a layer are adjacent, forming the fused [3H, H] QKV matrix
 * (and their biases the [3H] vector). The MLM decoder is tied to the word embeddings: no slot. */
#ifndef BERT_MODEL_LAYOUT_H
#define BERT_MODEL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/config.h"

/* Which parts beyond the encoder a model carries. */
enum {
  BERT_PART_ENCODER = 32,   /* embeddings + encoder layers: always present */
  BERT_PART_POOLER = 1,     /* bert.pooler.dense.* */
  BERT_PART_MLM = 2,        /* cls.predictions.* */
  BERT_PART_NSP = 4,        /* cls.seq_relationship.* */
  BERT_PART_QA = 8,         /* qa_outputs.* */
  BERT_PART_CLASSIFIER = 16 /* classifier.* (token classification) */
};
#define BERT_PART_ALL 63
#define BERT_PARTS_PRETRAINING (BERT_PART_POOLER | BERT_PART_MLM | BERT_PART_NSP)

typedef struct bert_param {
  char name[96];
  int ndim;
  int64_t shape[2];
  size_t offset; /* in floats from the start of the buffer */
  size_t size;   /* elements */
  int part;      /* the BERT_PART_* it belongs to */
} bert_param;

typedef struct bert_layer_offsets {
  size_t qkv_w, qkv_b, attn_out_w, attn_out_b, attn_ln_g, attn_ln_b;
  size_t ffn_in_w, ffn_in_b, ffn_out_w, ffn_out_b, ffn_ln_g, ffn_ln_b;
} bert_layer_offsets;

typedef struct bert_layout {
  bert_param *params;
  int count;
  size_t total; /* floats in the buffer (including alignment padding) */
  int parts;
  size_t word_emb, pos_emb, type_emb, emb_ln_g, emb_ln_b;
  bert_layer_offsets *layers;
  size_t pooler_w, pooler_b;
  size_t mlm_dense_w, mlm_dense_b, mlm_ln_g, mlm_ln_b, mlm_bias;
  size_t nsp_w, nsp_b, qa_w, qa_b, cls_w, cls_b;
} bert_layout;

int bert_layout_build(bert_layout *layout, const bert_config *cfg, int parts, bert_error *err);
void bert_layout_free(bert_layout *layout);
const bert_param *bert_layout_find(const bert_layout *layout, const char *name);

/* Reference 3.3: truncated normal (±2σ, σ = initializer_range) for every linear and embedding
 * weight, zero biases, zero padding row, LayerNorm 1 / 0; a pure function of the seed.
 * Only parameters whose part is in `parts` are written (so missing heads can be initialised
 * alone); BERT_PART_ALL initialises everything. */
void bert_layout_init(const bert_layout *layout, const bert_config *cfg, uint64_t seed, int parts,
                      float *params);

#endif
