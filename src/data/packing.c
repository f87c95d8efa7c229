/* data/packing: the planner (see packing.h) — strategy lists, NNLSHP as the reference's
 * get_packing_recipe, statistics, printout, JSON in and out. The greedy packers are in
 * packing_greedy.c. */
#include "data/packing.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/strbuf.h"
#include "data/nnls.h"

static const char *algorithm_names[] = {"nnlshp", "spfhp", "lpfhp"};

int bert_pack_algorithm_parse(const char *name, bert_pack_algorithm *out, bert_error *err) {
  for (int i = 0; i < 3; i++)
    if (!strcasecmp(name, algorithm_names[i])) return *out = (bert_pack_algorithm)i, BERT_OK;
  return bert_error_set(err, BERT_EINVAL, "unknown packing algorithm '%s' (expected nnlshp, spfhp or lpfhp)", name);
}

const char *bert_pack_algorithm_name(bert_pack_algorithm a) {
  return (unsigned)a < 3 ? algorithm_names[a] : "?";
}

void bert_pack_plan_options_default(bert_pack_plan_options *o) {
  *o = (bert_pack_plan_options){.sequence_length = 128, .max_sequences_per_pack = 3,
                                .algorithm = BERT_PACK_NNLSHP, .drop_unpacked_remainder = 0};
}

