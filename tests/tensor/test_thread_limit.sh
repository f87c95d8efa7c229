#!/usr/bin/env bash
# Products stay right when OpenMP allows fewer threads than the team oneDNN would ask for
# (OMP_THREAD_LIMIT below OMP_NUM_THREADS: base/threads.h clamps every team size). Before the clamp
# oneDNN 2.6 split each product for 2 threads, got 1, and left half of every result uncomputed.
set -euo pipefail
tests="${BERT_BUILD:-build}/tests"
for t in tensor_test_gemm model_test_workspace_shapes model_test_packed_weights; do
  OMP_NUM_THREADS=2 OMP_THREAD_LIMIT=1 "$tests/$t" >/dev/null || { echo "FAIL: $t under OMP_THREAD_LIMIT=1 OMP_NUM_THREADS=2" >&2; exit 1; }
done
echo "thread limit: products right under OMP_THREAD_LIMIT=1"
