/* io/bench_spec: benchmarks.yml → checked entries and their variants (see bench.h). */
#include <ctype.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "io/bench.h"
#include "io/yaml_config.h"

#define MAX_VARIANTS 4096
#define MAX_IGNORED 32

typedef struct loader {
  bert_yaml y;
  const char *path, *datasets_dir;
  char ignored[MAX_IGNORED][64]; /* keys outside the subset, reported once each */
  int nignored;
  bert_error *err;
} loader;

static const char *const reduction_names[] = {"mean", "final", "value", "min", "max"};

const char *bert_bench_reduction_name(bert_bench_reduction r) {
  return (unsigned)r < sizeof reduction_names / sizeof reduction_names[0] ? reduction_names[r] : "?";
}

/* "file:line: benchmark: message" */
static int fail(loader *L, const yaml_node_t *node, const char *bench, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(loader *L, const yaml_node_t *node, const char *bench, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return bert_error_set(L->err, BERT_EFORMAT, "%s:%d: %s%s%s", L->path, bert_yaml_line(node), bench ? bench : "",
                        bench ? ": " : "", msg);
}

static void ignore_key(loader *L, const char *key) {
  for (int i = 0; i < L->nignored; i++)
    if (!strcmp(L->ignored[i], key)) return;
  if (L->nignored < MAX_IGNORED) snprintf(L->ignored[L->nignored++], sizeof L->ignored[0], "%s", key);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* ---------------------------------------------------------------- data and output */

static int parse_int(const char *s, int *out) {
  char *end;
  long v = s ? strtol(s, &end, 10) : -1;
  if (!s || end == s || *end || v < 0 || v > 1000000) return -1;
  *out = (int)v;
  return 0;
}

static int metric_field(loader *L, const char *bench, bert_bench_metric *m, const bert_yaml_pair *p) {
  const char *v = bert_yaml_scalar(p->value);
  if (!strcmp(p->key, "regexp")) {
    if (!v || !*v) return fail(L, p->value, bench, "data.%s.regexp must be a non-empty string", m->name);
    return (m->regexp = strdup(v)) ? BERT_OK : bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  }
  if (!strcmp(p->key, "reduction_type")) {
    for (size_t r = 0; v && r < sizeof reduction_names / sizeof reduction_names[0]; r++)
      if (!strcmp(v, reduction_names[r])) return m->reduction = (bert_bench_reduction)r, BERT_OK;
    return fail(L, p->value, bench, "data.%s.reduction_type '%s' is not one of mean, final, value, min, max", m->name,
                v ? v : "(not a string)");
  }
  if (!strcmp(p->key, "skip")) {
    if (parse_int(v, &m->skip)) return fail(L, p->value, bench, "data.%s.skip must be a whole number >= 0", m->name);
    return BERT_OK;
  }
  ignore_key(L, p->key);
  return BERT_OK;
}

static int parse_metric(loader *L, const char *bench, const bert_yaml_pair *p, bert_bench_metric *m) {
  if (!(m->name = strdup(p->key))) return bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  if (p->value->type != YAML_MAPPING_NODE) return fail(L, p->value, bench, "data.%s must be a mapping", m->name);
  bert_yaml_map map = {0};
  int rc = bert_yaml_mapping(&L->y, p->value, &map, L->err);
  for (size_t i = 0; !rc && i < map.count; i++) rc = metric_field(L, bench, m, &map.items[i]);
  bert_yaml_map_free(&map);
  if (!rc && !m->regexp) rc = fail(L, p->value, bench, "data.%s has no 'regexp'", m->name);
  if (!rc && bert_pyregex_compile(&m->re, m->regexp, L->err))
    rc = bert_error_prefix(L->err, "%s:%d: %s: data.%s: ", L->path, bert_yaml_line(p->value), bench, m->name);
  return rc;
}

static int parse_data(loader *L, bert_bench_entry *e, yaml_node_t *node) {
  if (bert_yaml_is_null(node)) return BERT_OK;
  if (node->type != YAML_MAPPING_NODE) return fail(L, node, e->name, "'data' must be a mapping of metric names");
  bert_yaml_map map = {0};
  int rc = bert_yaml_mapping(&L->y, node, &map, L->err);
  if (!rc && map.count && !(e->metrics = calloc(map.count, sizeof *e->metrics)))
    rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < map.count; i++) rc = parse_metric(L, e->name, &map.items[i], &e->metrics[e->nmetrics++]);
  bert_yaml_map_free(&map);
  return rc;
}

static int find_metric(const bert_bench_entry *e, const char *name) {
  for (int i = 0; i < e->nmetrics; i++)
    if (!strcmp(e->metrics[i].name, name)) return i;
  return -1;
}

/* output: a list of [label, metric] pairs naming metrics of `data`. */
static int parse_output(loader *L, bert_bench_entry *e, yaml_node_t *node) {
  if (bert_yaml_is_null(node)) return BERT_OK;
  if (node->type != YAML_SEQUENCE_NODE) return fail(L, node, e->name, "'output' must be a list of [label, metric]");
  size_t n = bert_yaml_length(node);
  if (n && !(e->columns = calloc(n, sizeof *e->columns))) return bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = bert_yaml_item(&L->y, node, i);
    const char *label = bert_yaml_scalar(bert_yaml_item(&L->y, item, 0));
    const char *metric = bert_yaml_scalar(bert_yaml_item(&L->y, item, 1));
    if (item->type != YAML_SEQUENCE_NODE || bert_yaml_length(item) != 2 || !label || !metric)
      return fail(L, item, e->name, "output item %zu must be a pair [label, metric]", i + 1);
    int m = find_metric(e, metric);
    if (m < 0) return fail(L, item, e->name, "output '%s' names metric '%s', which 'data' does not define", label, metric);
    bert_bench_column *c = &e->columns[e->ncolumns++];
    c->metric = m;
    if (!(c->label = strdup(label))) return bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  }
  return BERT_OK;
}

