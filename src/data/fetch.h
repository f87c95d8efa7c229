/* data/fetch: random-access reads of many TFRecord records at once, for passes that write
 * records in an order unrelated to the input (packing, shuffling). A record is named by a 64-bit
 * locator (file number, byte offset) — 8 bytes per record is all a caller keeps of a dataset.
 * A batch of locators is sorted so that each file is read forward, split over threads (each with
 * its own reader and buffer), and the payloads are then available in the caller's order. */
#ifndef BERT_DATA_FETCH_H
#define BERT_DATA_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "data/tfrecord.h"

#define BERT_LOC_OFFSET_BITS 40 /* files up to 1 TiB */
#define BERT_LOC_MAX_FILES (1u << 24)
#define BERT_LOC_NONE UINT64_MAX /* "no record" (a placeholder) */

static inline uint64_t bert_loc_make(uint32_t file, uint64_t offset) {
  return ((uint64_t)file << BERT_LOC_OFFSET_BITS) | offset;
}
static inline uint32_t bert_loc_file(uint64_t loc) { return (uint32_t)(loc >> BERT_LOC_OFFSET_BITS); }
static inline uint64_t bert_loc_offset(uint64_t loc) { return loc & ((UINT64_C(1) << BERT_LOC_OFFSET_BITS) - 1); }
/* Checks that (file, offset) fits a locator; the message names the file. */
int bert_loc_check(const char *path, size_t file, uint64_t offset, bert_error *err);

typedef struct bert_fetch_thread {
  bert_tfrecord_reader reader;
  int64_t open_file; /* -1: none */
  uint8_t *arena;
  size_t used, cap;
  int rc;
  bert_error err;
} bert_fetch_thread;

typedef struct bert_fetch_entry {
  uint64_t loc;
  size_t index; /* request number */
} bert_fetch_entry;

typedef struct bert_fetch {
  const char *const *paths;
  size_t files;
  int threads, check_crc;
  bert_fetch_thread *t;
  size_t n, cap;      /* requests of the last call */
  bert_fetch_entry *sorted; /* [cap] requests sorted by locator */
  uint32_t *thread;   /* [cap] thread that holds request i */
  size_t *offset;     /* [cap] its position in that thread's arena */
  size_t *size;       /* [cap] payload bytes */
} bert_fetch;

int bert_fetch_init(bert_fetch *f, const char *const *paths, size_t files, int threads, int check_crc,
                    bert_error *err);
/* Reads locs[0..n) (BERT_LOC_NONE entries are skipped). Errors name file and byte offset. */
int bert_fetch_read(bert_fetch *f, const uint64_t *locs, size_t n, bert_error *err);
/* Payload of request i of the last call (NULL with *size 0 for BERT_LOC_NONE), valid until the
 * next call. */
const uint8_t *bert_fetch_get(const bert_fetch *f, size_t i, size_t *size);
void bert_fetch_free(bert_fetch *f);

#endif
