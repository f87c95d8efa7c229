/* io/options_json: the run configuration as a JSON object — every option under its attribute
 * name plus the derived values, as the reference copies its parsed arguments into config.json. */
#include <stdio.h>

#include "io/options_internal.h"

static cJSON *list_json(const bert_run_config *cfg, const bert_opt_def *d) {
  cJSON *a = cJSON_CreateArray();
  const void *f = opt_cfield(cfg, d);
  if (!a) return NULL;
  int n = d->type == OPT_STRING_LIST ? (int)((const bert_strlist *)f)->count
          : d->type == OPT_INT_LIST  ? ((const bert_run_int_list *)f)->count
                                     : ((const bert_run_float_list *)f)->count;
  for (int i = 0; i < n; i++) {
    cJSON *item = d->type == OPT_STRING_LIST ? cJSON_CreateString(((const bert_strlist *)f)->items[i])
                  : d->type == OPT_INT_LIST  ? cJSON_CreateNumber(((const bert_run_int_list *)f)->v[i])
                                             : cJSON_CreateNumber(((const bert_run_float_list *)f)->v[i]);
    if (!item || !cJSON_AddItemToArray(a, item)) {
      cJSON_Delete(item);
      cJSON_Delete(a);
      return NULL;
    }
  }
  return a;
}

/* {"128": 1.17, ...}; once packing is applied the reference keeps only the factor used. */
static cJSON *dict_json(const bert_run_config *cfg) {
  if (cfg->packed_data && cfg->packing_factor_used > 0) return cJSON_CreateNumber(cfg->packing_factor_used);
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; o && i < cfg->packing_factor.count; i++) {
    char key[16];
    snprintf(key, sizeof key, "%d", cfg->packing_factor.key[i]);
    if (!cJSON_AddNumberToObject(o, key, cfg->packing_factor.value[i])) {
      cJSON_Delete(o);
      return NULL;
    }
  }
  return o;
}

static cJSON *value_json(const bert_run_config *cfg, const bert_opt_def *d) {
  if (!cfg->is_set[d - bert_opt_table]) return cJSON_CreateNull();
  const void *f = opt_cfield(cfg, d);
  switch (d->type) {
    case OPT_INT: return cJSON_CreateNumber(*(const int *)f);
    case OPT_FLOAT:
    case OPT_OPT_FLOAT: return cJSON_CreateNumber(*(const double *)f);
    case OPT_BOOL:
    case OPT_FLAG: return cJSON_CreateBool(*(const bool *)f);
    case OPT_STRING:
    case OPT_CHOICE: return cJSON_CreateString(*(char *const *)f);
    case OPT_INT_LIST:
    case OPT_FLOAT_LIST:
    case OPT_STRING_LIST: return list_json(cfg, d);
    case OPT_DICT: return dict_json(cfg);
  }
  return NULL;
}

cJSON *bert_run_config_to_json(const bert_run_config *cfg) {
  cJSON *o = cJSON_CreateObject();
  for (int id = 0; o && id < BERT_OPT_COUNT; id++) {
    cJSON *v = value_json(cfg, &bert_opt_table[id]);
    if (!v || !cJSON_AddItemToObject(o, bert_opt_table[id].dest, v)) {
      cJSON_Delete(v);
      cJSON_Delete(o);
      return NULL;
    }
  }
  if (o && (!cJSON_AddNumberToObject(o, "global_batch_size", (double)cfg->global_batch_size) ||
            !cJSON_AddNumberToObject(o, "samples_per_step", (double)cfg->samples_per_step))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}
