/* train/trainer: the pretraining run (the reference's run_pretraining.py). From a run
 * configuration it builds the model (fresh from the seed, or weights from a checkpoint), the
 * optimizer, the schedule and the loader, then runs `training_steps` logged steps of
 * `device_iterations` weight updates, each the mean gradient of RF x GA micro-batches shared out
 * over the MPI ranks; it logs the reference's lines, writes metrics.jsonl and step_N checkpoints,
 * and resumes exactly from one. */
#ifndef BERT_TRAIN_TRAINER_H
#define BERT_TRAIN_TRAINER_H

#include "io/options.h"
#include "train/distributed.h"

/* Runs the whole training. Configuration problems found here (e.g. RF x GA not divisible by the
 * number of ranks) return BERT_EINVAL, which the CLI turns into exit status 2. */
int bert_pretrain(const bert_run_config *rc, const bert_dist *dist, bert_error *err);

#endif
