/* data/wikipedia: `bert data wikipedia` — the reference's whole Wikipedia pipeline (5.5) in one
 * resumable command, from a MediaWiki dump to indexed pretraining TFRecords:
 *   extract     DUMP            -> OUT/text/AA/wiki_00 ...           (data/wiki_extract)
 *   preprocess  OUT/text        -> OUT/sentences/AA/wiki_00_cleaned  (data/wiki_preprocess)
 *   create      OUT/sentences   -> OUT/<L>/wiki_NNN.tfrecord + .index (data/pretraining: groups of
 *               group_files inputs, 5 outputs per input, duplication factor 5, lower case)
 *   index       OUT/<L>: any missing .index is built
 *   [pack]      OUT/<L>         -> OUT/packed_unshuffled_<L>/        (data/pack)
 *   [shuffle]   ...             -> OUT/packed_<L>/                   (data/shuffle, when available)
 * Each stage ends by writing OUT/.stages/<stage>.done (last, atomically) holding the stage's
 * settings; a later run skips a stage whose done-file matches its settings and whose output
 * exists, and reruns it and every stage after it otherwise (the stage's folder is emptied
 * first). Memory is bounded by the streaming stages and, in `create`, by one group of files. */
#ifndef BERT_DATA_WIKIPEDIA_H
#define BERT_DATA_WIKIPEDIA_H

#include <stdint.h>

#include "base/error.h"

typedef struct bert_wikipedia_options {
  int sequence_length;    /* 128 */
  int mask_tokens;        /* 20 */
  const char *vocab;      /* "data/vocab.txt" (bert-base-uncased, as the reference) */
  int group_files;        /* 50 */
  int files_per_input;    /* 5 */
  int duplication_factor; /* 5 */
  uint64_t seed;          /* 1984; group g uses seed + g */
  int small_files;        /* 0 */
  int64_t max_len;        /* 100 */
  uint64_t file_bytes;    /* extraction file size, 100 MiB */
  int skip_redirects;     /* 0 */
  int pack;               /* 0 */
  int max_sequences_per_pack; /* 3 */
  uint64_t pack_seed;     /* 12345 */
  int threads;            /* 0: all cores */
  int progress;           /* -1: progress bars when stderr is a terminal */
} bert_wikipedia_options;

void bert_wikipedia_options_default(bert_wikipedia_options *o);

/* Seconds and input bytes of each stage that ran in this call (0 when skipped). */
typedef struct bert_wikipedia_report {
  const char *stage[6];
  int ran[6];
  double seconds[6];
  uint64_t bytes[6];
  int stages;
} bert_wikipedia_report;

int bert_wikipedia_run(const char *dump, const char *outdir, const bert_wikipedia_options *o,
                       bert_wikipedia_report *report, bert_error *err);

#endif
