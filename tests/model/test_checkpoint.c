/* checkpoint: the camphr NER model from both formats, save and reload bit for bit, heads
 * initialised when absent, alternative names (bare BertModel, gamma/beta, tied decoder) and the
 * errors a user meets (wrong config, damaged weights, missing files). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "test_util.h"

#define CAMPHR "tests/data/camphr_ner_bert"

static char root[4096];

/* A fresh folder under the test's temporary directory. */
static const char *folder(const char *name) {
  static char paths[16][4200];
  static int next = 0;
  char *p = paths[next++ % 16];
  snprintf(p, sizeof paths[0], "%s/%s", root, name);
  bert_mkdir_p(p, NULL);
  return p;
}

static void copy_into(const char *from_dir, const char *name, const char *to_dir) {
  char from[4300], to[4300], *data;
  size_t size;
  snprintf(from, sizeof from, "%s/%s", from_dir, name);
  snprintf(to, sizeof to, "%s/%s", to_dir, name);
  bert_error err;
  if (bert_file_read(from, &data, &size, &err) == 0) {
    bert_file_write_atomic(to, data, size, &err);
    free(data);
  }
}

static int same_params(const bert_model *a, const bert_model *b) {
  if (a->layout.count != b->layout.count || a->layout.total != b->layout.total) return 0;
  for (int i = 0; i < a->layout.count; i++) {
    const bert_param *p = &a->layout.params[i], *q = bert_layout_find(&b->layout, p->name);
    if (!q || q->size != p->size || memcmp(a->params + p->offset, b->params + q->offset, p->size * sizeof(float)))
      return 0;
  }
  return 1;
}

static int has(char *const *list, int count, const char *name) {
  for (int i = 0; i < count; i++)
    if (!strcmp(list[i], name)) return 1;
  return 0;
}

static int load(bert_model *m, const char *dir, int parts, bert_load_report *r, bert_error *err) {
  return bert_checkpoint_load(m, dir, parts, 0, 7, r, err);
}

/* safetensors and pytorch_model.bin give the same model; the file's content is what we load */
static void test_both_formats(bert_model *st_model) {
  bert_error err = {0};
  bert_load_report r;
  CHECK_MSG(load(st_model, CAMPHR, BERT_PART_CLASSIFIER, &r, &err) == 0, "%s", err.message);
  CHECK(strstr(r.weights_path, "model.safetensors") != NULL);
  CHECK(r.parts_found == (BERT_PART_ENCODER | BERT_PART_CLASSIFIER)); /* no pooler in this model */
  CHECK(!(r.parts_found & BERT_PART_POOLER));
  CHECK(r.parts_initialised == 0 && r.missing_count == 0 && r.unused_count == 0);
  CHECK(r.ignored_count == 1 && has(r.ignored, r.ignored_count, "bert.embeddings.position_ids"));
  CHECK(st_model->layout.parts == (BERT_PART_ENCODER | BERT_PART_CLASSIFIER));
  CHECK(st_model->config.num_labels == 9 && st_model->config.vocab_size == 402);
  bert_load_report_free(&r);

  /* the parameters are the file's bytes */
  bert_safetensors st;
  CHECK(bert_safetensors_open(&st, CAMPHR "/model.safetensors", &err) == 0);
  const bert_st_tensor *t = bert_safetensors_find(&st, "bert.encoder.layer.0.intermediate.dense.weight");
  const bert_param *p = bert_layout_find(&st_model->layout, "bert.encoder.layer.0.intermediate.dense.weight");
  CHECK(t && p && t->nbytes == p->size * sizeof(float) && !memcmp(t->data, st_model->params + p->offset, t->nbytes));
  bert_safetensors_close(&st);

  const char *bin_dir = folder("bin");
  copy_into(CAMPHR, "config.json", bin_dir);
  copy_into(CAMPHR, "pytorch_model.bin", bin_dir);
  bert_model bin_model;
  CHECK_MSG(load(&bin_model, bin_dir, BERT_PART_CLASSIFIER, &r, &err) == 0, "%s", err.message);
  CHECK(strstr(r.weights_path, "pytorch_model.bin") != NULL);
  CHECK(r.ignored_count == 1 && r.unused_count == 0 && r.missing_count == 0);
  CHECK(same_params(st_model, &bin_model));
  CHECK(!memcmp(st_model->params, bin_model.params, st_model->layout.total * sizeof(float)));
  bert_load_report_free(&r);
  bert_model_free(&bin_model);
}

