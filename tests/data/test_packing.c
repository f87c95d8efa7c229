/* Packing: the Lawson-Hanson NNLS solver (optimality conditions on random and degenerate
 * problems), the planners (strategy enumeration, exact accounting of every sequence, the Packed
 * BERT paper's published figures on its Wikipedia histogram), and the packed record builder. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "data/example.h"
#include "data/nnls.h"
#include "data/packed.h"
#include "data/packing.h"
#include "data/tfrecord.h"
#include "test_util.h"

/* ---------------------------------------------------------------- NNLS */

typedef struct dense {
  size_t m, n;
  double a[64 * 128];
} dense;

/* Solves with the sparse solver (zeros dropped) and checks the KKT conditions:
 * x >= 0, w = A^T (b - A x) <= tol, and w = 0 where x > 0. Returns the residual norm. */
static double solve_and_check(const dense *d, const double *b, double *x) {
  size_t cs[129], rows[64 * 128], nnz = 0;
  double vals[64 * 128];
  for (size_t j = 0; j < d->n; j++) {
    cs[j] = nnz;
    for (size_t i = 0; i < d->m; i++)
      if (d->a[i * d->n + j] != 0) rows[nnz] = i, vals[nnz++] = d->a[i * d->n + j];
  }
  cs[d->n] = nnz;
  bert_csc a = {d->m, d->n, cs, rows, vals};
  bert_nnls_result res;
  bert_error err;
  CHECK(bert_nnls(&a, b, x, 0, &res, &err) == 0);
  CHECK(res.converged);
  double r[64], scale = 1;
  for (size_t i = 0; i < d->m; i++) {
    r[i] = b[i];
    for (size_t j = 0; j < d->n; j++) r[i] -= d->a[i * d->n + j] * x[j];
    scale += fabs(b[i]);
  }
  int ok = 1;
  for (size_t j = 0; j < d->n; j++) {
    double w = 0;
    for (size_t i = 0; i < d->m; i++) w += d->a[i * d->n + j] * r[i];
    ok &= x[j] >= 0;
    ok &= w <= 1e-9 * scale;
    if (x[j] > 0) ok &= fabs(w) <= 1e-9 * scale;
  }
  CHECK_MSG(ok, "KKT conditions fail for a %zu x %zu problem", d->m, d->n);
  return res.residual_norm;
}

static uint64_t lcg(uint64_t *s) { return (*s = *s * 6364136223846793005ull + 1442695040888963407ull) >> 33; }

static void test_nnls_small(void) {
  static dense d;
  double x[128], b[64];
  /* Identity: negative entries of b are clamped to zero. */
  d = (dense){2, 2, {1, 0, 0, 1}};
  b[0] = 1, b[1] = -1;
  solve_and_check(&d, b, x);
  CHECK_NEAR(x[0], 1, 1e-12);
  CHECK(x[1] == 0);
  /* Consistent system with a positive solution: found exactly. */
  d = (dense){3, 2, {1, 1, 1, 2, 1, 3}};
  b[0] = 5, b[1] = 8, b[2] = 11;
  CHECK_NEAR(solve_and_check(&d, b, x), 0, 1e-10);
  CHECK_NEAR(x[0], 2, 1e-10);
  CHECK_NEAR(x[1], 3, 1e-10);
  /* Hand-solved: min (x1 - 2)^2 + (x1 + x2 + 1)^2 -> x2 = 0, x1 = 1/2. */
  d = (dense){2, 2, {1, 0, 1, 1}};
  b[0] = 2, b[1] = -1;
  solve_and_check(&d, b, x);
  CHECK_NEAR(x[0], 0.5, 1e-12);
  CHECK(x[1] == 0);
  /* b = 0, zero and duplicate columns, more columns than rows. */
  d = (dense){3, 4, {1, 0, 1, 2, 0, 0, 0, 1, 1, 0, 1, 0}};
  b[0] = b[1] = b[2] = 0;
  solve_and_check(&d, b, x);
  CHECK(x[0] == 0 && x[1] == 0 && x[2] == 0 && x[3] == 0);
  b[0] = 3, b[1] = 1, b[2] = 2;
  solve_and_check(&d, b, x);
  CHECK(x[1] == 0); /* the zero column never enters */
}