static int parse_env(loader *L, bert_bench_entry *e, yaml_node_t *node) {
  if (bert_yaml_is_null(node)) return BERT_OK;
  if (node->type != YAML_MAPPING_NODE) return fail(L, node, e->name, "'env' must be a mapping NAME: value");
  bert_yaml_map map = {0};
  int rc = bert_yaml_mapping(&L->y, node, &map, L->err);
  if (!rc && map.count && !(e->env = calloc(map.count, sizeof *e->env)))
    rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < map.count; i++) {
    const char *v = bert_yaml_scalar(map.items[i].value);
    if (!v || !*map.items[i].key || strchr(map.items[i].key, '='))
      rc = fail(L, map.items[i].value, e->name, "env.%s must be a plain NAME with a string value", map.items[i].key);
    else if (asprintf(&e->env[e->nenv], "%s=%s", map.items[i].key, v) < 0)
      rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
    else
      e->nenv++;
  }
  bert_yaml_map_free(&map);
  return rc;
}

/* ---------------------------------------------------------------- parameters → variants */

typedef struct param_table {
  int nkeys, nrows;
  char **keys;
  char ***rows; /* rows[r][k] */
} param_table;

static void param_table_free(param_table *t) {
  for (int r = 0; r < t->nrows; r++) {
    for (int k = 0; t->rows[r] && k < t->nkeys; k++) free(t->rows[r][k]);
    free(t->rows[r]);
  }
  for (int k = 0; k < t->nkeys; k++) free(t->keys[k]);
  free(t->rows);
  free(t->keys);
  memset(t, 0, sizeof *t);
}

/* One parameter's values: "a,b,c" (as str(value).split(",")) or a YAML list, blanks trimmed. */
static int param_values(loader *L, const char *bench, const bert_yaml_pair *p, char ***vals, int *n) {
  bert_strbuf joined = {0};
  const char *s = bert_yaml_scalar(p->value);
  if (p->value->type == YAML_SEQUENCE_NODE)
    for (size_t i = 0; i < bert_yaml_length(p->value); i++) {
      const char *v = bert_yaml_scalar(bert_yaml_item(&L->y, p->value, i));
      if (!v || strchr(v, ','))
        return bert_strbuf_free(&joined), fail(L, p->value, bench, "parameters.%s: list items must be strings without ','", p->key);
      bert_strbuf_printf(&joined, "%s%s", i ? "," : "", v);
    }
  else if (s)
    bert_strbuf_puts(&joined, s);
  if (!joined.len) return fail(L, p->value, bench, "parameters.%s has no values", p->key);
  int count = 1;
  for (const char *c = joined.data; *c; c++) count += *c == ',';
  *vals = calloc((size_t)count, sizeof **vals);
  *n = 0;
  for (char *save = NULL, *tok = *vals ? strtok_r(joined.data, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*tok)) tok++;
    size_t len = strlen(tok);
    while (len && isspace((unsigned char)tok[len - 1])) len--;
    if (len) (*vals)[(*n)++] = strndup(tok, len);
  }
  bert_strbuf_free(&joined);
  if (!*vals) return bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  return *n ? BERT_OK : fail(L, p->value, bench, "parameters.%s has no values", p->key);
}

