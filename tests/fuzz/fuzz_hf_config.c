/* HuggingFace config.json (model/config): parse any text; an accepted config is laid out as a
 * model with every head (what loading a checkpoint does next, without allocating the weights),
 * written back to JSON, re-read (the result must be accepted again) and deep-copied. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "model/config.h"
#include "model/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_string(data, size);
  bert_config cfg, again, copy;
  bert_error err;
  if (!fuzz_check(bert_config_parse(&cfg, text, "config.json", &err), &err)) {
    bert_layout layout;
    if (!fuzz_check(bert_layout_build(&layout, &cfg, BERT_PART_ALL, &err), &err)) bert_layout_free(&layout);
    char *json = bert_config_to_json(&cfg);
    if (json && bert_config_parse(&again, json, "written config.json", &err))
      fprintf(stderr, "written config refused: %s\n", err.message), abort();
    if (json) bert_config_free(&again);
    free(json);
    if (!bert_config_copy(&copy, &cfg, &err)) bert_config_free(&copy);
    bert_config_free(&cfg);
  }
  free(text);
  return 0;
}
