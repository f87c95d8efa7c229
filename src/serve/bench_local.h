/* serve/bench_local: the in-process baseline of `bert bench-serve --in-process` — the very
 * request bodies the clients send, run through the model's backend in this process (parse,
 * validate, execute, encode the response: everything but HTTP and the queue), one after the
 * other, so HTTP throughput can be set against the model's own speed on the same batches. */
#ifndef BERT_SERVE_BENCH_LOCAL_H
#define BERT_SERVE_BENCH_LOCAL_H

#include "base/error.h"
#include "serve/bench_input.h"

typedef struct bert_serve_bench_local_result {
  double samples_per_sec, ms_per_request;
  int requests;
} bert_serve_bench_local_result;

/* Loads REPO/<model> as the server would and runs every batch `passes` times after one
 * warm-up pass. `threads` = OpenMP threads (0 = default). */
int bert_serve_bench_local(const char *repo, const char *model, const bert_serve_bench_batch *batches, int n, int passes,
                           int threads, bert_serve_bench_local_result *res, bert_error *err);

#endif
