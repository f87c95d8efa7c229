/* The "bertc" backend: one bert_model shared by the instances, a workspace per instance, rows of
 * a dynamic batch packed (or padded) into one forward pass. */
#include "serve/bert_backend.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "model/checkpoint.h"
#include "serve/row_pack.h"
#include "serve/stats.h"
#include "tensor/softmax.h"
#include "train/half.h"

/* Packed rows are rounded up to this many tokens: fewer distinct shapes means oneDNN primitives
 * are reused instead of created per batch. */
#define QA_LEN_QUANTUM 16

typedef struct qa_model {
  bert_model model;               /* the one copy of the weights */
  const bert_serve_model_config *cfg;
  int in_ids, in_mask, in_types;  /* config input index of each role, -1 when absent */
  int out_start, out_end;         /* config output index, -1 when absent */
  int max_len;                    /* tokens per computed row */
  int max_rows;                   /* sequences per execution */
  int packing;
} qa_model;

typedef struct qa_row {
  bert_serve_request *req;
  int row, len;                   /* row of the request, its sequence length */
} qa_row;

typedef struct qa_instance {
  const qa_model *qm;
  bert_model view;                /* qm->model's parameters with this instance's own GEMM context */
  bert_workspace ws;
  int32_t *ids, *types, *pos, *seq, *mask;  /* [max_rows, max_len] */
  qa_row *rows;
  int *real, *bin, *offset, *scratch;       /* per row; scratch 2 x max_rows */
} qa_instance;

/* ---- loading ---- */

int bert_serve_bert_load(bert_model *m, const char *dir, uint64_t seed, int *random_init, bert_error *err) {
  char path[4200];
  int has_weights = 0;
  static const char *const files[] = {"model.safetensors", "pytorch_model.bin"};
  for (int i = 0; i < 2; i++)
    if (!bert_path_join(path, sizeof path, dir, files[i]) && bert_path_exists(path)) has_weights = 1;
  if (random_init) *random_init = !has_weights;
  if (has_weights) {
    bert_load_report report;
    memset(&report, 0, sizeof report);
    int rc = bert_checkpoint_load(m, dir, BERT_PART_QA, 0, seed, &report, err);
    if (!rc && report.parts_initialised)
      bert_warn("%s has no question-answering head: it is initialised from seed %llu", dir, (unsigned long long)seed);
    bert_load_report_free(&report);
    return rc;
  }
  bert_config cfg;
  int rc = bert_path_join(path, sizeof path, dir, "config.json");
  if (rc) return bert_error_set(err, BERT_EINVAL, "%s: path too long", dir);
  if ((rc = bert_config_load(&cfg, path, err))) return rc;
  rc = bert_model_create(m, &cfg, BERT_PART_QA, err);
  bert_config_free(&cfg);
  if (rc) return rc;
  bert_layout_init(&m->layout, &m->config, seed, BERT_PART_ALL, m->params);
  return BERT_OK;
}

/* The config input / output playing `role`: by HF name when the config uses HF names, else by
 * position (the reference's input_0..2 / output_0..1). */
static int find_role(const bert_serve_io *ios, int n, int by_name, const char *name, int position) {
  for (int i = 0; by_name && i < n; i++)
    if (!strcmp(ios[i].name, name)) return i;
  return !by_name && position < n ? position : -1;
}

static int uses_names(const bert_serve_io *ios, int n, const char *const *names, int count) {
  for (int i = 0; i < n; i++)
    for (int k = 0; k < count; k++)
      if (!strcmp(ios[i].name, names[k])) return 1;
  return 0;
}

