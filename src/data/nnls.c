/* data/nnls: Lawson-Hanson NNLS with an explicit, incrementally updated QR factorisation of the
 * passive columns (see nnls.h). Notation: P = passive (free) columns in the order they entered,
 * k = |P|, Q^T A_P = [R; 0] with R k x k upper triangular, qb = Q^T b. */
#include "data/nnls.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct solver {
  const bert_csc *a;
  const double *b;
  size_t m, n, k;
  double *qt;  /* [m][m] row-major: Q^T */
  double *r;   /* column c of R at r[c * m], rows 0..c */
  double *qb;  /* [m] Q^T b */
  size_t *p;   /* [m] passive columns */
  unsigned char *in_p; /* [n] */
  double *x;   /* [n] the caller's solution */
  double *w;   /* [n] dual vector */
  double *z;   /* [m] solution on the passive set */
  double *v, *u, *s, *res; /* [m] scratch */
  double tol_w;   /* w_j above this lets column j in */
  double tol_dep; /* relative size of the new diagonal below which a column counts as dependent */
} solver;

#define R_(sv, row, col) ((sv)->r[(col) * (sv)->m + (row)])

static double column_norm(const bert_csc *a, size_t j) {
  double s = 0;
  for (size_t e = a->col_start[j]; e < a->col_start[j + 1]; e++) s += a->val[e] * a->val[e];
  return sqrt(s);
}

/* res = b - A x, using only the passive columns (x is zero elsewhere). */
static void residual(solver *sv) {
  memcpy(sv->res, sv->b, sv->m * sizeof *sv->res);
  for (size_t c = 0; c < sv->k; c++) {
    size_t j = sv->p[c];
    for (size_t e = sv->a->col_start[j]; e < sv->a->col_start[j + 1]; e++)
      sv->res[sv->a->row[e]] -= sv->a->val[e] * sv->x[j];
  }
}

/* w_j = a_j . res for the columns outside P (0 inside). */
static void dual(solver *sv) {
  const bert_csc *a = sv->a;
  for (size_t j = 0; j < sv->n; j++) {
    double s = 0;
    if (!sv->in_p[j])
      for (size_t e = a->col_start[j]; e < a->col_start[j + 1]; e++) s += a->val[e] * sv->res[a->row[e]];
    sv->w[j] = s;
  }
}

/* The column with the largest w above the tolerance (SIZE_MAX if none). Values within a relative
 * 1e-9 of the largest count as ties and go to the lowest index: integer histograms make exact
 * ties common, and rounding noise should not decide between them. */
static size_t pick(const solver *sv) {
  double wmax = sv->tol_w;
  size_t best = SIZE_MAX;
  for (size_t j = 0; j < sv->n; j++)
    if (!sv->in_p[j] && sv->w[j] > wmax) wmax = sv->w[j], best = j;
  if (best == SIZE_MAX) return best;
  double near = wmax - 1e-9 * wmax;
  for (size_t j = 0; j < best; j++)
    if (!sv->in_p[j] && sv->w[j] >= near) return j;
  return best;
}

/* v = Q^T a_j (a_j sparse). */
static void transform_column(solver *sv, size_t j) {
  const bert_csc *a = sv->a;
  size_t m = sv->m;
  for (size_t i = 0; i < m; i++) {
    double s = 0;
    for (size_t e = a->col_start[j]; e < a->col_start[j + 1]; e++) s += sv->qt[i * m + a->row[e]] * a->val[e];
    sv->v[i] = s;
  }
}

/* Tries to add column j: builds the Householder reflection H that zeroes v below row k and
 * accepts j when the new diagonal is significant and the new coefficient of j is positive.
 * On acceptance, Q^T, qb and R are updated and j joins P. Returns 1 if accepted. */
