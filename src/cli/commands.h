/* cli: the `bert` program's subcommands; each lives in its own cmd_<name>.c and returns the
 * process exit status (0 ok, 1 failure, 2 bad usage). */
#ifndef BERT_CLI_COMMANDS_H
#define BERT_CLI_COMMANDS_H

#include "io/options.h"
#include "train/distributed.h"

int cmd_data(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_squad_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench_serve(int argc, char **argv);
int cmd_squad(int argc, char **argv);
int cmd_qa(int argc, char **argv);

/* `bert pretrain` / `bert squad`: parse the run configuration, run, map errors to exit statuses. */
typedef int (*cli_run_fn)(const bert_run_config *rc, const bert_dist *dist, bert_error *err);
int cli_run_program(int argc, char **argv, bert_program program, cli_run_fn run);

#endif
