/* io/bench: named benchmarks in the reference's benchmarks.yml schema (Graphcore examples_utils),
 * the subset bertc's entries use: `cmd`, `data` (metric → `regexp`, `reduction_type`, `skip`),
 * `output` ([label, metric] pairs), `parameters` (expanded into variants), `env`, `description`;
 * YAML anchors and `<<:` merges; `$DATASETS_DIR` in commands. Entries whose name contains
 * "options" are templates, not benchmarks. A variant runs through /bin/sh in the spec file's
 * folder; its metrics are read from stdout + stderr with Python-style regexes (base/pyregex) and
 * reduced as examples_utils does. See docs/bench.md. */
#ifndef BERT_IO_BENCH_H
#define BERT_IO_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "base/pyregex.h"

typedef enum bert_bench_reduction {
  BERT_REDUCE_MEAN, /* default: sorted (descending for "latency"), the `skip` smallest dropped, mean */
  BERT_REDUCE_FINAL,
  BERT_REDUCE_VALUE, /* the first match */
  BERT_REDUCE_MIN,
  BERT_REDUCE_MAX,
} bert_bench_reduction;

const char *bert_bench_reduction_name(bert_bench_reduction r);

typedef struct bert_bench_metric {
  char *name, *regexp;
  bert_pyregex re;
  bert_bench_reduction reduction;
  int skip; /* a metric needs more than `skip` matches */
} bert_bench_metric;

typedef struct bert_bench_column {
  char *label; /* the table's column header */
  int metric;  /* index into the entry's metrics */
} bert_bench_column;

typedef struct bert_bench_variant {
  char *name;    /* benchmark name, then "_<key>_<value>" for each parameter in key order */
  char *command; /* parameters filled in, whitespace collapsed, $DATASETS_DIR substituted */
  int nparams;
  char **keys, **values; /* in the spec's order */
} bert_bench_variant;

typedef struct bert_bench_entry {
  char *name, *description;
  int line;
  bert_bench_metric *metrics;
  int nmetrics;
  bert_bench_column *columns;
  int ncolumns;
  char **env; /* "NAME=value" */
  int nenv;
  bert_bench_variant *variants;
  int nvariants;
} bert_bench_entry;

typedef struct bert_bench_spec {
  char *path, *dir; /* the spec file and the folder its commands run in */
  char *datasets_dir;
  bert_bench_entry *entries;
  int nentries;
} bert_bench_spec;

/* Loads and checks a whole spec (every entry, every regex, every variant's command); errors name
 * the file, line, benchmark and key. Keys outside the subset are reported once each on stderr
 * and ignored. `datasets_dir` replaces $DATASETS_DIR and ${DATASETS_DIR} in commands. */
int bert_bench_spec_load(bert_bench_spec *spec, const char *path, const char *datasets_dir, bert_error *err);
void bert_bench_spec_free(bert_bench_spec *spec);

typedef struct bert_bench_pick {
  int entry, variant;
} bert_bench_pick;

/* The variants to run: for each name (a benchmark, or one variant of it) in the given order, or
 * with no names every benchmark except convergence runs (names containing "_conv") unless
 * include_convergence. An unknown name is a BERT_EINVAL error listing the known ones. */
int bert_bench_select(const bert_bench_spec *spec, const char *const *names, int nnames, int include_convergence,
                      bert_bench_pick **picks, int *npicks, bert_error *err);

/* ---------------------------------------------------------------- metrics */

typedef struct bert_bench_value {
  int found;
  double value;
  long matches;
  char problem[256]; /* why there is no value */
} bert_bench_value;

/* Reduces n values as examples_utils does; returns BERT_ERANGE when n <= skip. `descending` sorts
 * the mean's values largest first (examples_utils does so for "latency"). Sorts `values`. */
int bert_bench_reduce(double *values, long n, bert_bench_reduction r, int skip, int descending, double *out);

/* Finds and reduces one metric in a log. A match that is not a number, a NaN, or too few matches
 * leave v->found 0 with v->problem saying why; only a regex library failure is an error. */
int bert_bench_extract(const bert_bench_metric *m, const char *log, size_t len, bert_bench_value *v,
                       bert_error *err);

/* ---------------------------------------------------------------- running */

typedef struct bert_bench_run_options {
  double timeout;       /* seconds per variant, 0: none */
  int verbose;          /* echo the command's output to stderr as it runs */
  const char *log_dir;  /* when set: <log_dir>/<variant>/{stdout,stderr}.log */
  const char *path_dir; /* prepended to PATH for the command (the running bert's folder) */
} bert_bench_run_options;

typedef struct bert_bench_result {
  const bert_bench_entry *entry;
  const bert_bench_variant *variant;
  bert_bench_value *values; /* one per metric of the entry */
  int exit_code;            /* the command's; 128 + N when killed by signal N */
  int timed_out, interrupted, ok;
  double seconds;
  char start_time[40], end_time[40];
} bert_bench_result;

/* Runs one variant and extracts its metrics; progress and metric lines go to stderr. Fails only
 * when the command cannot be run at all. */
int bert_bench_run(const bert_bench_spec *spec, const bert_bench_pick *pick, const bert_bench_run_options *opt,
                   bert_bench_result *r, bert_error *err);
void bert_bench_result_free(bert_bench_result *r);

/* The results table: one row per variant, columns status, time and every output label. */
void bert_bench_print_table(FILE *out, const bert_bench_result *r, int n);

/* The results as JSON, keyed by benchmark name as examples_utils' benchmark_results.json;
 * written atomically. */
int bert_bench_write_json(const char *path, const bert_bench_spec *spec, const bert_bench_result *r, int n,
                          bert_error *err);

#endif