static int try_add(solver *sv, size_t j) {
  size_t m = sv->m, k = sv->k;
  if (k >= m) return 0; /* a full passive set spans everything: any column is dependent */
  transform_column(sv, j);
  double below = 0, total = 0;
  for (size_t i = 0; i < m; i++) {
    total += sv->v[i] * sv->v[i];
    if (i >= k) below += sv->v[i] * sv->v[i];
  }
  below = sqrt(below);
  if (below <= sv->tol_dep * sqrt(total)) return 0;
  double alpha = sv->v[k] > 0 ? -below : below;
  for (size_t i = k; i < m; i++) sv->u[i] = sv->v[i];
  sv->u[k] -= alpha;
  double beta = -1.0 / (alpha * sv->u[k]); /* H = I - beta u u^T */
  double d = 0;
  for (size_t i = k; i < m; i++) d += sv->u[i] * sv->qb[i];
  double ztest = (sv->qb[k] - beta * d * sv->u[k]) / alpha;
  if (!(ztest > 0)) return 0;
  for (size_t i = k; i < m; i++) sv->qb[i] -= beta * d * sv->u[i];
  /* Q^T rows k..m-1 <- H applied to them: one pass to form u^T Q^T, one to update. */
  memset(sv->s, 0, m * sizeof *sv->s);
  for (size_t i = k; i < m; i++) {
    const double *row = sv->qt + i * m;
    double ui = sv->u[i];
    for (size_t c = 0; c < m; c++) sv->s[c] += ui * row[c];
  }
  for (size_t i = k; i < m; i++) {
    double *row = sv->qt + i * m, f = beta * sv->u[i];
    for (size_t c = 0; c < m; c++) row[c] -= f * sv->s[c];
  }
  for (size_t i = 0; i < k; i++) R_(sv, i, k) = sv->v[i];
  R_(sv, k, k) = alpha;
  sv->p[k] = j;
  sv->in_p[j] = 1;
  sv->k = k + 1;
  return 1;
}

/* Rotates rows i and i+1 of Q^T (and qb) by the Givens rotation (c, s). */
static void rotate_rows(solver *sv, size_t i, double c, double s) {
  double *r0 = sv->qt + i * sv->m, *r1 = r0 + sv->m;
  for (size_t col = 0; col < sv->m; col++) {
    double t0 = r0[col], t1 = r1[col];
    r0[col] = c * t0 + s * t1;
    r1[col] = -s * t0 + c * t1;
  }
  double t0 = sv->qb[i], t1 = sv->qb[i + 1];
  sv->qb[i] = c * t0 + s * t1;
  sv->qb[i + 1] = -s * t0 + c * t1;
}

/* Drops the passive column at position pos: R loses that column and becomes upper Hessenberg
 * from there on; Givens rotations make it triangular again (and rotate Q^T and qb alike). */
static void remove_at(solver *sv, size_t pos) {
  size_t k = sv->k;
  sv->in_p[sv->p[pos]] = 0;
  sv->x[sv->p[pos]] = 0;
  for (size_t c = pos; c + 1 < k; c++) {
    sv->p[c] = sv->p[c + 1];
    memcpy(&R_(sv, 0, c), &R_(sv, 0, c + 1), (c + 2) * sizeof(double));
  }
  for (size_t c = pos; c + 1 < k; c++) {
    double a = R_(sv, c, c), b = R_(sv, c + 1, c), h = hypot(a, b);
    if (h == 0) continue;
    double cs = a / h, sn = b / h;
    R_(sv, c, c) = h;
    R_(sv, c + 1, c) = 0;
    for (size_t cc = c + 1; cc + 1 < k; cc++) {
      double t0 = R_(sv, c, cc), t1 = R_(sv, c + 1, cc);
      R_(sv, c, cc) = cs * t0 + sn * t1;
      R_(sv, c + 1, cc) = -sn * t0 + cs * t1;
    }
    rotate_rows(sv, c, cs, sn);
  }
  sv->k = k - 1;
}

/* z = R^{-1} qb[0..k) by back substitution. */
static void solve_passive(solver *sv) {
  for (size_t jj = sv->k; jj-- > 0;) {
    double s = sv->qb[jj];
    for (size_t c = jj + 1; c < sv->k; c++) s -= R_(sv, jj, c) * sv->z[c];
    sv->z[jj] = s / R_(sv, jj, jj);
  }
}

/* The inner loop: move from x towards the passive least-squares solution z, dropping the
 * columns that would turn negative, until z is strictly positive; then x = z on P. */
static void inner_loop(solver *sv) {
  for (;;) {
    solve_passive(sv);
    double step = 2;
    size_t hit = SIZE_MAX;
    for (size_t c = 0; c < sv->k; c++) {
      if (sv->z[c] > 0) continue;
      double xc = sv->x[sv->p[c]], den = xc - sv->z[c], t = den > 0 ? xc / den : 0;
      if (t < step) step = t, hit = c;
    }
    if (hit == SIZE_MAX) {
      for (size_t c = 0; c < sv->k; c++) sv->x[sv->p[c]] = sv->z[c];
      return;
    }
    for (size_t c = 0; c < sv->k; c++) {
      double *xc = &sv->x[sv->p[c]];
      *xc += step * (sv->z[c] - *xc);
    }
    sv->x[sv->p[hit]] = 0;
    for (size_t c = sv->k; c-- > 0;)
      if (sv->x[sv->p[c]] <= 0) remove_at(sv, c);
  }
}

