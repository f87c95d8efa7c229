/* data/nnls: non-negative least squares, min ||A x - b|| subject to x >= 0, by the active-set
 * method of Lawson and Hanson ("Solving Least Squares Problems", 1974, ch. 23) — the algorithm
 * behind scipy.optimize.nnls, which the reference's packing script calls.
 *
 * A is m x n in compressed sparse columns (the packing matrix has at most a few non-zeros per
 * column). The solver keeps the m x m orthogonal factor Q^T explicitly, so adding a column costs
 * one Householder reflection (O(m^2)) and dropping one a few Givens rotations, whatever n is; the
 * dual vector w = A^T (b - A x) is a sparse product. Like the Fortran original, a column enters the
 * passive set only when it is linearly independent of it and its unconstrained coefficient is
 * positive, which prevents cycling. */
#ifndef BERT_DATA_NNLS_H
#define BERT_DATA_NNLS_H

#include <stddef.h>

#include "base/error.h"

typedef struct bert_csc {
  size_t rows, cols;
  const size_t *col_start; /* [cols + 1] */
  const size_t *row;       /* [nnz] row of each entry (any order within a column) */
  const double *val;       /* [nnz] */
} bert_csc;

typedef struct bert_nnls_result {
  double residual_norm; /* ||A x - b|| */
  size_t iterations;    /* columns added to the passive set */
  size_t passive;       /* positive entries of x */
  int converged;        /* 0 when the iteration limit stopped it (x is then the last iterate) */
} bert_nnls_result;

/* Solves into x[cols]. max_iterations 0 means 3 * cols (scipy's default). Fails only on bad
 * arguments or when memory runs out. */
int bert_nnls(const bert_csc *a, const double *b, double *x, size_t max_iterations, bert_nnls_result *res,
              bert_error *err);

#endif
