/* bert squad: the reference's run_squad.py (fine-tuning and evaluation on SQuAD). Options and
 * configs as io/options.h parses them (configs/squad.yml); MPI ranks when started by mpirun. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "io/options.h"
#include "squad/finetune.h"
#include "train/distributed.h"

int cmd_squad(int argc, char **argv) {
  bert_dist dist;
  bert_error err = {0};
  if (bert_dist_init(&dist, &argc, &argv, &err)) {
    fprintf(stderr, "bert squad: %s\n", err.message);
    return 1;
  }
  bert_run_config rc;
  int status = bert_run_config_from_args(&rc, BERT_PROGRAM_SQUAD, argc, argv);
  if (status < 0) {
    if (dist.rank == 0) bert_run_config_log(&rc, stderr);
    if (bert_run_config_has(&rc, BERT_OPT_THREADS) && rc.threads > 0) omp_set_num_threads(rc.threads);
    int r = bert_squad_run(&rc, &dist, &err);
    if (r && (dist.rank == 0 || !strstr(err.message, "failed"))) fprintf(stderr, "bert squad: %s\n", err.message);
    status = r == 0 ? 0 : r == BERT_EINVAL ? 2 : 1;
  }
  bert_run_config_free(&rc);
  bert_dist_finalize(&dist);
  return status;
}
