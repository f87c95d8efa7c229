#include "model/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"

#define DECODER_WEIGHT "cls.predictions.decoder.weight"
#define CHUNK 4096 /* elements converted at a time when comparing tensors */

/* ================================================================ the weights file */

static int join(char out[4096], const char *dir, const char *name, bert_error *err) {
  if (bert_path_join(out, 4096, dir, name)) return bert_error_set(err, BERT_EINVAL, "%s/%s: path too long", dir, name);
  return BERT_OK;
}

typedef struct weights {
  bert_safetensors st;
  bert_torch_file tf;
  int is_torch;
  const bert_st_tensor *tensors;
  int count;
  char **canon;          /* HF name each tensor stands for */
  const char *path;
} weights;

static int open_weights(weights *w, const char *dir, bert_error *err) {
  memset(w, 0, sizeof *w);
  char path[4096];
  int rc = join(path, dir, "model.safetensors", err);
  if (rc) return rc;
  if (bert_path_exists(path)) {
    if ((rc = bert_safetensors_open(&w->st, path, err))) return rc;
    w->tensors = w->st.tensors;
    w->count = w->st.count;
    w->path = w->st.path;
    return BERT_OK;
  }
  if ((rc = join(path, dir, "pytorch_model.bin", err))) return rc;
  if (!bert_path_exists(path))
    return bert_error_set(err, BERT_EIO, "%s: no model.safetensors or pytorch_model.bin in the folder", dir);
  if ((rc = bert_torch_open(&w->tf, path, err))) return rc;
  w->is_torch = 1;
  w->tensors = w->tf.tensors;
  w->count = w->tf.count;
  w->path = w->tf.path;
  return BERT_OK;
}

static void close_weights(weights *w) {
  for (int i = 0; w->canon && i < w->count; i++) free(w->canon[i]);
  free(w->canon);
  if (w->is_torch) bert_torch_close(&w->tf);
  else bert_safetensors_close(&w->st);
  memset(w, 0, sizeof *w);
}

static int starts_with(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* The HF name a stored name stands for: plain BertModel checkpoints lack the "bert." prefix,
 * TF-converted ones call LayerNorm's parameters gamma/beta, and the MLM decoder's bias is the
 * same tensor as cls.predictions.bias. */
static char *canonical_name(const char *name) {
  static const char *const bare[] = {"embeddings.", "encoder.", "pooler."};
  const char *prefix = "";
  for (size_t i = 0; i < sizeof bare / sizeof bare[0]; i++)
    if (starts_with(name, bare[i])) prefix = "bert.";
  if (!strcmp(name, "cls.predictions.decoder.bias")) name = "cls.predictions.bias";
  size_t n = strlen(name);
  const char *suffix = "";
  if (ends_with(name, ".gamma")) n -= 6, suffix = ".weight";
  else if (ends_with(name, ".beta")) n -= 5, suffix = ".bias";
  char *out = malloc(strlen(prefix) + n + strlen(suffix) + 1);
  if (out) sprintf(out, "%s%.*s%s", prefix, (int)n, name, suffix);
  return out;
}

static int canonicalise(weights *w, bert_error *err) {
  w->canon = calloc((size_t)(w->count ? w->count : 1), sizeof *w->canon);
  if (!w->canon) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", w->path);
  for (int i = 0; i < w->count; i++)
    if (!(w->canon[i] = canonical_name(w->tensors[i].name)))
      return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", w->path);
  return BERT_OK;
}

/* First stored tensor standing for HF name `name` at or after index `from`, or -1. */
static int find_tensor(const weights *w, const char *name, int from) {
  for (int i = from; i < w->count; i++)
    if (!strcmp(w->canon[i], name)) return i;
  return -1;
}

/* ================================================================ the report */

static int list_add(char ***list, int *count, const char *name, bert_error *err) {
  char **grown = realloc(*list, (size_t)(*count + 1) * sizeof *grown);
  if (!grown) return bert_error_set(err, BERT_ENOMEM, "checkpoint report: out of memory");
  *list = grown;
  if (!(grown[*count] = strdup(name))) return bert_error_set(err, BERT_ENOMEM, "checkpoint report: out of memory");
  (*count)++;
  return BERT_OK;
}

static void list_free(char ***list, int *count) {
  for (int i = 0; i < *count; i++) free((*list)[i]);
  free(*list);
  *list = NULL;
  *count = 0;
}

void bert_load_report_free(bert_load_report *r) {
  if (!r) return;
  list_free(&r->missing, &r->missing_count);
  list_free(&r->unused, &r->unused_count);
  list_free(&r->ignored, &r->ignored_count);
}

static void log_list(const char *path, const char *what, char *const *names, int count) {
  if (!count) return;
  char *line = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&line, &len);
  if (!f) return;
  fprintf(f, "checkpoint %s: %s (%d):", path, what, count);
  for (int i = 0; i < count; i++) fprintf(f, " %s", names[i]);
  fclose(f);
  bert_log("%s", line);
  free(line);
}

