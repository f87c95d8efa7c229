/* tool_bert_case DIR: the C side of tests/reference/test_model_vs_torch.py. Reads DIR/config.json,
 * DIR/model.safetensors and DIR/inputs.json (the batch, the task, the precision), runs the model
 * forward (and backward of the loss) and writes DIR/outputs.safetensors with "out.<name>" for
 * every output and "grad.<parameter>" for every parameter gradient. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/model.h"

typedef struct case_spec {
  bert_task task;
  int parts;
  bert_precision precision;
  int backward;
  bert_batch batch;
  int32_t *arrays[16];
  int narrays;
} case_spec;

static int fail(const char *what, const bert_error *err) {
  fprintf(stderr, "tool_bert_case: %s: %s\n", what, err ? err->message : "");
  return 1;
}

/* A nested JSON list of integers (or floats, as_float) flattened row-major; dims[0..1] receive
 * the outer sizes. Returns NULL when the key is absent. */
static void *flat_array(case_spec *c, const cJSON *root, const char *key, int as_float, int dims[2]) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!v) return NULL;
  int rows = cJSON_IsArray(cJSON_GetArrayItem(v, 0)) ? cJSON_GetArraySize(v) : 1;
  int cols = rows == 1 && !cJSON_IsArray(cJSON_GetArrayItem(v, 0)) ? cJSON_GetArraySize(v)
                                                                   : cJSON_GetArraySize(cJSON_GetArrayItem(v, 0));
  int32_t *out = malloc(sizeof(int32_t) * (size_t)(rows * cols > 0 ? rows * cols : 1));
  c->arrays[c->narrays++] = out;
  int i = 0;
  const cJSON *row, *x;
  if (cJSON_IsArray(cJSON_GetArrayItem(v, 0))) {
    cJSON_ArrayForEach(row, v) cJSON_ArrayForEach(x, row) {
      if (as_float) ((float *)out)[i++] = (float)x->valuedouble;
      else out[i++] = (int32_t)x->valuedouble;
    }
  } else {
    cJSON_ArrayForEach(x, v) {
      if (as_float) ((float *)out)[i++] = (float)x->valuedouble;
      else out[i++] = (int32_t)x->valuedouble;
    }
  }
  if (dims) dims[0] = rows, dims[1] = cols;
  return out;
}

static int parse_spec(case_spec *c, const char *path, bert_error *err) {
  char *text;
  size_t size;
  int rc = bert_file_read(path, &text, &size, err);
  if (rc) return rc;
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!root) return bert_error_set(err, BERT_EFORMAT, "%s: not JSON", path);
  const char *task = cJSON_GetStringValue(cJSON_GetObjectItem(root, "task"));
  static const struct { const char *name; bert_task task; int parts; } tasks[] = {
      {"base", BERT_TASK_BASE, BERT_PART_POOLER},
      {"pretraining", BERT_TASK_PRETRAINING, BERT_PARTS_PRETRAINING},
      {"pretraining_packed", BERT_TASK_PRETRAINING_PACKED, BERT_PARTS_PRETRAINING},
      {"qa", BERT_TASK_QA, BERT_PART_QA},
      {"token_classification", BERT_TASK_TOKEN_CLASSIFICATION, BERT_PART_CLASSIFIER}};
  c->task = (bert_task)-1;
  for (size_t i = 0; task && i < sizeof tasks / sizeof tasks[0]; i++)
    if (!strcmp(task, tasks[i].name)) c->task = tasks[i].task, c->parts = tasks[i].parts;
  if ((int)c->task < 0) {
    cJSON_Delete(root);
    return bert_error_set(err, BERT_EINVAL, "%s: unknown task", path);
  }
  const char *prec = cJSON_GetStringValue(cJSON_GetObjectItem(root, "precision"));
  c->precision = BERT_FP32;
  if (prec && bert_precision_parse(prec, &c->precision))
    return bert_error_set(err, BERT_EINVAL, "%s: precision \"%s\": expected fp32, bf16 or int8", path, prec);
  c->backward = cJSON_IsTrue(cJSON_GetObjectItem(root, "backward"));
  bert_batch *b = &c->batch;
  int dims[2];
  b->input_ids = flat_array(c, root, "input_ids", 0, dims);
  b->batch = dims[0], b->len = dims[1];
  b->token_type_ids = flat_array(c, root, "token_type_ids", 0, NULL);
  b->attention_mask = flat_array(c, root, "attention_mask", 0, NULL);
  b->position_ids = flat_array(c, root, "position_ids", 0, NULL);
  b->seq_index = flat_array(c, root, "seq_index", 0, NULL);
  if ((b->masked_positions = flat_array(c, root, "masked_positions", 0, dims))) b->masked = dims[1];
  b->masked_labels = flat_array(c, root, "masked_labels", 0, NULL);
  if ((b->nsp_labels = flat_array(c, root, "nsp_labels", 0, dims))) b->slots = dims[1];
  b->nsp_mask = flat_array(c, root, "nsp_mask", 1, NULL);
  b->start_positions = flat_array(c, root, "start_positions", 0, NULL);
  b->end_positions = flat_array(c, root, "end_positions", 0, NULL);
  cJSON_Delete(root);
  return BERT_OK;
}

