#include "model/config.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

void bert_config_defaults(bert_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->vocab_size = 30522;
  cfg->hidden_size = 768;
  cfg->num_hidden_layers = 12;
  cfg->num_attention_heads = 12;
  cfg->intermediate_size = 3072;
  cfg->hidden_act = BERT_GELU_ERF;
  strcpy(cfg->hidden_act_name, "gelu");
  cfg->max_position_embeddings = 512;
  cfg->type_vocab_size = 2;
  cfg->layer_norm_eps = 1e-12f;
  cfg->hidden_dropout_prob = 0.1f;
  cfg->attention_probs_dropout_prob = 0.1f;
  cfg->initializer_range = 0.02f;
  cfg->num_labels = 2;
}

/* The sizes a config may give (bounded before anything is allocated from them). */
static int check_extent(const bert_config *c, bert_error *err) {
  double H = c->hidden_size, I = c->intermediate_size, L = c->num_hidden_layers;
  if (c->num_hidden_layers > BERT_CONFIG_MAX_LAYERS)
    return bert_error_set(err, BERT_EINVAL, "config: num_hidden_layers %d exceeds the limit of %d", c->num_hidden_layers,
                          BERT_CONFIG_MAX_LAYERS);
  struct { const char *name; double elements; } tensors[] = {
      {"vocab_size x hidden_size", c->vocab_size * H},
      {"max_position_embeddings x hidden_size", c->max_position_embeddings * H},
      {"type_vocab_size x hidden_size", c->type_vocab_size * H}, {"intermediate_size x hidden_size", I * H},
      {"hidden_size x hidden_size", H * H}, {"num_labels x hidden_size", c->num_labels * H}};
  for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
    if (tensors[i].elements > BERT_CONFIG_MAX_TENSOR)
      return bert_error_set(err, BERT_EINVAL, "config: a tensor of %s = %.0f elements exceeds the limit of %.0f",
                            tensors[i].name, tensors[i].elements, (double)BERT_CONFIG_MAX_TENSOR);
  /* embeddings and every head, then per layer: fused QKV, output, FFN, biases and LayerNorms */
  double rows = (double)c->vocab_size + c->max_position_embeddings + c->type_vocab_size + c->num_labels + 8;
  double total = rows * H + H * H + c->vocab_size + L * (4 * H * H + 2 * I * H + I + 9 * H);
  if (total > BERT_CONFIG_MAX_PARAMS)
    return bert_error_set(err, BERT_EINVAL, "config: the model would hold %.0f parameters, over the limit of %.0f",
                          total, (double)BERT_CONFIG_MAX_PARAMS);
  return BERT_OK;
}

int bert_config_validate(const bert_config *c, bert_error *err) {
  struct { const char *name; int value; } sizes[] = {
      {"vocab_size", c->vocab_size}, {"hidden_size", c->hidden_size},
      {"num_hidden_layers", c->num_hidden_layers}, {"num_attention_heads", c->num_attention_heads},
      {"intermediate_size", c->intermediate_size}, {"max_position_embeddings", c->max_position_embeddings},
      {"type_vocab_size", c->type_vocab_size}, {"num_labels", c->num_labels}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    if (sizes[i].value <= 0)
      return bert_error_set(err, BERT_EINVAL, "config: %s must be positive, got %d", sizes[i].name, sizes[i].value);
  int rc = check_extent(c, err);
  if (rc) return rc;
  if (c->hidden_size % c->num_attention_heads)
    return bert_error_set(err, BERT_EINVAL, "config: hidden_size %d is not a multiple of num_attention_heads %d",
                          c->hidden_size, c->num_attention_heads);
  if (!(c->hidden_dropout_prob >= 0 && c->hidden_dropout_prob < 1) ||
      !(c->attention_probs_dropout_prob >= 0 && c->attention_probs_dropout_prob < 1))
    return bert_error_set(err, BERT_EINVAL, "config: dropout probabilities must be in [0, 1)");
  if (!(c->layer_norm_eps > 0)) return bert_error_set(err, BERT_EINVAL, "config: layer_norm_eps must be positive");
  if (c->pad_token_id < 0 || c->pad_token_id >= c->vocab_size)
    return bert_error_set(err, BERT_EINVAL, "config: pad_token_id %d outside the vocabulary", c->pad_token_id);
  return BERT_OK;
}

static int read_int(const cJSON *root, const char *key, int *out, const char *source, bert_error *err) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!item || cJSON_IsNull(item)) return BERT_OK;
  double v = item->valuedouble;
  if (!cJSON_IsNumber(item) || v != floor(v) || fabs(v) > 1e9)
    return bert_error_set(err, BERT_EFORMAT, "%s: \"%s\" must be an integer", source, key);
  *out = (int)v;
  return BERT_OK;
}

