/* train/run_checkpoint: a training run's `step_N` folders. step_N is the state after N completed
 * logged steps: the HF model folder (config.json with every run option, model.safetensors,
 * vocab.txt, tokenizer_config.json), optimizer.safetensors (moments) and training_state.json
 * (step, schedule, loss scale, seed and data position). A folder is written under a temporary
 * name and renamed when complete, so a crash never leaves a half-written step_N. */
#ifndef BERT_TRAIN_RUN_CHECKPOINT_H
#define BERT_TRAIN_RUN_CHECKPOINT_H

#include <stdint.h>

#include "model/model.h"
#include "train/optimizer.h"

typedef struct bert_train_state {
  int64_t step;        /* completed logged steps; the data position is the start of this step */
  int64_t total_steps; /* training_steps of the run that wrote it */
  double loss_scale;
  uint64_t seed;
  char optimizer[32];
  char schedule[16];
} bert_train_state;

typedef struct bert_checkpoint_files {
  const char *vocab_path; /* copied as vocab.txt (may be NULL) */
  int do_lower_case;      /* tokenizer_config.json; -1 to omit */
} bert_checkpoint_files;

/* Writes out_dir/step_<state->step>/ atomically (out_dir is created if missing). */
int bert_run_checkpoint_save(const char *out_dir, const bert_model *m, const bert_optimizer *opt,
                             const bert_train_state *state, const bert_checkpoint_files *files, bert_error *err);
/* 1 when `dir` already holds step_* checkpoints (the reference refuses to overwrite them). */
int bert_run_checkpoint_exists(const char *dir);
/* The reference's --checkpoint-input-dir rule: a path whose last component contains "step_" is
 * used as is; a folder holding step_N folders gives the one with the highest N (by number, not
 * as text as the reference does); anything else (an HF model folder) as is. */
int bert_run_checkpoint_resolve(const char *input, char *out, size_t cap, bert_error *err);
/* Reads training_state.json and restores the optimizer from optimizer.safetensors. */
int bert_run_checkpoint_load_state(const char *dir, bert_train_state *state, bert_optimizer *opt, bert_error *err);

#endif