static int table_alloc(param_table *t, int nkeys, int nrows) {
  t->nkeys = nkeys;
  t->keys = calloc((size_t)nkeys + 1, sizeof *t->keys);
  t->rows = calloc((size_t)nrows + 1, sizeof *t->rows);
  t->nrows = 0;
  return t->keys && t->rows ? BERT_OK : BERT_ENOMEM;
}

/* Mapping style: every combination, the first parameter varying fastest (examples_utils' order). */
static int params_product(loader *L, const char *bench, yaml_node_t *node, param_table *t) {
  bert_yaml_map map = {0};
  int rc = bert_yaml_mapping(&L->y, node, &map, L->err);
  char **vals[64] = {0};
  int nvals[64] = {0};
  long total = 1;
  if (!rc && (map.count == 0 || map.count > 64)) rc = fail(L, node, bench, "'parameters' needs 1 to 64 names");
  for (size_t k = 0; !rc && k < map.count; k++)
    if (!(rc = param_values(L, bench, &map.items[k], &vals[k], &nvals[k])) && (total *= nvals[k]) > MAX_VARIANTS)
      rc = fail(L, node, bench, "'parameters' expand to more than %d variants", MAX_VARIANTS);
  if (!rc && table_alloc(t, (int)map.count, (int)total)) rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (size_t k = 0; !rc && k < map.count; k++) t->keys[k] = strdup(map.items[k].key);
  for (long r = 0; !rc && r < total; r++) {
    if (!(t->rows[r] = calloc(map.count, sizeof *t->rows[r]))) rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
    t->nrows++;
    for (size_t k = 0, stride = 1; !rc && k < map.count; stride *= (size_t)nvals[k], k++)
      t->rows[r][k] = strdup(vals[k][((size_t)r / stride) % (size_t)nvals[k]]);
  }
  for (size_t k = 0; k < map.count && k < 64; k++) {
    for (int i = 0; i < nvals[k]; i++) free(vals[k][i]);
    free(vals[k]);
  }
  bert_yaml_map_free(&map);
  return rc;
}

/* List style: [[name, ...], [value, ...], ...]; rows zipped with the names (shortest wins). */
static int params_rows(loader *L, const char *bench, yaml_node_t *node, param_table *t) {
  size_t n = bert_yaml_length(node);
  yaml_node_t *names = bert_yaml_item(&L->y, node, 0);
  if (n < 2 || !names || names->type != YAML_SEQUENCE_NODE || !bert_yaml_length(names))
    return fail(L, node, bench, "'parameters' as a list needs a row of names, then rows of values");
  size_t nk = bert_yaml_length(names);
  for (size_t r = 1; r < n; r++) {
    yaml_node_t *row = bert_yaml_item(&L->y, node, r);
    if (row->type == YAML_SEQUENCE_NODE && bert_yaml_length(row) < nk) nk = bert_yaml_length(row);
  }
  if (n - 1 > MAX_VARIANTS) return fail(L, node, bench, "more than %d parameter rows", MAX_VARIANTS);
  if (table_alloc(t, (int)nk, (int)(n - 1))) return bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (size_t k = 0; k < nk; k++) {
    const char *key = bert_yaml_scalar(bert_yaml_item(&L->y, names, k));
    if (!key || !*key) return fail(L, names, bench, "parameter name %zu is not a string", k + 1);
    t->keys[k] = strdup(key);
  }
  for (size_t r = 1; r < n; r++) {
    yaml_node_t *row = bert_yaml_item(&L->y, node, r);
    if (row->type != YAML_SEQUENCE_NODE) return fail(L, row, bench, "parameter row %zu is not a list", r);
    if (!(t->rows[r - 1] = calloc(nk, sizeof *t->rows[r - 1]))) return bert_error_set(L->err, BERT_ENOMEM, "out of memory");
    t->nrows++;
    for (size_t k = 0; k < nk; k++) {
      const char *v = bert_yaml_scalar(bert_yaml_item(&L->y, row, k));
      if (!v) return fail(L, row, bench, "parameter row %zu, item %zu is not a string", r, k + 1);
      t->rows[r - 1][k] = strdup(v);
    }
  }
  return BERT_OK;
}

