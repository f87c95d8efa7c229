/* data/pretraining: `bert data create` — text files to pretraining TFRecords in the reference's
 * unpacked format (section 5.1), streaming over groups of input files so memory is bounded by the
 * group, not the corpus.
 *
 * Per group of --group-files files: tokenize (parallel), drop empty documents, shuffle the
 * documents, create instances for every (duplication round, document) in parallel (random-next
 * text comes from the same group), shuffle the group's instances, encode them (parallel) and write
 * them round-robin over the output files, each with its .index. Every random draw comes from a
 * counter-based stream keyed by (seed, group, round, document), so the output depends only on the
 * inputs, the options and the seed — not on the thread count. Outputs appear atomically at the end. */
#ifndef BERT_DATA_PRETRAINING_H
#define BERT_DATA_PRETRAINING_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/glob.h"
#include "text/tokenizer.h"

typedef struct bert_pretraining_options {
  int sequence_length;        /* 128 */
  int mask_tokens;            /* 20 */
  uint64_t seed;              /* 1984 */
  int duplication_factor;     /* 6 */
  double mlm_prob;            /* 0.15 */
  double short_seq_prob;      /* 0.1 */
  int64_t max_samples;        /* -1 = all */
  int64_t ignore_index_value; /* 0: pads masked_lm_ids */
  int threads;                /* 0 = OpenMP default */
  int whole_word_masking;     /* 0 */
  int group_files;            /* 50 input files per group */
  int progress;               /* -1: a progress bar when stderr is a terminal */
} bert_pretraining_options;

void bert_pretraining_options_default(bert_pretraining_options *o);

typedef struct bert_pretraining_stats {
  size_t files, groups;
  uint64_t bytes, lines, documents, sentences, tokens;
  uint64_t instances; /* created */
  uint64_t written;   /* written (max_samples may stop earlier) */
  double seconds_tokenize, seconds_create, seconds_write; /* wall time per phase */
} bert_pretraining_stats;

/* inputs: text files (already expanded); outputs: TFRecord paths (instances go round-robin). */
int bert_pretraining_create(const bert_strlist *inputs, const bert_strlist *outputs, const bert_tokenizer *tok,
                            const bert_pretraining_options *o, bert_pretraining_stats *stats, bert_error *err);

#endif
