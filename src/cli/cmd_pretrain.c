/* bert pretrain: the reference's run_pretraining.py. Options and configs as io/options.h parses
 * them; MPI ranks when started by mpirun. */
#include "cli/commands.h"
#include "train/trainer.h"

int cmd_pretrain(int argc, char **argv) { return cli_run_program(argc, argv, BERT_PROGRAM_PRETRAIN, bert_pretrain); }
