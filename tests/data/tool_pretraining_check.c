/* Checks pretraining TFRecords (unpacked format) record by record with the reference's
 * wikipedia_dataset_test rules, plus our own (ascending positions, padding, the mask-count rule),
 * and measures the masking ratios. Used by tests/data/test_data_create.sh.
 *
 * usage: tool_pretraining_check [--ratios] [--wwm] [--ignore=N] L M VOCAB_SIZE FILE...
 * Prints "records R masked X mask_share A unchanged_share B random_share C masked_per_real D";
 * exits 1 on the first bad record (named with file and number), or when --ratios is given and a
 * share is outside the reference's ranges. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/example.h"
#include "data/tfrecord.h"

typedef struct totals {
  uint64_t records, masked, mask, unchanged, random, real;
} totals;

typedef struct record {
  int64_t ids[4096], mask[4096], seg[4096], pos[1024], lab[1024], nsp;
  float w[1024];
} record;

static int fail(const char *file, int64_t n, const char *what) {
  fprintf(stderr, "%s: record %" PRId64 ": %s\n", file, n, what);
  return 1;
}

static int is_special(int64_t id) { return id == 0 || id == 100 || id == 101 || id == 102 || id == 103; }

/* Un-masked token checks: [CLS] first, one [CLS], two [SEP]s, zeros after the second. */
static const char *check_tokens(const int64_t *ids, int L, int vocab) {
  if (ids[0] != 101) return "first token is not [CLS]";
  int cls = 0, sep = 0;
  for (int i = 0; i < L; i++) {
    if (sep == 2 && ids[i] != 0) return "non-zero token after the second [SEP]";
    cls += ids[i] == 101, sep += ids[i] == 102;
    if (!is_special(ids[i]) && (ids[i] < 999 || ids[i] >= vocab)) return "ordinary token outside [999, vocab)";
  }
  return cls == 1 && sep == 2 ? NULL : "not exactly one [CLS] and two [SEP]";
}

/* input_mask = 1s then 0s, [SEP] last; segments = 0s, 1s (present), then 0s at the padding. */
static const char *check_masks(const record *r, const int64_t *ids, int L) {
  int n = 0;
  while (n < L && r->mask[n] == 1) n++;
  for (int i = n; i < L; i++)
    if (r->mask[i] != 0) return "input_mask is not 1s then 0s";
  if (n < 5 || ids[n - 1] != 102) return "the last real token is not [SEP]";
  int i = 0;
  while (i < L && r->seg[i] == 0) i++;
  if (i >= n) return "segment_ids has no 1s";
  while (i < L && r->seg[i] == 1) i++;
  if (i != n) return "segment 1 does not run to the end of the real tokens";
  for (; i < L; i++)
    if (r->seg[i] != 0) return "segment_ids not 0 in the padding";
  return NULL;
}

static int expected_masks(int n, int L, int M) {
  long k = (long)nearbyint(n * 0.15);
  if (k < 1) k = 1;
  if (k > M) k = M;
  if (n - L + M > k) k = n - L + M;
  return (int)k;
}

static int64_t ignore_index = 0; /* --ignore=N: expected padding of masked_lm_ids */

static const char *check_slots(const record *r, int L, int M, int vocab, int wwm, int *count) {
  int k = 0;
  while (k < M && r->w[k] == 1.0f) k++;
  for (int i = 0; i < M; i++) {
    if (i >= k && (r->w[i] != 0.0f || r->pos[i] != 0 || r->lab[i] != ignore_index)) return "bad padding slot";
    if (i < k && (r->pos[i] <= 0 || r->pos[i] >= L)) return "masked position outside (0, L)";
    if (i < k && (r->lab[i] < 0 || r->lab[i] >= vocab)) return "masked id outside the vocabulary";
    if (i > 0 && i < k && r->pos[i] <= r->pos[i - 1]) return "masked positions not ascending";
  }
  int real = 0;
  while (real < L && r->mask[real]) real++;
  int want = expected_masks(real, L, M);
  if (real - 3 < want) want = real - 3;
  if (wwm ? k > want : k != want) return "number of masked tokens breaks the count rule";
  if (r->nsp != 0 && r->nsp != 1) return "next_sentence_labels not 0 or 1";
  *count = k;
  return NULL;
}