int bert_serve_bert_roles(const bert_serve_model_config *cfg, int in_role[3], int out_role[2], bert_error *err) {
  static const char *const in_names[] = {"input_ids", "attention_mask", "token_type_ids"};
  static const char *const out_names[] = {"start_logits", "end_logits"};
  if (cfg->n_inputs > 3 || cfg->n_outputs > 2)
    return bert_error_set(err, BERT_EINVAL, "model '%s': the bertc backend takes at most 3 inputs (ids, mask, token types) "
                          "and 2 outputs (start and end logits)", cfg->name);
  int by_name = uses_names(cfg->inputs, cfg->n_inputs, in_names, 3), found = 0;
  for (int k = 0; k < 3; k++) found += (in_role[k] = find_role(cfg->inputs, cfg->n_inputs, by_name, in_names[k], k)) >= 0;
  if (in_role[0] < 0 || found != cfg->n_inputs)
    return bert_error_set(err, BERT_EINVAL, "model '%s': inputs must be input_ids [, attention_mask, token_type_ids] "
                          "or positional (ids, mask, token types)", cfg->name);
  if (cfg->inputs[in_role[0]].optional)
    return bert_error_set(err, BERT_EINVAL, "model '%s': the token ids (%s) cannot be optional", cfg->name,
                          cfg->inputs[in_role[0]].name);
  by_name = uses_names(cfg->outputs, cfg->n_outputs, out_names, 2), found = 0;
  for (int k = 0; k < 2; k++) found += (out_role[k] = find_role(cfg->outputs, cfg->n_outputs, by_name, out_names[k], k)) >= 0;
  if (found != cfg->n_outputs)
    return bert_error_set(err, BERT_EINVAL, "model '%s': outputs must be start_logits / end_logits or positional", cfg->name);
  return BERT_OK;
}

static int assign_roles(qa_model *q, const bert_serve_model_config *cfg, bert_error *err) {
  int in[3], out[2];
  int rc = bert_serve_bert_roles(cfg, in, out, err);
  q->in_ids = in[0], q->in_mask = in[1], q->in_types = in[2];
  q->out_start = out[0], q->out_end = out[1];
  return rc;
}

/* Every input INT32/INT64 and every output FP32/FP16, all with the same one sequence dim. */
static int check_tensors(const bert_serve_model_config *cfg, bert_error *err) {
  int64_t len = cfg->inputs[0].dims[0];
  for (int i = 0; i < cfg->n_inputs + cfg->n_outputs; i++) {
    int is_in = i < cfg->n_inputs;
    const bert_serve_io *io = is_in ? &cfg->inputs[i] : &cfg->outputs[i - cfg->n_inputs];
    int ok_type = is_in ? io->dtype == BERT_SERVE_INT32 || io->dtype == BERT_SERVE_INT64
                        : io->dtype == BERT_SERVE_FP32 || io->dtype == BERT_SERVE_FP16;
    if (!ok_type)
      return bert_error_set(err, BERT_EINVAL, "model '%s': %s is %s; the bertc backend takes %s", cfg->name, io->name,
                            bert_serve_dtype_config_name(io->dtype), is_in ? "TYPE_INT32 or TYPE_INT64" : "TYPE_FP32 or TYPE_FP16");
    if (io->ndim != 1 || io->dims[0] != len)
      return bert_error_set(err, BERT_EINVAL, "model '%s': %s must have dims [%lld] like %s (one sequence dimension)",
                            cfg->name, io->name, (long long)len, cfg->inputs[0].name);
  }
  return BERT_OK;
}

static int parse_options(qa_model *q, const bert_serve_model_config *cfg, uint64_t *seed, bert_precision *precision,
                         bert_error *err) {
  const char *v = bert_serve_model_config_param(cfg, "packing");
  q->packing = !v || !strcmp(v, "true") || !strcmp(v, "1");
  if (v && !q->packing && strcmp(v, "false") && strcmp(v, "0"))
    return bert_error_set(err, BERT_EINVAL, "model '%s': parameter packing is \"%s\", expected \"true\" or \"false\"", cfg->name, v);
  v = bert_serve_model_config_param(cfg, "precision");
  *precision = BERT_FP32;
  if (v && bert_precision_parse(v, precision))
    return bert_error_set(err, BERT_EINVAL, "model '%s': parameter precision is \"%s\", expected \"fp32\", \"bf16\" or \"int8\"",
                          cfg->name, v);
  v = bert_serve_model_config_param(cfg, "random_seed");
  char *end = NULL;
  *seed = v ? strtoull(v, &end, 10) : BERT_SERVE_DEFAULT_SEED;
  if (v && (!*v || *end))
    return bert_error_set(err, BERT_EINVAL, "model '%s': parameter random_seed is \"%s\", expected an integer", cfg->name, v);
  return BERT_OK;
}

