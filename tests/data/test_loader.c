/* Pretraining loader: global data order (exactly once per pass, new order per pass, independent of
 * ranks and threads), seek, decoding, generated mode and error reports, on the reference's sample
 * files (45 unpacked records, L=128, M=20; 44 packs, M'=22, S=3). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "data/example.h"
#include "data/loader.h"
#include "data/order.h"
#include "data/tfrecord.h"
#include "test_util.h"

#define UNPACKED "data/sample_text.tfrecord"
#define PACKED "data/packing/sample_text_packed.tfrecord"
#define N_UNPACKED 45
#define N_PACKED 44
#define L 128

static const char *kUnpacked[] = {UNPACKED};
static const char *kPacked[] = {PACKED};

static bert_loader_config unpacked_config(int micro, int global) {
  bert_loader_config c = {.input_files = kUnpacked, .input_file_count = 1, .seq_len = L, .masked = 20,
                          .micro_batch = micro, .global_batch = global, .world = 1, .seed = 42, .check_crc = 1};
  return c;
}

static bert_loader_config packed_config(int micro, int global) {
  bert_loader_config c = unpacked_config(micro, global);
  c.input_files = kPacked;
  c.packed = 1, c.masked = 22, c.slots = 3;
  return c;
}

static bert_loader *open_ok(const bert_loader_config *c) {
  bert_loader *l = NULL;
  bert_error err = {0};
  int rc = bert_loader_open(&l, c, &err);
  CHECK_MSG(rc == 0, "%s", err.message);
  return rc ? NULL : l;
}

/* The records of `steps` logged steps from the loader's position, in this rank's order; also the
 * input ids of each row when ids != NULL. */
static int collect(bert_loader *l, int steps, int64_t *records, int32_t *ids) {
  int per_step = bert_loader_micro_batches_per_step(l), n = 0;
  for (int s = 0; s < steps * per_step; s++) {
    const bert_loader_batch *b;
    bert_error err = {0};
    int rc = bert_loader_next(l, &b, &err);
    CHECK_MSG(rc == 0, "%s", err.message);
    if (rc) return -1;
    for (int t = 0; t < b->batch; t++, n++) {
      records[n] = b->records[t];
      if (ids) memcpy(ids + (size_t)n * L, b->input_ids + (size_t)t * L, L * sizeof *ids);
    }
  }
  return n;
}

/* Every id in [0, n) appears exactly once among the first `count` (count == n) or at most once. */
static int each_once(const int64_t *records, int count, int64_t n) {
  int *seen = calloc((size_t)n, sizeof *seen), ok = 1;
  for (int i = 0; i < count; i++) {
    if (records[i] < 0 || records[i] >= n || seen[records[i]]++) ok = 0;
  }
  free(seen);
  return ok;
}

/* ---------------------------------------------------------------- order */

static void test_permute(void) {
  int ok = 1;
  for (uint64_t n = 1; n <= 300 && ok; n++) {
    bert_rng key = bert_rng_make(7, BERT_RNG_DATA, n, 0);
    char *hit = calloc(n, 1);
    uint64_t fixed = 0;
    for (uint64_t x = 0; x < n; x++) {
      uint64_t y = bert_permute(x, n, key);
      if (y >= n || hit[y]++) ok = 0;
      fixed += y == x;
    }
    if (n >= 16 && fixed > n / 2) ok = 0; /* not (close to) the identity */
    free(hit);
  }
  CHECK(ok);
  uint64_t n = 100003;
  char *hit = calloc(n, 1);
  bert_rng key = bert_rng_make(1, BERT_RNG_DATA, 0, 0);
  for (uint64_t x = 0; x < n; x++) {
    uint64_t y = bert_permute(x, n, key);
    if (y >= n || hit[y]++) ok = 0;
  }
  CHECK(ok);
  free(hit);
}

