/* tool_distributed: run under `mpirun -np N` (or alone as one replica). Checks the mean
 * all-reduce, the broadcast from rank 0, the metric sum and error agreement, and prints
 * "rank R of W ok" on success. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "train/distributed.h"

int main(int argc, char **argv) {
  bert_dist d;
  bert_error err = {0};
  if (bert_dist_init(&d, &argc, &argv, &err)) {
    fprintf(stderr, "init: %s\n", err.message);
    return 1;
  }
  int bad = 0;
  enum { N = 100003 };
  float *g = malloc(N * sizeof(float));
  for (int i = 0; i < N; i++) g[i] = (float)(d.rank + 1) * (float)(i % 10);
  if (bert_dist_allreduce_mean(&d, g, N, &err)) bad++;
  float mean_factor = (float)(d.world + 1) / 2.0f; /* mean of 1..W */
  for (int i = 0; i < N; i++)
    if (fabsf(g[i] - mean_factor * (float)(i % 10)) > 1e-5f * (1 + fabsf(g[i]))) {
      bad++;
      break;
    }
  int seed[4] = {d.rank ? -1 : 42, d.rank, 0, 0};
  if (bert_dist_broadcast(&d, seed, sizeof seed, 0, &err) || seed[0] != 42 || seed[1] != 0) bad++;
  double m[2] = {1.0, (double)d.rank};
  if (bert_dist_allreduce_sum(&d, m, 2, &err) || m[0] != d.world || m[1] != d.world * (d.world - 1) / 2.0) bad++;
  /* the last rank fails: every rank learns it and nobody hangs */
  int rc = bert_dist_agree(&d, d.rank == d.world - 1 ? BERT_EIO : 0, &err);
  if (rc != BERT_EIO) bad++;
  if (d.world > 1 && d.rank != d.world - 1 && !err.message[0]) bad++;
  if (bert_dist_agree(&d, 0, &err) != 0) bad++;
  printf("rank %d of %d %s\n", d.rank, d.world, bad ? "FAILED" : "ok");
  free(g);
  bert_dist_finalize(&d);
  return bad ? 1 : 0;
}