static void test_save_reload(const bert_model *m) {
  bert_error err = {0};
  const char *out = folder("saved");
  CHECK_MSG(bert_checkpoint_save(m, out, CAMPHR "/vocab.txt", 0, &err) == 0, "%s", err.message);
  bert_model back;
  bert_load_report r;
  CHECK_MSG(load(&back, out, BERT_PART_CLASSIFIER, &r, &err) == 0, "%s", err.message);
  CHECK(same_params(m, &back));
  CHECK(r.missing_count == 0 && r.unused_count == 0 && r.ignored_count == 0);
  CHECK(back.config.hidden_size == 16 && back.config.num_labels == 9 && back.config.intermediate_size == 64);
  bert_load_report_free(&r);
  bert_model_free(&back);

  /* the files: fp32 safetensors with {"format": "pt"}, unknown config keys kept, vocab, tokenizer config */
  char path[4300], *a, *b;
  size_t na, nb;
  bert_safetensors st;
  snprintf(path, sizeof path, "%s/model.safetensors", out);
  CHECK(bert_safetensors_open(&st, path, &err) == 0);
  CHECK(st.count == m->layout.count && st.count == 23);
  CHECK(st.metadata_json && strstr(st.metadata_json, "\"format\":\"pt\""));
  for (int i = 0; i < st.count; i++) CHECK(st.tensors[i].dtype == BERT_ST_F32);
  bert_safetensors_close(&st);
  snprintf(path, sizeof path, "%s/config.json", out);
  CHECK(bert_file_read(path, &a, &na, &err) == 0);
  CHECK(strstr(a, "\"label2id\"") && strstr(a, "\"B-LOC\"") && strstr(a, "\"transformers_version\""));
  free(a);
  snprintf(path, sizeof path, "%s/vocab.txt", out);
  CHECK(bert_file_read(path, &a, &na, &err) == 0 && bert_file_read(CAMPHR "/vocab.txt", &b, &nb, &err) == 0);
  CHECK(na == nb && !memcmp(a, b, na));
  free(a);
  free(b);
  snprintf(path, sizeof path, "%s/tokenizer_config.json", out);
  CHECK(bert_file_read(path, &a, &na, &err) == 0);
  cJSON *tok = cJSON_Parse(a);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(tok, "do_lower_case")));
  cJSON_Delete(tok);
  free(a);

  /* no vocab, no tokenizer config when not asked */
  const char *bare = folder("saved_bare");
  CHECK(bert_checkpoint_save(m, bare, NULL, -1, &err) == 0);
  snprintf(path, sizeof path, "%s/vocab.txt", bare);
  CHECK(!bert_path_exists(path));
  snprintf(path, sizeof path, "%s/tokenizer_config.json", bare);
  CHECK(!bert_path_exists(path));
}

