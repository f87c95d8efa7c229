/* data/packing: packing plans — which multisets of sequence lengths ("strategies") fill the packs
 * and how many packs of each — computed from the histogram of sequence lengths alone (arXiv
 * 2107.02027; reference 5.6). Three algorithms:
 *   NNLSHP  the reference's: enumerate every sorted multiset of at most S lengths summing exactly
 *           to L, solve the weighted non-negative least squares A x ~ h (lengths 1..8 weighted
 *           sqrt(8 / 2L)), round, give the leftover sequences of length l the strategy [l, L-l],
 *           and cover the over-used lengths with placeholder ("padding") sequences;
 *   SPFHP   shortest-pack-first: lengths from longest to shortest, each into the pack with the
 *           most room left that it fits (best fit over histogram bins), at most S per pack;
 *   LPFHP   longest-pack-first: each length into the pack it fills best, repeating the length
 *           when room allows.
 * SPFHP and LPFHP pack every sequence and never need placeholders; their packs may end short of L. */
#ifndef BERT_DATA_PACKING_H
#define BERT_DATA_PACKING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

#define BERT_PACK_MAX_LENGTH 4096   /* largest L accepted */
#define BERT_PACK_MAX_SEQUENCES 16  /* largest S accepted (SPFHP/LPFHP) */
#define BERT_PACK_NNLS_MAX_SEQUENCES 3

typedef enum bert_pack_algorithm {
  BERT_PACK_NNLSHP = 0,
  BERT_PACK_SPFHP = 1,
  BERT_PACK_LPFHP = 2,
} bert_pack_algorithm;

/* "nnlshp" / "spfhp" / "lpfhp" (any case). */
int bert_pack_algorithm_parse(const char *name, bert_pack_algorithm *out, bert_error *err);
const char *bert_pack_algorithm_name(bert_pack_algorithm a);

typedef struct bert_pack_plan_options {
  int sequence_length;         /* L (128) */
  int max_sequences_per_pack;  /* S (3): 2..3 for NNLSHP, 1..16 otherwise */
  bert_pack_algorithm algorithm;
  int drop_unpacked_remainder; /* NNLSHP: drop the leftovers of rounding instead of packing them */
} bert_pack_plan_options;

void bert_pack_plan_options_default(bert_pack_plan_options *o);
/* L in [2, BERT_PACK_MAX_LENGTH], S in the algorithm's range; the message names the option. */
int bert_pack_plan_options_check(const bert_pack_plan_options *o, bert_error *err);

typedef struct bert_pack_plan {
  int sequence_length, max_sequences_per_pack;
  bert_pack_algorithm algorithm;
  int drop_unpacked_remainder;
  size_t count;       /* strategies used (repeat > 0) */
  size_t *start;      /* [count + 1]: strategy s is lengths[start[s] .. start[s+1]) */
  uint16_t *lengths;  /* ascending within a strategy */
  int64_t *repeat;    /* [count] packs of each strategy */
  /* Per length l = 1..L at index l-1: */
  int64_t *histogram; /* sequences */
  int64_t *padding;   /* placeholder sequences added (NNLSHP) */
  int64_t *dropped;   /* sequences left out (NNLSHP with drop_unpacked_remainder) */
  double *residual;   /* NNLSHP: histogram - A x after rounding, before the remainder is handled */
  /* Solver report (NNLSHP). */
  size_t enumerated;        /* strategies enumerated (columns of A) */
  double residual_rounding; /* sum |residual before - after rounding| */
  size_t nnls_iterations;
  int nnls_converged;
  double solve_seconds;     /* NNLS or the greedy packer */
  double plan_seconds;      /* everything */
  size_t cap_strategies, cap_lengths; /* allocated sizes of repeat/start and lengths */
} bert_pack_plan;

/* histogram[l-1] = sequences of length l, l = 1..o->sequence_length. */
int bert_pack_plan_make(const int64_t *histogram, const bert_pack_plan_options *o, bert_pack_plan *plan,
                        bert_error *err);
void bert_pack_plan_free(bert_pack_plan *plan);

/* The building blocks (packing.c, packing_greedy.c), for the planner and the tests. */
/* Appends a strategy (n lengths, any order; stored ascending) used `repeat` times. */
int bert_pack_plan_add(bert_pack_plan *plan, const uint16_t *lengths, size_t n, int64_t repeat, bert_error *err);
/* The greedy packers: append their strategies to plan (whose L and S are set). */
int bert_pack_spfhp(const int64_t *histogram, bert_pack_plan *plan, bert_error *err);
int bert_pack_lpfhp(const int64_t *histogram, bert_pack_plan *plan, bert_error *err);

typedef struct bert_pack_stats {
  int64_t sequences;            /* in the histogram */
  int64_t dropped;              /* left out */
  int64_t packs;                /* planned */
  int64_t placeholders;         /* padding sequences */
  double real_tokens;           /* tokens of the packed sequences */
  double padding_tokens_original; /* sum (L - len) over the sequences */
  double padding_tokens_packed;   /* packs * L - real tokens */
  double efficiency;            /* real tokens / (packs * L) */
  double compression;           /* 1 - packs / (sequences - dropped) */
  double sequences_per_pack;
  double speedup_bound;         /* 1 / (1 - mean padding fraction) */
  double speedup;               /* 1 / (1 - compression) */
} bert_pack_stats;

void bert_pack_plan_stats(const bert_pack_plan *p, bert_pack_stats *s);
/* The reference's statistics printout (solver lines, efficiency, padding, compression, speed-ups,
 * strategies used, sequences dropped, top 8 strategies). */
void bert_pack_plan_print(const bert_pack_plan *p, FILE *out);
/* The whole plan as JSON (options, statistics, histogram, padding, dropped, strategies + repeats). */
int bert_pack_plan_write_json(const bert_pack_plan *p, const char *path, bert_error *err);

/* Reads a histogram JSON: {"counts": [c1, c2, ...], ...} with counts[i] = sequences of length
 * i+1 (the format of the Packed BERT histograms), or a bare array. *length = number of bins. */
int bert_pack_histogram_load(const char *path, int64_t **counts, int *length, bert_error *err);

#endif