void bert_load_report_log(const bert_load_report *r) {
  log_list(r->weights_path, "freshly initialised, absent from the file", r->missing, r->missing_count);
  log_list(r->weights_path, "unused tensors", r->unused, r->unused_count);
  log_list(r->weights_path, "ignored non-float buffers", r->ignored, r->ignored_count);
}

/* ================================================================ matching tensors to parameters */

static void format_shape(char *out, size_t cap, int ndim, const int64_t *shape) {
  size_t n = (size_t)snprintf(out, cap, "[");
  for (int d = 0; d < ndim && n < cap; d++) n += (size_t)snprintf(out + n, cap - n, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (n < cap) snprintf(out + n, cap - n, "]");
}

/* A stored tensor must be a float of exactly the parameter's shape. */
static int check_tensor(const weights *w, const bert_st_tensor *t, int ndim, const int64_t *shape, const char *param,
                        bert_error *err) {
  if (!bert_st_is_float(t->dtype))
    return bert_error_set(err, BERT_EMISMATCH, "%s: tensor '%s' has dtype %s; parameter %s needs a float", w->path,
                          t->name, t->dtype_name, param);
  int same = t->ndim == ndim;
  for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
  if (same) return BERT_OK;
  char got[128], want[128];
  format_shape(got, sizeof got, t->ndim, t->shape);
  format_shape(want, sizeof want, ndim, shape);
  return bert_error_set(err, BERT_EMISMATCH, "%s: tensor '%s' has shape %s in the file but the config needs %s",
                        w->path, t->name, got, want);
}

/* Whether t, converted to fp32, is bit-identical to ref[numel]. */
static int equal_f32(const bert_st_tensor *t, const float *ref, int *equal, bert_error *err) {
  float buf[CHUNK];
  size_t es = bert_st_dtype_size(t->dtype);
  *equal = 1;
  for (int64_t at = 0; at < t->numel && *equal; at += CHUNK) {
    bert_st_tensor part = *t;
    part.numel = t->numel - at < CHUNK ? t->numel - at : CHUNK;
    part.data = (const unsigned char *)t->data + (size_t)at * es;
    int rc = bert_st_to_f32(&part, buf, err);
    if (rc) return rc;
    *equal = !memcmp(buf, ref + at, (size_t)part.numel * sizeof(float));
  }
  return BERT_OK;
}

/* Several stored tensors may stand for one parameter (cls.predictions.bias and its decoder
 * alias, or the same name with and without "bert."): they must agree. */
static int check_aliases(const weights *w, const bert_param *p, int first, const float *value, bert_error *err) {
  for (int j = find_tensor(w, p->name, first + 1); j >= 0; j = find_tensor(w, p->name, j + 1)) {
    int rc = check_tensor(w, &w->tensors[j], p->ndim, p->shape, p->name, err), equal = 0;
    if (!rc) rc = equal_f32(&w->tensors[j], value, &equal, err);
    if (rc) return rc;
    if (!equal)
      return bert_error_set(err, BERT_EMISMATCH, "%s: tensors '%s' and '%s' both give %s but differ", w->path,
                            w->tensors[first].name, w->tensors[j].name, p->name);
  }
  return BERT_OK;
}

/* The tied MLM decoder, when stored, must be the word embeddings themselves. */
static int check_decoder(const weights *w, const bert_model *m, bert_error *err) {
  const bert_param *emb = bert_layout_find(&m->layout, "bert.embeddings.word_embeddings.weight");
  for (int j = find_tensor(w, DECODER_WEIGHT, 0); j >= 0; j = find_tensor(w, DECODER_WEIGHT, j + 1)) {
    int rc = check_tensor(w, &w->tensors[j], emb->ndim, emb->shape, DECODER_WEIGHT, err), equal = 0;
    if (!rc) rc = equal_f32(&w->tensors[j], m->params + emb->offset, &equal, err);
    if (rc) return rc;
    if (!equal)
      return bert_error_set(err, BERT_EUNSUPPORTED,
                            "%s: '%s' differs from the word embeddings: only a decoder tied to them is supported",
                            w->path, w->tensors[j].name);
  }
  return BERT_OK;
}

/* Parts (BERT_PART_*) with at least one parameter stored in the file. */
static int parts_in_file(const weights *w, const bert_config *cfg, int *found, bert_error *err) {
  bert_layout all;
  int rc = bert_layout_build(&all, cfg, BERT_PART_ALL, err);
  if (rc) return rc;
  *found = 0;
  for (int i = 0; i < all.count; i++)
    if (find_tensor(w, all.params[i].name, 0) >= 0) *found |= all.params[i].part;
  bert_layout_free(&all);
  return BERT_OK;
}

/* Pass 1: every parameter is either stored (checked) or missing (listed; an encoder parameter
 * must be stored). Returns the parts that need fresh initialisation in *init_parts. */
static int match_params(const weights *w, const bert_model *m, bert_load_report *r, int *init_parts, bert_error *err) {
  *init_parts = 0;
  for (int i = 0; i < m->layout.count; i++) {
    const bert_param *p = &m->layout.params[i];
    int j = find_tensor(w, p->name, 0), rc;
    if (j >= 0) {
      if ((rc = check_tensor(w, &w->tensors[j], p->ndim, p->shape, p->name, err))) return rc;
      continue;
    }
    if (p->part == BERT_PART_ENCODER)
      return bert_error_set(err, BERT_EMISMATCH, "%s: encoder tensor '%s' is missing", w->path, p->name);
    if ((rc = list_add(&r->missing, &r->missing_count, p->name, err))) return rc;
    *init_parts |= p->part;
  }
  return BERT_OK;
}

/* Pass 2: copy (converting) every stored parameter over the freshly initialised buffer. */
static int copy_params(const weights *w, bert_model *m, bert_error *err) {
  for (int i = 0; i < m->layout.count; i++) {
    const bert_param *p = &m->layout.params[i];
    int j = find_tensor(w, p->name, 0), rc;
    if (j < 0) continue;
    if ((rc = bert_st_to_f32(&w->tensors[j], m->params + p->offset, err))) return rc;
    if ((rc = check_aliases(w, p, j, m->params + p->offset, err))) return rc;
  }
  return BERT_OK;
}

/* Stored tensors the model does not use: non-float buffers are "ignored", the rest "unused". */
static int list_leftovers(const weights *w, const bert_model *m, bert_load_report *r, bert_error *err) {
  for (int i = 0; i < w->count; i++) {
    const bert_st_tensor *t = &w->tensors[i];
    int rc = BERT_OK;
    if (!bert_st_is_float(t->dtype)) rc = list_add(&r->ignored, &r->ignored_count, t->name, err);
    else if (bert_layout_find(&m->layout, w->canon[i])) continue;
    else if (!strcmp(w->canon[i], DECODER_WEIGHT) && (m->layout.parts & BERT_PART_MLM)) continue;
    else rc = list_add(&r->unused, &r->unused_count, t->name, err);
    if (rc) return rc;
  }
  return BERT_OK;
}

static int fill_model(const weights *w, bert_model *m, uint64_t seed, bert_load_report *r, bert_error *err) {
  int init_parts = 0;
  int rc = match_params(w, m, r, &init_parts, err);
  if (rc) return rc;
  r->parts_initialised = init_parts;
  /* initialise whole parts first: stored tensors then overwrite theirs */
  if (init_parts) bert_layout_init(&m->layout, &m->config, seed, init_parts, m->params);
  if ((rc = copy_params(w, m, err))) return rc;
  if ((m->layout.parts & BERT_PART_MLM) && (rc = check_decoder(w, m, err))) return rc;
  return list_leftovers(w, m, r, err);
}

static int load_into(bert_model *m, const char *dir, int parts, int optional_parts, uint64_t seed, bert_load_report *r,
                     bert_config *cfg, weights *w, bert_error *err) {
  char path[4096];
  int rc = join(path, dir, "config.json", err);
  if (!rc) rc = bert_config_load(cfg, path, err);
  if (!rc) rc = open_weights(w, dir, err);
  if (!rc) rc = canonicalise(w, err);
  if (rc) return rc;
  snprintf(r->weights_path, sizeof r->weights_path, "%s", w->path);
  if ((rc = parts_in_file(w, cfg, &r->parts_found, err))) return rc;
  int dropped = optional_parts & ~r->parts_found & ~BERT_PART_ENCODER;
  if ((rc = bert_model_create(m, cfg, (parts | BERT_PART_ENCODER) & ~dropped, err))) return rc;
  return fill_model(w, m, seed, r, err);
}

int bert_checkpoint_load(bert_model *m, const char *dir, int parts, int optional_parts, uint64_t init_seed,
                         bert_load_report *report, bert_error *err) {
  bert_load_report local;
  bert_load_report *r = report ? report : &local;
  memset(r, 0, sizeof *r);
  memset(m, 0, sizeof *m);
  bert_config cfg;
  memset(&cfg, 0, sizeof cfg);
  weights w;
  memset(&w, 0, sizeof w);
  int rc = load_into(m, dir, parts, optional_parts, init_seed, r, &cfg, &w, err);
  close_weights(&w);
  bert_config_free(&cfg);
  if (rc) {
    bert_model_free(m);
    bert_load_report_free(r);
  }
  if (r == &local) bert_load_report_free(r);
  return rc;
}

int bert_checkpoint_load_weights(bert_model *m, const char *dir, uint64_t init_seed, bert_load_report *report,
                                 bert_error *err) {
  bert_load_report local;
  bert_load_report *r = report ? report : &local;
  memset(r, 0, sizeof *r);
  weights w;
  memset(&w, 0, sizeof w);
  int rc = open_weights(&w, dir, err);
  if (!rc) rc = canonicalise(&w, err);
  if (!rc) {
    snprintf(r->weights_path, sizeof r->weights_path, "%s", w.path);
    rc = parts_in_file(&w, &m->config, &r->parts_found, err);
  }
  if (!rc) rc = fill_model(&w, m, init_seed, r, err);
  close_weights(&w);
  if (rc || r == &local) bert_load_report_free(r);
  return rc;
}

/* ================================================================ saving */

static int save_weights(const bert_model *m, const char *path, bert_error *err) {
  const bert_layout *l = &m->layout;
  bert_st_entry *entries = calloc((size_t)(l->count ? l->count : 1), sizeof *entries);
  if (!entries) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  for (int i = 0; i < l->count; i++) {
    const bert_param *p = &l->params[i];
    entries[i].name = p->name;
    entries[i].dtype = BERT_ST_F32;
    entries[i].ndim = p->ndim;
    entries[i].shape[0] = p->shape[0];
    entries[i].shape[1] = p->shape[1];
    entries[i].data = m->params + p->offset;
  }
  /* HuggingFace marks PyTorch-layout files so; the tied decoder has no slot, so it is not written */
  static const char *const metadata[] = {"format", "pt"};
  int rc = bert_safetensors_write(path, entries, l->count, metadata, 1, err);
  free(entries);
  return rc;
}

static int copy_file(const char *from, const char *to, bert_error *err) {
  char *data;
  size_t size;
  int rc = bert_file_read(from, &data, &size, err);
  if (rc) return rc;
  rc = bert_file_write_atomic(to, data, size, err);
  free(data);
  return rc;
}

static int save_tokenizer_config(const char *path, int do_lower_case, bert_error *err) {
  char text[128];
  int n = snprintf(text, sizeof text, "{\n  \"do_lower_case\": %s,\n  \"tokenizer_class\": \"BertTokenizer\"\n}\n",
                   do_lower_case ? "true" : "false");
  return bert_file_write_atomic(path, text, (size_t)n, err);
}

int bert_checkpoint_save(const bert_model *m, const char *dir, const char *vocab_path, int do_lower_case,
                         bert_error *err) {
  char path[4096];
  if (m->fp32_released)
    return bert_error_set(err, BERT_EINVAL, "checkpoint %s: the model's fp32 weights were released for inference", dir);
  int rc = bert_mkdir_p(dir, err);
  /* each file is replaced atomically (the folder as a whole: bert_checkpoint_save_whole) */
  if (!rc && !(rc = join(path, dir, "model.safetensors", err))) rc = save_weights(m, path, err);
  if (!rc && !(rc = join(path, dir, "config.json", err))) rc = bert_config_save(&m->config, path, err);
  if (!rc && vocab_path && !(rc = join(path, dir, "vocab.txt", err))) rc = copy_file(vocab_path, path, err);
  if (!rc && do_lower_case >= 0 && !(rc = join(path, dir, "tokenizer_config.json", err)))
    rc = save_tokenizer_config(path, do_lower_case, err);
  return rc;
}

int bert_checkpoint_save_whole(const bert_model *m, const char *dir, const char *vocab_path, int do_lower_case,
                               bert_error *err) {
  char tmp[4096];
  if (bert_partial_path(tmp, sizeof tmp, dir)) return bert_error_set(err, BERT_EINVAL, "%s: path too long", dir);
  bert_remove_tree(tmp); /* leftovers of a crashed attempt of this process id */
  bert_remove_stale_beside(dir, stderr); /* and of killed runs */
  int rc = bert_checkpoint_save(m, tmp, vocab_path, do_lower_case, err);
  if (!rc) rc = bert_dir_publish(tmp, dir, err);
  if (rc) bert_remove_tree(tmp);
  return rc;
}