/* camphr has no pooler, MLM or NSP: asking for them initialises them, and lists them */
static void test_missing_heads(const bert_model *camphr) {
  bert_error err = {0};
  bert_model m;
  bert_load_report r;
  CHECK_MSG(load(&m, CAMPHR, BERT_PARTS_PRETRAINING, &r, &err) == 0, "%s", err.message);
  CHECK(r.parts_initialised == BERT_PARTS_PRETRAINING);
  CHECK(r.missing_count == 2 + 5 + 2);
  CHECK(has(r.missing, r.missing_count, "bert.pooler.dense.weight"));
  CHECK(has(r.missing, r.missing_count, "cls.predictions.transform.LayerNorm.weight"));
  CHECK(has(r.missing, r.missing_count, "cls.predictions.bias"));
  CHECK(has(r.missing, r.missing_count, "cls.seq_relationship.weight"));
  CHECK(r.unused_count == 2 && has(r.unused, r.unused_count, "classifier.weight"));
  CHECK(m.layout.parts == (BERT_PART_ENCODER | BERT_PARTS_PRETRAINING));
  const bert_param *ln = bert_layout_find(&m.layout, "cls.predictions.transform.LayerNorm.weight");
  const bert_param *w = bert_layout_find(&m.layout, "bert.pooler.dense.weight");
  CHECK(ln && m.params[ln->offset] == 1.0f && m.params[ln->offset + 15] == 1.0f);
  double sum2 = 0;
  for (size_t i = 0; w && i < w->size; i++) sum2 += (double)m.params[w->offset + i] * m.params[w->offset + i];
  CHECK(w && sum2 > 0 && sum2 / (double)w->size < 0.02 * 0.02 * 1.5); /* N(0, 0.02) truncated */
  const bert_param *e = bert_layout_find(&m.layout, "bert.embeddings.word_embeddings.weight");
  const bert_param *e0 = bert_layout_find(&camphr->layout, "bert.embeddings.word_embeddings.weight");
  CHECK(!memcmp(m.params + e->offset, camphr->params + e0->offset, e->size * sizeof(float)));
  bert_load_report_free(&r);

  /* the same seed initialises the same heads */
  bert_model again;
  CHECK(load(&again, CAMPHR, BERT_PARTS_PRETRAINING, NULL, &err) == 0);
  CHECK(same_params(&m, &again));
  bert_model_free(&again);
  bert_model_free(&m);

  /* an optional pooler is dropped when the file has none */
  CHECK(bert_checkpoint_load(&m, CAMPHR, BERT_PART_POOLER | BERT_PART_CLASSIFIER, BERT_PART_POOLER, 7, &r, &err) == 0);
  CHECK(m.layout.parts == (BERT_PART_ENCODER | BERT_PART_CLASSIFIER) && r.missing_count == 0);
  bert_load_report_free(&r);
  bert_model_free(&m);
}

/* Writes the model's parameters under other names into `dir` (with camphr's config). */
typedef struct rename_rule {
  const char *from;  /* prefix or suffix to replace */
  const char *to;
  int suffix;
} rename_rule;

static void write_renamed(const bert_model *m, const char *dir, const rename_rule *rules, int nrules,
                          const bert_st_entry *extra, int nextra, const char *skip) {
  int n = m->layout.count;
  bert_st_entry *e = calloc((size_t)(n + nextra), sizeof *e);
  char (*names)[128] = calloc((size_t)n, sizeof *names);
  int k = 0;
  for (int i = 0; i < n; i++) {
    const bert_param *p = &m->layout.params[i];
    if (skip && !strcmp(p->name, skip)) continue;
    snprintf(names[i], sizeof names[i], "%s", p->name);
    for (int r = 0; r < nrules; r++) {
      size_t len = strlen(names[i]), fl = strlen(rules[r].from);
      char tmp[128];
      if (rules[r].suffix && len >= fl && !strcmp(names[i] + len - fl, rules[r].from)) {
        snprintf(tmp, sizeof tmp, "%.*s%s", (int)(len - fl), names[i], rules[r].to);
        memcpy(names[i], tmp, sizeof tmp);
      } else if (!rules[r].suffix && !strncmp(names[i], rules[r].from, fl)) {
        snprintf(tmp, sizeof tmp, "%s%s", rules[r].to, names[i] + fl);
        memcpy(names[i], tmp, sizeof tmp);
      }
    }
    e[k++] = (bert_st_entry){names[i], BERT_ST_F32, p->ndim, {p->shape[0], p->shape[1]}, m->params + p->offset};
  }
  for (int i = 0; i < nextra; i++) e[k++] = extra[i];
  char path[4300];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  bert_error err = {0};
  CHECK_MSG(bert_safetensors_write(path, e, k, NULL, 0, &err) == 0, "%s", err.message);
  copy_into(CAMPHR, "config.json", dir);
  free(names);
  free(e);
}