void bert_pack_plan_free(bert_pack_plan *p) {
  free(p->start), free(p->lengths), free(p->repeat);
  free(p->histogram), free(p->padding), free(p->dropped), free(p->residual);
  memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- strategy lists */

static int reserve(bert_pack_plan *p, size_t strategies, size_t lengths, bert_error *err) {
  if (strategies > p->cap_strategies) {
    size_t cap = p->cap_strategies ? p->cap_strategies : 256;
    while (cap < strategies) cap *= 2;
    size_t *start = realloc(p->start, (cap + 1) * sizeof *start);
    if (start) p->start = start;
    int64_t *repeat = start ? realloc(p->repeat, cap * sizeof *repeat) : NULL;
    if (!repeat) return bert_error_set(err, BERT_ENOMEM, "packing: out of memory for %zu strategies", cap);
    p->repeat = repeat;
    if (!p->cap_strategies) p->start[0] = 0;
    p->cap_strategies = cap;
  }
  if (lengths > p->cap_lengths) {
    size_t cap = p->cap_lengths ? p->cap_lengths : 1024;
    while (cap < lengths) cap *= 2;
    uint16_t *l = realloc(p->lengths, cap * sizeof *l);
    if (!l) return bert_error_set(err, BERT_ENOMEM, "packing: out of memory for %zu strategy entries", cap);
    p->lengths = l;
    p->cap_lengths = cap;
  }
  return BERT_OK;
}

int bert_pack_plan_add(bert_pack_plan *p, const uint16_t *lengths, size_t n, int64_t repeat, bert_error *err) {
  size_t base = p->count ? p->start[p->count] : 0;
  int rc = reserve(p, p->count + 1, base + n, err);
  if (rc) return rc;
  uint16_t *dst = p->lengths + base;
  for (size_t i = 0; i < n; i++) { /* insertion sort: n <= 16 */
    size_t j = i;
    while (j > 0 && dst[j - 1] > lengths[i]) dst[j] = dst[j - 1], j--;
    dst[j] = lengths[i];
  }
  p->repeat[p->count] = repeat;
  p->start[++p->count] = base + n;
  return BERT_OK;
}

/* ---------------------------------------------------------------- NNLSHP */

/* Enumeration in the reference's order (lexicographic over ascending tuples), remembering where
 * [l, L-l] and [L] are for the remainder step. */
typedef struct enumerator {
  bert_pack_plan *all;
  uint16_t prefix[BERT_PACK_MAX_SEQUENCES];
  size_t *pair;   /* [L/2 + 1]: index of strategy [a, L-a] */
  size_t single;  /* index of [L] */
  int rc;
  bert_error *err;
} enumerator;

static void emit(enumerator *e, size_t n) {
  if (n == 2) e->pair[e->prefix[0]] = e->all->count;
  if (n == 1) e->single = e->all->count;
  if (!e->rc) e->rc = bert_pack_plan_add(e->all, e->prefix, n, 0, e->err);
}

static void enumerate(enumerator *e, int depth, int min, int gap, size_t n) {
  if (n >= BERT_PACK_MAX_SEQUENCES) return;
  if (depth == 1) { /* only the completing length can end a strategy */
    if (gap >= min) e->prefix[n] = (uint16_t)gap, emit(e, n + 1);
    return;
  }
  for (int v = min; v <= gap && !e->rc; v++) {
    e->prefix[n] = (uint16_t)v;
    if (v == gap) emit(e, n + 1);
    else enumerate(e, depth - 1, v, gap - v, n + 1);
  }
}

/* A as a weighted sparse matrix: column s has count(l) * w0[l-1] in row l-1. */
static int packing_matrix(const bert_pack_plan *all, const double *w0, bert_csc *a, size_t **col_start,
                          size_t **rows, double **vals, bert_error *err) {
  size_t nnz = all->start[all->count];
  *col_start = malloc((all->count + 1) * sizeof **col_start);
  *rows = malloc((nnz + 1) * sizeof **rows);
  *vals = malloc((nnz + 1) * sizeof **vals);
  if (!*col_start || !*rows || !*vals) return bert_error_set(err, BERT_ENOMEM, "packing: out of memory for A");
  size_t e = 0;
  for (size_t s = 0; s < all->count; s++) {
    (*col_start)[s] = e;
    for (size_t i = all->start[s]; i < all->start[s + 1]; i++) {
      size_t row = all->lengths[i] - 1u;
      if (e > (*col_start)[s] && (*rows)[e - 1] == row) (*vals)[e - 1] += w0[row];
      else (*rows)[e] = row, (*vals)[e] = w0[row], e++;
    }
  }
  (*col_start)[all->count] = e;
  *a = (bert_csc){(size_t)all->sequence_length, all->count, *col_start, *rows, *vals};
  return BERT_OK;
}

/* residual[l-1] = histogram - A mixture (mixture given as doubles). */
static void residual_of(const bert_pack_plan *all, const double *mix, const int64_t *h, double *res) {
  for (int l = 0; l < all->sequence_length; l++) res[l] = (double)h[l];
  for (size_t s = 0; s < all->count; s++)
    for (size_t i = all->start[s]; i < all->start[s + 1]; i++) res[all->lengths[i] - 1] -= mix[s];
}

/* Solve, round, hand out the remainder, derive padding / dropped (reference get_packing_recipe). */
static int nnlshp_mixture(bert_pack_plan *p, const bert_pack_plan *all, const enumerator *en, double *mix,
                          bert_error *err) {
  int L = p->sequence_length;
  double *w0 = malloc((size_t)L * sizeof *w0), *b = malloc((size_t)L * sizeof *b);
  double *res_float = malloc((size_t)L * sizeof *res_float);
  size_t *cs = NULL, *rows = NULL;
  double *vals = NULL;
  bert_csc a;
  int rc = !w0 || !b || !res_float ? bert_error_set(err, BERT_ENOMEM, "packing: out of memory") : BERT_OK;
  if (!rc) {
    /* Lengths below the cutoff may be over-used (they become placeholders): weight sqrt(8 / 2L). */
    for (int l = 0; l < L; l++) w0[l] = l < 8 ? sqrt(8.0 / (2.0 * L)) : 1.0;
    for (int l = 0; l < L; l++) b[l] = w0[l] * (double)p->histogram[l];
    rc = packing_matrix(all, w0, &a, &cs, &rows, &vals, err);
  }
  bert_nnls_result nr = {0};
  double t0 = bert_seconds();
  if (!rc) rc = bert_nnls(&a, b, mix, 0, &nr, err);
  p->solve_seconds = bert_seconds() - t0;
  p->nnls_iterations = nr.iterations, p->nnls_converged = nr.converged;
  if (!rc) {
    residual_of(all, mix, p->histogram, res_float);
    for (size_t s = 0; s < all->count; s++) mix[s] = rint(mix[s]);
    residual_of(all, mix, p->histogram, p->residual);
    p->residual_rounding = 0;
    for (int l = 0; l < L; l++) p->residual_rounding += fabs(res_float[l] - p->residual[l]);
    for (int l = 1; l <= L && !p->drop_unpacked_remainder; l++) {
      double left = p->residual[l - 1];
      if (left > 0) mix[l == L ? en->single : en->pair[l <= L - l ? l : L - l]] += left;
    }
    residual_of(all, mix, p->histogram, res_float);
    for (int l = 0; l < L; l++) {
      p->padding[l] = res_float[l] < 0 ? (int64_t)-res_float[l] : 0;
      p->dropped[l] = res_float[l] > 0 ? (int64_t)res_float[l] : 0;
    }
  }
  free(w0), free(b), free(res_float), free(cs), free(rows), free(vals);
  return rc;
}

static int plan_nnlshp(bert_pack_plan *p, bert_error *err) {
  int L = p->sequence_length;
  bert_pack_plan all = {.sequence_length = L, .max_sequences_per_pack = p->max_sequences_per_pack};
  enumerator en = {.all = &all, .pair = calloc((size_t)L / 2 + 1, sizeof(size_t)), .err = err};
  if (!en.pair) return bert_error_set(err, BERT_ENOMEM, "packing: out of memory");
  enumerate(&en, p->max_sequences_per_pack, 1, L, 0);
  int rc = en.rc;
  p->enumerated = all.count;
  double *mix = rc ? NULL : malloc((all.count + 1) * sizeof *mix);
  if (!rc && !mix) rc = bert_error_set(err, BERT_ENOMEM, "packing: out of memory");
  if (!rc) rc = nnlshp_mixture(p, &all, &en, mix, err);
  for (size_t s = 0; s < all.count && !rc; s++)
    if (mix[s] > 0)
      rc = bert_pack_plan_add(p, all.lengths + all.start[s], all.start[s + 1] - all.start[s], (int64_t)mix[s], err);
  free(mix), free(en.pair);
  bert_pack_plan_free(&all);
  return rc;
}

/* ---------------------------------------------------------------- plan */

int bert_pack_plan_options_check(const bert_pack_plan_options *o, bert_error *err) {
  int L = o->sequence_length, S = o->max_sequences_per_pack;
  if (L < 2 || L > BERT_PACK_MAX_LENGTH)
    return bert_error_set(err, BERT_EINVAL, "packing: sequence length %d outside [2, %d]", L, BERT_PACK_MAX_LENGTH);
  if ((unsigned)o->algorithm > BERT_PACK_LPFHP) return bert_error_set(err, BERT_EINVAL, "packing: bad algorithm");
  int lo = o->algorithm == BERT_PACK_NNLSHP ? 2 : 1;
  int hi = o->algorithm == BERT_PACK_NNLSHP ? BERT_PACK_NNLS_MAX_SEQUENCES : BERT_PACK_MAX_SEQUENCES;
  if (S < lo || S > hi)
    return bert_error_set(err, BERT_EINVAL, "packing: %s takes %d to %d sequences per pack, not %d",
                          bert_pack_algorithm_name(o->algorithm), lo, hi, S);
  return BERT_OK;
}

static int check_options(const int64_t *h, const bert_pack_plan_options *o, bert_error *err) {
  int rc = bert_pack_plan_options_check(o, err);
  for (int l = 0; l < o->sequence_length && !rc; l++)
    if (h[l] < 0 || h[l] > (INT64_C(1) << 48))
      return bert_error_set(err, BERT_EINVAL, "packing: histogram count %" PRId64 " for length %d is out of range",
                            h[l], l + 1);
  return rc;
}

int bert_pack_plan_make(const int64_t *histogram, const bert_pack_plan_options *o, bert_pack_plan *p,
                        bert_error *err) {
  memset(p, 0, sizeof *p);
  int rc = check_options(histogram, o, err);
  if (rc) return rc;
  double t0 = bert_seconds();
  size_t L = (size_t)o->sequence_length;
  p->sequence_length = o->sequence_length, p->max_sequences_per_pack = o->max_sequences_per_pack;
  p->algorithm = o->algorithm, p->drop_unpacked_remainder = o->drop_unpacked_remainder;
  p->histogram = malloc(L * sizeof(int64_t));
  p->padding = calloc(L, sizeof(int64_t));
  p->dropped = calloc(L, sizeof(int64_t));
  p->residual = calloc(L, sizeof(double));
  if (!p->histogram || !p->padding || !p->dropped || !p->residual) {
    bert_pack_plan_free(p);
    return bert_error_set(err, BERT_ENOMEM, "packing: out of memory");
  }
  memcpy(p->histogram, histogram, L * sizeof(int64_t));
  if (o->algorithm == BERT_PACK_NNLSHP) {
    rc = plan_nnlshp(p, err);
  } else {
    double t1 = bert_seconds();
    rc = o->algorithm == BERT_PACK_SPFHP ? bert_pack_spfhp(histogram, p, err) : bert_pack_lpfhp(histogram, p, err);
    p->solve_seconds = bert_seconds() - t1;
  }
  p->plan_seconds = bert_seconds() - t0;
  if (rc) bert_pack_plan_free(p);
  return rc;
}

/* ---------------------------------------------------------------- statistics */

void bert_pack_plan_stats(const bert_pack_plan *p, bert_pack_stats *s) {
  int L = p->sequence_length;
  memset(s, 0, sizeof *s);
  double len_sum = 0;
  for (int l = 1; l <= L; l++) {
    int64_t h = p->histogram[l - 1], d = p->dropped[l - 1];
    s->sequences += h, s->dropped += d, s->placeholders += p->padding[l - 1];
    s->real_tokens += (double)l * (double)(h - d);
    s->padding_tokens_original += (double)(L - l) * (double)h;
    len_sum += (double)l * (double)h;
  }
  for (size_t i = 0; i < p->count; i++) s->packs += p->repeat[i];
  double kept = (double)(s->sequences - s->dropped), packs = (double)s->packs;
  s->padding_tokens_packed = packs * L - s->real_tokens;
  s->efficiency = packs > 0 ? s->real_tokens / (packs * L) : 0;
  s->compression = kept > 0 ? 1 - packs / kept : 0;
  s->sequences_per_pack = packs > 0 ? kept / packs : 0;
  s->speedup_bound = len_sum > 0 ? (double)L * (double)s->sequences / len_sum : 0;
  s->speedup = packs > 0 ? kept / packs : 0;
}

/* Python's str.center(80, "_"). */
static void centered(FILE *out, const char *text) {
  int n = (int)strlen(text), width = 80, marg = width - n;
  int left = marg > 0 ? marg / 2 + (marg & width & 1) : 0, right = marg > 0 ? marg - left : 0;
  fprintf(out, "%.*s%s%.*s\n", left, "________________________________________________________________________________",
          text, right, "________________________________________________________________________________");
}

static void print_residual(FILE *out, const char *label, const double *r, int n) {
  fputs(label, out);
  fputc('[', out);
  for (int i = 0; i < n; i++) fprintf(out, "%s%g", i ? " " : "", round(r[i] * 1e4) / 1e4 + 0.0);
  fputs("]\n", out);
}

static void print_solver(const bert_pack_plan *p, const bert_pack_stats *s, FILE *out) {
  centered(out, "Entering packing solver");
  int L = p->sequence_length, n8 = L < 8 ? L : 8;
  if (p->algorithm != BERT_PACK_NNLSHP) {
    fprintf(out, "%s histogram-packing with at most %d sequences per pack.\n",
            p->algorithm == BERT_PACK_SPFHP ? "Shortest-pack-first" : "Longest-pack-first", p->max_sequences_per_pack);
    fprintf(out, "Sequences to pack:  %" PRId64 "\n", s->sequences);
    fprintf(out, "Solving took %.3f seconds.\n", p->solve_seconds);
    return;
  }
  fprintf(out, "Packing will involve %zu unique packing strategies. at a maximum %d sequences per pack.\n",
          p->enumerated, p->max_sequences_per_pack);
  fprintf(out, "Sequences to pack:  %" PRId64 "\n", s->sequences);
  fprintf(out, "Solving non-negative least squares took %.2f seconds.\n", p->solve_seconds);
  double total = 0;
  for (int l = 0; l < L; l++) total += fabs(p->residual[l]);
  fprintf(out, "Total residual of packing mixture: %.1f\n", total);
  fprintf(out, "Total residual introduced by rounding mixture to int: %.2f\n", p->residual_rounding);
  print_residual(out, "Residual on first 8 categories: ", p->residual, n8);
  print_residual(out, "Residual on last 8 categories:  ", p->residual + L - n8, n8);
  if (!p->nnls_converged) fprintf(out, "Warning: NNLS stopped at its iteration limit (%zu).\n", p->nnls_iterations);
}

/* Indices of the (up to) 8 most used strategies, ties in plan order. */
static size_t top_strategies(const bert_pack_plan *p, size_t top[8]) {
  size_t n = 0;
  for (size_t s = 0; s < p->count; s++) {
    if (n == 8 && p->repeat[s] <= p->repeat[top[7]]) continue;
    size_t j = n < 8 ? n++ : 7;
    while (j > 0 && p->repeat[top[j - 1]] < p->repeat[s]) top[j] = top[j - 1], j--;
    top[j] = s;
  }
  return n;
}

void bert_pack_plan_print(const bert_pack_plan *p, FILE *out) {
  bert_pack_stats s;
  bert_pack_plan_stats(p, &s);
  print_solver(p, &s, out);
  centered(out, "Done solving for packing mixture");
  fprintf(out, "Packing efficiency (fraction of real tokens): %.4f\n", s.efficiency);
  fprintf(out, "Added %.2e padding tokens. Original dataset used %.2e padding tokens\n", s.padding_tokens_packed,
          s.padding_tokens_original);
  fprintf(out, "New number of samples: %" PRId64 ", original %" PRId64 ". A compression ratio of %.3f\n", s.packs,
          s.sequences, s.compression);
  fprintf(out, "Average sequences/sample %.5f\n", s.sequences_per_pack);
  fprintf(out, "Theoretical upper bound on speed-up: %.3f\n", s.speedup_bound);
  fprintf(out, "The achieved speed-up from packing: %.3f\n", s.speedup);
  fprintf(out, "Number of strategies utilized: %zu\n", p->count);
  fprintf(out, "Number of sequences dropped:  %" PRId64 "\n", s.dropped);
  fprintf(out, "Top 8 strategies:\n");
  size_t top[8], n = top_strategies(p, top);
  for (size_t i = 0; i < n; i++) {
    fputs("\tstrategy [", out);
    for (size_t j = p->start[top[i]]; j < p->start[top[i] + 1]; j++)
      fprintf(out, "%s%u", j > p->start[top[i]] ? ", " : "", p->lengths[j]);
    fprintf(out, "] which is used %" PRId64 " times\n", p->repeat[top[i]]);
  }
  centered(out, "");
}

/* ---------------------------------------------------------------- JSON */

static void json_int_array(bert_strbuf *b, const char *name, const int64_t *v, int n) {
  bert_strbuf_printf(b, ",\n  \"%s\": [", name);
  for (int i = 0; i < n; i++) bert_strbuf_printf(b, "%s%" PRId64, i ? ", " : "", v[i]);
  bert_strbuf_puts(b, "]");
}

int bert_pack_plan_write_json(const bert_pack_plan *p, const char *path, bert_error *err) {
  bert_pack_stats s;
  bert_pack_plan_stats(p, &s);
  bert_strbuf b = {0};
  bert_strbuf_printf(&b, "{\n  \"algorithm\": \"%s\",\n  \"sequence_length\": %d,\n  \"max_sequences_per_pack\": %d",
                     bert_pack_algorithm_name(p->algorithm), p->sequence_length, p->max_sequences_per_pack);
  bert_strbuf_printf(&b, ",\n  \"drop_unpacked_remainder\": %s,\n  \"enumerated\": %zu,\n  \"sequences\": %" PRId64
                     ",\n  \"packs\": %" PRId64 ",\n  \"dropped\": %" PRId64 ",\n  \"placeholders\": %" PRId64,
                     p->drop_unpacked_remainder ? "true" : "false", p->enumerated, s.sequences, s.packs, s.dropped,
                     s.placeholders);
  bert_strbuf_printf(&b, ",\n  \"efficiency\": %.17g,\n  \"speedup\": %.17g,\n  \"speedup_bound\": %.17g",
                     s.efficiency, s.speedup, s.speedup_bound);
  bert_strbuf_printf(&b, ",\n  \"solve_seconds\": %.6f,\n  \"plan_seconds\": %.6f", p->solve_seconds, p->plan_seconds);
  json_int_array(&b, "histogram", p->histogram, p->sequence_length);
  json_int_array(&b, "padding", p->padding, p->sequence_length);
  json_int_array(&b, "dropped_per_length", p->dropped, p->sequence_length);
  json_int_array(&b, "repeat", p->repeat, (int)p->count);
  bert_strbuf_puts(&b, ",\n  \"strategies\": [");
  for (size_t i = 0; i < p->count; i++) {
    bert_strbuf_puts(&b, i ? ", [" : "[");
    for (size_t j = p->start[i]; j < p->start[i + 1]; j++)
      bert_strbuf_printf(&b, "%s%u", j > p->start[i] ? ", " : "", p->lengths[j]);
    bert_strbuf_puts(&b, "]");
  }
  bert_strbuf_puts(&b, "]\n}\n");
  int rc = b.failed ? bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path)
                    : bert_file_write_atomic(path, b.data, b.len, err);
  bert_strbuf_free(&b);
  return rc;
}

