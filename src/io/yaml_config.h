/* io/yaml_config: YAML documents of named sections (the reference's configs_*.yml) read with
 * libyaml's document API. libyaml resolves anchors and aliases; the YAML 1.1 `<<:` merge key,
 * which the configs use for inheritance, is applied here on top (explicit keys win over merged
 * ones; of several merged mappings the earlier wins). Scalars stay text: their meaning (int,
 * float, bool) is the reader's business, as argparse converts the reference's YAML strings. */
#ifndef BERT_IO_YAML_CONFIG_H
#define BERT_IO_YAML_CONFIG_H

#include <stddef.h>
#include <yaml.h>

#include "base/error.h"

typedef struct bert_yaml {
  yaml_document_t doc;
  char *source; /* file name (or label) used in messages */
  int loaded;
} bert_yaml;

/* One key of a mapping after merge keys are applied. `value` points into the document. */
typedef struct bert_yaml_pair {
  const char *key;
  yaml_node_t *value;
} bert_yaml_pair;

typedef struct bert_yaml_map {
  size_t count, cap;
  bert_yaml_pair *items; /* own keys in file order, then merged keys */
} bert_yaml_map;

/* Loads the first document of a file / of a string. An empty document is an error. On failure
 * nothing is left to free (bert_yaml_free is still harmless). */
int bert_yaml_load_file(bert_yaml *y, const char *path, bert_error *err);
int bert_yaml_load_string(bert_yaml *y, const char *text, const char *source, bert_error *err);
void bert_yaml_free(bert_yaml *y);

yaml_node_t *bert_yaml_root(bert_yaml *y);
/* Item i of a sequence node (NULL when out of range). */
yaml_node_t *bert_yaml_item(bert_yaml *y, const yaml_node_t *seq, size_t i);
size_t bert_yaml_length(const yaml_node_t *seq);

/* The keys of a mapping node with `<<` merges applied (recursively, depth-limited so a
 * self-referencing alias is an error, not a hang). Keys must be scalars. */
int bert_yaml_mapping(bert_yaml *y, yaml_node_t *mapping, bert_yaml_map *out, bert_error *err);
const bert_yaml_pair *bert_yaml_map_find(const bert_yaml_map *m, const char *key);
void bert_yaml_map_free(bert_yaml_map *m);

/* YAML null: `~`, `null`, `Null`, `NULL` or nothing, unquoted (or tagged !!null). */
int bert_yaml_is_null(const yaml_node_t *node);
/* The text of a scalar node, NULL for other nodes. */
const char *bert_yaml_scalar(const yaml_node_t *node);
/* Whether a scalar was written unquoted (plain), where YAML 1.1 gives `yes`/`on` a meaning. */
int bert_yaml_is_plain(const yaml_node_t *node);
/* 1-based line of a node, for messages. */
int bert_yaml_line(const yaml_node_t *node);

#endif