static void test_other_names(void) {
  bert_error err = {0};
  bert_model full;
  CHECK(load(&full, CAMPHR, BERT_PARTS_PRETRAINING | BERT_PART_CLASSIFIER, NULL, &err) == 0);
  const bert_param *emb = bert_layout_find(&full.layout, "bert.embeddings.word_embeddings.weight");
  const bert_param *bias = bert_layout_find(&full.layout, "cls.predictions.bias");
  full.params[bias->offset + 3] = 0.25f; /* make the bias recognisable */

  /* bare BertModel names, TF gamma/beta, decoder weight tied, bias under its decoder name */
  const rename_rule rules[] = {{"bert.", "", 0}, {"LayerNorm.weight", "LayerNorm.gamma", 1},
                               {"LayerNorm.bias", "LayerNorm.beta", 1}};
  bert_st_entry extra[] = {
      {"cls.predictions.decoder.weight", BERT_ST_F32, 2, {emb->shape[0], emb->shape[1]}, full.params + emb->offset},
      {"cls.predictions.decoder.bias", BERT_ST_F32, 1, {bias->shape[0]}, full.params + bias->offset},
  };
  const char *dir = folder("renamed");
  write_renamed(&full, dir, rules, 3, extra, 2, "cls.predictions.bias");
  bert_model m;
  bert_load_report r;
  CHECK_MSG(load(&m, dir, BERT_PARTS_PRETRAINING | BERT_PART_CLASSIFIER, &r, &err) == 0, "%s", err.message);
  CHECK(r.missing_count == 0 && r.unused_count == 0 && r.parts_initialised == 0);
  CHECK(same_params(&full, &m));
  bert_load_report_free(&r);
  bert_model_free(&m);
  /* without the MLM head the decoder tensors are reported unused */
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, &r, &err) == 0);
  CHECK(has(r.unused, r.unused_count, "cls.predictions.decoder.weight"));
  CHECK(has(r.unused, r.unused_count, "cls.predictions.decoder.bias"));
  bert_load_report_free(&r);
  bert_model_free(&m);

  /* an untied decoder is refused */
  float *untied = malloc(emb->size * sizeof(float));
  memcpy(untied, full.params + emb->offset, emb->size * sizeof(float));
  untied[100] += 1.0f;
  extra[0].data = untied;
  dir = folder("untied");
  write_renamed(&full, dir, NULL, 0, extra, 1, NULL);
  CHECK(load(&m, dir, BERT_PARTS_PRETRAINING, NULL, &err) == BERT_EUNSUPPORTED);
  CHECK(strstr(err.message, "cls.predictions.decoder.weight") && strstr(err.message, "word embeddings"));
  free(untied);

  /* both bias names stored but different */
  float *other_bias = calloc(bias->size, sizeof(float));
  extra[1].data = other_bias;
  dir = folder("two_biases");
  write_renamed(&full, dir, NULL, 0, extra + 1, 1, NULL);
  CHECK(load(&m, dir, BERT_PARTS_PRETRAINING, NULL, &err) == BERT_EMISMATCH);
  CHECK(strstr(err.message, "cls.predictions.decoder.bias") && strstr(err.message, "differ"));
  free(other_bias);

  /* a missing encoder tensor */
  dir = folder("no_ffn_bias");
  write_renamed(&full, dir, NULL, 0, NULL, 0, "bert.encoder.layer.0.output.dense.bias");
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, NULL, &err) == BERT_EMISMATCH);
  CHECK(strstr(err.message, "bert.encoder.layer.0.output.dense.bias") && strstr(err.message, "missing"));

  /* an integer tensor where a parameter belongs */
  int64_t *ints = calloc(2 * 16, sizeof *ints);
  bert_st_entry int_types = {"bert.embeddings.token_type_embeddings.weight", BERT_ST_I64, 2, {2, 16}, ints};
  dir = folder("int_param");
  write_renamed(&full, dir, NULL, 0, &int_types, 1, "bert.embeddings.token_type_embeddings.weight");
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, NULL, &err) == BERT_EMISMATCH);
  CHECK(strstr(err.message, "token_type_embeddings") && strstr(err.message, "I64"));
  free(ints);
  bert_model_free(&full);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[4300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  bert_file_write_atomic(path, text, strlen(text), NULL);
}

