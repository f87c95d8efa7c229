/* data/loader: the pretraining data loader (reference 5.3). Reads unpacked or packed pretraining
 * TFRecords through their .index files in the global order of data/order.h, so the samples of
 * global batch k depend only on (seed, k) — not on the number of ranks or threads. A global batch
 * is a run of micro-batches; rank r of W takes micro-batches r, r + W, r + 2W, ... of it.
 * Background threads decode the next micro-batches into a ring of buffers allocated once; the
 * consumer receives them strictly in order. Seeking to a step is O(1) (no skipped reads), which
 * makes resume exact and instant. Generated mode repeats one random sample without I/O. */
#ifndef BERT_DATA_LOADER_H
#define BERT_DATA_LOADER_H

#include <stdint.h>

#include "base/error.h"

typedef struct bert_loader_config {
  const char *const *input_files; /* globs (each may be a comma-separated list); each must match */
  int input_file_count;
  int packed;       /* packed_* features (reference 5.2) */
  int seq_len;      /* L */
  int masked;       /* mask slots per row as stored: M unpacked, M + S - 1 packed */
  int slots;        /* S: NSP slots per row, packed (unpacked: 1) */
  int micro_batch;  /* B */
  int global_batch; /* G: samples per logged step, all ranks (RF x GA x B x DI) */
  int rank, world;  /* this rank, number of ranks; world must divide G, and B must divide G / world */
  uint64_t seed;
  int workers;      /* background decoding threads; 0 decodes in the caller's thread */
  int window_files; /* K: files mixed together (data/order.h); 0 = 16 */
  int check_crc;
  int generated;    /* --dataset generated: no files, one random sample repeated */
  int vocab_size;   /* generated mode: ids drawn from [0, vocab_size) */
} bert_loader_config;

/* One micro-batch of this rank, row-major; read-only for the consumer, valid until the next call
 * of bert_loader_next / seek / close. */
typedef struct bert_loader_batch {
  int batch, len, masked, slots, packed;
  uint64_t step; /* the logged step it belongs to, counted from the run's start over all passes */
  int micro;     /* its number among this rank's micro-batches of that step */
  int32_t *input_ids;        /* [B, L] */
  int32_t *input_mask;       /* [B, L] unpacked: 1 token / 0 padding; packed: sequence index 1..S, 0 padding */
  int32_t *segment_ids;      /* [B, L] */
  int32_t *position_ids;     /* [B, L] packed; NULL unpacked (positions 0..L-1) */
  int32_t *masked_positions; /* [B, M] */
  int32_t *masked_labels;    /* [B, M]; 0 = padding slot */
  int32_t *nsp_labels;       /* [B, S] */
  float *nsp_mask;           /* [B, S] packed: 1 sequence present, 0 empty slot; NULL unpacked */
  int64_t *records;          /* [B] dataset record id of each row (files in glob order); 0 generated */
} bert_loader_batch;

typedef struct bert_loader bert_loader;

/* Expands the globs, checks every index file, counts the records, checks the first record's
 * features, and starts the workers. Fails with the reference's "Not enough data ..." message when
 * a pass holds less than one step. */
int bert_loader_open(bert_loader **loader, const bert_loader_config *cfg, bert_error *err);
/* The next micro-batch of this rank, in order, cycling over passes forever. A worker's error
 * (bad record, truncated file, I/O) is returned by the call that reaches the failing batch, with
 * the worker's message naming file, record, byte offset and feature; it persists until a seek. */
int bert_loader_next(bert_loader *l, const bert_loader_batch **batch, bert_error *err);
/* Makes the next batch the first micro-batch of logged step `step` (counted from the run's start). */
int bert_loader_seek(bert_loader *l, uint64_t step, bert_error *err);
void bert_loader_close(bert_loader *l);

/* Dataset length: records of all files (total index lines), or G in generated mode. */
uint64_t bert_loader_samples(const bert_loader *l);
/* Full global batches per pass (the incomplete last one is dropped). */
uint64_t bert_loader_steps_per_pass(const bert_loader *l);
/* Micro-batches this rank gets per logged step: G / (world x B). */
int bert_loader_micro_batches_per_step(const bert_loader *l);
int bert_loader_file_count(const bert_loader *l);

#endif