static int json_count(const cJSON *item, const char *path, int i, int64_t *out, bert_error *err) {
  double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
  if (!(v >= 0 && v <= 9007199254740992.0 && v == floor(v)))
    return bert_error_set(err, BERT_EFORMAT, "%s: counts[%d] is not a non-negative integer", path, i);
  *out = (int64_t)v;
  return BERT_OK;
}

static int histogram_from_json(const cJSON *root, const char *path, int64_t **counts, int *length,
                               bert_error *err) {
  const cJSON *arr = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "counts");
  if (!cJSON_IsArray(arr))
    return bert_error_set(err, BERT_EFORMAT, "%s: expected an array of counts or an object with \"counts\"", path);
  int n = cJSON_GetArraySize(arr);
  if (n < 2 || n > BERT_PACK_MAX_LENGTH)
    return bert_error_set(err, BERT_EFORMAT, "%s: %d counts (expected 2 to %d)", path, n, BERT_PACK_MAX_LENGTH);
  const cJSON *msl = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "max_sequence_length") : NULL;
  if (msl && (!cJSON_IsNumber(msl) || msl->valuedouble != n))
    return bert_error_set(err, BERT_EFORMAT, "%s: max_sequence_length does not match the %d counts", path, n);
  *counts = malloc((size_t)n * sizeof **counts);
  if (!*counts) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  int i = 0, rc = BERT_OK;
  for (const cJSON *c = arr->child; c && !rc; c = c->next, i++) rc = json_count(c, path, i, &(*counts)[i], err);
  if (rc) free(*counts), *counts = NULL;
  *length = n;
  return rc;
}

int bert_pack_histogram_load(const char *path, int64_t **counts, int *length, bert_error *err) {
  char *text;
  size_t size;
  int rc = bert_file_read(path, &text, &size, err);
  if (rc) return rc;
  cJSON *root = cJSON_ParseWithLength(text, size);
  free(text);
  if (!root) return bert_error_set(err, BERT_EFORMAT, "%s: not valid JSON", path);
  rc = histogram_from_json(root, path, counts, length, err);
  cJSON_Delete(root);
  return rc;
}