static void test_nnls_random(void) {
  static dense d;
  double x[128], b[64];
  uint64_t seed = 42;
  for (int t = 0; t < 60; t++) {
    d.m = 3 + lcg(&seed) % 60, d.n = 1 + lcg(&seed) % 128;
    int sparse = t % 2, integer = t % 3 == 0;
    for (size_t i = 0; i < d.m * d.n; i++) {
      double v = integer ? (double)(lcg(&seed) % 3) : (double)(lcg(&seed) % 2001) / 1000.0 - 1.0;
      d.a[i] = sparse && lcg(&seed) % 4 ? 0 : v;
    }
    for (size_t i = 0; i < d.m; i++) b[i] = (double)(lcg(&seed) % 20001) / 100.0 - 50.0;
    solve_and_check(&d, b, x);
  }
}

static void test_nnls_errors(void) {
  size_t cs[2] = {0, 1}, rows[1] = {5};
  double vals[1] = {1}, b[2] = {1, NAN}, x[1];
  bert_csc a = {2, 1, cs, rows, vals};
  bert_error err;
  CHECK(bert_nnls(&a, b, x, 0, NULL, &err) == BERT_EINVAL); /* row out of range */
  rows[0] = 1;
  CHECK(bert_nnls(&a, b, x, 0, NULL, &err) == BERT_EINVAL); /* NaN in b */
  CHECK(strstr(err.message, "b[1]") != NULL);
  CHECK(bert_nnls(NULL, b, x, 0, NULL, &err) == BERT_EINVAL);
}

/* ---------------------------------------------------------------- plans */

/* Every sequence is accounted for: A repeat = histogram - dropped + padding, per length. */
static void check_accounting(const bert_pack_plan *p) {
  int L = p->sequence_length, ok = 1, shape = 1;
  int64_t *used = calloc((size_t)L + 1, sizeof *used);
  for (size_t s = 0; s < p->count; s++) {
    int sum = 0;
    size_t n = p->start[s + 1] - p->start[s];
    shape &= n >= 1 && n <= (size_t)p->max_sequences_per_pack && p->repeat[s] > 0;
    for (size_t i = p->start[s]; i < p->start[s + 1]; i++) {
      used[p->lengths[i]] += p->repeat[s], sum += p->lengths[i];
      shape &= i == p->start[s] || p->lengths[i - 1] <= p->lengths[i];
    }
    shape &= p->algorithm == BERT_PACK_NNLSHP ? sum == L : sum <= L;
  }
  for (int l = 1; l <= L; l++) {
    ok &= used[l] == p->histogram[l - 1] - p->dropped[l - 1] + p->padding[l - 1];
    if (p->algorithm != BERT_PACK_NNLSHP) ok &= p->padding[l - 1] == 0 && p->dropped[l - 1] == 0;
    if (!p->drop_unpacked_remainder) ok &= p->dropped[l - 1] == 0;
  }
  CHECK_MSG(ok, "%s: the strategies do not use each length as often as the histogram says",
            bert_pack_algorithm_name(p->algorithm));
  CHECK_MSG(shape, "%s: a strategy has a bad size, order or sum", bert_pack_algorithm_name(p->algorithm));
  free(used);
}

static int make_plan(const int64_t *h, int L, int S, bert_pack_algorithm a, int drop, bert_pack_plan *p) {
  bert_pack_plan_options o = {L, S, a, drop};
  bert_error err;
  int rc = bert_pack_plan_make(h, &o, p, &err);
  CHECK_MSG(rc == 0, "%s", err.message);
  if (!rc) check_accounting(p);
  return rc;
}

