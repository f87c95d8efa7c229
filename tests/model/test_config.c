/* HuggingFace config.json: every field read, gelu variants, unknown keys kept on save, a saved
 * config reads back equal, and bad configs give errors naming the file and the key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/config.h"
#include "test_util.h"

static const char *full =
    "{\"vocab_size\": 97, \"hidden_size\": 36, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"intermediate_size\": 50, \"hidden_act\": \"gelu_new\", \"max_position_embeddings\": 64,"
    " \"type_vocab_size\": 3, \"layer_norm_eps\": 1e-12, \"hidden_dropout_prob\": 0.1,"
    " \"attention_probs_dropout_prob\": 0.15, \"initializer_range\": 0.02, \"pad_token_id\": 1,"
    " \"id2label\": {\"0\": \"O\", \"1\": \"B\", \"2\": \"I\"}, \"my_extra_key\": [1, 2, {\"x\": \"y\"}]}";

static void expect_error(const char *json, int code, const char *needle) {
  bert_config cfg;
  bert_error err = {0};
  int rc = bert_config_parse(&cfg, json, "cfg.json", &err);
  CHECK_MSG(rc == code, "%s -> %d (%s)", json, rc, err.message);
  CHECK_MSG(strstr(err.message, "cfg.json") && strstr(err.message, needle), "message '%s' lacks '%s'", err.message,
            needle);
  if (!rc) bert_config_free(&cfg);
}

int main(void) {
  bert_config cfg, back;
  bert_error err = {0};
  CHECK(bert_config_parse(&cfg, full, "cfg.json", &err) == 0);
  CHECK(cfg.vocab_size == 97 && cfg.hidden_size == 36 && cfg.num_hidden_layers == 2 && cfg.num_attention_heads == 4);
  CHECK(cfg.intermediate_size == 50 && cfg.max_position_embeddings == 64 && cfg.type_vocab_size == 3);
  CHECK(cfg.hidden_act == BERT_GELU_TANH && !strcmp(cfg.hidden_act_name, "gelu_new"));
  CHECK(cfg.layer_norm_eps == 1e-12f && cfg.hidden_dropout_prob == 0.1f && cfg.attention_probs_dropout_prob == 0.15f);
  CHECK(cfg.initializer_range == 0.02f && cfg.pad_token_id == 1 && cfg.num_labels == 3);

  const char *path = "build-test-config.json";
  char full_path[512];
  snprintf(full_path, sizeof full_path, "%s/%s", test_tmpdir("config"), path);
  cfg.hidden_size = 40, cfg.num_attention_heads = 5; /* changed fields are written, extras kept */
  CHECK(bert_config_save(&cfg, full_path, &err) == 0);
  CHECK(bert_config_load(&back, full_path, &err) == 0);
  CHECK(back.hidden_size == 40 && back.num_attention_heads == 5 && back.vocab_size == 97);
  CHECK(back.layer_norm_eps == cfg.layer_norm_eps && back.hidden_dropout_prob == cfg.hidden_dropout_prob);
  CHECK(back.hidden_act == BERT_GELU_TANH && back.num_labels == 3);
  const cJSON *extra = cJSON_GetObjectItemCaseSensitive(back.json, "my_extra_key");
  CHECK(cJSON_IsArray(extra) && cJSON_GetArraySize(extra) == 3);
  char *text = bert_config_to_json(&back);
  CHECK(text && strstr(text, "\"layer_norm_eps\":\t1e-12") && strstr(text, "\"hidden_dropout_prob\":\t0.1"));
  free(text);
  bert_config_free(&back);
  bert_config_free(&cfg);

  bert_config plain;
  CHECK(bert_config_parse(&plain, "{\"hidden_act\": \"gelu_pytorch_tanh\"}", "cfg.json", &err) == 0);
  CHECK(plain.hidden_act == BERT_GELU_TANH && plain.hidden_size == 768 && plain.layer_norm_eps == 1e-12f);
  bert_config_free(&plain);

  expect_error("{\"hidden_size\": 30, \"num_attention_heads\": 4}", BERT_EINVAL, "num_attention_heads");
  expect_error("{\"hidden_act\": \"relu\"}", BERT_EUNSUPPORTED, "relu");
  expect_error("{\"hidden_size\": \"big\"}", BERT_EFORMAT, "hidden_size");
  expect_error("{\"hidden_size\": 76.5}", BERT_EFORMAT, "hidden_size");
  expect_error("{\"vocab_size\": -3}", BERT_EINVAL, "vocab_size");
  expect_error("{\"hidden_dropout_prob\": 1.5}", BERT_EINVAL, "dropout");
  expect_error("{\"position_embedding_type\": \"relative_key\"}", BERT_EUNSUPPORTED, "relative_key");
  expect_error("[1, 2]", BERT_EFORMAT, "object");
  expect_error("{\"vocab_size\": 3", BERT_EFORMAT, "JSON");
  CHECK(bert_config_load(&cfg, "no/such/config.json", &err) == BERT_EIO && strstr(err.message, "no/such/config.json"));
  return test_summary("config");
}
