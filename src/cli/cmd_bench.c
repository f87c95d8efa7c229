/* cli/cmd_bench: `bert bench --spec benchmarks.yml [--benchmark NAME ...]` — runs named benchmarks
 * of a spec in the reference's schema (io/bench), prints a table of their metrics and writes the
 * results as JSON. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/commands.h"
#include "io/bench.h"

static const char *usage_text =
    "usage: bert bench [--spec FILE] [--benchmark NAME [NAME ...]] [--output FILE] [--dry-run]\n"
    "                  [--timeout SECONDS] [--log-dir DIR] [--include-convergence] [--verbose]\n"
    "\n"
    "Runs the named benchmarks of a benchmarks.yml (the reference's schema: cmd, data with regexp\n"
    "and reduction_type, output, parameters, env), each variant through /bin/sh in the spec's folder\n"
    "with this bert first on PATH and $DATASETS_DIR (default: data) substituted; extracts the\n"
    "metrics from its stdout + stderr, prints a table and writes the results as JSON.\n"
    "\n"
    "options:\n"
    "  --spec FILE            the benchmark spec (default: benchmarks.yml)\n"
    "  --benchmark NAME ...   benchmarks (or single variants) to run, in this order; repeatable\n"
    "                         (default: every benchmark except convergence runs, names with _conv)\n"
    "  --output FILE          results JSON, written atomically (default: benchmark_results.json)\n"
    "  --dry-run              print the variants' commands without running them\n"
    "  --timeout SECONDS      stop a variant after this long (default: no limit)\n"
    "  --log-dir DIR          keep each variant's output in DIR/<variant>/{stdout,stderr}.log\n"
    "  --include-convergence  also run the _conv benchmarks when none are named\n"
    "  -v, --verbose          show each command's output as it runs\n"
    "  -h, --help             show this help and exit\n"
    "\n"
    "Exit status: 0 every variant ran and gave every metric, 1 otherwise or on a bad spec,\n"
    "2 bad usage or an unknown benchmark, 130 interrupted.\n";

typedef struct bench_args {
  const char *spec, *output, *log_dir;
  const char **names;
  int nnames, dry_run, include_convergence, verbose;
  double timeout;
} bench_args;

static int bad_usage(const char *what, const char *arg) {
  fprintf(stderr, "bert bench: %s%s%s\n%s", what, arg ? ": " : "", arg ? arg : "", usage_text);
  return -1;
}

static int takes_value(const char *arg) {
  return !strcmp(arg, "--spec") || !strcmp(arg, "--output") || !strcmp(arg, "--timeout") || !strcmp(arg, "--log-dir");
}

static int set_value(bench_args *a, const char *opt, const char *value) {
  if (!strcmp(opt, "--spec")) a->spec = value;
  else if (!strcmp(opt, "--output")) a->output = value;
  else if (!strcmp(opt, "--log-dir")) a->log_dir = value;
  else {
    char *end;
    a->timeout = strtod(value, &end);
    if (end == value || *end || !(a->timeout > 0)) return bad_usage("--timeout needs a number of seconds > 0", value);
  }
  return 0;
}

/* Returns 0 to run, 1 when help was printed, -1 on bad usage. */
static int parse_args(int argc, char **argv, bench_args *a) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return fputs(usage_text, stdout), 1;
    if (takes_value(arg)) {
      if (i + 1 >= argc) return bad_usage("this option needs a value", arg);
      if (set_value(a, arg, argv[++i])) return -1;
    } else if (!strcmp(arg, "--benchmark")) {
      int first = i + 1;
      while (i + 1 < argc && argv[i + 1][0] != '-') a->names[a->nnames++] = argv[++i];
      if (i < first) return bad_usage("--benchmark needs at least one name", NULL);
    } else if (!strcmp(arg, "--dry-run")) {
      a->dry_run = 1;
    } else if (!strcmp(arg, "--include-convergence")) {
      a->include_convergence = 1;
    } else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
      a->verbose = 1;
    } else {
      return bad_usage(arg[0] == '-' ? "unknown option" : "unexpected argument", arg);
    }
  }
  return 0;
}