/* The order straight: a bijection onto (file, record) for odd sizes, empty files and windows. */
static void test_order_direct(void) {
  const uint64_t counts[] = {0, 0, 3, 0, 0, 5, 1, 0, 17, 2, 0};
  int files = 11, ok = 1;
  for (int window = 0; window <= files + 1; window++) {
    bert_data_order o;
    bert_error err;
    if (bert_data_order_init(&o, counts, files, window, 5, &err)) {
      CHECK_MSG(0, "%s", err.message);
      return;
    }
    CHECK(o.total == 28);
    for (uint64_t pass = 0; pass < 6; pass++) {
      int64_t ids[28];
      for (uint64_t i = 0; i < o.total; i++) {
        int f;
        uint64_t r;
        bert_data_order_locate(&o, pass, i, &f, &r);
        ok &= f >= 0 && f < files && r < counts[f];
        ids[i] = (int64_t)bert_data_order_record_id(&o, f, r);
      }
      CHECK_MSG(each_once(ids, 28, 28), "window %d pass %d", window, (int)pass);
    }
    bert_data_order_free(&o);
  }
  CHECK(ok);
}

static void test_order_passes(void) {
  bert_loader_config c = unpacked_config(5, 5); /* 9 steps cover all 45 records */
  bert_loader *l = open_ok(&c);
  if (!l) return;
  CHECK(bert_loader_samples(l) == N_UNPACKED);
  CHECK(bert_loader_steps_per_pass(l) == 9);
  int64_t a[3 * N_UNPACKED], b[N_UNPACKED];
  CHECK(collect(l, 27, a, NULL) == 3 * N_UNPACKED);
  for (int p = 0; p < 3; p++) CHECK_MSG(each_once(a + p * N_UNPACKED, N_UNPACKED, N_UNPACKED), "pass %d", p);
  CHECK(memcmp(a, a + N_UNPACKED, sizeof b) != 0);
  CHECK(memcmp(a + N_UNPACKED, a + 2 * N_UNPACKED, sizeof b) != 0);
  bert_loader_close(l);

  l = open_ok(&c); /* same seed, same order */
  if (l) CHECK(collect(l, 9, b, NULL) == N_UNPACKED && memcmp(a, b, sizeof b) == 0);
  bert_loader_close(l);
  c.seed = 43;
  l = open_ok(&c);
  if (l) CHECK(collect(l, 9, b, NULL) == N_UNPACKED && memcmp(a, b, sizeof b) != 0);
  bert_loader_close(l);
}

static void test_drop_last(void) {
  bert_loader_config c = packed_config(2, 8); /* 44 packs: 5 steps of 8, 4 dropped per pass */
  bert_loader *l = open_ok(&c);
  if (!l) return;
  CHECK(bert_loader_steps_per_pass(l) == 5);
  int64_t r[80];
  CHECK(collect(l, 10, r, NULL) == 80);
  CHECK(each_once(r, 40, N_PACKED));
  CHECK(each_once(r + 40, 40, N_PACKED));
  CHECK(memcmp(r, r + 40, 40 * sizeof *r) != 0);
  bert_loader_close(l);
  c = packed_config(4, 4); /* 11 steps = all 44 */
  l = open_ok(&c);
  if (l) CHECK(collect(l, 11, r, NULL) == 44 && each_once(r, 44, N_PACKED));
  bert_loader_close(l);
}

/* Rank r's local micro-batch j of a step is the W = 1 micro-batch r + W j, row for row, for
 * W = 2 and 4. */
