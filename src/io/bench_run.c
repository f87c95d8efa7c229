/* io/bench_run: runs benchmark variants, extracts and reduces their metrics, and reports them as a
 * table and as JSON (see bench.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/file.h"
#include "base/proc.h"
#include "base/strbuf.h"
#include "io/bench.h"

/* ---------------------------------------------------------------- reduction */

static int ascending(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int descending_order(const void *a, const void *b) { return ascending(b, a); }

int bert_bench_reduce(double *values, long n, bert_bench_reduction r, int skip, int descending, double *out) {
  if (n <= skip) return BERT_ERANGE;
  switch (r) {
    case BERT_REDUCE_FINAL: *out = values[n - 1]; return BERT_OK;
    case BERT_REDUCE_VALUE: *out = values[0]; return BERT_OK;
    case BERT_REDUCE_MIN:
    case BERT_REDUCE_MAX: {
      double m = values[0];
      for (long i = 1; i < n; i++) m = r == BERT_REDUCE_MIN ? fmin(m, values[i]) : fmax(m, values[i]);
      *out = m;
      return BERT_OK;
    }
    case BERT_REDUCE_MEAN:
    default: {
      /* examples_utils sorts, then skips: the `skip` smallest values go (largest for latency) */
      qsort(values, (size_t)n, sizeof *values, descending ? descending_order : ascending);
      double sum = 0;
      for (long i = skip; i < n; i++) sum += values[i];
      *out = sum / (double)(n - skip);
      return BERT_OK;
    }
  }
}

/* ---------------------------------------------------------------- extraction */

typedef struct matches {
  double *v;
  long n, cap;
  char bad[96]; /* the first match that is not a number */
  int nan, oom;
} matches;

/* Python's float(): surrounding blanks allowed, nothing else. */
static int parse_number(const char *s, size_t len, double *out) {
  char buf[128];
  if (len >= sizeof buf) return -1;
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end;
  errno = 0;
  *out = strtod(buf, &end);
  while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
  return end == buf || *end ? -1 : 0;
}

static int on_match(const char *m, size_t len, void *ctx) {
  matches *c = ctx;
  double x;
  if (parse_number(m, len, &x)) {
    snprintf(c->bad, sizeof c->bad, "%.*s", (int)(len < 80 ? len : 80), m);
    return 1;
  }
  if (isnan(x)) c->nan = 1;
  if (c->n == c->cap) {
    long cap = c->cap ? 2 * c->cap : 64;
    double *p = realloc(c->v, (size_t)cap * sizeof *p);
    if (!p) return c->oom = 1;
    c->v = p, c->cap = cap;
  }
  c->v[c->n++] = x;
  return 0;
}

int bert_bench_extract(const bert_bench_metric *m, const char *log, size_t len, bert_bench_value *v,
                       bert_error *err) {
  memset(v, 0, sizeof *v);
  matches c = {0};
  long found = bert_pyregex_findall(&m->re, log, len, on_match, &c, err);
  int rc = found < 0 ? (int)found : c.oom ? bert_error_set(err, BERT_ENOMEM, "out of memory") : BERT_OK;
  v->matches = c.n;
  if (rc) {
  } else if (c.bad[0]) {
    snprintf(v->problem, sizeof v->problem, "regexp matched '%s', which is not a number", c.bad);
  } else if (c.nan) {
    snprintf(v->problem, sizeof v->problem, "is a NaN");
  } else if (!c.n) {
    snprintf(v->problem, sizeof v->problem, "regexp '%.200s' matched nothing", m->regexp);
  } else if (bert_bench_reduce(c.v, c.n, m->reduction, m->skip, !strcmp(m->name, "latency"), &v->value)) {
    snprintf(v->problem, sizeof v->problem, "%ld match%s, not more than skip = %d", c.n, c.n == 1 ? "" : "es", m->skip);
  } else {
    v->found = 1;
  }
  free(c.v);
  return rc;
}

/* ---------------------------------------------------------------- running */

static void timestamp(char *buf, size_t cap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  localtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(buf + n, cap - n, ".%06ld", ts.tv_nsec / 1000);
}

/* The child's extra environment: the entry's env, DATASETS_DIR, and PATH led by bert's folder. */
static int child_env(const bert_bench_spec *s, const bert_bench_entry *e, const bert_bench_run_options *o,
                     char ***env, int *n) {
  *env = calloc((size_t)e->nenv + 2, sizeof **env);
  if (!*env) return BERT_ENOMEM;
  *n = 0;
  const char *path = getenv("PATH");
  if (asprintf(&(*env)[(*n)++], "DATASETS_DIR=%s", s->datasets_dir) < 0) return (*env)[--*n] = NULL, BERT_ENOMEM;
  if (o && o->path_dir && asprintf(&(*env)[(*n)++], "PATH=%s%s%s", o->path_dir, path ? ":" : "", path ? path : "") < 0)
    return (*env)[--*n] = NULL, BERT_ENOMEM;
  for (int i = 0; i < e->nenv; i++) (*env)[(*n)++] = strdup(e->env[i]);
  return BERT_OK;
}

static void save_logs(const char *dir, const char *variant, const bert_proc_result *p) {
  char folder[4096], path[4200];
  bert_error err = {0};
  if (bert_path_join(folder, sizeof folder, dir, variant) || bert_mkdir_p(folder, &err)) return;
  snprintf(path, sizeof path, "%s/stdout.log", folder);
  bert_file_write_atomic(path, p->out.data ? p->out.data : "", p->out.len, &err);
  snprintf(path, sizeof path, "%s/stderr.log", folder);
  bert_file_write_atomic(path, p->err.data ? p->err.data : "", p->err.len, &err);
}

/* The last lines of a failed command's stderr, to show why without opening a log. */
static void show_tail(const bert_strbuf *b, int lines) {
  if (!b->len) return;
  size_t i = b->len;
  while (i > 0 && b->data[i - 1] == '\n') i--;
  size_t end = i;
  for (int seen = 0; i > 0; i--)
    if (b->data[i - 1] == '\n' && ++seen == lines) break;
  fprintf(stderr, "  last lines of its stderr:\n%.*s\n", (int)(end - i), b->data + i);
}

static void extract_all(const bert_bench_entry *e, const bert_proc_result *p, bert_bench_result *r, bert_error *err,
                        int *rc) {
  bert_strbuf log = {0};
  bert_strbuf_append(&log, p->out.data ? p->out.data : "", p->out.len); /* stdout + stderr, as examples_utils */
  bert_strbuf_append(&log, p->err.data ? p->err.data : "", p->err.len);
  r->ok = r->exit_code == 0 && !p->timed_out && !p->interrupted;
  for (int i = 0; i < e->nmetrics && !*rc; i++) {
    bert_bench_value *v = &r->values[i];
    if (r->exit_code) snprintf(v->problem, sizeof v->problem, "the command exited with status %d", r->exit_code);
    else if (!log.failed) *rc = bert_bench_extract(&e->metrics[i], log.data ? log.data : "", log.len, v, err);
    if (v->found)
      fprintf(stderr, "  %s = %.6g (%s of %ld)\n", e->metrics[i].name, v->value,
              bert_bench_reduction_name(e->metrics[i].reduction), v->matches);
    else
      fprintf(stderr, "  %s: no value: %s\n", e->metrics[i].name, v->problem);
    r->ok = r->ok && v->found;
  }
  if (log.failed && !*rc) *rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
  bert_strbuf_free(&log);
}

int bert_bench_run(const bert_bench_spec *spec, const bert_bench_pick *pick, const bert_bench_run_options *opt,
                   bert_bench_result *r, bert_error *err) {
  const bert_bench_entry *e = &spec->entries[pick->entry];
  memset(r, 0, sizeof *r);
  r->entry = e, r->variant = &e->variants[pick->variant];
  r->values = calloc((size_t)e->nmetrics + 1, sizeof *r->values);
  char **env = NULL;
  int nenv = 0;
  if (!r->values || child_env(spec, e, opt, &env, &nenv)) {
    for (int i = 0; env && i < nenv; i++) free(env[i]);
    free(env);
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  bert_proc_options po = {.cwd = spec->dir, .env = (const char *const *)env, .nenv = nenv,
                          .timeout = opt ? opt->timeout : 0, .echo = opt && opt->verbose ? stderr : NULL};
  bert_proc_result p;
  timestamp(r->start_time, sizeof r->start_time);
  int rc = bert_proc_run(r->variant->command, &po, &p, err);
  timestamp(r->end_time, sizeof r->end_time);
  r->exit_code = p.exit_code, r->timed_out = p.timed_out, r->interrupted = p.interrupted, r->seconds = p.seconds;
  if (!rc && opt && opt->log_dir) save_logs(opt->log_dir, r->variant->name, &p);
  if (!rc) {
    if (r->timed_out) fprintf(stderr, "  timed out after %.0f s\n", opt->timeout);
    if (r->exit_code) fprintf(stderr, "  exited with status %d after %.1f s\n", r->exit_code, r->seconds), show_tail(&p.err, 10);
    extract_all(e, &p, r, err, &rc);
  }
  bert_proc_result_free(&p);
  for (int i = 0; i < nenv; i++) free(env[i]);
  free(env);
  return rc;
}

void bert_bench_result_free(bert_bench_result *r) {
  free(r->values);
  r->values = NULL;
}

/* ---------------------------------------------------------------- table */

enum { MAX_COLUMNS = 32 };

/* The table's metric columns: every output label in order of first appearance; an entry without
 * `output` shows its metrics under their own names. */
static int table_columns(const bert_bench_result *r, int n, const char **labels) {
  int nl = 0;
  for (int i = 0; i < n; i++) {
    const bert_bench_entry *e = r[i].entry;
    int count = e->ncolumns ? e->ncolumns : e->nmetrics;
    for (int c = 0; c < count; c++) {
      const char *label = e->ncolumns ? e->columns[c].label : e->metrics[c].name;
      int k = 0;
      while (k < nl && strcmp(labels[k], label)) k++;
      if (k == nl && nl < MAX_COLUMNS) labels[nl++] = label;
    }
  }
  return nl;
}

/* The value under `label` for one result: "" when its entry has no such column, "n/a" when the
 * metric was not found. */
static void cell(const bert_bench_result *r, const char *label, char *buf, size_t cap) {
  const bert_bench_entry *e = r->entry;
  int count = e->ncolumns ? e->ncolumns : e->nmetrics;
  buf[0] = '\0';
  for (int c = 0; c < count; c++) {
    int m = e->ncolumns ? e->columns[c].metric : c;
    const char *l = e->ncolumns ? e->columns[c].label : e->metrics[c].name;
    if (strcmp(l, label)) continue;
    if (r->values[m].found) snprintf(buf, cap, "%.6g", r->values[m].value);
    else snprintf(buf, cap, "n/a");
    return;
  }
}

static void status_text(const bert_bench_result *r, char *buf, size_t cap) {
  if (r->ok) snprintf(buf, cap, "ok");
  else if (r->interrupted) snprintf(buf, cap, "INTERRUPTED");
  else if (r->timed_out) snprintf(buf, cap, "TIMEOUT");
  else if (r->exit_code) snprintf(buf, cap, "FAILED (exit %d)", r->exit_code);
  else snprintf(buf, cap, "FAILED (metrics)");
}

void bert_bench_print_table(FILE *out, const bert_bench_result *r, int n) {
  const char *labels[MAX_COLUMNS];
  int nl = table_columns(r, n, labels);
  int wname = (int)strlen("benchmark"), wstat = (int)strlen("status"), wcol[MAX_COLUMNS];
  char buf[64];
  for (int k = 0; k < nl; k++) wcol[k] = (int)strlen(labels[k]);
  for (int i = 0; i < n; i++) {
    if ((int)strlen(r[i].variant->name) > wname) wname = (int)strlen(r[i].variant->name);
    status_text(&r[i], buf, sizeof buf);
    if ((int)strlen(buf) > wstat) wstat = (int)strlen(buf);
    for (int k = 0; k < nl; k++) cell(&r[i], labels[k], buf, sizeof buf), wcol[k] = (int)strlen(buf) > wcol[k] ? (int)strlen(buf) : wcol[k];
  }
  fprintf(out, "%-*s  %-*s  %9s", wname, "benchmark", wstat, "status", "time (s)");
  for (int k = 0; k < nl; k++) fprintf(out, "  %*s", wcol[k], labels[k]);
  fputc('\n', out);
  for (int i = 0; i < n; i++) {
    status_text(&r[i], buf, sizeof buf);
    fprintf(out, "%-*s  %-*s  %9.1f", wname, r[i].variant->name, wstat, buf, r[i].seconds);
    for (int k = 0; k < nl; k++) cell(&r[i], labels[k], buf, sizeof buf), fprintf(out, "  %*s", wcol[k], buf);
    fputc('\n', out);
  }
  int passed = 0;
  for (int i = 0; i < n; i++) passed += r[i].ok;
  fprintf(out, "%d passed, %d failed\n", passed, n - passed);
}

/* ---------------------------------------------------------------- JSON */

static cJSON *number_or_null(const bert_bench_value *v) { return v->found ? cJSON_CreateNumber(v->value) : cJSON_CreateNull(); }

static cJSON *variant_json(const bert_bench_spec *spec, const bert_bench_result *r) {
  const bert_bench_entry *e = r->entry;
  cJSON *o = cJSON_CreateObject(), *params = cJSON_CreateObject(), *results = cJSON_CreateObject();
  cJSON *output = cJSON_CreateObject(), *problems = cJSON_CreateArray();
  cJSON_AddStringToObject(o, "benchmark_path", spec->path);
  cJSON_AddStringToObject(o, "benchmark_name", e->name);
  cJSON_AddStringToObject(o, "variant_name", r->variant->name);
  for (int k = 0; k < r->variant->nparams; k++) cJSON_AddStringToObject(params, r->variant->keys[k], r->variant->values[k]);
  cJSON_AddItemToObject(o, "params", params);
  cJSON_AddStringToObject(o, "command", r->variant->command);
  for (int m = 0; m < e->nmetrics; m++) {
    cJSON *one = cJSON_CreateObject();
    cJSON_AddItemToObject(one, bert_bench_reduction_name(e->metrics[m].reduction), number_or_null(&r->values[m]));
    cJSON_AddItemToObject(results, e->metrics[m].name, one);
    if (!r->values[m].found)
      cJSON_AddItemToArray(problems, cJSON_CreateString(r->values[m].problem));
  }
  cJSON_AddItemToObject(o, "results", results);
  for (int c = 0; c < e->ncolumns; c++) cJSON_AddItemToObject(output, e->columns[c].label, number_or_null(&r->values[e->columns[c].metric]));
  cJSON_AddItemToObject(o, "output", output);
  cJSON_AddItemToObject(o, "problems", problems);
  cJSON_AddStringToObject(o, "start_time", r->start_time);
  cJSON_AddStringToObject(o, "end_time", r->end_time);
  cJSON_AddNumberToObject(o, "test_duration", r->seconds);
  /* examples_utils reports 1 for a run whose command succeeded but whose metrics did not */
  cJSON_AddNumberToObject(o, "exitcode", r->exit_code ? r->exit_code : r->ok ? 0 : 1);
  cJSON_AddBoolToObject(o, "timed_out", r->timed_out);
  return o;
}

int bert_bench_write_json(const char *path, const bert_bench_spec *spec, const bert_bench_result *r, int n,
                          bert_error *err) {
  cJSON *root = cJSON_CreateObject();
  for (int i = 0; root && i < n; i++) {
    cJSON *list = cJSON_GetObjectItemCaseSensitive(root, r[i].entry->name);
    if (!list) cJSON_AddItemToObject(root, r[i].entry->name, list = cJSON_CreateArray());
    cJSON_AddItemToArray(list, variant_json(spec, &r[i]));
  }
  char *text = root ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory building the results", path);
  bert_atomic_file af;
  int rc = bert_atomic_open(&af, path, err);
  if (!rc) {
    fputs(text, af.f), fputc('\n', af.f);
    rc = bert_atomic_commit(&af, err);
  }
  free(text);
  return rc;
}