static int read_float(const cJSON *root, const char *key, float *out, const char *source, bert_error *err) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!item || cJSON_IsNull(item)) return BERT_OK;
  /* beyond FLT_MAX the conversion is undefined (and would write back as "inf", not JSON) */
  if (!cJSON_IsNumber(item) || !(fabs(item->valuedouble) <= FLT_MAX))
    return bert_error_set(err, BERT_EFORMAT, "%s: \"%s\" must be a number of float range", source, key);
  *out = (float)item->valuedouble;
  return BERT_OK;
}

static int read_activation(bert_config *cfg, const cJSON *root, const char *source, bert_error *err) {
  const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
  if (!act) return BERT_OK;
  if (!cJSON_IsString(act)) return bert_error_set(err, BERT_EFORMAT, "%s: \"hidden_act\" must be a string", source);
  const char *name = act->valuestring;
  if (!strcmp(name, "gelu"))
    cfg->hidden_act = BERT_GELU_ERF;
  else if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh"))
    cfg->hidden_act = BERT_GELU_TANH;
  else
    return bert_error_set(err, BERT_EUNSUPPORTED,
                          "%s: hidden_act \"%s\" is not supported (expected gelu, gelu_new or gelu_pytorch_tanh)",
                          source, name);
  snprintf(cfg->hidden_act_name, sizeof cfg->hidden_act_name, "%s", name);
  return BERT_OK;
}

static int read_num_labels(bert_config *cfg, const cJSON *root, const char *source, bert_error *err) {
  const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(root, "id2label");
  if (cJSON_IsObject(id2label)) cfg->num_labels = cJSON_GetArraySize(id2label);
  return read_int(root, "num_labels", &cfg->num_labels, source, err);
}

int bert_config_parse(bert_config *cfg, const char *json_text, const char *source, bert_error *err) {
  bert_config_defaults(cfg);
  cJSON *root = cJSON_Parse(json_text);
  if (!root) return bert_error_set(err, BERT_EFORMAT, "%s: not valid JSON", source);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return bert_error_set(err, BERT_EFORMAT, "%s: expected a JSON object", source);
  }
  int rc = BERT_OK;
  struct { const char *key; int *dst; } ints[] = {
      {"vocab_size", &cfg->vocab_size}, {"hidden_size", &cfg->hidden_size},
      {"num_hidden_layers", &cfg->num_hidden_layers}, {"num_attention_heads", &cfg->num_attention_heads},
      {"intermediate_size", &cfg->intermediate_size}, {"max_position_embeddings", &cfg->max_position_embeddings},
      {"type_vocab_size", &cfg->type_vocab_size}, {"pad_token_id", &cfg->pad_token_id}};
  struct { const char *key; float *dst; } floats[] = {
      {"layer_norm_eps", &cfg->layer_norm_eps}, {"hidden_dropout_prob", &cfg->hidden_dropout_prob},
      {"attention_probs_dropout_prob", &cfg->attention_probs_dropout_prob},
      {"initializer_range", &cfg->initializer_range}};
  for (size_t i = 0; !rc && i < sizeof ints / sizeof ints[0]; i++) rc = read_int(root, ints[i].key, ints[i].dst, source, err);
  for (size_t i = 0; !rc && i < sizeof floats / sizeof floats[0]; i++)
    rc = read_float(root, floats[i].key, floats[i].dst, source, err);
  if (!rc) rc = read_activation(cfg, root, source, err);
  if (!rc) rc = read_num_labels(cfg, root, source, err);
  const cJSON *pet = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
  if (!rc && cJSON_IsString(pet) && strcmp(pet->valuestring, "absolute"))
    rc = bert_error_set(err, BERT_EUNSUPPORTED, "%s: position_embedding_type \"%s\" is not supported (expected absolute)",
                        source, pet->valuestring);
  if (!rc && (rc = bert_config_validate(cfg, err))) bert_error_prefix(err, "%s: ", source);
  if (rc) {
    cJSON_Delete(root);
    return rc;
  }
  cfg->json = root;
  return BERT_OK;
}