static void test_ranks(int packed) {
  enum { G = 8, STEPS = 12 };
  bert_loader_config c = packed ? packed_config(2, G) : unpacked_config(2, G);
  bert_loader *l = open_ok(&c);
  if (!l) return;
  static int64_t ref[G * STEPS], got[G * STEPS];
  static int32_t ref_ids[G * STEPS * L], got_ids[G * STEPS * L];
  CHECK(collect(l, STEPS, ref, ref_ids) == G * STEPS);
  bert_loader_close(l);
  for (int W = 2; W <= 4; W *= 2)
    for (int r = 0; r < W; r++) {
      c.world = W, c.rank = r, c.micro_batch = W == 4 ? 2 : 1, c.workers = r % 2 ? 2 : 0;
      l = open_ok(&c);
      if (!l) continue;
      CHECK(bert_loader_micro_batches_per_step(l) == G / W / c.micro_batch);
      CHECK(collect(l, STEPS, got, got_ids) == G * STEPS / W);
      int ok = 1;
      for (int k = 0; k < STEPS; k++)
        for (int j = 0; j < G / W; j++) {
          int B = c.micro_batch, mine = k * (G / W) + j, global = k * G + (r + W * (j / B)) * B + j % B;
          ok &= got[mine] == ref[global];
          ok &= !memcmp(got_ids + (size_t)mine * L, ref_ids + (size_t)global * L, L * sizeof *got_ids);
        }
      CHECK_MSG(ok, "packed %d, rank %d of %d", packed, r, W);
      bert_loader_close(l);
    }
}

static void test_threads(void) {
  enum { STEPS = 30 }; /* several passes */
  static int64_t r0[8 * STEPS], r1[8 * STEPS], r3[8 * STEPS];
  static int32_t i0[8 * STEPS * L], i1[8 * STEPS * L], i3[8 * STEPS * L];
  bert_loader_config c = unpacked_config(2, 8);
  int64_t *records[] = {r0, r1, r3};
  int32_t *ids[] = {i0, i1, i3};
  int workers[] = {0, 1, 3};
  for (int i = 0; i < 3; i++) {
    c.workers = workers[i];
    bert_loader *l = open_ok(&c);
    if (l) CHECK(collect(l, STEPS, records[i], ids[i]) == 8 * STEPS);
    bert_loader_close(l);
  }
  CHECK(!memcmp(r0, r1, sizeof r0) && !memcmp(i0, i1, sizeof i0));
  CHECK(!memcmp(r0, r3, sizeof r0) && !memcmp(i0, i3, sizeof i0));
}

static void test_seek(void) {
  enum { STEPS = 30 };
  static int64_t ref[8 * STEPS], got[8 * 4];
  bert_loader_config c = unpacked_config(2, 8);
  bert_loader *l = open_ok(&c);
  if (!l) return;
  CHECK(collect(l, STEPS, ref, NULL) == 8 * STEPS);
  bert_loader_close(l);
  int workers[] = {0, 3};
  for (int w = 0; w < 2; w++) {
    c.workers = workers[w];
    l = open_ok(&c);
    if (!l) continue;
    uint64_t targets[] = {13, 21, 2, 0, 20};
    for (int i = 0; i < 5; i++) {
      bert_error err = {0};
      CHECK(bert_loader_seek(l, targets[i], &err) == 0);
      const bert_loader_batch *b;
      CHECK(bert_loader_next(l, &b, &err) == 0 && b->step == targets[i] && b->micro == 0);
      CHECK(b && b->records[0] == ref[targets[i] * 8] && b->records[1] == ref[targets[i] * 8 + 1]);
      /* the rest of that step and beyond continue in order */
      CHECK(collect(l, 4, got, NULL) == 32);
      CHECK(!memcmp(got, ref + targets[i] * 8 + 2, 32 * sizeof *got));
    }
    bert_loader_close(l);
  }
}

/* ---------------------------------------------------------------- decoding */

