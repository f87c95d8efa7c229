/* cli/cmd_data: the `bert data` subcommands, shared between cmd_data.c (dispatch, index, inspect)
 * and cmd_data_create.c, plus the option parsing helpers they share. */
#ifndef BERT_CLI_CMD_DATA_H
#define BERT_CLI_CMD_DATA_H

#include <stdint.h>

int cmd_data_index(int argc, char **argv);
int cmd_data_inspect(int argc, char **argv);
int cmd_data_create(int argc, char **argv);
int cmd_data_pack(int argc, char **argv);    /* cmd_data_pack.c */
int cmd_data_shuffle(int argc, char **argv); /* cmd_data_shuffle.c */

/* Parse an integer / a real in [lo, hi]; print "bert data <cmd>: ..." and return -1 when not. */
int data_parse_int64(const char *cmd, const char *name, const char *s, int64_t lo, int64_t hi, int64_t *out);
int data_parse_double(const char *cmd, const char *name, const char *s, double lo, double hi, double *out);

#endif
