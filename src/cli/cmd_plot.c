/* cli/cmd_plot: `bert plot METRICS.jsonl [-o curves.svg]` — the training curves of a
 * `bert pretrain` run (its metrics.jsonl) as a self-contained SVG (train/plot). */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/file.h"
#include "base/log.h"
#include "cli/commands.h"
#include "train/plot.h"

static const char *usage_text =
    "usage: bert plot METRICS.jsonl [-o OUT.svg] [--lr] [--title TEXT]\n"
    "\n"
    "Draws the loss (total, MLM, NSP) and accuracy (MLM, NSP) curves of a `bert pretrain` run from\n"
    "its metrics.jsonl (one JSON object per step) as a self-contained SVG that a browser opens.\n"
    "Missing or null values (NaN) leave gaps; a line that is not a JSON object is an error naming it.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   the SVG, written atomically; '-' for standard output\n"
    "                      (default: curves.svg beside METRICS.jsonl)\n"
    "  --lr                add a learning-rate panel\n"
    "  --title TEXT        chart title (default: \"Training curves: METRICS.jsonl (N steps)\")\n"
    "  -h, --help          show this help and exit\n"
    "\n"
    "Exit status: 0 ok, 1 error, 2 bad usage.\n";

typedef struct plot_args {
  const char *input, *output;
  bert_plot_options opt;
} plot_args;

static int bad_usage(const char *fmt, const char *what) {
  fprintf(stderr, "bert plot: ");
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\n%s", usage_text);
  return -1;
}

/* Returns 0 to run, 1 when help was printed, -1 on bad usage. */
static int parse_args(int argc, char **argv, plot_args *a) {
  *a = (plot_args){0};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int wants_value = !strcmp(arg, "-o") || !strcmp(arg, "--output") || !strcmp(arg, "--title");
    if (wants_value && i + 1 >= argc) return bad_usage("%s needs a value", arg);
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      fputs(usage_text, stdout);
      return 1;
    } else if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
      a->output = argv[++i];
    } else if (!strcmp(arg, "--title")) {
      a->opt.title = argv[++i];
    } else if (!strcmp(arg, "--lr")) {
      a->opt.lr = 1;
    } else if (arg[0] == '-' && arg[1]) {
      return bad_usage("unknown option '%s'", arg);
    } else if (a->input) {
      return bad_usage("one metrics file only, got a second: '%s'", arg);
    } else {
      a->input = arg;
    }
  }
  if (!a->input) return bad_usage("%s", "the metrics file (METRICS.jsonl) is required");
  return 0;
}

/* curves.svg in the folder of the metrics file. */
static int default_output(const char *input, char *out, size_t cap) {
  const char *slash = strrchr(input, '/');
  if (!slash) return snprintf(out, cap, "curves.svg") >= (int)cap;
  return snprintf(out, cap, "%.*s/curves.svg", (int)(slash - input), input) >= (int)cap;
}

int cmd_plot(int argc, char **argv) {
  plot_args a;
  int p = parse_args(argc, argv, &a);
  if (p) return p > 0 ? 0 : 2;
  char path[4096];
  if (!a.output && default_output(a.input, path, sizeof path)) {
    fprintf(stderr, "bert plot: %s: path too long\n", a.input);
    return 2;
  }
  const char *output = a.output ? a.output : path;
  bert_error err = {0};
  size_t steps = 0;
  if (bert_plot_file(a.input, output, &a.opt, &steps, &err)) {
    fprintf(stderr, "bert plot: %s\n", err.message);
    return 1;
  }
  if (strcmp(output, "-")) bert_log("bert plot: %zu step%s from %s -> %s", steps, steps == 1 ? "" : "s", a.input, output);
  return 0;
}
