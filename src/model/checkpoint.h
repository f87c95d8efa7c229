/* model/checkpoint: HuggingFace model folders in and out. Loading reads config.json and then
 * model.safetensors, else pytorch_model.bin (torch zip + pickle, read in C), accepting HF names,
 * names without the "bert." prefix and TF-style gamma/beta; the model is created with the parts
 * asked for, missing parts are freshly initialised (reference 3.3) and listed, unused tensors are
 * listed, and a shape mismatch is an error naming the tensor. Saving writes config.json +
 * model.safetensors (+ vocab.txt, tokenizer_config.json) atomically; the tied MLM decoder is
 * written once, as HuggingFace does. */
#ifndef BERT_MODEL_CHECKPOINT_H
#define BERT_MODEL_CHECKPOINT_H

#include <stdint.h>

#include "model/model.h"

typedef struct bert_load_report {
  int parts_found;        /* BERT_PART_* present in the file */
  int parts_initialised;  /* BERT_PART_* asked for but absent: freshly initialised */
  char **missing;         /* parameter names initialised fresh */
  int missing_count;
  char **unused;          /* tensors in the file the model does not use */
  int unused_count;
  char **ignored;         /* non-float buffers skipped (e.g. bert.embeddings.position_ids) */
  int ignored_count;
  char weights_path[4096];
} bert_load_report;

/* Creates `m` from the folder `dir`. `parts` = the BERT_PART_* the caller needs (heads absent from
 * the file are initialised from `init_seed`); BERT_PART_POOLER is dropped when the file has no
 * pooler and the caller passed `optional_parts` containing it. `report` may be NULL. */
int bert_checkpoint_load(bert_model *m, const char *dir, int parts, int optional_parts,
                         uint64_t init_seed, bert_load_report *report, bert_error *err);
/* Loads the weights of `dir` into an existing model whose architecture the caller chose (the
 * reference's from_pretrained(dir, config=run config)): every tensor must have the model's shape;
 * parts of the model absent from the file are initialised from `init_seed`. */
int bert_checkpoint_load_weights(bert_model *m, const char *dir, uint64_t init_seed, bert_load_report *report,
                                 bert_error *err);
void bert_load_report_free(bert_load_report *report);
/* Prints the report's lists on stderr in one line each (what a user needs to know). */
void bert_load_report_log(const bert_load_report *report);

/* Writes config.json + model.safetensors into `dir` (created if missing); vocab_path (may be
 * NULL) is copied to dir/vocab.txt, and when do_lower_case >= 0 a tokenizer_config.json with it. */
int bert_checkpoint_save(const bert_model *m, const char *dir, const char *vocab_path, int do_lower_case,
                         bert_error *err);
/* The same, the folder as a whole: written beside dir and put in place at once, replacing a
 * previous dir only when complete (bert_dir_publish). */
int bert_checkpoint_save_whole(const bert_model *m, const char *dir, const char *vocab_path, int do_lower_case,
                               bert_error *err);

#endif
