/* squad/finetune: the reference's run_squad.py — fine-tune a BERT QA model on SQuAD (AdamW, linear
 * schedule with warm-up, shuffled epochs, the last step padded with ignored rows, data-parallel
 * over MPI ranks as pretraining), save it as a HuggingFace folder, then evaluate: batched
 * inference, post-processing, predictions.json, nbest_predictions.json and metrics.json (the
 * official scores) in --output-dir. */
#ifndef BERT_SQUAD_FINETUNE_H
#define BERT_SQUAD_FINETUNE_H

#include "io/options.h"
#include "train/distributed.h"

int bert_squad_run(const bert_run_config *rc, const bert_dist *dist, bert_error *err);

#endif