static int read_direct(const char *path, int64_t record, bert_example *ex) {
  bert_tfrecord_index idx;
  bert_tfrecord_reader r;
  bert_error err = {0};
  char index_path[4096];
  int rc = bert_tfrecord_index_path(path, index_path, sizeof index_path, &err);
  if (!rc) rc = bert_tfrecord_index_load(index_path, &idx, &err);
  if (rc) return rc;
  const uint8_t *data;
  size_t size;
  rc = bert_tfrecord_reader_open(&r, path, 1, &err);
  if (!rc) rc = bert_tfrecord_read_at(&r, &idx, record, &data, &size, &err);
  if (!rc) rc = bert_example_decode(ex, data, size, &err);
  CHECK_MSG(rc == 0, "%s", err.message);
  bert_tfrecord_reader_close(&r);
  bert_tfrecord_index_free(&idx);
  return rc;
}

/* Feature `name` of the example equals n int32 values. */
static int same_ints(const bert_example *ex, const char *name, const int32_t *v, size_t n) {
  int64_t buf[L];
  if (bert_example_get_int64(ex, name, buf, n, NULL)) return 0;
  for (size_t i = 0; i < n; i++)
    if (buf[i] != v[i]) return 0;
  return 1;
}

static int same_floats(const bert_example *ex, const char *name, const float *v, size_t n) {
  float buf[8];
  if (bert_example_get_float(ex, name, buf, n, NULL)) return 0;
  return !memcmp(buf, v, n * sizeof *v);
}

/* Finds the row holding `record` in the first pass and compares it with a direct decode. */
static void test_decode(int packed, int64_t record) {
  bert_loader_config c = packed ? packed_config(4, 4) : unpacked_config(5, 5);
  bert_loader *l = open_ok(&c);
  bert_example ex = {0};
  if (!l || read_direct(packed ? PACKED : UNPACKED, record, &ex)) {
    bert_loader_close(l);
    return;
  }
  const char *const *names = packed ? (const char *const[]){"packed_input_ids", "packed_input_mask",
                                                            "packed_segment_ids", "packed_masked_lm_positions",
                                                            "packed_masked_lm_ids", "packed_next_sentence_labels"}
                                    : (const char *const[]){"input_ids", "input_mask", "segment_ids",
                                                            "masked_lm_positions", "masked_lm_ids",
                                                            "next_sentence_labels"};
  int found = 0;
  for (uint64_t i = 0; i < bert_loader_steps_per_pass(l) && !found; i++) {
    const bert_loader_batch *b;
    if (bert_loader_next(l, &b, NULL)) break;
    for (int t = 0; t < b->batch; t++) {
      if (b->records[t] != record) continue;
      size_t M = (size_t)b->masked, S = (size_t)b->slots;
      found = 1;
      CHECK(same_ints(&ex, names[0], b->input_ids + t * L, L));
      CHECK(same_ints(&ex, names[1], b->input_mask + t * L, L));
      CHECK(same_ints(&ex, names[2], b->segment_ids + t * L, L));
      CHECK(same_ints(&ex, names[3], b->masked_positions + t * M, M));
      CHECK(same_ints(&ex, names[4], b->masked_labels + t * M, M));
      CHECK(same_ints(&ex, names[5], b->nsp_labels + t * S, S));
      CHECK(b->input_ids[t * L] != 0);
      if (packed) {
        CHECK(same_ints(&ex, "packed_position_ids", b->position_ids + t * L, L));
        CHECK(same_floats(&ex, "packed_next_sentence_mask", b->nsp_mask + t * S, S));
      } else {
        CHECK(b->input_ids[t * L] == 101); /* [CLS] first */
        CHECK(b->position_ids == NULL && b->nsp_mask == NULL);
      }
    }
  }
  CHECK_MSG(found, "record %" PRId64 " not seen in a pass", record);
  bert_example_free(&ex);
  bert_loader_close(l);
}

/* ---------------------------------------------------------------- several files */

static int copy_file(const char *from, const char *to) {
  char *data;
  size_t n;
  bert_error err;
  int rc = bert_file_read(from, &data, &n, &err);
  if (rc) return rc;
  rc = bert_file_write_atomic(to, data, n, &err);
  free(data);
  return rc;
}

