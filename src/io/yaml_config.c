#include "io/yaml_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper merge chains than this can only come from an alias that refers to its own ancestor. */
#define YAML_MAX_MERGE_DEPTH 64

static int parser_error(yaml_parser_t *p, const char *source, bert_error *err) {
  const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
  return bert_error_set(err, BERT_EFORMAT, "%s:%zu:%zu: YAML error: %s%s%s", source, m->line + 1,
                        m->column + 1, p->problem ? p->problem : "malformed document",
                        p->context ? " " : "", p->context ? p->context : "");
}

/* Runs the libyaml loader on a parser whose input is set; fills y. On failure y is freed, so a
 * caller has nothing to free (an empty document is a loaded one: it held the document). */
static int load(bert_yaml *y, yaml_parser_t *p, const char *source, bert_error *err) {
  int rc = BERT_OK;
  if (!(y->source = strdup(source))) rc = bert_error_set(err, BERT_ENOMEM, "%s: out of memory", source);
  else if (!yaml_parser_load(p, &y->doc)) rc = parser_error(p, source, err);
  else if ((y->loaded = 1) && !yaml_document_get_root_node(&y->doc))
    rc = bert_error_set(err, BERT_EFORMAT, "%s: empty YAML document", source);
  if (rc) bert_yaml_free(y);
  return rc;
}

int bert_yaml_load_file(bert_yaml *y, const char *path, bert_error *err) {
  memset(y, 0, sizeof *y);
  FILE *f = fopen(path, "rb");
  if (!f) return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", path, strerror(errno));
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    fclose(f);
    return bert_error_set(err, BERT_ENOMEM, "%s: cannot initialise the YAML parser", path);
  }
  yaml_parser_set_input_file(&p, f);
  int rc = load(y, &p, path, err);
  yaml_parser_delete(&p);
  fclose(f);
  return rc;
}

int bert_yaml_load_string(bert_yaml *y, const char *text, const char *source, bert_error *err) {
  memset(y, 0, sizeof *y);
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p))
    return bert_error_set(err, BERT_ENOMEM, "%s: cannot initialise the YAML parser", source);
  yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
  int rc = load(y, &p, source, err);
  yaml_parser_delete(&p);
  return rc;
}

void bert_yaml_free(bert_yaml *y) {
  if (!y) return;
  if (y->loaded) yaml_document_delete(&y->doc);
  free(y->source);
  memset(y, 0, sizeof *y);
}

yaml_node_t *bert_yaml_root(bert_yaml *y) { return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL; }

