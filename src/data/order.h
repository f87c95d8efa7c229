/* data/order: the global sample order of the pretraining loader, a pure function of
 * (seed, pass, position) over the record counts of the input files — never of ranks or threads.
 *
 * Pass p: the files are shuffled (Fisher-Yates on the Philox stream (seed, p)) and cut into
 * windows of K consecutive files. Positions run through the windows in turn; inside window w the
 * position j in [0, T_w) (T_w = records of the window's files) maps to record phi(j) of the
 * window's concatenated records, where phi is a keyed pseudo-random permutation of [0, T_w): a
 * balanced Feistel network on the smallest even number of bits covering T_w, keyed by
 * (seed, p, w), with cycle-walking to stay inside [0, T_w).
 *
 * Mixing: any run of positions inside a window is a (pseudo-)uniform sample without replacement
 * of the window's K files, so every batch mixes all K files in proportion to their sizes, and all
 * K are exhausted together. With K >= number of files a pass is a full shuffle of the data. Each
 * pass draws a new file order and new keys. Memory is O(files); locating a position costs two
 * binary searches and a few Philox blocks, so any sample of any pass is reached directly. */
#ifndef BERT_DATA_ORDER_H
#define BERT_DATA_ORDER_H

#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"

/* Image of x under a keyed permutation of [0, n) (x < n, n >= 1). */
uint64_t bert_permute(uint64_t x, uint64_t n, bert_rng key);

typedef struct bert_data_order {
  uint64_t seed;
  int files;     /* input files, in listing (glob) order */
  int window;    /* K: files mixed together */
  uint64_t total;
  uint64_t *counts; /* [files] records per file */
  uint64_t *first;  /* [files + 1] record id of each file's first record (listing order) */
  /* The pass whose file order is cached (each thread owns its own bert_data_order). */
  uint64_t pass;
  int have_pass;
  uint32_t *perm; /* [files] the pass's file order */
  uint64_t *cum;  /* [files + 1] records before each file in the pass's order */
} bert_data_order;

/* window <= 0 or > files means all files in one window. */
int bert_data_order_init(bert_data_order *o, const uint64_t *counts, int files, int window, uint64_t seed,
                         bert_error *err);
void bert_data_order_free(bert_data_order *o);

/* The record at `position` (< total) of pass `pass`: *file in listing order, *record within it. */
void bert_data_order_locate(bert_data_order *o, uint64_t pass, uint64_t position, int *file, uint64_t *record);

/* Dataset-wide record id (files in listing order, records in file order). */
static inline uint64_t bert_data_order_record_id(const bert_data_order *o, int file, uint64_t record) {
  return o->first[file] + record;
}

#endif