/* Copies the sample file (and its index unless !with_index) as dir/name.tfrecord; keeps `keep`
 * bytes of the data (all when 0). */
static int copy_sample(const char *dir, const char *name, int with_index, size_t keep) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.tfrecord", dir, name);
  if (copy_file(UNPACKED, path)) return -1;
  if (keep) {
    char *data;
    size_t n;
    if (bert_file_read(path, &data, &n, NULL)) return -1;
    int rc = bert_file_write_atomic(path, data, keep < n ? keep : n, NULL);
    free(data);
    if (rc) return -1;
  }
  snprintf(path, sizeof path, "%s/%s.index", dir, name);
  return with_index ? copy_file("data/sample_text.index", path) : 0;
}

/* Five copies and an empty file, mixed two files at a time: every record of every file once per pass, each row's
 * content that of its record, ranks still slices of the global batches. */
static void test_many_files(void) {
  const char *dir = test_tmpdir("loader-many");
  CHECK(dir != NULL);
  if (!dir) return;
  char name[16];
  for (int f = 0; f < 5; f++) {
    snprintf(name, sizeof name, "part%d", f);
    CHECK(copy_sample(dir, name, 1, 0) == 0);
  }
  /* an empty file (and index) among them: it holds no position */
  char empty[4200];
  snprintf(empty, sizeof empty, "%s/part5.tfrecord", dir);
  CHECK(bert_file_write_atomic(empty, "", 0, NULL) == 0);
  snprintf(empty, sizeof empty, "%s/part5.index", dir);
  CHECK(bert_file_write_atomic(empty, "", 0, NULL) == 0);
  static int32_t truth[N_UNPACKED * L];
  for (int i = 0; i < N_UNPACKED; i++) {
    bert_example ex = {0};
    if (read_direct(UNPACKED, i, &ex)) return;
    int64_t v[L];
    CHECK(bert_example_get_int64(&ex, "input_ids", v, L, NULL) == 0);
    for (int j = 0; j < L; j++) truth[i * L + j] = (int32_t)v[j];
    bert_example_free(&ex);
  }
  char glob[4200];
  snprintf(glob, sizeof glob, "%s/part[0-2].tfrecord,%s/part[3-5].tfrecord", dir, dir);
  const char *globs[] = {glob};
  bert_loader_config c = unpacked_config(3, 9);
  c.input_files = globs, c.window_files = 2;
  enum { N = 5 * N_UNPACKED, STEPS = 50 };
  static int64_t ref[N * 2], got[N * 2];
  static int32_t ids[N * 2 * L];
  bert_loader *l = open_ok(&c);
  if (!l) return;
  CHECK(bert_loader_file_count(l) == 6 && bert_loader_samples(l) == N && bert_loader_steps_per_pass(l) == 25);
  CHECK(collect(l, STEPS, ref, ids) == 2 * N);
  bert_loader_close(l);
  CHECK(each_once(ref, N, N) && each_once(ref + N, N, N));
  int content = 1, files_in_first_step = 0, seen[5] = {0};
  for (int i = 0; i < 2 * N; i++) content &= !memcmp(ids + (size_t)i * L, truth + (ref[i] % N_UNPACKED) * L, L * 4);
  CHECK(content);
  for (int i = 0; i < 9; i++) files_in_first_step += !seen[ref[i] / N_UNPACKED]++;
  CHECK(files_in_first_step >= 2); /* a window mixes its files */
  c.world = 3, c.micro_batch = 1, c.workers = 2;
  for (c.rank = 0; c.rank < 3; c.rank++) {
    l = open_ok(&c);
    if (!l) continue;
    CHECK(collect(l, STEPS, got, NULL) == 2 * N / 3);
    int ok = 1;
    for (int k = 0; k < STEPS; k++)
      for (int j = 0; j < 3; j++) ok &= got[k * 3 + j] == ref[k * 9 + c.rank + 3 * j];
    CHECK_MSG(ok, "rank %d", c.rank);
    bert_loader_close(l);
  }
}