int bert_config_load(bert_config *cfg, const char *path, bert_error *err) {
  char *text;
  size_t size;
  int rc = bert_file_read(path, &text, &size, err);
  if (rc) return rc;
  rc = bert_config_parse(cfg, text, path, err);
  free(text);
  return rc;
}

static void set_number(cJSON *root, const char *key, double value) {
  /* float -> shortest decimal that reads back as the same float, as Python's repr does */
  char buf[32];
  float f = (float)value;
  for (int digits = 6; digits <= 9; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
    if ((float)strtod(buf, NULL) == f) break;
  }
  cJSON *item = cJSON_CreateRaw(buf);
  if (value == floor(value) && fabs(value) < 1e9) {
    cJSON_Delete(item);
    item = cJSON_CreateNumber(value);
  }
  if (cJSON_GetObjectItemCaseSensitive(root, key))
    cJSON_ReplaceItemInObjectCaseSensitive(root, key, item);
  else
    cJSON_AddItemToObject(root, key, item);
}

static void set_float(cJSON *root, const char *key, float value) {
  set_number(root, key, value);
  /* keep Python's float spelling for integral floats such as 0.0 */
  cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
  if (value == floorf(value) && !cJSON_IsRaw(item)) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.1f", (double)value);
    cJSON_ReplaceItemInObjectCaseSensitive(root, key, cJSON_CreateRaw(buf));
  }
}

static void set_string(cJSON *root, const char *key, const char *value) {
  if (cJSON_GetObjectItemCaseSensitive(root, key))
    cJSON_ReplaceItemInObjectCaseSensitive(root, key, cJSON_CreateString(value));
  else
    cJSON_AddStringToObject(root, key, value);
}

char *bert_config_to_json(const bert_config *cfg) {
  cJSON *root = cfg->json ? cJSON_Duplicate(cfg->json, 1) : cJSON_CreateObject();
  if (!root) return NULL;
  if (!cfg->json) {
    cJSON *arch = cJSON_CreateArray();
    cJSON_AddItemToArray(arch, cJSON_CreateString("BertForPreTraining"));
    cJSON_AddItemToObject(root, "architectures", arch);
    set_string(root, "model_type", "bert");
    set_string(root, "position_embedding_type", "absolute");
  }
  set_number(root, "vocab_size", cfg->vocab_size);
  set_number(root, "hidden_size", cfg->hidden_size);
  set_number(root, "num_hidden_layers", cfg->num_hidden_layers);
  set_number(root, "num_attention_heads", cfg->num_attention_heads);
  set_number(root, "intermediate_size", cfg->intermediate_size);
  set_string(root, "hidden_act", cfg->hidden_act_name);
  set_number(root, "max_position_embeddings", cfg->max_position_embeddings);
  set_number(root, "type_vocab_size", cfg->type_vocab_size);
  set_number(root, "pad_token_id", cfg->pad_token_id);
  set_float(root, "layer_norm_eps", cfg->layer_norm_eps);
  set_float(root, "hidden_dropout_prob", cfg->hidden_dropout_prob);
  set_float(root, "attention_probs_dropout_prob", cfg->attention_probs_dropout_prob);
  set_float(root, "initializer_range", cfg->initializer_range);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  return text;
}

int bert_config_save(const bert_config *cfg, const char *path, bert_error *err) {
  char *text = bert_config_to_json(cfg);
  if (!text) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory serialising the config", path);
  size_t len = strlen(text);
  text[len] = '\n';
  int rc = bert_file_write_atomic(path, text, len + 1, err);
  free(text);
  return rc;
}

int bert_config_copy(bert_config *dst, const bert_config *src, bert_error *err) {
  *dst = *src;
  if (src->json && !(dst->json = cJSON_Duplicate(src->json, 1)))
    return bert_error_set(err, BERT_ENOMEM, "config: out of memory");
  return BERT_OK;
}

void bert_config_free(bert_config *cfg) {
  cJSON_Delete(cfg->json);
  cfg->json = NULL;
}