/* ---------------------------------------------------------------- commands */

/* str.format with the variant's parameters: {name} replaced, {{ and }} are braces. */
static int format_cmd(loader *L, const bert_bench_entry *e, const yaml_node_t *node, const char *cmd,
                      const param_table *t, int row, bert_strbuf *out) {
  for (const char *c = cmd; *c; c++) {
    if ((c[0] == '{' && c[1] == '{') || (c[0] == '}' && c[1] == '}')) {
      bert_strbuf_append(out, c++, 1);
    } else if (*c == '}') {
      return fail(L, node, e->name, "cmd: single '}' (write '}}' for a brace)");
    } else if (*c == '{') {
      const char *close = strchr(c, '}');
      if (!close) return fail(L, node, e->name, "cmd: '{' without '}' (write '{{' for a brace)");
      int k = 0, len = (int)(close - c - 1);
      while (k < t->nkeys && ((int)strlen(t->keys[k]) != len || strncmp(t->keys[k], c + 1, (size_t)len))) k++;
      if (k == t->nkeys) return fail(L, node, e->name, "cmd uses {%.*s}, which is not a parameter", len, c + 1);
      bert_strbuf_puts(out, t->rows[row][k]);
      c = close;
    } else {
      bert_strbuf_append(out, c, 1);
    }
  }
  return BERT_OK;
}

/* " ".join(cmd.split()), then $DATASETS_DIR / ${DATASETS_DIR} replaced. */
static char *finish_cmd(const char *formatted, const char *datasets_dir) {
  bert_strbuf out = {0};
  static const char var[] = "DATASETS_DIR";
  const size_t vl = sizeof var - 1;
  for (const char *c = formatted; *c;) {
    if (isspace((unsigned char)*c)) {
      while (isspace((unsigned char)*c)) c++;
      if (out.len && *c) bert_strbuf_puts(&out, " ");
    } else if (c[0] == '$' && !strncmp(c + 1, var, vl) && !(isalnum((unsigned char)c[1 + vl]) || c[1 + vl] == '_')) {
      bert_strbuf_puts(&out, datasets_dir), c += 1 + vl;
    } else if (!strncmp(c, "${", 2) && !strncmp(c + 2, var, vl) && c[2 + vl] == '}') {
      bert_strbuf_puts(&out, datasets_dir), c += 3 + vl;
    } else {
      bert_strbuf_append(&out, c++, 1);
    }
  }
  if (out.failed) return bert_strbuf_free(&out), NULL;
  return out.data ? out.data : strdup("");
}

static int cmp_keys(const void *a, const void *b, void *keys) {
  char **k = keys;
  return strcmp(k[*(const int *)a], k[*(const int *)b]);
}

static int make_variant(loader *L, bert_bench_entry *e, const yaml_node_t *node, const char *cmd, const param_table *t,
                        int row, bert_bench_variant *v) {
  bert_strbuf name = {0}, formatted = {0};
  int order[64];
  for (int k = 0; k < t->nkeys; k++) order[k] = k;
  qsort_r(order, (size_t)t->nkeys, sizeof order[0], cmp_keys, t->keys);
  bert_strbuf_puts(&name, e->name);
  for (int k = 0; k < t->nkeys; k++) bert_strbuf_printf(&name, "_%s_%s", t->keys[order[k]], t->rows[row][order[k]]);
  v->name = name.data;
  int rc = format_cmd(L, e, node, cmd, t, row, &formatted);
  if (!rc && !(v->command = finish_cmd(formatted.data ? formatted.data : "", L->datasets_dir)))
    rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  bert_strbuf_free(&formatted);
  if (!rc && !*v->command) rc = fail(L, node, e->name, "'cmd' is empty");
  v->keys = calloc((size_t)t->nkeys + 1, sizeof *v->keys);
  v->values = calloc((size_t)t->nkeys + 1, sizeof *v->values);
  if (!rc && (!v->keys || !v->values || name.failed)) rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (int k = 0; !rc && k < t->nkeys; k++, v->nparams++)
    v->keys[k] = strdup(t->keys[k]), v->values[k] = strdup(t->rows[row][k]);
  return rc;
}

