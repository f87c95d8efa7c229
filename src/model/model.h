/* model/model: a BERT model — config, parameter layout, one fp32 buffer of parameters, one of
 * gradients (accumulated with +=), an optional bf16 copy of the parameters for bf16 matrix
 * products — and its forward and backward passes over a batch, with activations in a workspace
 * arena sized once for (task, batch, length) and reused every step. */
#ifndef BERT_MODEL_MODEL_H
#define BERT_MODEL_MODEL_H

#include <stdint.h>

#include "base/arena.h"
#include "base/rng.h"
#include "model/config.h"
#include "model/layout.h"
#include "tensor/gemm.h"

/* int8 mode: the encoder layers' linear weights quantized per output channel (inference only;
 * embeddings, LayerNorm, attention products, pooler and heads stay fp32). */
typedef struct bert_int8_weights {
  int count;
  size_t *offsets;  /* [count] parameter offsets of the quantized weights */
  int8_t **values;  /* [count] s8 [out, in] */
  float **scales;   /* [count] [out] */
  void *block;      /* one allocation behind values and scales */
} bert_int8_weights;

/* Inference: the encoder's linear weights (in the model's precision) packed once in oneDNN's
 * preferred layout for this CPU; dropped whenever the weights or the precision change. */
typedef struct bert_model_packing {
  int count;
  size_t *offsets;              /* [count] parameter offsets of the packed weights */
  bert_packed_weights *weights; /* [count] */
  bert_packed_set *set;
  uint64_t serial;              /* counts the packings of this model (see bert_packed_set_create) */
} bert_model_packing;

typedef struct bert_model {
  bert_config config;
  bert_layout layout;
  float *params;
  float *grads;           /* NULL until bert_model_enable_grads */
  uint16_t *params_bf16;  /* NULL unless precision is bf16 */
  bert_int8_weights int8; /* empty unless precision is int8 */
  bert_model_packing packing; /* empty unless bert_model_pack_weights was called */
  int fp32_released;      /* the fp32 encoder weights were given back (bf16 / int8 inference only) */
  bert_precision precision;
  bert_gemm_ctx *gemm;
} bert_model;

/* Allocates a model for `cfg` (copied) with the given parts; parameters are zero. */
int bert_model_create(bert_model *m, const bert_config *cfg, int parts, bert_error *err);
void bert_model_free(bert_model *m);
int bert_model_enable_grads(bert_model *m, bert_error *err);
void bert_model_zero_grads(bert_model *m);
/* bf16 mode: matrix products read bf16 operands; call bert_model_sync_bf16 after every change to
 * the fp32 parameters (it is called by set_precision). int8 mode (inference only) quantizes the
 * encoder's linear weights once, from the fp32 parameters as they are at the call. */
int bert_model_set_precision(bert_model *m, bert_precision p, bert_error *err);
/* For inference only (the weights must not change afterwards, or call it again): packs the
 * encoder's linear weights in the current precision as products of about `rows` rows prefer them
 * (blocked layouts on AMX / VNNI; nothing on CPUs whose kernels read the plain layout). `force`
 * packs even then (tests). Shallow copies of the model (serving instances) share the packing. */
int bert_model_pack_weights(bert_model *m, int64_t rows, int force, bert_error *err);
/* bf16 and int8 inference only: gives the memory of the fp32 encoder linear weights, which the
 * products no longer read, back to the system (3/4 of BERT-base's parameters). The fp32 master
 * weights are for training; afterwards the model cannot change precision, train or be saved. */
int bert_model_release_fp32_weights(bert_model *m, bert_error *err);
/* What an inference command does after loading: the precision, the packed weights and, in bf16
 * and int8, the fp32 encoder weights released. */
int bert_model_prepare_inference(bert_model *m, bert_precision p, int64_t rows, bert_error *err);
const char *bert_precision_name(bert_precision p);
/* "fp32", "bf16" or "int8"; -1 for anything else. */
int bert_precision_parse(const char *name, bert_precision *p);
void bert_model_sync_bf16(bert_model *m);

typedef enum bert_task {
  BERT_TASK_BASE = 0,               /* encoder (+ pooler when the model has one) */
  BERT_TASK_PRETRAINING,            /* MLM at masked positions + NSP on the pooler */
  BERT_TASK_PRETRAINING_PACKED,     /* per-slot pooler and NSP, [CLS] tokens at the pack's end */
  BERT_TASK_QA,                     /* start/end logits (+ loss) */
  BERT_TASK_TOKEN_CLASSIFICATION,   /* classifier logits on every token */
} bert_task;

/* One batch of B sequences of length L; arrays are row-major [B, L] / [B, M] / [B, S].
 * Optional arrays may be NULL: token types 0, positions 0..L-1, no padding mask. Labels NULL
 * means no loss is computed. */