static void test_enumeration(void) {
  int64_t h[16] = {0};
  h[15] = 3, h[7] = 4, h[4] = 2, h[2] = 5, h[0] = 1;
  bert_pack_plan p;
  /* Partitions of 16 into at most 3 parts: 30; into at most 2: 9. */
  if (!make_plan(h, 16, 3, BERT_PACK_NNLSHP, 0, &p)) {
    CHECK(p.enumerated == 30);
    bert_pack_plan_free(&p);
  }
  if (!make_plan(h, 16, 2, BERT_PACK_NNLSHP, 0, &p)) {
    CHECK(p.enumerated == 9);
    bert_pack_plan_free(&p);
  }
  if (!make_plan(h, 16, 2, BERT_PACK_NNLSHP, 1, &p)) bert_pack_plan_free(&p);
}

static void test_random_histograms(void) {
  uint64_t seed = 7;
  for (int t = 0; t < 12; t++) {
    int L = 8 + (int)(lcg(&seed) % 120);
    int64_t *h = calloc((size_t)L, sizeof *h);
    for (int l = 0; l < L; l++) h[l] = lcg(&seed) % 3 ? (int64_t)(lcg(&seed) % 1000) : 0;
    for (int a = 0; a < 3; a++) {
      bert_pack_plan p;
      int S = a == 0 ? 2 + t % 2 : 1 + t;
      if (!make_plan(h, L, S, (bert_pack_algorithm)a, t % 4 == 1, &p)) bert_pack_plan_free(&p);
    }
    free(h);
  }
}

static int load(const char *path, int64_t **h, int *L) {
  bert_error err;
  int rc = bert_pack_histogram_load(path, h, L, &err);
  CHECK_MSG(rc == 0, "%s", err.message);
  return rc;
}

static void expect(const char *what, const int64_t *h, int L, int S, bert_pack_algorithm a, double efficiency,
                   double eff_tol, double speedup) {
  bert_pack_plan p;
  if (make_plan(h, L, S, a, 0, &p)) return;
  bert_pack_stats s;
  bert_pack_plan_stats(&p, &s);
  CHECK_MSG(s.efficiency >= 0.995, "%s: efficiency %.5f", what, s.efficiency);
  CHECK_MSG(fabs(s.efficiency - efficiency) <= eff_tol, "%s: efficiency %.6f, published %.6f", what, s.efficiency,
            efficiency);
  CHECK_MSG(fabs(s.speedup - speedup) <= 5e-6, "%s: speed-up %.6f, published %.5f", what, s.speedup, speedup);
  CHECK(s.sequences == 16279552 && s.dropped == 0);
  CHECK_MSG(p.plan_seconds < (a == BERT_PACK_NNLSHP ? 60 : 1), "%s took %.3f s", what, p.plan_seconds);
  bert_pack_plan_free(&p);
}

/* The paper's histogram and its published results (Graphcore's blogs_code README):
 * SPFHP (12): 99.6040 %, 1.99340x; LPFHP (12): 99.8129 %, 1.99758x; NNLSHP (3): 0.9975, 1.99625x. */
static void test_wikipedia(void) {
  int64_t *h;
  int L;
  if (load("tests/data/packing/wikipedia_512_histogram.json", &h, &L)) return;
  CHECK(L == 512);
  expect("spfhp 12", h, L, 12, BERT_PACK_SPFHP, 0.996040, 5e-7, 1.99340);
  expect("lpfhp 12", h, L, 12, BERT_PACK_LPFHP, 0.998129, 5e-7, 1.99758);
  expect("nnlshp 3", h, L, 3, BERT_PACK_NNLSHP, 0.9975, 5e-5, 1.99625);
  bert_pack_plan p;
  for (int a = 1; a < 3; a++)
    if (!make_plan(h, L, 16, (bert_pack_algorithm)a, 0, &p)) {
      bert_pack_stats s;
      bert_pack_plan_stats(&p, &s);
      CHECK_MSG(s.efficiency >= 0.995, "%s 16: %.5f", bert_pack_algorithm_name(p.algorithm), s.efficiency);
      bert_pack_plan_free(&p);
    }
  free(h);
  if (load("tests/data/packing/squad_1_1_384_histogram.json", &h, &L)) return;
  CHECK(L == 384);
  for (int a = 0; a < 3; a++)
    if (!make_plan(h, L, a ? 8 : 3, (bert_pack_algorithm)a, 0, &p)) bert_pack_plan_free(&p);
  free(h);
}

