/* squad/runner: the QA model run over SQuAD features, batch by batch. A batch is cut to its
 * longest feature (rounded up to a multiple of 64, so the matrix-product shapes stay few and
 * their oneDNN primitives cached): padding is masked out of attention, so the logits of real
 * tokens are the same as with the reference's 384 positions, at a fraction of the work. Input
 * buffers and the workspace are sized once at creation. */
#ifndef BERT_SQUAD_RUNNER_H
#define BERT_SQUAD_RUNNER_H

#include <stdint.h>

#include "model/model.h"
#include "squad/features.h"

typedef struct bert_squad_runner {
  bert_model *model;
  bert_workspace ws;
  int have_ws;
  int max_batch, seq_len;
  bert_batch batch; /* the last forward's */
  int32_t *ids, *types, *mask, *start_labels, *end_labels;
} bert_squad_runner;

/* `training` sizes the workspace for backward passes too. */
int bert_squad_runner_create(bert_squad_runner *r, bert_model *m, int max_batch, int seq_len, int training,
                             bert_error *err);
void bert_squad_runner_free(bert_squad_runner *r);

/* Forward over features index[0, n) (n <= max_batch; a negative index is a padding row). With
 * `labels` the QA loss is computed (r->ws.out.loss) and a backward may follow. The logits are in
 * r->ws.start_logits / end_logits, [n, r->batch.len]. */
int bert_squad_runner_forward(bert_squad_runner *r, const bert_squad_features *f, const int64_t *index, int n,
                              int labels, int train, bert_rng dropout, bert_error *err);
int bert_squad_runner_backward(bert_squad_runner *r, float loss_scale, bert_error *err);

/* Start and end logits of features [first, first + count), in batches of max_batch, into rows of
 * `stride` floats (at most the batch's length is written: positions past a feature's length
 * hold logits of padding or are left as they were). */
int bert_squad_runner_logits(bert_squad_runner *r, const bert_squad_features *f, int64_t first, int64_t count,
                             float *start_logits, float *end_logits, int64_t stride, bert_error *err);

#endif
