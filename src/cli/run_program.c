/* The shared front end of `bert pretrain` and `bert squad`: MPI set-up, the reference's option
 * parsing and start-up log, threads, the run itself and the exit status (2 for a configuration
 * the run rejects, 1 for other failures). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "base/threads.h"
#include "cli/commands.h"

int cli_run_program(int argc, char **argv, bert_program program, cli_run_fn run) {
  const char *name = bert_program_name(program);
  bert_dist dist;
  bert_error err = {0};
  if (bert_dist_init(&dist, &argc, &argv, &err)) {
    fprintf(stderr, "bert %s: %s\n", name, err.message);
    return 1;
  }
  bert_run_config rc;
  int status = bert_run_config_from_args(&rc, program, argc, argv);
  if (status < 0) {
    if (dist.rank == 0) bert_run_config_log(&rc, stderr);
    if (bert_run_config_has(&rc, BERT_OPT_THREADS) && rc.threads > 0) bert_threads_set(rc.threads);
    int r = run(&rc, &dist, &err);
    if (r && (dist.rank == 0 || !strstr(err.message, "failed"))) fprintf(stderr, "bert %s: %s\n", name, err.message);
    status = r == 0 ? 0 : r == BERT_EINVAL ? 2 : 1;
  }
  bert_run_config_free(&rc);
  bert_dist_finalize(&dist);
  return status;
}
