/* cli/cmd_squad_eval: `bert squad-eval DATA.json PREDICTIONS.json [--squad-v2 | --v2]` — the
 * official SQuAD v1.1 / v2.0 scores (squad/evaluate), printed as the official scripts print them. */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "cli/commands.h"
#include "squad/evaluate.h"

static const char *usage_text =
    "usage: bert squad-eval DATA.json PREDICTIONS.json [--squad-v2 | --v2] [--quiet]\n"
    "\n"
    "Scores predictions ({\"question id\": \"answer text\", ...}) against a SQuAD data file exactly as\n"
    "the official evaluate-v1.1.py / evaluate-v2.0.py do, and prints their JSON:\n"
    "  v1.1: {\"exact_match\": ..., \"f1\": ...}\n"
    "  v2.0: exact, f1, total, HasAns_exact, HasAns_f1, HasAns_total, NoAns_exact, NoAns_f1, NoAns_total\n"
    "v1.1: an unanswered question scores 0 (a line on stderr each); ids not in the data are ignored.\n"
    "v2.0: every question needs a prediction (\"\" means no answer), as the official script requires.\n"
    "\n"
    "options:\n"
    "  --squad-v2, --v2   SQuAD v2.0 metrics (impossible questions, no-answer predictions)\n"
    "  -q, --quiet        no warnings on stderr (unanswered questions, version mismatch)\n"
    "  -h, --help         show this help and exit\n"
    "\n"
    "Exit status: 0 ok, 1 unreadable or malformed file, 2 bad usage.\n";

static int bad_usage(const char *fmt, const char *what) {
  fprintf(stderr, "bert squad-eval: ");
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\n%s", usage_text);
  return 2;
}

int cmd_squad_eval(int argc, char **argv) {
  const char *files[2] = {0};
  int nfiles = 0, v2 = 0, quiet = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      fputs(usage_text, stdout);
      return 0;
    } else if (!strcmp(arg, "--squad-v2") || !strcmp(arg, "--v2")) {
      v2 = 1;
    } else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
      quiet = 1;
    } else if (arg[0] == '-' && arg[1]) {
      return bad_usage("unknown option '%s'", arg);
    } else if (nfiles == 2) {
      return bad_usage("two files only (DATA.json PREDICTIONS.json), got a third: '%s'", arg);
    } else {
      files[nfiles++] = arg;
    }
  }
  if (nfiles < 2) return bad_usage("%s", "DATA.json and PREDICTIONS.json are required");
  bert_error err = {0};
  bert_squad_scores s;
  if (bert_squad_evaluate_files(files[0], files[1], v2, &s, quiet ? NULL : stderr, &err)) {
    fprintf(stderr, "bert squad-eval: %s\n", err.message);
    return 1;
  }
  if (!quiet && s.unknown)
    fprintf(stderr, "bert squad-eval: %ld prediction id%s not in %s ignored\n", s.unknown, s.unknown == 1 ? "" : "s",
            files[0]);
  bert_strbuf out = {0};
  bert_squad_scores_json(&s, &out);
  int rc = 0;
  if (out.failed || fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout)) {
    fprintf(stderr, "bert squad-eval: could not write the scores\n");
    rc = 1;
  }
  bert_strbuf_free(&out);
  return rc;
}
