/* config.pbtxt (serve/pbtxt, serve/model_config): the input is a model's config.pbtxt in folder
 * "bert" and in folder "bert-qa-text". The generic text-format tree is walked; an accepted config
 * is written in Triton's JSON form and read back as a client reads it (which must succeed), and
 * its lookups are exercised. The input is also read as that JSON form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve/model_config.h"
#include "serve/pbtxt.h"

/* The shipped models' folders: a written name must equal the folder's. */
static const char *const kFolders[2] = {"bert", "bert-qa-text"};

static int walk(const bert_pbtxt_node *n) {
  int total = 1;
  for (int i = 0; i < n->count; i++) total += walk(&n->children[i]);
  return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_string(data, size);
  bert_error err;
  bert_pbtxt_node root;
  if (!bert_pbtxt_parse(text, size, "config.pbtxt", &root, &err)) {
    walk(&root);
    bert_pbtxt_get(&root, "input", bert_pbtxt_count(&root, "input") - 1);
    bert_pbtxt_free(&root);
  }
  bert_serve_model_config cfg, back;
  for (int folder = 0; folder < 2; folder++) {
    if (fuzz_check(bert_serve_model_config_parse(&cfg, text, size, "config.pbtxt", kFolders[folder], &err), &err))
      continue;
    char *json = bert_serve_model_config_json(&cfg);
    if (json && bert_serve_model_config_from_json(&back, json, strlen(json), &err))
      fprintf(stderr, "JSON form refused: %s\n%s\n", err.message, json), abort();
    if (json) bert_serve_model_config_free(&back);
    free(json);
    bert_serve_model_config_param(&cfg, "precision");
    if (cfg.n_inputs) bert_serve_model_config_input(&cfg, cfg.inputs[0].name);
    bert_serve_model_config_output(&cfg, "output_0");
    bert_serve_model_config_free(&cfg);
  }
  /* the client side reads the JSON form of any server */
  if (!bert_serve_model_config_from_json(&back, text, size, &err)) bert_serve_model_config_free(&back);
  free(text);
  return 0;
}