size_t bert_yaml_length(const yaml_node_t *seq) {
  if (!seq || seq->type != YAML_SEQUENCE_NODE) return 0;
  return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *bert_yaml_item(bert_yaml *y, const yaml_node_t *seq, size_t i) {
  if (i >= bert_yaml_length(seq)) return NULL;
  return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

const char *bert_yaml_scalar(const yaml_node_t *node) {
  return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

int bert_yaml_is_plain(const yaml_node_t *node) {
  return node && node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int bert_yaml_is_null(const yaml_node_t *node) {
  if (!node || node->type != YAML_SCALAR_NODE) return 0;
  if (node->tag && !strcmp((const char *)node->tag, YAML_NULL_TAG)) return 1;
  if (!bert_yaml_is_plain(node)) return 0;
  const char *v = bert_yaml_scalar(node);
  return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

int bert_yaml_line(const yaml_node_t *node) { return node ? (int)node->start_mark.line + 1 : 0; }

const bert_yaml_pair *bert_yaml_map_find(const bert_yaml_map *m, const char *key) {
  for (size_t i = 0; i < m->count; i++)
    if (!strcmp(m->items[i].key, key)) return &m->items[i];
  return NULL;
}

void bert_yaml_map_free(bert_yaml_map *m) {
  if (!m) return;
  free(m->items);
  memset(m, 0, sizeof *m);
}

/* Sets key -> value; `override` decides whether an existing key is replaced (own keys: the
 * later wins, as in PyYAML) or kept (merged keys never replace what is already there). */
static int map_put(bert_yaml_map *m, const char *key, yaml_node_t *value, int override, bert_error *err) {
  for (size_t i = 0; i < m->count; i++)
    if (!strcmp(m->items[i].key, key)) {
      if (override) m->items[i].value = value;
      return 0;
    }
  if (m->count == m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 32;
    bert_yaml_pair *items = realloc(m->items, cap * sizeof *items);
    if (!items) return bert_error_set(err, BERT_ENOMEM, "out of memory reading YAML");
    m->items = items;
    m->cap = cap;
  }
  m->items[m->count++] = (bert_yaml_pair){key, value};
  return 0;
}

static int is_merge_key(const yaml_node_t *key) {
  return bert_yaml_is_plain(key) && !strcmp(bert_yaml_scalar(key), "<<");
}

/* The mappings already merged into one result. Merging one again adds nothing (merged keys never
 * replace), and skipping it keeps aliases that repeat a mapping at every level ("<<: [*a, *a]"
 * nested n deep: 2^n merges) linear in the document. */
typedef struct node_set {
  yaml_node_t **items;
  size_t count, cap;
} node_set;

static int node_set_has(const node_set *s, const yaml_node_t *node) {
  for (size_t i = 0; i < s->count; i++)
    if (s->items[i] == node) return 1;
  return 0;
}

static int node_set_add(node_set *s, yaml_node_t *node, bert_error *err) {
  if (s->count == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    yaml_node_t **items = realloc(s->items, cap * sizeof *items);
    if (!items) return bert_error_set(err, BERT_ENOMEM, "out of memory reading YAML");
    s->items = items, s->cap = cap;
  }
  s->items[s->count++] = node;
  return 0;
}

static int flatten(bert_yaml *y, yaml_node_t *node, bert_yaml_map *out, node_set *done, int override, int depth,
                   bert_error *err);

/* The value of a `<<` key: a mapping, or a sequence of mappings (earlier ones win). */
static int merge(bert_yaml *y, yaml_node_t *value, bert_yaml_map *out, node_set *done, int depth, bert_error *err) {
  if (value->type == YAML_MAPPING_NODE) return flatten(y, value, out, done, 0, depth + 1, err);
  if (value->type == YAML_SEQUENCE_NODE) {
    for (size_t i = 0; i < bert_yaml_length(value); i++) {
      yaml_node_t *item = bert_yaml_item(y, value, i);
      if (!item || item->type != YAML_MAPPING_NODE)
        return bert_error_set(err, BERT_EFORMAT, "%s:%d: `<<` merges mappings only", y->source,
                              bert_yaml_line(item ? item : value));
      int rc = flatten(y, item, out, done, 0, depth + 1, err);
      if (rc) return rc;
    }
    return 0;
  }
  return bert_error_set(err, BERT_EFORMAT, "%s:%d: `<<` needs a mapping or a list of mappings (e.g. <<: *defaults)",
                        y->source, bert_yaml_line(value));
}

static int flatten(bert_yaml *y, yaml_node_t *node, bert_yaml_map *out, node_set *done, int override, int depth,
                   bert_error *err) {
  if (node_set_has(done, node)) return 0;
  if (depth > YAML_MAX_MERGE_DEPTH)
    return bert_error_set(err, BERT_EFORMAT, "%s:%d: merge keys nested too deeply (recursive alias?)", y->source,
                          bert_yaml_line(node));
  yaml_node_pair_t *start = node->data.mapping.pairs.start, *top = node->data.mapping.pairs.top;
  /* Own keys first so that they take precedence over anything merged below. */
  for (yaml_node_pair_t *p = start; p < top; p++) {
    yaml_node_t *k = yaml_document_get_node(&y->doc, p->key), *v = yaml_document_get_node(&y->doc, p->value);
    if (!k || !v) return bert_error_set(err, BERT_EFORMAT, "%s: broken YAML node", y->source);
    if (is_merge_key(k)) continue;
    if (k->type != YAML_SCALAR_NODE)
      return bert_error_set(err, BERT_EFORMAT, "%s:%d: mapping keys must be plain names", y->source, bert_yaml_line(k));
    int rc = map_put(out, bert_yaml_scalar(k), v, override, err);
    if (rc) return rc;
  }
  for (yaml_node_pair_t *p = start; p < top; p++) {
    yaml_node_t *k = yaml_document_get_node(&y->doc, p->key), *v = yaml_document_get_node(&y->doc, p->value);
    if (!is_merge_key(k)) continue;
    int rc = merge(y, v, out, done, depth, err);
    if (rc) return rc;
  }
  /* marked once complete: a mapping that merges itself is still found by the depth limit */
  return node_set_add(done, node, err);
}

int bert_yaml_mapping(bert_yaml *y, yaml_node_t *mapping, bert_yaml_map *out, bert_error *err) {
  memset(out, 0, sizeof *out);
  if (!mapping || mapping->type != YAML_MAPPING_NODE)
    return bert_error_set(err, BERT_EFORMAT, "%s:%d: expected a mapping (key: value lines)", y->source,
                          bert_yaml_line(mapping));
  node_set done = {0};
  int rc = flatten(y, mapping, out, &done, 1, 0, err);
  free(done.items);
  if (rc) bert_yaml_map_free(out);
  return rc;
}
