/* train/optimizer: AdamW, LAMB and LAMBNoBiasCorrection over the model's one parameter buffer
 * (REFERENCE 4.1-4.3). The moments live in one allocation with the parameter buffer's layout
 * (first moment m, then second moment v), so one loop updates every tensor; LAMB's per-tensor
 * norms are summed in double over fixed chunks, so the result does not depend on the thread count.
 * The gradient buffer is read with a scale factor applied on the fly (mean over micro-batches and
 * replicas, undoing the loss scale), so the trainer never rescales it. Formulas: docs/training-maths.md. */
#ifndef BERT_TRAIN_OPTIMIZER_H
#define BERT_TRAIN_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "io/safetensors.h"
#include "model/layout.h"

typedef enum bert_optimizer_kind {
  BERT_OPT_ADAMW = 0,               /* no bias correction, decoupled weight decay */
  BERT_OPT_LAMB,                    /* bias-corrected LAMB */
  BERT_OPT_LAMB_NO_BIAS_CORRECTION, /* LAMB without bias correction */
} bert_optimizer_kind;

/* Reference 4.1, decided from the parameter's name and rank. */
typedef enum bert_param_group {
  BERT_GROUP_BIAS = 0, /* name contains "bias": no weight decay, max_weight_norm 0 (LAMB trust 1) */
  BERT_GROUP_NORM,     /* other 1-D tensors (LayerNorm weights): no decay, trust ratio active */
  BERT_GROUP_DECAY,    /* everything else (matrices, embeddings): --weight-decay, trust ratio active */
} bert_param_group;

typedef struct bert_optimizer_config {
  bert_optimizer_kind kind;
  double weight_decay;    /* applied to BERT_GROUP_DECAY only */
  double beta1, beta2;    /* 0.9, 0.999 (the reference never changes them) */
  double eps;             /* 1e-6 */
  double max_weight_norm; /* LAMB: ||w|| is clamped to this (65500, PopTorch's value for None) */
  int half_first_moment;  /* store m as IEEE fp16 (--enable-half-first-order-momentum) */
} bert_optimizer_config;

/* The reference's defaults: AdamW, weight decay 0, betas 0.9/0.999, eps 1e-6, cap 65500, fp32 m. */
void bert_optimizer_config_defaults(bert_optimizer_config *cfg);
/* "AdamW" / "LAMB" / "LAMBNoBiasCorrection" (the reference's --optimizer choices). */
int bert_optimizer_kind_parse(const char *name, bert_optimizer_kind *out, bert_error *err);
const char *bert_optimizer_kind_name(bert_optimizer_kind kind);
bert_param_group bert_param_group_of(const bert_param *p);

typedef struct bert_opt_chunk bert_opt_chunk;

typedef struct bert_optimizer {
  bert_optimizer_config config;
  const bert_layout *layout; /* borrowed: must outlive the optimizer */
  uint8_t *groups;           /* [layout->count] bert_param_group, fixed at creation */
  double *weight_decay;      /* [count] per-parameter decay (0 outside BERT_GROUP_DECAY) */
  double *max_weight_norm;   /* [count] 0 for BERT_GROUP_BIAS */
  float *trust;              /* [count] LAMB trust ratio of the last step (1 for AdamW) */
  int64_t step;              /* updates done; LAMB's bias correction uses step + 1 */
  void *state;               /* one allocation: m then v */
  size_t state_bytes;
  float *m;                  /* first moment [layout->total], NULL when half_first_moment */
  uint16_t *m_half;          /* fp16 first moment [layout->total], or NULL */
  float *v;                  /* second moment [layout->total] */
  bert_opt_chunk *chunks;    /* fixed split of every tensor for the parallel loops */
  int nchunks;
  double *partials;          /* [2 * nchunks] per-chunk sums of w^2 and u^2 */
  char (*names)[112];        /* [2 * count] "exp_avg.<name>", "exp_avg_sq.<name>" */
} bert_optimizer;

/* Moments start at zero, step at 0. */
int bert_optimizer_create(bert_optimizer *opt, const bert_layout *layout, const bert_optimizer_config *cfg,
                          bert_error *err);
void bert_optimizer_free(bert_optimizer *opt);

/* One update of every parameter in the layout with gradient grads[i] * grad_scale and learning
 * rate lr (grad_scale = 1 / (micro-batches x replicas x loss scale) for a summed gradient buffer).
 * Padding between tensors is never read or written. */
void bert_optimizer_step(bert_optimizer *opt, float *params, const float *grads, float grad_scale, float lr);

/* State as named tensors for a safetensors file: for every parameter "exp_avg.<name>" (F32, or F16
 * with half_first_moment) and "exp_avg_sq.<name>" (F32) with the parameter's shape, then "step"
 * (I64 scalar). Entries point into the optimizer (valid until the next step or free).
 * bert_optimizer_state_count gives the number of entries; fill returns it. */
int bert_optimizer_state_count(const bert_optimizer *opt);
int bert_optimizer_state_entries(const bert_optimizer *opt, bert_st_entry *entries);
/* Restores the state from tensors named as above (other tensors are ignored). Every tensor is
 * checked (present, float, the parameter's shape) before anything is changed. Matching dtypes
 * restore bit-identical state; an F32 first moment loaded into a half-moment optimizer is
 * rounded to fp16. */
int bert_optimizer_state_load(bert_optimizer *opt, const bert_safetensors *st, bert_error *err);
/* Convenience: the entries above written atomically to `path` (metadata: optimizer kind), and
 * read back. */
int bert_optimizer_save(const bert_optimizer *opt, const char *path, bert_error *err);
int bert_optimizer_load(bert_optimizer *opt, const char *path, bert_error *err);

#endif