typedef struct out_list {
  bert_st_entry e[600];
  char names[600][128];
  int n;
} out_list;

static void add_out(out_list *o, const char *prefix, const char *name, const float *data, int64_t rows,
                    int64_t cols) {
  bert_st_entry *e = &o->e[o->n];
  snprintf(o->names[o->n], sizeof o->names[0], "%s%s", prefix, name);
  memset(e, 0, sizeof *e);
  e->name = o->names[o->n];
  e->dtype = BERT_ST_F32;
  e->ndim = cols ? 2 : 1;
  e->shape[0] = rows, e->shape[1] = cols;
  e->data = data;
  o->n++;
}

static void collect_outputs(const bert_model *m, const bert_workspace *ws, const bert_batch *b, out_list *o,
                            float *losses, float *mlm_copy) {
  int64_t N = (int64_t)b->batch * b->len, H = m->config.hidden_size;
  add_out(o, "out.", "sequence_output", ws->sequence_output, N, H);
  switch (ws->task) {
    case BERT_TASK_BASE:
      if (m->layout.parts & BERT_PART_POOLER) add_out(o, "out.", "pooled", ws->pooled, b->batch, H);
      break;
    case BERT_TASK_PRETRAINING:
    case BERT_TASK_PRETRAINING_PACKED: {
      int64_t rows = (int64_t)b->batch * b->masked, V = m->config.vocab_size;
      memcpy(mlm_copy, ws->mlm_logits, (size_t)(rows * V) * sizeof(float));
      add_out(o, "out.", "pooled", ws->pooled, (int64_t)b->batch * b->slots, H);
      add_out(o, "out.", "nsp_logits", ws->nsp_logits, (int64_t)b->batch * b->slots, 2);
      add_out(o, "out.", "mlm_logits", mlm_copy, rows, V);
      const bert_outputs *r = &ws->out;
      float l[6] = {r->loss, r->mlm_loss, r->nsp_loss, r->mlm_acc, r->nsp_acc, r->packing_ratio};
      memcpy(losses, l, sizeof l);
      add_out(o, "out.", "losses", losses, 6, 0);
      break;
    }
    case BERT_TASK_QA:
      add_out(o, "out.", "start_logits", ws->start_logits, N, 0);
      add_out(o, "out.", "end_logits", ws->end_logits, N, 0);
      losses[0] = ws->out.loss;
      if (b->start_positions) add_out(o, "out.", "losses", losses, 1, 0);
      break;
    case BERT_TASK_TOKEN_CLASSIFICATION:
      add_out(o, "out.", "token_logits", ws->token_logits, N, m->config.num_labels);
      break;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tool_bert_case DIR\n");
    return 2;
  }
  char path[4200];
  bert_error err = {0};
  case_spec c;
  memset(&c, 0, sizeof c);
  snprintf(path, sizeof path, "%s/inputs.json", argv[1]);
  if (parse_spec(&c, path, &err)) return fail("inputs", &err);
  bert_model m;
  bert_load_report report;
  memset(&report, 0, sizeof report);
  if (bert_checkpoint_load(&m, argv[1], c.parts, 0, 1, &report, &err)) return fail("load", &err);
  if (report.missing_count || report.unused_count) {
    bert_load_report_log(&report);
    return fail("load", NULL);
  }
  bert_load_report_free(&report);
  if (bert_model_set_precision(&m, c.precision, &err)) return fail("precision", &err);
  bert_workspace ws;
  const bert_batch *b = &c.batch;
  if (bert_workspace_create(&ws, &m, c.task, b->batch, b->len, b->masked, b->slots, c.backward, &err))
    return fail("workspace", &err);
  if (c.backward && bert_model_enable_grads(&m, &err)) return fail("grads", &err);
  if (bert_model_forward(&m, &ws, b, 0, bert_rng_make(1, BERT_RNG_DROPOUT, 0, 0), &err)) return fail("forward", &err);
  static out_list outs;
  float losses[6] = {0};
  float *mlm_copy = malloc(sizeof(float) * (size_t)(b->batch * (b->masked ? b->masked : 1)) * m.config.vocab_size);
  collect_outputs(&m, &ws, b, &outs, losses, mlm_copy);
  float qmax = (float)bert_gemm_int8_activation_max(m.gemm); /* the test's int8 reference needs it */
  add_out(&outs, "info.", "int8_qmax", &qmax, 1, 0);
  if (c.backward) {
    if (bert_model_backward(&m, &ws, b, 1.0f, &err)) return fail("backward", &err);
    for (int i = 0; i < m.layout.count; i++) {
      const bert_param *p = &m.layout.params[i];
      add_out(&outs, "grad.", p->name, m.grads + p->offset, p->shape[0], p->ndim == 2 ? p->shape[1] : 0);
    }
  }
  snprintf(path, sizeof path, "%s/outputs.safetensors", argv[1]);
  if (bert_safetensors_write(path, outs.e, outs.n, NULL, 0, &err)) return fail("write", &err);
  free(mlm_copy);
  for (int i = 0; i < c.narrays; i++) free(c.arrays[i]);
  bert_workspace_free(&ws);
  bert_model_free(&m);
  return 0;
}