typedef struct bert_batch {
  int batch, len;
  const int32_t *input_ids;
  const int32_t *token_type_ids;
  const int32_t *position_ids;
  const int32_t *attention_mask;   /* 2-D padding mask: 1 token, 0 padding */
  const int32_t *seq_index;        /* packed: sequence index per token (block-diagonal mask) */
  int masked;                      /* M */
  const int32_t *masked_positions; /* [B, M] */
  const int32_t *masked_labels;    /* [B, M]; 0 = padding slot, ignored */
  int slots;                       /* S: NSP slots per row (1 unpacked) */
  const int32_t *nsp_labels;       /* [B, S] */
  const float *nsp_mask;           /* [B, S] packed: 1 real sequence, 0 empty slot */
  const int32_t *start_positions;  /* [B] QA */
  const int32_t *end_positions;    /* [B] QA */
} bert_batch;

typedef struct bert_outputs {
  float loss;          /* what backward differentiates */
  float mlm_loss, nsp_loss, mlm_acc, nsp_acc, packing_ratio;
  int mlm_count;       /* masked slots with a label */
} bert_outputs;

typedef struct bert_layer_acts {
  float *qkv, *probs, *ctx;
  float *attn_ln_in, *attn_ln_mean, *attn_ln_rstd, *attn_ln_out;
  float *ffn_pre, *ffn_act; /* training: ffn_pre holds GELU's slope at the FFN input (all the backward needs) */
  float *ffn_ln_in, *ffn_ln_mean, *ffn_ln_rstd, *out;
  uint8_t *probs_keep, *attn_out_keep, *ffn_out_keep; /* training: the dropout masks of the forward */
} bert_layer_acts;

typedef struct bert_workspace {
  bert_arena arena;
  bert_task task;
  int max_batch, max_len, max_masked, max_slots;
  int training;
  bert_precision precision; /* the model's when the buffers were sized */
  /* shape and settings of the last forward */
  int batch, len, masked, slots, dropout_on;
  bert_rng dropout_rng;
  float *emb_sum, *emb_mean, *emb_rstd, *emb_out;
  uint8_t *emb_keep;        /* training: the embeddings' dropout mask */
  int32_t *position_ids, *token_type_ids; /* the batch's, or the defaults filled in */
  bert_layer_acts *layers;
  float *sequence_output;   /* [B, L, H] = last layer's output */
  float *pool_in, *pooled;  /* [B, S, H] */
  float *mlm_in, *mlm_pre, *mlm_act, *mlm_mean, *mlm_rstd, *mlm_out;
  float *mlm_logits;        /* [B, M, V] (gradients overwrite it in backward) */
  float *mlm_loss_rows, *mlm_weight;
  int32_t *mlm_argmax;
  float *nsp_logits, *nsp_loss_rows, *nsp_weight; /* [B, S, 2] */
  int32_t *nsp_argmax;
  float *qa_logits;         /* [B, L, 2] */
  float *start_logits, *end_logits, *qa_loss_rows, *qa_weight; /* [B, L] */
  int32_t *qa_labels, *qa_argmax;
  float *token_logits;      /* [B, L, C] */
  /* backward scratch */
  float *d_hidden, *d_a, *d_t, *d_wide, *d_probs, *d_small;
  float *probs_dropped;
  uint16_t *bf16_a, *bf16_b, *bf16_c; /* bf16 operand scratch */
  uint16_t *bf16_x;         /* bf16 inference: [N, H] operand handed from product to product */
  uint8_t *u8_a;            /* int8 mode: the quantized input of a linear layer */
  bert_outputs out;
} bert_workspace;

/* Sizes the arena for the task at most (max_batch, max_len) with max_masked MLM slots and
 * max_slots NSP slots; `training` adds the backward's buffers. */
int bert_workspace_create(bert_workspace *ws, const bert_model *m, bert_task task, int max_batch,
                          int max_len, int max_masked, int max_slots, int training, bert_error *err);
void bert_workspace_free(bert_workspace *ws);

/* Forward pass. `train` turns dropout on, driven by `dropout_rng` (counter-based: the same rng
 * gives the same masks in forward and backward). Losses and accuracies land in ws->out. */
int bert_model_forward(bert_model *m, bert_workspace *ws, const bert_batch *batch, int train,
                       bert_rng dropout_rng, bert_error *err);
/* Backward of ws->out.loss * loss_scale: every parameter gradient is accumulated (+=). */
int bert_model_backward(bert_model *m, bert_workspace *ws, const bert_batch *batch, float loss_scale,
                        bert_error *err);

/* Checks a batch against the model and workspace (ids in the vocabulary, positions in range,
 * shapes within the workspace); the message names the row and field. */
int bert_batch_validate(const bert_model *m, const bert_workspace *ws, const bert_batch *batch,
                        bert_error *err);

#endif
