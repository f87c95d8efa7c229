#include <stdio.h>

#include "cli/commands.h"

int cmd_infer(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "bert infer: not built yet\n");
  return 1;
}
