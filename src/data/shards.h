/* data/shards: numbered output files DIR/wiki_000.tfrecord, wiki_001.tfrecord, ... (the
 * reference's names, "wiki_{n:03d}"), each with its .index, a new file every `per_file` records.
 * Each file is committed atomically when it is full or ended; a run that fails calls
 * bert_shards_abandon, which removes every file the run wrote, so no partial dataset remains. */
#ifndef BERT_DATA_SHARDS_H
#define BERT_DATA_SHARDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/glob.h"
#include "data/tfrecord.h"

typedef struct bert_shards {
  const char *dir;
  int64_t per_file;
  FILE *out;        /* "Wrote N <what> into FILE." per file, or NULL */
  const char *what; /* "packs", "records" */
  bert_tfrecord_writer w;
  int open;
  uint64_t next;    /* number of the next file */
  int64_t in_file;  /* records in the open file */
  char path[4096];
  bert_strlist written;
} bert_shards;

/* Refuses an output folder that holds one of the inputs: the outputs could replace inputs still to
 * be read. A folder that does not exist yet is fine. */
int bert_shards_check_inputs(const char *dir, const bert_strlist *inputs, bert_error *err);
void bert_shards_init(bert_shards *s, const char *dir, int64_t per_file, FILE *out, const char *what);
int bert_shards_write(bert_shards *s, const void *payload, size_t n, bert_error *err);
/* Commits the open file (if any); the next write starts a new one. */
int bert_shards_end_file(bert_shards *s, bert_error *err);
/* After the last file: warns (stderr) when the folder still holds higher-numbered wiki_NNN files
 * from an earlier run, which a glob over the folder would mix in. Returns how many. */
int bert_shards_warn_stale(const bert_shards *s);
/* Drops the open file and removes the files written so far (and their indexes). */
void bert_shards_abandon(bert_shards *s);
void bert_shards_free(bert_shards *s);

#endif