static int alloc_solver(solver *sv, const bert_csc *a, const double *b, double *x, bert_error *err) {
  size_t m = a->rows, n = a->cols;
  memset(sv, 0, sizeof *sv);
  sv->a = a, sv->b = b, sv->x = x, sv->m = m, sv->n = n;
  if (m > 0 && (m > SIZE_MAX / sizeof(double) / m))
    return bert_error_set(err, BERT_ENOMEM, "nnls: %zu rows are too many", m);
  sv->qt = calloc(m * m + 1, sizeof(double));
  sv->r = calloc(m * m + 1, sizeof(double));
  sv->qb = calloc(m + 1, sizeof(double));
  sv->p = calloc(m + 1, sizeof(size_t));
  sv->in_p = calloc(n + 1, 1);
  sv->w = calloc(n + 1, sizeof(double));
  sv->z = calloc(m + 1, sizeof(double));
  sv->v = calloc(4 * (m + 1), sizeof(double));
  if (!sv->qt || !sv->r || !sv->qb || !sv->p || !sv->in_p || !sv->w || !sv->z || !sv->v)
    return bert_error_set(err, BERT_ENOMEM, "nnls: out of memory for a %zu x %zu problem", m, n);
  sv->u = sv->v + (m + 1), sv->s = sv->u + (m + 1), sv->res = sv->s + (m + 1);
  for (size_t i = 0; i < m; i++) sv->qt[i * m + i] = 1;
  memcpy(sv->qb, b, m * sizeof *b);
  return BERT_OK;
}

static void free_solver(solver *sv) {
  free(sv->qt), free(sv->r), free(sv->qb), free(sv->p), free(sv->in_p), free(sv->w), free(sv->z), free(sv->v);
}

static int check_args(const bert_csc *a, const double *b, const double *x, bert_error *err) {
  if (!a || !b || !x || !a->col_start || (a->col_start[a->cols] && (!a->row || !a->val)))
    return bert_error_set(err, BERT_EINVAL, "nnls: missing matrix, right-hand side or solution");
  for (size_t j = 0; j < a->cols; j++) {
    if (a->col_start[j + 1] < a->col_start[j])
      return bert_error_set(err, BERT_EINVAL, "nnls: column %zu has a negative number of entries", j);
    for (size_t e = a->col_start[j]; e < a->col_start[j + 1]; e++)
      if (a->row[e] >= a->rows || !isfinite(a->val[e]))
        return bert_error_set(err, BERT_EINVAL, "nnls: column %zu has a bad entry (row %zu)", j, a->row[e]);
  }
  for (size_t i = 0; i < a->rows; i++)
    if (!isfinite(b[i])) return bert_error_set(err, BERT_EINVAL, "nnls: b[%zu] is not finite", i);
  return BERT_OK;
}

int bert_nnls(const bert_csc *a, const double *b, double *x, size_t max_iterations, bert_nnls_result *res,
              bert_error *err) {
  int rc = check_args(a, b, x, err);
  if (rc) return rc;
  memset(x, 0, a->cols * sizeof *x);
  solver sv;
  if ((rc = alloc_solver(&sv, a, b, x, err))) {
    free_solver(&sv);
    return rc;
  }
  double bnorm = 0, amax = 0;
  for (size_t i = 0; i < sv.m; i++) bnorm += b[i] * b[i];
  for (size_t j = 0; j < sv.n; j++) amax = fmax(amax, column_norm(a, j));
  /* Rounding noise in w is about eps * |a| * |b| per accumulated term. */
  sv.tol_w = 10.0 * (double)(sv.m + 1) * DBL_EPSILON * amax * sqrt(bnorm);
  sv.tol_dep = 1e-9;
  if (!max_iterations) max_iterations = 3 * sv.n + 1;
  size_t iterations = 0;
  int converged = 1;
  for (;;) {
    residual(&sv);
    dual(&sv);
    size_t j;
    while ((j = pick(&sv)) != SIZE_MAX && !try_add(&sv, j)) sv.w[j] = 0;
    if (j == SIZE_MAX) break;
    if (++iterations > max_iterations) {
      converged = 0;
      break;
    }
    inner_loop(&sv);
  }
  residual(&sv);
  double rn = 0;
  for (size_t i = 0; i < sv.m; i++) rn += sv.res[i] * sv.res[i];
  if (res) *res = (bert_nnls_result){sqrt(rn), iterations, sv.k, converged};
  free_solver(&sv);
  return BERT_OK;
}
