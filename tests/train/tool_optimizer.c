/* tool_optimizer DIR: the C side of tests/train/test_optimizer_vs_torch.py. Reads DIR/config.json
 * (a BertConfig; the pretraining layout is built from it), DIR/spec.json ({"optimizer",
 * "weight_decay", "beta1", "beta2", "half_first_moment", "grad_scale", "lrs": [...]}),
 * DIR/init.safetensors (every parameter by name) and DIR/grads.safetensors ("grad.<step>.<name>"),
 * runs one optimizer step per LR and writes DIR/out.safetensors ("param.<name>", the optimizer
 * state entries, "trust.<step>" = the per-parameter trust ratios in layout order) and
 * DIR/groups.txt (one line per parameter: name, group, weight decay, max weight norm). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "io/safetensors.h"
#include "model/layout.h"
#include "train/optimizer.h"

typedef struct spec {
  bert_optimizer_config opt;
  float grad_scale;
  int steps;
  float *lrs;
} spec;

static int fail(const char *what, const bert_error *err) {
  fprintf(stderr, "tool_optimizer: %s: %s\n", what, err ? err->message : "");
  return 1;
}

static double number(const cJSON *root, const char *key, double fallback) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static int read_spec(spec *s, const char *path, bert_error *err) {
  char *text;
  size_t size;
  int rc = bert_file_read(path, &text, &size, err);
  if (rc) return rc;
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!root) return bert_error_set(err, BERT_EFORMAT, "%s: invalid JSON", path);
  bert_optimizer_config_defaults(&s->opt);
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "optimizer");
  rc = bert_optimizer_kind_parse(cJSON_IsString(kind) ? kind->valuestring : NULL, &s->opt.kind, err);
  s->opt.weight_decay = number(root, "weight_decay", 0.0);
  s->opt.beta1 = number(root, "beta1", s->opt.beta1);
  s->opt.beta2 = number(root, "beta2", s->opt.beta2);
  s->opt.half_first_moment = (int)number(root, "half_first_moment", 0);
  s->grad_scale = (float)number(root, "grad_scale", 1.0);
  const cJSON *lrs = cJSON_GetObjectItemCaseSensitive(root, "lrs"), *x;
  s->steps = cJSON_GetArraySize(lrs);
  s->lrs = calloc((size_t)s->steps + 1, sizeof *s->lrs);
  int i = 0;
  cJSON_ArrayForEach(x, lrs) s->lrs[i++] = (float)x->valuedouble;
  cJSON_Delete(root);
  return rc;
}

/* Copies every parameter "<prefix><name>" of the file into the buffer. */
static int load_tensors(const bert_layout *l, const bert_safetensors *st, const char *prefix, float *dst,
                        bert_error *err) {
  char name[160];
  for (int p = 0; p < l->count; p++) {
    snprintf(name, sizeof name, "%s%s", prefix, l->params[p].name);
    const bert_st_tensor *t = bert_safetensors_find(st, name);
    if (!t || (size_t)t->numel != l->params[p].size)
      return bert_error_set(err, BERT_EMISMATCH, "%s: '%s' missing or of the wrong size", st->path, name);
    int rc = bert_st_to_f32(t, dst + l->params[p].offset, err);
    if (rc) return rc;
  }
  return BERT_OK;
}

static int run(const char *dir, const bert_layout *l, const spec *s, float *w, float *g, bert_optimizer *opt,
               float *trust, bert_error *err) {
  char path[4200], prefix[32];
  bert_safetensors st;
  snprintf(path, sizeof path, "%s/init.safetensors", dir);
  int rc = bert_safetensors_open(&st, path, err);
  if (rc) return rc;
  rc = load_tensors(l, &st, "", w, err);
  bert_safetensors_close(&st);
  snprintf(path, sizeof path, "%s/grads.safetensors", dir);
  if (!rc) rc = bert_safetensors_open(&st, path, err);
  if (rc) return rc;
  for (int step = 0; step < s->steps && !rc; step++) {
    snprintf(prefix, sizeof prefix, "grad.%d.", step);
    rc = load_tensors(l, &st, prefix, g, err);
    if (rc) break;
    bert_optimizer_step(opt, w, g, s->grad_scale, s->lrs[step]);
    memcpy(trust + (size_t)step * (size_t)l->count, opt->trust, (size_t)l->count * sizeof *trust);
  }
  bert_safetensors_close(&st);
  return rc;
}

