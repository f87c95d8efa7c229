/* train/distributed: data-parallel replicas as MPI ranks. Started by `mpirun -np N`, each rank is a
 * replica: parameters are broadcast from rank 0, gradients mean-reduced with one all-reduce per
 * update, metrics averaged. Started without a launcher (or built without MPI) the same program is
 * one replica and every call is a cheap no-op — MPI is initialised only when a launcher set the
 * process up, so a plain run never pays MPI's start-up or needs its daemons. */
#ifndef BERT_TRAIN_DISTRIBUTED_H
#define BERT_TRAIN_DISTRIBUTED_H

#include <stddef.h>

#include "base/error.h"

typedef struct bert_dist {
  int rank, world;
  int mpi; /* 1 when MPI was initialised by us */
} bert_dist;

/* 1 when this binary was built with MPI support. */
int bert_dist_available(void);
int bert_dist_init(bert_dist *d, int *argc, char ***argv, bert_error *err);
void bert_dist_finalize(bert_dist *d);
/* buf[i] = mean over ranks of buf[i], in place. */
int bert_dist_allreduce_mean(const bert_dist *d, float *buf, size_t n, bert_error *err);
/* buf[i] = sum over ranks of buf[i], in place (rows each rank filled, zeros elsewhere: exact). */
int bert_dist_allreduce_sum_float(const bert_dist *d, float *buf, size_t n, bert_error *err);
/* Sums doubles over ranks in place (metrics). */
int bert_dist_allreduce_sum(const bert_dist *d, double *buf, int n, bert_error *err);
int bert_dist_broadcast(const bert_dist *d, void *buf, size_t bytes, int root, bert_error *err);
int bert_dist_barrier(const bert_dist *d, bert_error *err);
/* Makes a rank's failure everyone's: 0 on every rank when all passed rc == 0, else the first
 * failing rank's code (the others report "rank R failed"). Keeps ranks from hanging in a
 * collective after one of them hit an error. */
int bert_dist_agree(const bert_dist *d, int rc, bert_error *err);

#endif
