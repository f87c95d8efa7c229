#include "base/threads.h"

#include <omp.h>

void bert_threads_set(int n) {
  int limit = omp_get_thread_limit();
  if (n <= 0) n = omp_get_max_threads();
  if (limit > 0 && n > limit) n = limit;
  omp_set_num_threads(n);
}