static int write_outputs(const char *dir, const bert_layout *l, const spec *s, const float *w,
                         const bert_optimizer *opt, const float *trust, bert_error *err) {
  int nstate = bert_optimizer_state_count(opt), n = 0;
  bert_st_entry *e = calloc((size_t)(l->count + nstate + s->steps), sizeof *e);
  char (*names)[160] = calloc((size_t)(l->count + s->steps), sizeof *names);
  for (int p = 0; p < l->count; p++, n++) {
    snprintf(names[n], sizeof names[n], "param.%s", l->params[p].name);
    e[n] = (bert_st_entry){.name = names[n], .dtype = BERT_ST_F32, .ndim = l->params[p].ndim,
                           .shape = {l->params[p].shape[0], l->params[p].shape[1]}, .data = w + l->params[p].offset};
  }
  for (int step = 0; step < s->steps; step++, n++) {
    snprintf(names[n], sizeof names[n], "trust.%d", step);
    e[n] = (bert_st_entry){.name = names[n], .dtype = BERT_ST_F32, .ndim = 1, .shape = {l->count},
                           .data = trust + (size_t)step * (size_t)l->count};
  }
  n += bert_optimizer_state_entries(opt, e + n);
  char path[4200];
  snprintf(path, sizeof path, "%s/out.safetensors", dir);
  int rc = bert_safetensors_write(path, e, n, NULL, 0, err);
  free(e), free(names);
  snprintf(path, sizeof path, "%s/groups.txt", dir);
  FILE *f = rc ? NULL : fopen(path, "w");
  if (!rc && !f) rc = bert_error_set(err, BERT_EIO, "%s: cannot write", path);
  for (int p = 0; f && p < l->count; p++)
    fprintf(f, "%s %d %.17g %.17g\n", l->params[p].name, opt->groups[p], opt->weight_decay[p],
            opt->max_weight_norm[p]);
  if (f) fclose(f);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tool_optimizer DIR\n");
    return 2;
  }
  char path[4200];
  bert_error err = {0};
  bert_config cfg;
  spec s = {0};
  snprintf(path, sizeof path, "%s/config.json", argv[1]);
  if (bert_config_load(&cfg, path, &err)) return fail("config", &err);
  snprintf(path, sizeof path, "%s/spec.json", argv[1]);
  if (read_spec(&s, path, &err)) return fail("spec", &err);
  bert_layout layout;
  if (bert_layout_build(&layout, &cfg, BERT_PARTS_PRETRAINING, &err)) return fail("layout", &err);
  bert_optimizer opt;
  if (bert_optimizer_create(&opt, &layout, &s.opt, &err)) return fail("optimizer", &err);
  /* NaN in the padding: a step that read or wrote it would show up in the results. */
  float *w = malloc(layout.total * sizeof *w), *g = malloc(layout.total * sizeof *g);
  for (size_t i = 0; i < layout.total; i++) w[i] = g[i] = __builtin_nanf("");
  float *trust = calloc((size_t)s.steps * (size_t)layout.count + 1, sizeof *trust);
  int rc = run(argv[1], &layout, &s, w, g, &opt, trust, &err);
  if (!rc) rc = write_outputs(argv[1], &layout, &s, w, &opt, trust, &err);
  for (int p = 0; !rc && p + 1 < layout.count; p++) {
    const bert_param *a = &layout.params[p], *b = &layout.params[p + 1];
    for (size_t i = a->offset + a->size; i < b->offset; i++)
      if (w[i] == w[i]) rc = bert_error_set(&err, BERT_EINVAL, "padding after %s was written", a->name);
  }
  free(w), free(g), free(trust), free(s.lrs);
  bert_optimizer_free(&opt);
  bert_layout_free(&layout);
  bert_config_free(&cfg);
  return rc ? fail(argv[1], &err) : 0;
}