static void qa_unload(void *model) {
  qa_model *q = model;
  if (!q) return;
  bert_model_free(&q->model);
  free(q);
}

static int qa_load(const bert_serve_model_config *cfg, const char *version_dir, void **out, bert_error *err) {
  qa_model *q = calloc(1, sizeof *q);
  if (!q) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  q->cfg = cfg;
  uint64_t seed = BERT_SERVE_DEFAULT_SEED;
  bert_precision precision = BERT_FP32;
  int random_init = 0;
  int rc = assign_roles(q, cfg, err);
  if (!rc) rc = check_tensors(cfg, err);
  if (!rc) rc = parse_options(q, cfg, &seed, &precision, err);
  if (!rc) rc = bert_serve_bert_load(&q->model, version_dir, seed, &random_init, err);
  /* before the instances' views copy the model: they share the packed weights */
  if (!rc) rc = bert_model_prepare_inference(&q->model, precision, (int64_t)(cfg->max_batch_size > 0 ? cfg->max_batch_size : 1) * 128, err);
  if (rc) {
    qa_unload(q);
    return rc;
  }
  int64_t fixed = cfg->inputs[0].dims[0], positions = q->model.config.max_position_embeddings;
  if (fixed > positions) {
    rc = bert_error_set(err, BERT_EINVAL, "model '%s': dims [%lld] exceed the checkpoint's %lld positions", cfg->name,
                        (long long)fixed, (long long)positions);
    qa_unload(q);
    return rc;
  }
  q->max_len = fixed > 0 ? (int)fixed : (int)positions;
  q->max_rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
  if (random_init)
    bert_log("%s: no weights: parameters drawn from random_seed %llu (a random model, as the reference serves)",
             version_dir, (unsigned long long)seed);
  *out = q;
  return BERT_OK;
}

/* ---- instances ---- */

int bert_serve_bert_view(bert_model *view, const bert_model *shared, bert_error *err) {
  *view = *shared; /* a shallow copy: the parameters stay the shared model's */
  view->gemm = NULL;
  return bert_gemm_ctx_create(&view->gemm, err);
}

void bert_serve_bert_view_free(bert_model *view) {
  bert_gemm_ctx_destroy(view->gemm);
  view->gemm = NULL;
}

static void qa_instance_free(void *instance) {
  qa_instance *in = instance;
  if (!in) return;
  bert_workspace_free(&in->ws);
  bert_serve_bert_view_free(&in->view);
  free(in->ids), free(in->types), free(in->pos), free(in->seq), free(in->mask);
  free(in->rows), free(in->real), free(in->bin), free(in->offset), free(in->scratch);
  free(in);
}

/* One small forward pass, so that oneDNN's one-time set-up is not paid by the first client. */
static int warm_up(qa_instance *in, bert_error *err) {
  bert_batch b;
  memset(&b, 0, sizeof b);
  b.batch = 1, b.len = in->qm->max_len < QA_LEN_QUANTUM ? in->qm->max_len : QA_LEN_QUANTUM;
  memset(in->ids, 0, (size_t)b.len * sizeof(int32_t));
  b.input_ids = in->ids;
  return bert_model_forward(&in->view, &in->ws, &b, 0, bert_rng_make(0, BERT_RNG_DROPOUT, 0, 0), err);
}

