/* data/shards: numbered output files DIR/wiki_000.tfrecord, wiki_001.tfrecord, ... (the
 * reference's names, "wiki_{n:03d}"), each with its .index, a new file every `per_file` records.
 * Each file is flushed and fsynced under a temporary name when it is full or ended, and
 * bert_shards_finish makes them all appear together (bert_atomic_publish); a run that fails calls
 * bert_shards_abandon, which drops them, so the folder keeps its previous files and never holds a
 * partial dataset under the final names. */
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
  bert_strlist written;         /* final paths of the files ended so far */
  bert_tfrecord_writer *staged; /* their writers, finished, waiting for bert_shards_finish */
  size_t n_staged, cap_staged;
} bert_shards;

/* Refuses an output folder that holds one of the inputs: the outputs could replace inputs still to
 * be read. A folder that does not exist yet is fine. */
int bert_shards_check_inputs(const char *dir, const bert_strlist *inputs, bert_error *err);
void bert_shards_init(bert_shards *s, const char *dir, int64_t per_file, FILE *out, const char *what);
int bert_shards_write(bert_shards *s, const void *payload, size_t n, bert_error *err);
/* Ends the open file (if any; flushed, fsynced, not yet visible); the next write starts a new one. */
int bert_shards_end_file(bert_shards *s, bert_error *err);
/* Ends the open file and makes every file of the run appear under its final name, all or none. */
int bert_shards_finish(bert_shards *s, bert_error *err);
/* After the last file: warns (stderr) when the folder still holds higher-numbered wiki_NNN files
 * from an earlier run, which a glob over the folder would mix in. Returns how many. */
int bert_shards_warn_stale(const bert_shards *s);
/* Drops the open file and the files ended so far (and their indexes): nothing of the run appears. */
void bert_shards_abandon(bert_shards *s);
void bert_shards_free(bert_shards *s);

#endif