static void test_plan_errors(void) {
  int64_t h[8] = {1, 2, 3, 4, 5, 6, 7, -1};
  bert_pack_plan_options o = {8, 3, BERT_PACK_NNLSHP, 0};
  bert_pack_plan p;
  bert_error err;
  CHECK(bert_pack_plan_make(h, &o, &p, &err) == BERT_EINVAL); /* negative count */
  CHECK(strstr(err.message, "length 8") != NULL);
  h[7] = 1;
  o.max_sequences_per_pack = 4;
  CHECK(bert_pack_plan_make(h, &o, &p, &err) == BERT_EINVAL);
  CHECK(strstr(err.message, "nnlshp takes 2 to 3") != NULL);
  o.max_sequences_per_pack = 3, o.sequence_length = 1;
  CHECK(bert_pack_plan_make(h, &o, &p, &err) == BERT_EINVAL);
  bert_pack_algorithm a;
  CHECK(bert_pack_algorithm_parse("LPFHP", &a, &err) == 0 && a == BERT_PACK_LPFHP);
  CHECK(bert_pack_algorithm_parse("best-fit", &a, &err) == BERT_EINVAL);
  /* Histogram files. */
  const char *dir = test_tmpdir("packing");
  char path[4200];
  static const char *bad[] = {"{\"counts\": [1, 2, -3]}", "{\"counts\": [1, 2.5]}", "[1, 2",
                              "{\"max_sequence_length\": 4, \"counts\": [1, 2, 3]}", "{\"count\": [1, 2]}", "[7]"};
  int64_t *c;
  int L;
  snprintf(path, sizeof path, "%s/h.json", dir);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK(bert_file_write_atomic(path, bad[i], strlen(bad[i]), &err) == 0);
    CHECK_MSG(bert_pack_histogram_load(path, &c, &L, &err) == BERT_EFORMAT, "accepted %s", bad[i]);
    CHECK(strstr(err.message, "h.json") != NULL);
  }
  CHECK(bert_file_write_atomic(path, "[0, 4, 0, 1]", 12, &err) == 0);
  CHECK(bert_pack_histogram_load(path, &c, &L, &err) == 0 && L == 4 && c[1] == 4 && c[3] == 1);
  free(c);
  CHECK(bert_pack_histogram_load("tests/data/packing/missing.json", &c, &L, &err) == BERT_EIO);
}

/* ---------------------------------------------------------------- packed records */

static void fill(bert_unpacked *u, int len, int masked, int64_t first_id, int64_t nsp) {
  u->len = len, u->masked = masked, u->nsp = nsp;
  for (int i = 0; i < len; i++) u->ids[i] = i == 0 ? 101 : i == len - 1 ? 102 : first_id + i, u->seg[i] = i > len / 2;
  for (int j = 0; j < masked; j++) u->mpos[j] = 1 + j, u->mids[j] = 2000 + j;
}

/* The direct encoder writes what protobuf-c writes for the same features. */
static int encoded_like_protobuf_c(const bert_packed *p, const uint8_t *got, size_t n) {
  bert_example_builder b;
  bert_error err;
  const char *const *f = bert_packed_feature_names;
  size_t L = (size_t)p->L, M = (size_t)p->slots, S = (size_t)p->S;
  bert_example_builder_init(&b);
  bert_example_add_int64(&b, f[0], p->input_ids, L, &err), bert_example_add_int64(&b, f[1], p->input_mask, L, &err);
  bert_example_add_int64(&b, f[2], p->segment_ids, L, &err), bert_example_add_int64(&b, f[3], p->position_ids, L, &err);
  bert_example_add_int64(&b, f[4], p->mlm_positions, M, &err), bert_example_add_int64(&b, f[5], p->mlm_ids, M, &err);
  bert_example_add_float(&b, f[6], p->mlm_mask, M, &err), bert_example_add_int64(&b, f[7], p->nsp_labels, S, &err);
  bert_example_add_float(&b, f[8], p->nsp_mask, S, &err);
  static uint8_t want[1 << 16];
  size_t m;
  return bert_example_encode(&b, want, sizeof want, &m, &err) == 0 && m == n && !memcmp(want, got, n);
}

