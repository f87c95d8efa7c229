/* model/config: the HuggingFace BertConfig (`config.json`) — the sizes and hyper-parameters of a
 * model. Reading keeps the whole JSON object so that keys we do not use survive a save. */
#ifndef BERT_MODEL_CONFIG_H
#define BERT_MODEL_CONFIG_H

#include <cjson/cJSON.h>

#include "base/error.h"
#include "tensor/activation.h"

typedef struct bert_config {
  int vocab_size;
  int hidden_size;
  int num_hidden_layers;
  int num_attention_heads;
  int intermediate_size;
  bert_gelu_kind hidden_act;
  char hidden_act_name[32];   /* as written: gelu, gelu_new, gelu_pytorch_tanh */
  int max_position_embeddings;
  int type_vocab_size;
  float layer_norm_eps;
  float hidden_dropout_prob;
  float attention_probs_dropout_prob;
  float initializer_range;
  int pad_token_id;
  int num_labels;             /* token classification: from id2label / num_labels; 2 by default */
  cJSON *json;                /* the object read (or NULL): unknown keys are kept on save */
} bert_config;

/* HuggingFace BertConfig defaults (bert-base sizes, LayerNorm eps 1e-12). */
void bert_config_defaults(bert_config *cfg);
/* What a config may ask bertc to allocate (docs/reliability.md): parameters of the model with
 * every head, the elements of one tensor (kernels index them with int), encoder layers. */
#define BERT_CONFIG_MAX_PARAMS (1ll << 32)
#define BERT_CONFIG_MAX_TENSOR 2147483647ll
#define BERT_CONFIG_MAX_LAYERS 1024

/* Checks sizes (positive, within the limits above, hidden divisible by heads, probabilities in
 * [0, 1)). */
int bert_config_validate(const bert_config *cfg, bert_error *err);
int bert_config_parse(bert_config *cfg, const char *json_text, const char *source, bert_error *err);
int bert_config_load(bert_config *cfg, const char *path, bert_error *err);
/* Serialises (pretty-printed, keys of the original object kept); caller frees with free(). */
char *bert_config_to_json(const bert_config *cfg);
int bert_config_save(const bert_config *cfg, const char *path, bert_error *err);
/* Deep copy (including the kept JSON object). */
int bert_config_copy(bert_config *dst, const bert_config *src, bert_error *err);
void bert_config_free(bert_config *cfg);

#endif