static int qa_instance_create(void *model, void **out, bert_error *err) {
  const qa_model *q = model;
  qa_instance *in = calloc(1, sizeof *in);
  if (!in) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  in->qm = q;
  int rc = bert_serve_bert_view(&in->view, &q->model, err);
  if (!rc) rc = bert_workspace_create(&in->ws, &in->view, BERT_TASK_QA, q->max_rows, q->max_len, 0, 1, 0, err);
  size_t cells = (size_t)q->max_rows * (size_t)q->max_len, rows = (size_t)q->max_rows;
  if (!rc) {
    in->ids = malloc(cells * sizeof(int32_t)), in->types = malloc(cells * sizeof(int32_t));
    in->pos = malloc(cells * sizeof(int32_t)), in->seq = malloc(cells * sizeof(int32_t));
    in->mask = malloc(cells * sizeof(int32_t));
    in->rows = malloc(rows * sizeof *in->rows), in->real = malloc(rows * sizeof(int));
    in->bin = malloc(rows * sizeof(int)), in->offset = malloc(rows * sizeof(int));
    in->scratch = malloc(2 * rows * sizeof(int));
    if (!in->ids || !in->types || !in->pos || !in->seq || !in->mask || !in->rows || !in->real || !in->bin ||
        !in->offset || !in->scratch)
      rc = bert_error_set(err, BERT_ENOMEM, "model '%s': out of memory for an instance", q->cfg->name);
  }
  if (!rc) rc = warm_up(in, err);
  if (rc) {
    qa_instance_free(in);
    return rc;
  }
  *out = in;
  return BERT_OK;
}

/* ---- validation (HTTP thread) ---- */

static int check_values(const bert_serve_tensor *t, int64_t lo, int64_t hi, const char *what, bert_error *err) {
  int64_t n = bert_serve_shape_elements(t->shape, t->ndim, INT64_MAX), L = t->shape[t->ndim - 1];
  for (int64_t i = 0; i < n; i++) {
    int64_t v = bert_serve_tensor_int(t, i);
    if (v < lo || v >= hi) {
      if (t->ndim == 1)
        return bert_error_set(err, BERT_ERANGE, "input '%s': element [%lld] = %lld is outside %s [%lld, %lld)", t->name,
                              (long long)i, (long long)v, what, (long long)lo, (long long)hi);
      return bert_error_set(err, BERT_ERANGE, "input '%s': element [%lld][%lld] = %lld is outside %s [%lld, %lld)", t->name,
                            (long long)(i / L), (long long)(i % L), (long long)v, what, (long long)lo, (long long)hi);
    }
  }
  return BERT_OK;
}

static int qa_validate(void *model, const bert_serve_request *req, bert_error *err) {
  const qa_model *q = model;
  const bert_config *c = &q->model.config;
  const bert_serve_tensor *ids = &req->inputs[q->in_ids];
  int64_t L = ids->shape[ids->ndim - 1];
  if (L < 1 || L > q->max_len)
    return bert_error_set(err, BERT_ERANGE, "input '%s': sequence length %lld is outside [1, %d]", ids->name, (long long)L,
                          q->max_len);
  const int roles[3] = {q->in_ids, q->in_mask, q->in_types};
  const int64_t hi[3] = {c->vocab_size, 2, c->type_vocab_size};
  static const char *const what[3] = {"the vocabulary", "the mask values", "the token types"};
  for (int k = 0; k < 3; k++) {
    if (roles[k] < 0 || !req->inputs[roles[k]].dtype) continue;
    const bert_serve_tensor *t = &req->inputs[roles[k]];
    if (t->shape[t->ndim - 1] != L)
      return bert_error_set(err, BERT_EMISMATCH, "input '%s' has sequence length %lld, input '%s' %lld", t->name,
                            (long long)t->shape[t->ndim - 1], ids->name, (long long)L);
    int rc = check_values(t, 0, hi[k], what[k], err);
    if (rc) return rc;
  }
  return BERT_OK;
}

/* ---- execution ---- */

static const bert_serve_tensor *role(const bert_serve_request *r, int index) {
  return index >= 0 && r->inputs[index].dtype ? &r->inputs[index] : NULL;
}

/* Element j of row `row` of an optional input; `absent` when the input was not given. */
static int32_t cell(const bert_serve_tensor *t, int row, int len, int j, int32_t absent) {
  return t ? (int32_t)bert_serve_tensor_int(t, (int64_t)row * len + j) : absent;
}