static void test_errors(void) {
  bert_error err = {0};
  bert_model m;
  memset(&m, 0xab, sizeof m);

  /* a config whose hidden size disagrees with the weights */
  char *cfg;
  size_t n;
  CHECK(bert_file_read(CAMPHR "/config.json", &cfg, &n, &err) == 0);
  char *at = strstr(cfg, "\"hidden_size\": 16");
  CHECK(at != NULL);
  if (at) memcpy(at, "\"hidden_size\": 32", 17);
  const char *dir = folder("wrong_hidden");
  write_text(dir, "config.json", cfg);
  free(cfg);
  copy_into(CAMPHR, "model.safetensors", dir);
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, NULL, &err) == BERT_EMISMATCH);
  CHECK_MSG(strstr(err.message, "bert.embeddings.word_embeddings.weight") && strstr(err.message, "[402, 16]") &&
                strstr(err.message, "[402, 32]"),
            "%s", err.message);
  CHECK(m.params == NULL); /* nothing left allocated */

  /* a truncated model.safetensors */
  dir = folder("truncated");
  copy_into(CAMPHR, "config.json", dir);
  char *data, path[4300];
  CHECK(bert_file_read(CAMPHR "/model.safetensors", &data, &n, &err) == 0);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  bert_file_write_atomic(path, data, n - 100, NULL);
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, NULL, &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "model.safetensors") != NULL);
  /* a corrupted header */
  data[9] = '#'; /* the opening quote of the first name */
  bert_file_write_atomic(path, data, n, NULL);
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, NULL, &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "model.safetensors") && strstr(err.message, "JSON"));
  free(data);

  /* no config.json */
  dir = folder("no_config");
  copy_into(CAMPHR, "model.safetensors", dir);
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, NULL, &err) == BERT_EIO);
  CHECK(strstr(err.message, "no_config/config.json") != NULL);

  /* no weights */
  dir = folder("no_weights");
  copy_into(CAMPHR, "config.json", dir);
  CHECK(load(&m, dir, BERT_PART_CLASSIFIER, NULL, &err) == BERT_EIO);
  CHECK(strstr(err.message, "no model.safetensors or pytorch_model.bin") && strstr(err.message, "no_weights"));

  /* a saved folder that cannot be created */
  bert_model ok;
  CHECK(load(&ok, CAMPHR, BERT_PART_CLASSIFIER, NULL, &err) == 0);
  snprintf(path, sizeof path, "%s/file", root);
  write_text(root, "file", "x");
  snprintf(path, sizeof path, "%s/file/sub", root);
  CHECK(bert_checkpoint_save(&ok, path, NULL, -1, &err) != 0);
  bert_model_free(&ok);
}

/* Weights into a model whose architecture the caller chose (pretraining from an HF folder). */
static void test_load_weights(const bert_model *camphr) {
  bert_error err = {0};
  bert_model m;
  CHECK(bert_model_create(&m, &camphr->config, BERT_PART_CLASSIFIER | BERT_PARTS_PRETRAINING, &err) == 0);
  bert_load_report r;
  CHECK_MSG(bert_checkpoint_load_weights(&m, CAMPHR, 3, &r, &err) == 0, "%s", err.message);
  CHECK((r.parts_initialised & BERT_PARTS_PRETRAINING) == BERT_PARTS_PRETRAINING);
  CHECK(!(r.parts_initialised & BERT_PART_CLASSIFIER));
  const bert_param *p = bert_layout_find(&m.layout, "bert.encoder.layer.0.output.dense.weight");
  const bert_param *q = bert_layout_find(&camphr->layout, "bert.encoder.layer.0.output.dense.weight");
  CHECK(p && q && !memcmp(m.params + p->offset, camphr->params + q->offset, p->size * sizeof(float)));
  bert_load_report_free(&r);
  bert_model_free(&m);

  bert_config wide;
  CHECK(bert_config_copy(&wide, &camphr->config, &err) == 0);
  wide.intermediate_size = 32;
  CHECK(bert_model_create(&m, &wide, BERT_PART_CLASSIFIER, &err) == 0);
  CHECK(bert_checkpoint_load_weights(&m, CAMPHR, 3, NULL, &err) == BERT_EMISMATCH);
  CHECK_MSG(strstr(err.message, "intermediate.dense.weight") != NULL, "%s", err.message);
  bert_model_free(&m);
  bert_config_free(&wide);
}

int main(void) {
  const char *d = test_tmpdir("checkpoint");
  if (!d) return 1;
  snprintf(root, sizeof root, "%s", d);
  bert_model camphr;
  test_both_formats(&camphr);
  test_save_reload(&camphr);
  test_missing_heads(&camphr);
  test_other_names();
  test_errors();
  test_load_weights(&camphr);
  bert_model_free(&camphr);
  return test_summary("checkpoint");
}