/* ---------------------------------------------------------------- errors */

static int open_fails(const bert_loader_config *c, const char *want1, const char *want2) {
  bert_loader *l = NULL;
  bert_error err = {0};
  int rc = bert_loader_open(&l, c, &err);
  CHECK_MSG(rc < 0 && l == NULL, "open succeeded, expected '%s'", want1);
  CHECK_MSG(strstr(err.message, want1) != NULL, "'%s' not in: %s", want1, err.message);
  if (want2) CHECK_MSG(strstr(err.message, want2) != NULL, "'%s' not in: %s", want2, err.message);
  bert_loader_close(l);
  return rc;
}

static void test_open_errors(void) {
  const char *dir = test_tmpdir("loader-errors");
  CHECK(dir != NULL);
  if (!dir) return;
  bert_loader_config c = unpacked_config(2, 8);
  const char *missing[] = {UNPACKED, "data/no_such_*.tfrecord"};
  c.input_files = missing, c.input_file_count = 2;
  CHECK(open_fails(&c, "data/no_such_*.tfrecord", "matches nothing") == BERT_EIO);

  CHECK(copy_sample(dir, "noindex", 0, 0) == 0);
  char path[4200];
  snprintf(path, sizeof path, "%s/noindex.tfrecord", dir);
  const char *noindex[] = {path};
  c.input_files = noindex, c.input_file_count = 1;
  CHECK(open_fails(&c, "bert data index", "noindex.index") == BERT_EIO);

  c = unpacked_config(2, 8);
  c.input_files = kPacked;
  CHECK(open_fails(&c, "feature 'input_ids' is missing", "sample_text_packed.tfrecord: record 0") == BERT_EFORMAT);
  c = unpacked_config(2, 8);
  c.seq_len = 64;
  CHECK(open_fails(&c, "feature 'input_ids' has 128 values, expected 64", "sample_text.tfrecord: record 0"));
  c = packed_config(2, 8);
  c.masked = 20;
  CHECK(open_fails(&c, "'packed_masked_lm_positions' has 22 values, expected 20", NULL));

  c = unpacked_config(8, 64);
  CHECK(open_fails(&c, "Not enough data in input_files for current configuration, try reducing deviceIterations or "
                       "gradientAccumulation.", NULL) == BERT_EINVAL);
  c = unpacked_config(3, 8);
  CHECK(open_fails(&c, "do not split", NULL) == BERT_EINVAL);
  c = unpacked_config(2, 8);
  c.world = 3, c.rank = 1;
  CHECK(open_fails(&c, "do not split", NULL) == BERT_EINVAL);
}

/* A copy cut in the middle: the batches before the first record past the cut are those of the
 * intact file; the failing call names file, record and byte offset; the error persists. */
static void test_truncated(int workers) {
  const char *dir = test_tmpdir("loader-truncated");
  CHECK(dir != NULL);
  if (!dir || copy_sample(dir, "cut", 1, 20000) != 0) return;
  char path[4200];
  snprintf(path, sizeof path, "%s/cut.tfrecord", dir);
  const char *globs[] = {path};
  bert_loader_config c = unpacked_config(1, 1);
  bert_loader *good = open_ok(&c);
  c.input_files = globs, c.workers = workers;
  bert_loader *l = open_ok(&c);
  if (!l || !good) {
    bert_loader_close(l);
    bert_loader_close(good);
    return;
  }
  int rc = 0, steps = 0, same = 1;
  bert_error err = {0};
  const bert_loader_batch *b, *g;
  while (steps < N_UNPACKED && (rc = bert_loader_next(l, &b, &err)) == 0) {
    CHECK(bert_loader_next(good, &g, NULL) == 0);
    same &= b->records[0] == g->records[0] && !memcmp(b->input_ids, g->input_ids, L * sizeof *b->input_ids);
    steps++;
  }
  CHECK(same);
  CHECK_MSG(rc < 0 && steps < N_UNPACKED, "rc %d after %d steps", rc, steps);
  CHECK_MSG(strstr(err.message, path) && strstr(err.message, "byte offset"), "%s", err.message);
  bert_error again = {0};
  CHECK(bert_loader_next(l, &b, &again) == rc && !strcmp(again.message, err.message));
  CHECK(bert_loader_seek(l, 0, NULL) == 0 && bert_loader_next(l, &b, NULL) == 0 && b->step == 0);
  bert_loader_close(l);
  bert_loader_close(good);
}

