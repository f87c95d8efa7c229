#include "train/run_model.h"

#include "base/log.h"
#include "model/checkpoint.h"

int bert_run_model_config(const bert_run_config *rc, const char *architecture, bert_config *c, bert_error *err) {
  bert_config_defaults(c);
  c->vocab_size = rc->vocab_size, c->hidden_size = rc->hidden_size, c->num_hidden_layers = rc->num_hidden_layers;
  c->num_attention_heads = rc->num_attention_heads, c->intermediate_size = rc->intermediate_size;
  c->layer_norm_eps = (float)rc->layer_norm_eps;
  c->attention_probs_dropout_prob = (float)rc->attention_probs_dropout_prob;
  c->hidden_dropout_prob = (float)rc->hidden_dropout_prob;
  if (!(c->json = bert_run_config_to_json(rc))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  cJSON *arch = cJSON_CreateArray();
  cJSON_AddItemToArray(arch, cJSON_CreateString(architecture));
  cJSON_AddItemToObject(c->json, "architectures", arch);
  cJSON_AddStringToObject(c->json, "model_type", "bert");
  cJSON_AddStringToObject(c->json, "position_embedding_type", "absolute");
  return bert_config_validate(c, err);
}

int bert_run_micro_per_rank(const bert_run_config *rc, const bert_dist *dist, int *per_rank, bert_error *err) {
  int64_t micro_per_update = (int64_t)rc->replication_factor * rc->gradient_accumulation;
  if (micro_per_update % dist->world)
    return bert_error_set(err, BERT_EINVAL,
                          "replication factor %d x gradient accumulation %d = %lld micro-batches per update cannot be "
                          "shared by %d ranks: use a rank count that divides it",
                          rc->replication_factor, rc->gradient_accumulation, (long long)micro_per_update, dist->world);
  *per_rank = (int)(micro_per_update / dist->world);
  return BERT_OK;
}

int bert_run_load_weights(bert_model *m, const char *dir, uint64_t init_seed, int log, bert_error *err) {
  bert_load_report report;
  int rc = bert_checkpoint_load_weights(m, dir, init_seed, &report, err);
  if (rc) return rc;
  if (log) {
    bert_log("Loaded weights from %s", report.weights_path);
    bert_load_report_log(&report);
  }
  bert_load_report_free(&report);
  return BERT_OK;
}