static int make_variants(loader *L, bert_bench_entry *e, const yaml_node_t *cmd_node, yaml_node_t *params) {
  param_table t = {0};
  int rc = BERT_OK;
  if (!params || bert_yaml_is_null(params)) {
    rc = table_alloc(&t, 0, 1) ? bert_error_set(L->err, BERT_ENOMEM, "out of memory") : BERT_OK;
    if (!rc && !(t.rows[0] = calloc(1, sizeof *t.rows[0]))) rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
    t.nrows = 1;
  } else if (params->type == YAML_MAPPING_NODE) {
    rc = params_product(L, e->name, params, &t);
  } else if (params->type == YAML_SEQUENCE_NODE) {
    rc = params_rows(L, e->name, params, &t);
  } else {
    rc = fail(L, params, e->name, "'parameters' must be a mapping (name: a,b,c) or a list of rows");
  }
  if (!rc && t.nkeys > 64) rc = fail(L, params, e->name, "more than 64 parameters");
  if (!rc && !(e->variants = calloc((size_t)t.nrows, sizeof *e->variants)))
    rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (int r = 0; !rc && r < t.nrows; r++)
    rc = make_variant(L, e, cmd_node, bert_yaml_scalar(cmd_node), &t, r, &e->variants[e->nvariants++]);
  param_table_free(&t);
  return rc;
}

/* ---------------------------------------------------------------- entries */

static int parse_entry(loader *L, const bert_yaml_pair *p, bert_bench_entry *e) {
  e->line = bert_yaml_line(p->value);
  if (!(e->name = strdup(p->key))) return bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  if (p->value->type != YAML_MAPPING_NODE) return fail(L, p->value, e->name, "a benchmark must be a mapping");
  bert_yaml_map map = {0};
  int rc = bert_yaml_mapping(&L->y, p->value, &map, L->err);
  const bert_yaml_pair *cmd = rc ? NULL : bert_yaml_map_find(&map, "cmd");
  const bert_yaml_pair *params = NULL, *output = NULL;
  for (size_t i = 0; !rc && i < map.count; i++) {
    const bert_yaml_pair *q = &map.items[i];
    if (!strcmp(q->key, "data")) rc = parse_data(L, e, q->value);
    else if (!strcmp(q->key, "env")) rc = parse_env(L, e, q->value);
    else if (!strcmp(q->key, "output")) output = q;
    else if (!strcmp(q->key, "parameters")) params = q;
    else if (!strcmp(q->key, "description")) e->description = dup_or_null(bert_yaml_scalar(q->value));
    else if (strcmp(q->key, "cmd")) ignore_key(L, q->key);
  }
  if (!rc && (!cmd || !bert_yaml_scalar(cmd->value)))
    rc = fail(L, cmd ? cmd->value : p->value, e->name, "'cmd' (the command to run, a string) is required");
  if (!rc && output) rc = parse_output(L, e, output->value);
  if (!rc) rc = make_variants(L, e, cmd->value, params ? params->value : NULL);
  bert_yaml_map_free(&map);
  return rc;
}

static int parse_spec(loader *L, bert_bench_spec *spec) {
  yaml_node_t *root = bert_yaml_root(&L->y);
  if (!root || root->type != YAML_MAPPING_NODE)
    return fail(L, root, NULL, "the top level must be a mapping of benchmark names to benchmarks");
  bert_yaml_map map = {0};
  int rc = bert_yaml_mapping(&L->y, root, &map, L->err);
  if (!rc && map.count && !(spec->entries = calloc(map.count, sizeof *spec->entries)))
    rc = bert_error_set(L->err, BERT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < map.count; i++) {
    if (strstr(map.items[i].key, "options")) continue; /* templates for `<<:`, as examples_utils */
    rc = parse_entry(L, &map.items[i], &spec->entries[spec->nentries++]);
  }
  if (!rc && !spec->nentries) rc = fail(L, root, NULL, "no benchmarks (only templates, or nothing)");
  bert_yaml_map_free(&map);
  return rc;
}

int bert_bench_spec_load(bert_bench_spec *spec, const char *path, const char *datasets_dir, bert_error *err) {
  memset(spec, 0, sizeof *spec);
  loader *L = calloc(1, sizeof *L);
  if (!L) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  L->path = path, L->datasets_dir = datasets_dir ? datasets_dir : "data", L->err = err;
  char *copy = strdup(path);
  spec->path = strdup(path);
  spec->dir = copy ? strdup(dirname(copy)) : NULL;
  spec->datasets_dir = strdup(L->datasets_dir);
  free(copy);
  int rc = spec->path && spec->dir && spec->datasets_dir ? BERT_OK : bert_error_set(err, BERT_ENOMEM, "out of memory");
  if (!rc) rc = bert_yaml_load_file(&L->y, path, err);
  if (!rc) {
    rc = parse_spec(L, spec);
    bert_yaml_free(&L->y);
  }
  for (int i = 0; !rc && i < L->nignored; i++)
    bert_warn("%s: key '%s' is not supported by bert bench and is ignored", path, L->ignored[i]);
  free(L);
  if (rc) bert_bench_spec_free(spec);
  return rc;
}