/* The direct decoder of unpacked records reads what protobuf-c reads (the reference's sample). */
static void test_fast_decode(void) {
  bert_tfrecord_reader r;
  bert_unpacked u;
  bert_error err;
  const uint8_t *data;
  size_t size;
  int64_t v[128];
  int records = 0, same = 1;
  CHECK(bert_unpacked_init(&u, 128, 20, &err) == 0);
  CHECK(bert_tfrecord_reader_open(&r, "data/sample_text.tfrecord", 1, &err) == 0);
  while (bert_tfrecord_read(&r, &data, &size, &err) > 0) {
    bert_example ex;
    CHECK(bert_unpacked_decode(&u, 128, 20, data, size, &err) == 0);
    CHECK(bert_example_decode(&ex, data, size, &err) == 0);
    static const char *names[5] = {"input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids"};
    const int64_t *got[5] = {u.ids, u.mask, u.seg, u.mpos, u.mids};
    for (int f = 0; f < 5; f++) {
      size_t n = f < 3 ? 128 : 20;
      same &= bert_example_get_int64(&ex, names[f], v, n, &err) == 0 && !memcmp(v, got[f], n * sizeof *v);
    }
    same &= bert_example_get_int64(&ex, "next_sentence_labels", v, 1, &err) == 0 && v[0] == u.nsp;
    int len = 0;
    for (int i = 0; i < 128; i++) len += u.mask[i] == 1;
    same &= len == u.len;
    bert_example_free(&ex);
    records++;
  }
  CHECK(records == 45);
  CHECK_MSG(same, "the direct decoder and protobuf-c disagree on data/sample_text.tfrecord");
  bert_tfrecord_reader_close(&r);
  bert_unpacked_free(&u);
}

static void test_packed_layout(void) {
  bert_unpacked u;
  bert_packed p;
  bert_error err;
  CHECK(bert_unpacked_init(&u, 16, 4, &err) == 0);
  CHECK(bert_packed_init(&p, 16, 4, 3, &err) == 0);
  fill(&u, 5, 2, 1000, 1);
  CHECK(bert_packed_add(&p, &u) == 0);
  fill(&u, 6, 4, 3000, 0);
  CHECK(bert_packed_add(&p, &u) == 0);
  /* body of seq 1 at 0..3, seq 2 at 4..8; [CLS] of seq 1 at 15, of seq 2 at 14 */
  CHECK(p.input_ids[0] == 1001 && p.input_ids[3] == 102 && p.input_ids[4] == 3001 && p.input_ids[8] == 102);
  CHECK(p.input_ids[9] == 0 && p.input_ids[13] == 0 && p.input_ids[14] == 101 && p.input_ids[15] == 101);
  CHECK(p.input_mask[3] == 1 && p.input_mask[4] == 2 && p.input_mask[9] == 0 && p.input_mask[14] == 2 &&
        p.input_mask[15] == 1);
  CHECK(p.position_ids[0] == 1 && p.position_ids[3] == 4 && p.position_ids[4] == 1 && p.position_ids[15] == 0);
  CHECK(p.mlm_positions[0] == 0 && p.mlm_positions[1] == 1 && p.mlm_positions[2] == 4 && p.mlm_positions[5] == 7);
  CHECK(p.mlm_mask[1] == 1 && p.mlm_mask[2] == 2 && p.mlm_mask[5] == 2 && p.slots == 6);
  CHECK(p.nsp_labels[2] == 1 && p.nsp_labels[1] == 0 && p.nsp_mask[2] == 1 && p.nsp_mask[1] == 1 && p.nsp_mask[0] == 0);
  /* a third sequence with one mask too many overflows M + S - 1 = 6 */
  fill(&u, 3, 1, 5000, 1);
  CHECK(bert_packed_add(&p, &u) == 1);
  uint8_t buf[4096];
  size_t n;
  CHECK(bert_packed_encode(&p, buf, sizeof buf, &n, &err) == 0 && n <= bert_packed_max_size(&p));
  CHECK(encoded_like_protobuf_c(&p, buf, n));
  p.input_ids[9] = -5, p.mlm_ids[5] = INT64_MIN; /* 10-byte varints */
  uint8_t neg[4096];
  size_t nn;
  CHECK(bert_packed_encode(&p, neg, sizeof neg, &nn, &err) == 0 && encoded_like_protobuf_c(&p, neg, nn));
  CHECK(bert_packed_encode(&p, neg, 100, &nn, &err) == BERT_ERANGE);
  bert_example ex;
  CHECK(bert_example_decode(&ex, buf, n, &err) == 0);
  CHECK(bert_example_feature_count(&ex) == BERT_PACKED_FEATURES);
  for (int i = 0; i < BERT_PACKED_FEATURES; i++)
    CHECK(!strcmp(bert_example_feature_name(&ex, (size_t)i), bert_packed_feature_names[i]));
  bert_example_free(&ex);
  /* too long for the room left / too many sequences */
  bert_packed_reset(&p);
  fill(&u, 16, 0, 1000, 0);
  CHECK(bert_packed_add(&p, &u) == 0);
  fill(&u, 1, 0, 1000, 0);
  CHECK(bert_packed_add(&p, &u) == 1);
  bert_packed_free(&p);
  bert_unpacked_free(&u);
}

