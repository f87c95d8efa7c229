/* tool_options: parses its arguments as `bert pretrain` (or `bert squad` when the first argument
 * is "squad") would, prints the start-up log lines to stderr and the resulting run configuration
 * as JSON to stdout (or the help); exit status as the command's (2 on bad usage). For the script
 * tests until `bert pretrain` exists. Usage: tool_options pretrain|squad [options] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/options.h"

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "pretrain") && strcmp(argv[1], "squad"))) {
    fprintf(stderr, "usage: tool_options pretrain|squad [options]\n");
    return 2;
  }
  bert_program program = strcmp(argv[1], "squad") ? BERT_PROGRAM_PRETRAIN : BERT_PROGRAM_SQUAD;
  bert_run_config cfg;
  int status = bert_run_config_from_args(&cfg, program, argc - 1, argv + 1);
  if (status < 0) {
    bert_run_config_log(&cfg, stderr);
    cJSON *json = bert_run_config_to_json(&cfg);
    char *text = json ? cJSON_Print(json) : NULL;
    status = text ? 0 : 1;
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(json);
  }
  bert_run_config_free(&cfg);
  return status;
}
