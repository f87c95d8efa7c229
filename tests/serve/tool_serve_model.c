/* tool_serve_model CONFIG_JSON OUT_DIR SEED: a QA model of that config with every parameter drawn
 * from SEED (bert_layout_init, as bert serve does for a folder without weights), saved as a
 * HuggingFace folder, so the serving tests can compare the server with `bert infer`. */
#include <stdio.h>
#include <stdlib.h>

#include "model/checkpoint.h"

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: tool_serve_model CONFIG_JSON OUT_DIR SEED\n");
    return 2;
  }
  bert_error err = {0};
  bert_config cfg;
  bert_model m;
  int rc = bert_config_load(&cfg, argv[1], &err);
  if (!rc) rc = bert_model_create(&m, &cfg, BERT_PART_QA, &err);
  if (!rc) {
    bert_layout_init(&m.layout, &m.config, strtoull(argv[3], NULL, 10), BERT_PART_ALL, m.params);
    rc = bert_checkpoint_save(&m, argv[2], NULL, -1, &err);
    bert_model_free(&m);
  }
  if (!rc) bert_config_free(&cfg);
  if (rc) fprintf(stderr, "tool_serve_model: %s\n", err.message);
  return rc ? 1 : 0;
}
