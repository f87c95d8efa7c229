/* base/proc: runs a shell command (/bin/sh -c) in its own process group and captures its standard
 * output and standard error separately, with an optional time limit. While it runs, SIGINT and
 * SIGTERM sent to us are passed on to the whole group (so Ctrl-C stops a benchmark's training
 * run, not just the shell) and the run reports that it was interrupted. */
#ifndef BERT_BASE_PROC_H
#define BERT_BASE_PROC_H

#include <stdio.h>

#include "base/error.h"
#include "base/strbuf.h"

typedef struct bert_proc_options {
  const char *cwd;        /* working directory of the command (NULL: ours) */
  const char *const *env; /* "NAME=value" entries added to (or replacing in) our environment */
  int nenv;
  double timeout;         /* seconds; 0: none. On expiry: SIGTERM to the group, SIGKILL 5 s later */
  FILE *echo;             /* when not NULL, output is also copied here as it arrives */
} bert_proc_options;

typedef struct bert_proc_result {
  bert_strbuf out, err; /* captured standard output and standard error */
  int exit_code;        /* exit status; 128 + N when killed by signal N */
  int signal;           /* the signal that ended it, 0 if it exited */
  int timed_out, interrupted;
  double seconds;       /* wall time */
} bert_proc_result;

/* Runs `command`; fills `res` (free it with bert_proc_result_free, also after a failure). Fails
 * only when the command cannot be started or its output cannot be kept; a command that fails
 * is a success here with a non-zero exit_code. */
int bert_proc_run(const char *command, const bert_proc_options *opt, bert_proc_result *res, bert_error *err);
void bert_proc_result_free(bert_proc_result *res);

#endif