static void dry_run(const bert_bench_spec *spec, const bert_bench_pick *picks, int n) {
  printf("# %d variant%s of %s, run in %s with DATASETS_DIR=%s\n", n, n == 1 ? "" : "s", spec->path, spec->dir,
         spec->datasets_dir);
  for (int i = 0; i < n; i++) {
    const bert_bench_variant *v = &spec->entries[picks[i].entry].variants[picks[i].variant];
    printf("%s\n  %s\n", v->name, v->command);
  }
}

/* The folder of the running bert, so that specs can say `bert ...`. */
static void self_dir(char *buf, size_t cap) {
  ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
  buf[n > 0 ? n : 0] = '\0';
  if (n <= 0) return;
  char *d = dirname(buf); /* buf itself, cut at the last slash */
  memmove(buf, d, strlen(d) + 1);
}

/* Runs the picks in order; stops after an interrupted one. Returns how many ran. */
static int run_all(const bert_bench_spec *spec, const bert_bench_pick *picks, int n, const bench_args *a,
                   bert_bench_result *results, int *failed) {
  char dir[4096];
  self_dir(dir, sizeof dir);
  bert_bench_run_options o = {.timeout = a->timeout, .verbose = a->verbose, .log_dir = a->log_dir,
                              .path_dir = dir[0] ? dir : NULL};
  int done = 0;
  for (int i = 0; i < n; i++) {
    const bert_bench_variant *v = &spec->entries[picks[i].entry].variants[picks[i].variant];
    fprintf(stderr, "bench: [%d/%d] %s\n  $ %s\n", i + 1, n, v->name, v->command);
    bert_error err = {0};
    if (bert_bench_run(spec, &picks[i], &o, &results[done], &err)) {
      fprintf(stderr, "bert bench: %s: %s\n", v->name, err.message);
      bert_bench_result_free(&results[done]);
      *failed = 1;
      break;
    }
    *failed |= !results[done].ok;
    if (results[done++].interrupted) break;
  }
  return done;
}

static int run_and_report(const bert_bench_spec *spec, const bert_bench_pick *picks, int n, const bench_args *a) {
  bert_bench_result *results = calloc((size_t)n, sizeof *results);
  if (!results) return fprintf(stderr, "bert bench: out of memory\n"), 1;
  int failed = 0, done = run_all(spec, picks, n, a, results, &failed);
  int interrupted = done && results[done - 1].interrupted;
  bert_bench_print_table(stdout, results, done);
  fflush(stdout);
  bert_error err = {0};
  const char *output = a->output ? a->output : "benchmark_results.json";
  if (bert_bench_write_json(output, spec, results, done, &err))
    fprintf(stderr, "bert bench: %s\n", err.message), failed = 1;
  else
    fprintf(stderr, "bench: results in %s\n", output);
  for (int i = 0; i < done; i++) bert_bench_result_free(&results[i]);
  free(results);
  return interrupted ? 130 : failed || done < n;
}

int cmd_bench(int argc, char **argv) {
  const char **names = calloc((size_t)argc + 1, sizeof *names);
  if (!names) return 1;
  bench_args a = {.spec = "benchmarks.yml", .names = names};
  int p = parse_args(argc, argv, &a);
  if (p) return free(names), p > 0 ? 0 : 2;
  const char *dd = getenv("DATASETS_DIR");
  bert_bench_spec spec;
  bert_error err = {0};
  if (bert_bench_spec_load(&spec, a.spec, dd && *dd ? dd : "data", &err)) {
    fprintf(stderr, "bert bench: %s\n", err.message);
    return free(names), 1;
  }
  bert_bench_pick *picks = NULL;
  int npicks = 0, status;
  if (bert_bench_select(&spec, a.names, a.nnames, a.include_convergence, &picks, &npicks, &err)) {
    fprintf(stderr, "bert bench: %s\n", err.message);
    status = err.code == BERT_EINVAL ? 2 : 1;
  } else if (a.dry_run) {
    dry_run(&spec, picks, npicks), status = 0;
  } else {
    status = run_and_report(&spec, picks, npicks, &a);
  }
  free(picks);
  bert_bench_spec_free(&spec);
  free(names);
  return status;
}