static int read_record(const bert_example *ex, record *r, int L, int M, bert_error *err) {
  int rc = bert_example_get_int64(ex, "input_ids", r->ids, (size_t)L, err);
  if (!rc) rc = bert_example_get_int64(ex, "input_mask", r->mask, (size_t)L, err);
  if (!rc) rc = bert_example_get_int64(ex, "segment_ids", r->seg, (size_t)L, err);
  if (!rc) rc = bert_example_get_int64(ex, "masked_lm_positions", r->pos, (size_t)M, err);
  if (!rc) rc = bert_example_get_int64(ex, "masked_lm_ids", r->lab, (size_t)M, err);
  if (!rc) rc = bert_example_get_float(ex, "masked_lm_weights", r->w, (size_t)M, err);
  if (!rc) rc = bert_example_get_int64(ex, "next_sentence_labels", &r->nsp, 1, err);
  return rc;
}

static int check_record(const char *file, int64_t n, const bert_example *ex, int L, int M, int vocab, int wwm,
                        totals *t) {
  static record r;
  bert_error err;
  if (read_record(ex, &r, L, M, &err)) return fail(file, n, err.message);
  int k = 0;
  const char *bad = check_slots(&r, L, M, vocab, wwm, &k);
  if (bad) return fail(file, n, bad);
  int64_t ids[4096];
  memcpy(ids, r.ids, sizeof(int64_t) * (size_t)L);
  for (int i = 0; i < k; i++) {
    int64_t got = r.ids[r.pos[i]];
    t->mask += got == 103, t->unchanged += got == r.lab[i], t->random += got != 103 && got != r.lab[i];
    ids[r.pos[i]] = r.lab[i];
  }
  if ((bad = check_tokens(ids, L, vocab)) || (bad = check_masks(&r, ids, L))) return fail(file, n, bad);
  for (int i = 0; i < L; i++) t->real += r.mask[i] == 1;
  t->masked += (uint64_t)k;
  t->records++;
  return 0;
}

static int check_file(const char *file, int L, int M, int vocab, int wwm, totals *t) {
  bert_tfrecord_reader rd;
  bert_error err;
  if (bert_tfrecord_reader_open(&rd, file, 1, &err)) return fprintf(stderr, "%s\n", err.message), 1;
  const uint8_t *data;
  size_t size;
  int rc, bad = 0;
  while (!bad && (rc = bert_tfrecord_read(&rd, &data, &size, &err)) == 1) {
    bert_example ex;
    if (bert_example_decode(&ex, data, size, &err)) bad = fail(file, rd.record - 1, err.message);
    else bad = check_record(file, rd.record - 1, &ex, L, M, vocab, wwm, t), bert_example_free(&ex);
  }
  if (!bad && rc < 0) {
    fprintf(stderr, "%s\n", err.message);
    bad = 1;
  }
  bert_tfrecord_reader_close(&rd);
  return bad;
}

static int in_range(const char *name, double v, double lo, double hi) {
  if (v > lo && v < hi) return 1;
  fprintf(stderr, "%s = %.4f outside (%.2f, %.2f)\n", name, v, lo, hi);
  return 0;
}

int main(int argc, char **argv) {
  int ratios = 0, wwm = 0, a = 1;
  for (; a < argc && argv[a][0] == '-'; a++) {
    if (!strcmp(argv[a], "--ratios")) ratios = 1;
    else if (!strcmp(argv[a], "--wwm")) wwm = 1;
    else if (!strncmp(argv[a], "--ignore=", 9)) ignore_index = atoll(argv[a] + 9);
  }
  if (argc - a < 4) return fprintf(stderr, "usage: %s [--ratios] [--wwm] [--ignore=N] L M VOCAB_SIZE FILE...\n", argv[0]), 2;
  int L = atoi(argv[a]), M = atoi(argv[a + 1]), vocab = atoi(argv[a + 2]);
  if (L < 5 || L > 4096 || M < 1 || M > 1024) return fprintf(stderr, "unsupported L or M\n"), 2;
  totals t = {0};
  for (int i = a + 3; i < argc; i++)
    if (check_file(argv[i], L, M, vocab, wwm, &t)) return 1;
  double m = t.masked ? (double)t.masked : 1;
  double mask = t.mask / m, unchanged = t.unchanged / m, random = t.random / m, per_real = t.masked / (double)(t.real ? t.real : 1);
  printf("records %" PRIu64 " masked %" PRIu64 " mask_share %.4f unchanged_share %.4f random_share %.4f masked_per_real %.4f\n",
         t.records, t.masked, mask, unchanged, random, per_real);
  if (!t.records) return fprintf(stderr, "no records\n"), 1;
  if (ratios && !(in_range("mask share", mask, 0.79, 0.81) & in_range("unchanged share", unchanged, 0.09, 0.11) &
                  in_range("random share", random, 0.09, 0.11) & in_range("masked/real", per_real, 0.14, 0.16)))
    return 1;
  return 0;
}