/* Lists the sequences of the batch with their real (mask 1) token counts. */
static int collect_rows(qa_instance *in, bert_serve_request **reqs, int n) {
  const qa_model *q = in->qm;
  int rows = 0;
  for (int r = 0; r < n; r++) {
    const bert_serve_tensor *ids = &reqs[r]->inputs[q->in_ids], *mask = role(reqs[r], q->in_mask);
    int len = (int)ids->shape[ids->ndim - 1];
    for (int i = 0; i < reqs[r]->batch && rows < q->max_rows; i++, rows++) {
      in->rows[rows] = (qa_row){reqs[r], i, len};
      int real = 0;
      for (int j = 0; j < len; j++) real += cell(mask, i, len, j, 1) != 0;
      in->real[rows] = real;
    }
  }
  return rows;
}

/* Packed layout: real tokens of row k at bin[k], from offset[k], with their original positions;
 * the rest of a bin is padding in a sequence of its own (-1). */
static void layout_packed(qa_instance *in, int rows, int bins, int L) {
  const qa_model *q = in->qm;
  size_t cells = (size_t)bins * (size_t)L;
  memset(in->ids, 0, cells * sizeof(int32_t)), memset(in->types, 0, cells * sizeof(int32_t));
  memset(in->pos, 0, cells * sizeof(int32_t));
  for (size_t i = 0; i < cells; i++) in->seq[i] = -1;
  int *slot_of_bin = in->scratch; /* free again once the rows are packed */
  memset(slot_of_bin, 0, (size_t)bins * sizeof(int));
  for (int k = 0; k < rows; k++) {
    const qa_row *row = &in->rows[k];
    const bert_serve_tensor *ids = &row->req->inputs[q->in_ids];
    const bert_serve_tensor *mask = role(row->req, q->in_mask), *types = role(row->req, q->in_types);
    size_t at = (size_t)in->bin[k] * L + (size_t)in->offset[k];
    int slot = slot_of_bin[in->bin[k]]++;
    for (int j = 0; j < row->len; j++) {
      if (!cell(mask, row->row, row->len, j, 1)) continue;
      in->ids[at] = cell(ids, row->row, row->len, j, 0);
      in->types[at] = cell(types, row->row, row->len, j, 0);
      in->pos[at] = j;
      in->seq[at++] = slot;
    }
  }
}

/* Padded layout: one row per sequence, padded to the batch's longest with mask 0. */
static void layout_padded(qa_instance *in, int rows, int L) {
  const qa_model *q = in->qm;
  for (int k = 0; k < rows; k++) {
    const qa_row *row = &in->rows[k];
    const bert_serve_tensor *ids = &row->req->inputs[q->in_ids];
    const bert_serve_tensor *mask = role(row->req, q->in_mask), *types = role(row->req, q->in_types);
    int32_t *d_ids = in->ids + (size_t)k * L, *d_types = in->types + (size_t)k * L, *d_mask = in->mask + (size_t)k * L;
    for (int j = 0; j < L; j++) {
      int inside = j < row->len;
      d_ids[j] = inside ? cell(ids, row->row, row->len, j, 0) : 0;
      d_types[j] = inside ? cell(types, row->row, row->len, j, 0) : 0;
      d_mask[j] = inside ? cell(mask, row->row, row->len, j, 1) != 0 : 0;
    }
  }
}

static int round_len(int fill, int max_len) {
  int L = (fill + QA_LEN_QUANTUM - 1) / QA_LEN_QUANTUM * QA_LEN_QUANTUM;
  return L < 1 ? 1 : L > max_len ? max_len : L;
}

/* Fills the batch for the forward pass; returns the number of computed rows and *len. */
static int assemble(qa_instance *in, int rows, bert_batch *b) {
  const qa_model *q = in->qm;
  memset(b, 0, sizeof *b);
  b->input_ids = in->ids, b->token_type_ids = in->types;
  if (q->packing) {
    int fill;
    b->batch = bert_serve_pack_rows(in->real, rows, q->max_len, in->scratch, in->bin, in->offset, &fill);
    b->len = round_len(fill, q->max_len);
    layout_packed(in, rows, b->batch, b->len);
    b->position_ids = in->pos, b->seq_index = in->seq;
  } else {
    int L = 1;
    for (int k = 0; k < rows; k++) L = in->rows[k].len > L ? in->rows[k].len : L;
    b->batch = rows, b->len = L;
    layout_padded(in, rows, L);
    b->attention_mask = in->mask;
  }
  return b->batch;
}

