/* data/pack: `bert data pack` — unpacked pretraining TFRecords (reference 5.1) to packed ones
 * (5.2), as the reference's pack_pretraining_data.py (5.6) but in two passes and bounded memory:
 *   1. read every record once (files in parallel), check it, and keep only its length and its
 *      locator (file, byte offset): 10 bytes per sequence, never the data;
 *   2. plan from the length histogram (data/packing: NNLSHP, SPFHP or LPFHP);
 *   3. sort the locators into one bin per length in place, add the plan's placeholders, shuffle
 *      each bin, hand the bins out to the strategies in plan order (the reference's slicing: each
 *      slot takes the next block from the end of its bin), and shuffle the order of the packs;
 *   4. write the packs in that order, 500,000 per file (wiki_NNN.tfrecord + .index, each written
 *      atomically), reading their sequences by locator in batches sorted by file and offset, and
 *      decoding and encoding in parallel.
 * Every random draw comes from Philox streams keyed by the seed, so the output depends only on
 * the inputs, the options and the seed — not on the thread count. Packs of placeholders only are
 * not written; packs whose masked tokens overflow M+S-1 are discarded and counted. */
#ifndef BERT_DATA_PACK_H
#define BERT_DATA_PACK_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/glob.h"
#include "data/packing.h"

typedef struct bert_pack_options {
  bert_pack_plan_options plan; /* L, S, algorithm, drop_unpacked_remainder */
  int mask_tokens;             /* M (20) */
  uint64_t seed;               /* 12345 */
  int threads;                 /* 0: all cores */
  int64_t packs_per_file;      /* 500000 */
  int check_crc;               /* 1 */
  int progress;                /* -1: a progress bar when stderr is a terminal */
  const char *plan_output;     /* NULL, or a path for the plan as JSON */
} bert_pack_options;

void bert_pack_options_default(bert_pack_options *o);

typedef struct bert_pack_report {
  uint64_t sequences;       /* read */
  uint64_t packs_planned;   /* by the plan */
  uint64_t packs_written;
  uint64_t sequences_packed; /* in the packs written */
  uint64_t packs_left;      /* planned but not filled ("packs left to fill") */
  uint64_t packs_empty;     /* placeholders only, not written */
  uint64_t packs_overflow;  /* discarded: masked tokens beyond M+S-1 */
  uint64_t files;           /* written */
  double seconds_read, seconds_plan, seconds_write;
} bert_pack_report;

/* inputs: unpacked TFRecord files (already expanded). The reference's printout (input files,
 * solver statistics, one line per file written, "Packing took: T seconds. P packs left to fill.")
 * goes to out (NULL: silent). */
int bert_pack_dataset(const bert_strlist *inputs, const char *output_dir, const bert_pack_options *o, FILE *out,
                      bert_pack_report *report, bert_error *err);

#endif