/* ---------------------------------------------------------------- generated */

static void test_generated(int packed) {
  bert_loader_config c = packed ? packed_config(2, 8) : unpacked_config(2, 8);
  c.input_files = NULL, c.input_file_count = 0, c.generated = 1, c.vocab_size = 30522, c.workers = 3;
  bert_loader *l = open_ok(&c);
  if (!l) return;
  CHECK(bert_loader_samples(l) == 8 && bert_loader_steps_per_pass(l) == 1);
  size_t M = (size_t)c.masked, S = packed ? 3 : 1;
  static int32_t first[L + 22 + 22 + 3];
  int same = 1, ranges = 1;
  for (int i = 0; i < 12; i++) {
    const bert_loader_batch *b;
    if (bert_loader_next(l, &b, NULL)) {
      CHECK(0);
      break;
    }
    CHECK(b->step == (uint64_t)i / 4 && b->micro == i % 4);
    for (int t = 0; t < b->batch; t++) {
      const int32_t *ids = b->input_ids + t * L, *pos = b->masked_positions + t * M, *lab = b->masked_labels + t * M;
      if (i == 0 && t == 0) {
        memcpy(first, ids, L * 4), memcpy(first + L, pos, M * 4), memcpy(first + L + M, lab, M * 4);
        memcpy(first + L + 2 * M, b->nsp_labels, S * 4);
      }
      same &= !memcmp(first, ids, L * 4) && !memcmp(first + L, pos, M * 4) && !memcmp(first + L + M, lab, M * 4) &&
              !memcmp(first + L + 2 * M, b->nsp_labels + t * S, S * 4);
      for (int j = 0; j < L; j++) {
        ranges &= ids[j] >= 0 && ids[j] < 30522 && b->input_mask[t * L + j] == 1 && b->segment_ids[t * L + j] == 0;
        if (packed) ranges &= b->position_ids[t * L + j] == j;
      }
      for (size_t j = 0; j < M; j++) ranges &= pos[j] >= 0 && pos[j] < L && lab[j] >= 0 && lab[j] < 30522;
      for (size_t j = 0; j < S; j++) {
        ranges &= b->nsp_labels[t * S + j] == 0 || b->nsp_labels[t * S + j] == 1;
        if (packed) ranges &= b->nsp_mask[t * S + j] == 1.0f;
      }
    }
  }
  CHECK(same && ranges);
  int distinct = 0;
  for (int j = 1; j < L; j++) distinct += first[j] != first[0];
  CHECK(distinct > L / 2);
  bert_loader_close(l);
  c.seed = 7;
  l = open_ok(&c);
  const bert_loader_batch *b;
  if (l && bert_loader_next(l, &b, NULL) == 0) CHECK(memcmp(b->input_ids, first, L * 4) != 0);
  bert_loader_close(l);
}

int main(void) {
  test_permute();
  test_order_direct();
  test_order_passes();
  test_drop_last();
  test_ranks(0);
  test_ranks(1);
  test_threads();
  test_seek();
  test_decode(0, 0);
  test_decode(0, 44);
  test_decode(1, 0);
  test_decode(1, 43);
  test_many_files();
  test_open_errors();
  test_truncated(0);
  test_truncated(2);
  test_generated(0);
  test_generated(1);
  return test_summary("test_loader");
}