static void put_value(bert_serve_tensor *t, int64_t i, float v) {
  if (t->dtype == BERT_SERVE_FP16) ((uint16_t *)t->data)[i] = bert_f32_to_f16(v);
  else ((float *)t->data)[i] = v;
}

/* Logits of row k into its request's outputs: computed values at mask-1 positions, -10000 at
 * padded ones. */
static void scatter_row(qa_instance *in, int k, int L, bert_serve_tensor *start, bert_serve_tensor *end) {
  const qa_model *q = in->qm;
  const qa_row *row = &in->rows[k];
  const bert_serve_tensor *mask = role(row->req, q->in_mask);
  size_t at = q->packing ? (size_t)in->bin[k] * L + (size_t)in->offset[k] : (size_t)k * L;
  int64_t out = (int64_t)row->row * row->len;
  for (int j = 0; j < row->len; j++, out++) {
    int real = cell(mask, row->row, row->len, j, 1) != 0;
    size_t src = q->packing ? at : at + (size_t)j;
    if (start) put_value(start, out, real ? in->ws.start_logits[src] : BERT_MASK_VALUE);
    if (end) put_value(end, out, real ? in->ws.end_logits[src] : BERT_MASK_VALUE);
    if (q->packing && real) at++;
  }
}

static int alloc_outputs(const qa_model *q, bert_serve_request *r, bert_serve_tensor **start, bert_serve_tensor **end,
                         bert_error *err) {
  const bert_serve_tensor *ids = &r->inputs[q->in_ids];
  const int outs[2] = {q->out_start, q->out_end};
  bert_serve_tensor **slots[2] = {start, end};
  for (int k = 0; k < 2; k++) {
    *slots[k] = outs[k] >= 0 ? bert_serve_request_output(r, outs[k]) : NULL;
    if (!*slots[k]) continue;
    const bert_serve_io *io = &q->cfg->outputs[outs[k]];
    int rc = bert_serve_tensor_alloc(*slots[k], io->name, io->dtype, ids->ndim, ids->shape, err);
    if (rc) return rc;
  }
  return BERT_OK;
}

static int scatter(qa_instance *in, bert_serve_request **reqs, int n, int rows, int L, bert_error *err) {
  int k = 0;
  for (int r = 0; r < n; r++) {
    bert_serve_tensor *start, *end;
    int rc = alloc_outputs(in->qm, reqs[r], &start, &end, err);
    if (rc) return rc;
    for (int i = 0; i < reqs[r]->batch && k < rows; i++, k++) scatter_row(in, k, L, start, end);
  }
  return BERT_OK;
}

static int qa_execute(void *instance, bert_serve_request **reqs, int n, bert_serve_exec_info *info, bert_error *err) {
  qa_instance *in = instance;
  uint64_t t0 = bert_serve_now_ns();
  int rows = collect_rows(in, reqs, n);
  bert_batch b;
  assemble(in, rows, &b);
  info->tokens_computed = (int64_t)b.batch * b.len;
  info->tokens_real = 0;
  for (int k = 0; k < rows; k++) info->tokens_real += in->real[k];
  uint64_t t1 = bert_serve_now_ns();
  int rc = bert_model_forward(&in->view, &in->ws, &b, 0, bert_rng_make(0, BERT_RNG_DROPOUT, 0, 0), err);
  uint64_t t2 = bert_serve_now_ns();
  if (!rc) rc = scatter(in, reqs, n, rows, b.len, err);
  uint64_t t3 = bert_serve_now_ns();
  info->compute_input_ns = t1 - t0, info->compute_infer_ns = t2 - t1, info->compute_output_ns = t3 - t2;
  return rc;
}

static int64_t qa_max_dim(void *model) { return ((qa_model *)model)->max_len; }

const bert_serve_backend bert_serve_bert_backend = {
    .name = "bertc",
    .load = qa_load,
    .unload = qa_unload,
    .instance_create = qa_instance_create,
    .instance_free = qa_instance_free,
    .validate = qa_validate,
    .execute = qa_execute,
    .max_dim = qa_max_dim,
};
