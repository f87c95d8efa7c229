/* data/shuffle: `bert data shuffle` — the reference's shuffle_packed_data.py (5.7): records are
 * taken in input order (files in glob order) into a buffer of 2,500,000, each full buffer is
 * shuffled and written as consecutive files of 500,000 records (wiki_NNN.tfrecord + .index), the
 * file numbers running on across buffers. The buffer holds 8-byte locators (file, byte offset),
 * taken from each file's .index (or a scan when it has none), not the records, so memory stays
 * small even for a buffer covering the whole dataset (--buffer-size 0). Records are copied
 * unchanged (any TFRecord content). Buffer b is shuffled by its own Philox stream of the seed:
 * the output depends on the inputs and the seed only, not on the thread count. */
#ifndef BERT_DATA_SHUFFLE_H
#define BERT_DATA_SHUFFLE_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/glob.h"

typedef struct bert_shuffle_options {
  uint64_t seed;            /* 12345 */
  int64_t buffer_size;      /* 2,500,000 records; 0 = everything */
  int64_t records_per_file; /* 500,000 */
  int threads;              /* 0: all cores (reading) */
  int check_crc;            /* 1 */
  int progress;             /* -1: a progress bar when stderr is a terminal */
} bert_shuffle_options;

void bert_shuffle_options_default(bert_shuffle_options *o);

typedef struct bert_shuffle_report {
  uint64_t records, buffers, files;
} bert_shuffle_report;

int bert_shuffle_dataset(const bert_strlist *inputs, const char *output_dir, const bert_shuffle_options *o,
                         FILE *out, bert_shuffle_report *report, bert_error *err);

#endif
