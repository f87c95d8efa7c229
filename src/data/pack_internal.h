/* data/pack_internal: the state shared by pack.c (scan, bins, slicing, order) and pack_write.c
 * (reading, building and writing the packs). Not part of the library's contract. */
#ifndef BERT_DATA_PACK_INTERNAL_H
#define BERT_DATA_PACK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/pack.h"

/* Every sequence as a locator (data/fetch.h) and its length; placeholders are BERT_LOC_NONE. */
typedef struct pack_seqs {
  uint64_t *loc;
  uint16_t *len; /* freed once the locators are sorted into bins */
  size_t n, cap;
} pack_seqs;

typedef struct packer {
  const bert_pack_options *o;
  const bert_strlist *inputs;
  int L, M, S, threads;
  bert_pack_report *report;
  pack_seqs seqs;
  int64_t *hist;        /* [L] */
  bert_pack_plan plan;
  size_t *bin_start;    /* [L + 2]: the bin of length l is seqs.loc[bin_start[l] .. bin_start[l + 1]) */
  size_t *slot_base;    /* per strategy slot: bin position of the slot's sequence in the strategy's first pack */
  uint64_t *pack_start; /* [count + 1]: first global pack number of each strategy */
  uint32_t *order;      /* [packs] global pack numbers in output order */
  uint64_t packs;
} packer;

void pack_seqs_free(pack_seqs *s);
int pack_scan(packer *pk, bert_error *err);
int pack_make_bins(packer *pk, bert_error *err);
int pack_slice(packer *pk, bert_error *err);
int pack_order(packer *pk, bert_error *err);
size_t pack_strategy_of(const packer *pk, uint64_t g);
int pack_write(packer *pk, const char *output_dir, FILE *out, bert_error *err);

#endif