/* ---------------------------------------------------------------- free and select */

static void free_strings(char **s, int n) {
  for (int i = 0; s && i < n; i++) free(s[i]);
  free(s);
}

static void entry_free(bert_bench_entry *e) {
  for (int i = 0; i < e->nmetrics; i++) {
    free(e->metrics[i].name), free(e->metrics[i].regexp);
    bert_pyregex_free(&e->metrics[i].re);
  }
  for (int i = 0; i < e->ncolumns; i++) free(e->columns[i].label);
  for (int i = 0; i < e->nvariants; i++) {
    bert_bench_variant *v = &e->variants[i];
    free(v->name), free(v->command);
    free_strings(v->keys, v->nparams), free_strings(v->values, v->nparams);
  }
  free_strings(e->env, e->nenv);
  free(e->metrics), free(e->columns), free(e->variants), free(e->name), free(e->description);
}

void bert_bench_spec_free(bert_bench_spec *spec) {
  for (int i = 0; i < spec->nentries; i++) entry_free(&spec->entries[i]);
  free(spec->entries), free(spec->path), free(spec->dir), free(spec->datasets_dir);
  memset(spec, 0, sizeof *spec);
}

static int add_pick(bert_bench_pick **picks, int *n, int entry, int variant) {
  for (int i = 0; i < *n; i++)
    if ((*picks)[i].entry == entry && (*picks)[i].variant == variant) return BERT_OK;
  bert_bench_pick *p = realloc(*picks, (size_t)(*n + 1) * sizeof *p);
  if (!p) return BERT_ENOMEM;
  p[(*n)++] = (bert_bench_pick){entry, variant};
  *picks = p;
  return BERT_OK;
}

static int pick_entry(const bert_bench_spec *s, int e, bert_bench_pick **picks, int *n) {
  int rc = BERT_OK;
  for (int v = 0; !rc && v < s->entries[e].nvariants; v++) rc = add_pick(picks, n, e, v);
  return rc;
}

/* A name: a whole benchmark, else one variant; 1 when nothing has that name. */
static int pick_name(const bert_bench_spec *s, const char *name, bert_bench_pick **picks, int *n) {
  for (int e = 0; e < s->nentries; e++)
    if (!strcmp(s->entries[e].name, name)) return pick_entry(s, e, picks, n);
  for (int e = 0; e < s->nentries; e++)
    for (int v = 0; v < s->entries[e].nvariants; v++)
      if (!strcmp(s->entries[e].variants[v].name, name)) return add_pick(picks, n, e, v);
  return 1;
}

static int unknown_name(const bert_bench_spec *s, const char *name, bert_error *err) {
  bert_strbuf known = {0};
  for (int e = 0; e < s->nentries; e++) bert_strbuf_printf(&known, "%s%s", e ? ", " : "", s->entries[e].name);
  bert_error_set(err, BERT_EINVAL, "benchmark '%s' is not in %s (benchmarks: %s)", name, s->path,
                 known.data ? known.data : "none");
  bert_strbuf_free(&known);
  return BERT_EINVAL;
}

int bert_bench_select(const bert_bench_spec *spec, const char *const *names, int nnames, int include_convergence,
                      bert_bench_pick **picks, int *npicks, bert_error *err) {
  *picks = NULL, *npicks = 0;
  int rc = BERT_OK;
  for (int i = 0; !rc && i < nnames; i++) {
    rc = pick_name(spec, names[i], picks, npicks);
    if (rc > 0) rc = unknown_name(spec, names[i], err);
  }
  for (int e = 0; !rc && !nnames && e < spec->nentries; e++)
    if (include_convergence || !strstr(spec->entries[e].name, "_conv")) rc = pick_entry(spec, e, picks, npicks);
  if (rc == BERT_ENOMEM) bert_error_set(err, rc, "out of memory");
  if (rc) free(*picks), *picks = NULL, *npicks = 0;
  return rc;
}
