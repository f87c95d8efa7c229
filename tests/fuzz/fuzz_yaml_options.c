/* YAML configs + command-line options (io/yaml_config, io/options, io/bench_spec): the input is
 * a YAML file, optionally followed by a NUL and NUL-separated command-line arguments. The file is
 * read as `bert pretrain` and `bert squad` read configs/pretraining.yml (--config-file) with those
 * arguments, as `bert bench` reads benchmarks.yml, and walked whole with merge keys applied. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/bench.h"
#include "io/options.h"
#include "io/yaml_config.h"

#define MAX_ARGS 32

/* Visits the document with `<<` merges applied; the budget bounds the work of aliases that
 * repeat a subtree (the walk, not the library, would otherwise be exponential). */
static void walk(bert_yaml *y, yaml_node_t *node, int depth, int *budget) {
  if (!node || depth > 16 || --*budget < 0) return;
  if (node->type == YAML_SEQUENCE_NODE) {
    for (size_t i = 0; i < bert_yaml_length(node); i++) walk(y, bert_yaml_item(y, node, i), depth + 1, budget);
  } else if (node->type == YAML_MAPPING_NODE) {
    bert_yaml_map m = {0};
    bert_error err;
    if (!bert_yaml_mapping(y, node, &m, &err))
      for (size_t i = 0; i < m.count; i++) walk(y, m.items[i].value, depth + 1, budget);
    bert_yaml_map_free(&m);
  } else {
    bert_yaml_is_null(node), bert_yaml_is_plain(node), bert_yaml_line(node);
  }
}

static void options(bert_program program, const char *path, int argc, char **argv) {
  bert_run_config cfg;
  bert_error err;
  argv[0] = (char *)bert_program_name(program);
  fuzz_check(bert_run_config_parse(&cfg, program, argc, argv, path, &err) < 0 ? -1 : 0, &err);
  bert_run_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t yaml_len = nul ? (size_t)(nul - data) : size;
  char *args = fuzz_string(data, size); /* NUL-separated after the YAML text */
  char *argv[MAX_ARGS + 1];
  int argc = 1;
  for (size_t i = yaml_len + 1; nul && i <= size && argc < MAX_ARGS; i += strlen(args + i) + 1) argv[argc++] = args + i;
  argv[argc] = NULL;
  const char *path = fuzz_file(0, data, yaml_len);
  options(BERT_PROGRAM_PRETRAIN, path, argc, argv);
  options(BERT_PROGRAM_SQUAD, path, argc, argv);
  bert_bench_spec spec;
  bert_error err;
  if (!fuzz_check(bert_bench_spec_load(&spec, path, "/nonexistent/datasets", &err), &err)) bert_bench_spec_free(&spec);
  bert_yaml y;
  if (!bert_yaml_load_string(&y, args, "fuzz.yml", &err)) {
    int budget = 4096;
    walk(&y, bert_yaml_root(&y), 0, &budget);
  }
  bert_yaml_free(&y);
  free(args);
  return 0;
}
