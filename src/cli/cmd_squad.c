/* bert squad: the reference's run_squad.py (fine-tuning and evaluation on SQuAD). Options and
 * configs as io/options.h parses them (configs/squad.yml); MPI ranks when started by mpirun. */
#include "cli/commands.h"
#include "squad/finetune.h"

int cmd_squad(int argc, char **argv) { return cli_run_program(argc, argv, BERT_PROGRAM_SQUAD, bert_squad_run); }
