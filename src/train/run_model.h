/* train/run_model: what `bert pretrain` and `bert squad` share in setting up a run's model — the
 * HF config from the run's options, the split of an update's micro-batches over the MPI ranks,
 * and loading a checkpoint's weights into the model the run configured (the reference's
 * from_pretrained(dir, config=run config)). */
#ifndef BERT_TRAIN_RUN_MODEL_H
#define BERT_TRAIN_RUN_MODEL_H

#include "io/options.h"
#include "model/model.h"
#include "train/distributed.h"

/* Sizes from the run, HF defaults elsewhere, every run option kept (the saved config.json records
 * the run, as the reference's does) and `architecture` ("BertForPreTraining"). */
int bert_run_model_config(const bert_run_config *rc, const char *architecture, bert_config *c, bert_error *err);

/* RF x GA micro-batches per update shared by the ranks: each takes *per_rank of them. Fails
 * (BERT_EINVAL) when the rank count does not divide RF x GA. */
int bert_run_micro_per_rank(const bert_run_config *rc, const bert_dist *dist, int *per_rank, bert_error *err);

/* Loads the weights of the HF folder `dir` into `m`; rank 0 logs what was loaded, initialised
 * and unused. */
int bert_run_load_weights(bert_model *m, const char *dir, uint64_t init_seed, int log, bert_error *err);

#endif