static void test_unpacked_errors(void) {
  bert_unpacked u;
  bert_error err;
  CHECK(bert_unpacked_init(&u, 8, 2, &err) == 0);
  int64_t ids[8] = {101, 5, 6, 102, 0, 0, 0, 0}, mask[8] = {1, 1, 1, 1, 0, 0, 0, 0}, seg[8] = {0};
  int64_t pos[2] = {2, 0}, lab[2] = {6, 0}, nsp = 1;
  bert_example_builder b;
  uint8_t buf[1024];
  size_t n;
  for (int t = 0; t < 5; t++) {
    int64_t m2[8], p2[2];
    memcpy(m2, mask, sizeof m2), memcpy(p2, pos, sizeof p2);
    if (t == 1) m2[5] = 1;            /* not 1s then 0s */
    if (t == 2) p2[0] = 4;            /* outside the sequence */
    if (t == 3) p2[0] = 0, p2[1] = 2; /* position after padding */
    bert_example_builder_init(&b);
    bert_example_add_int64(&b, "input_ids", ids, t == 4 ? 7 : 8, &err);
    bert_example_add_int64(&b, "input_mask", m2, 8, &err);
    bert_example_add_int64(&b, "segment_ids", seg, 8, &err);
    bert_example_add_int64(&b, "masked_lm_positions", p2, 2, &err);
    bert_example_add_int64(&b, "masked_lm_ids", lab, 2, &err);
    bert_example_add_int64(&b, "next_sentence_labels", &nsp, 1, &err);
    CHECK(bert_example_encode(&b, buf, sizeof buf, &n, &err) == 0);
    int rc = bert_unpacked_decode(&u, 8, 2, buf, n, &err);
    CHECK_MSG(t == 0 ? rc == 0 : rc == BERT_EFORMAT, "case %d: %d", t, rc);
    if (t == 0) CHECK(u.len == 4 && u.masked == 1 && u.nsp == 1);
    if (t == 1) CHECK(strstr(err.message, "input_mask") != NULL);
    if (t == 2) CHECK(strstr(err.message, "outside the sequence") != NULL);
    if (t == 3) CHECK(strstr(err.message, "after padding") != NULL);
    if (t == 4) CHECK(strstr(err.message, "'input_ids' has 7 values, expected 8 (--sequence-length 8)") != NULL);
  }
  bert_unpacked_free(&u);
}

int main(void) {
  test_nnls_small();
  test_nnls_random();
  test_nnls_errors();
  test_enumeration();
  test_random_histograms();
  test_wikipedia();
  test_plan_errors();
  test_fast_decode();
  test_packed_layout();
  test_unpacked_errors();
  return test_summary("test_packing");
}
