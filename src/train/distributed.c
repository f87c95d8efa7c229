#include "train/distributed.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef BERT_HAVE_MPI
#include <mpi.h>
#endif

int bert_dist_available(void) {
#ifdef BERT_HAVE_MPI
  return 1;
#else
  return 0;
#endif
}

/* OpenMPI, MPICH/Hydra and PMIx launchers all leave one of these in the environment. */
static int launched_by_mpirun(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

int bert_dist_init(bert_dist *d, int *argc, char ***argv, bert_error *err) {
  memset(d, 0, sizeof *d);
  d->world = 1;
  if (!launched_by_mpirun()) return BERT_OK;
#ifdef BERT_HAVE_MPI
  int provided;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    return bert_error_set(err, BERT_EIO, "MPI: initialisation failed");
  d->mpi = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &d->world);
  return BERT_OK;
#else
  (void)argc, (void)argv;
  return bert_error_set(err, BERT_EUNSUPPORTED,
                        "started by mpirun, but this bert was built without MPI: rebuild with libopenmpi-dev installed");
#endif
}

void bert_dist_finalize(bert_dist *d) {
#ifdef BERT_HAVE_MPI
  if (d->mpi) MPI_Finalize();
#endif
  d->mpi = 0;
}

#ifdef BERT_HAVE_MPI
static int mpi_check(int rc, const char *what, bert_error *err) {
  if (rc == MPI_SUCCESS) return BERT_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return bert_error_set(err, BERT_EIO, "MPI %s failed: %.*s", what, len, text);
}
#endif

int bert_dist_allreduce_sum_float(const bert_dist *d, float *buf, size_t n, bert_error *err) {
  if (!d->mpi || d->world == 1) return BERT_OK;
#ifdef BERT_HAVE_MPI
  for (size_t done = 0; done < n;) { /* MPI counts are ints */
    int count = n - done > (size_t)INT_MAX ? INT_MAX : (int)(n - done);
    int rc = mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf + done, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                       "all-reduce", err);
    if (rc) return rc;
    done += (size_t)count;
  }
#else
  (void)buf, (void)n, (void)err;
#endif
  return BERT_OK;
}

int bert_dist_allreduce_mean(const bert_dist *d, float *buf, size_t n, bert_error *err) {
  if (!d->mpi || d->world == 1) return BERT_OK;
  int rc = bert_dist_allreduce_sum_float(d, buf, n, err);
  if (rc) return rc;
  float inv = 1.0f / (float)d->world;
#pragma omp parallel for simd schedule(static) if (n >= 65536)
  for (size_t i = 0; i < n; i++) buf[i] *= inv;
  return BERT_OK;
}

int bert_dist_allreduce_sum(const bert_dist *d, double *buf, int n, bert_error *err) {
  if (!d->mpi || d->world == 1) return BERT_OK;
#ifdef BERT_HAVE_MPI
  return mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "all-reduce", err);
#else
  (void)buf, (void)n, (void)err;
  return BERT_OK;
#endif
}

int bert_dist_broadcast(const bert_dist *d, void *buf, size_t bytes, int root, bert_error *err) {
  if (!d->mpi || d->world == 1) return BERT_OK;
#ifdef BERT_HAVE_MPI
  for (size_t done = 0; done < bytes;) {
    int count = bytes - done > (size_t)INT_MAX ? INT_MAX : (int)(bytes - done);
    int rc = mpi_check(MPI_Bcast((char *)buf + done, count, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast", err);
    if (rc) return rc;
    done += (size_t)count;
  }
#else
  (void)buf, (void)bytes, (void)root, (void)err;
#endif
  return BERT_OK;
}

int bert_dist_barrier(const bert_dist *d, bert_error *err) {
  if (!d->mpi || d->world == 1) return BERT_OK;
#ifdef BERT_HAVE_MPI
  return mpi_check(MPI_Barrier(MPI_COMM_WORLD), "barrier", err);
#else
  (void)err;
  return BERT_OK;
#endif
}

int bert_dist_agree(const bert_dist *d, int rc, bert_error *err) {
  if (!d->mpi || d->world == 1) return rc;
#ifdef BERT_HAVE_MPI
  int mine[2] = {rc ? d->rank : INT_MAX, rc}, first[2];
  MPI_Allreduce(mine, first, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD);
  if (first[0] == INT_MAX) return BERT_OK;
  if (first[0] != d->rank) return bert_error_set(err, first[1], "rank %d failed", first[0]);
#else
  (void)err;
#endif
  return rc;
}
