/* Optimizer state and invariants: parameter groups on a real pretraining layout (reference 4.1);
 * save -> load into a fresh optimizer -> step continues bit-identically (every kind, fp32 and fp16
 * first moment); the result does not depend on the thread count; bad state files are refused
 * without touching the state. The maths itself is checked against PyTorch in
 * test_optimizer_vs_torch.py. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/layout.h"
#include "test_util.h"
#include "train/optimizer.h"

static bert_layout layout;

static void make_layout(void) {
  bert_config cfg;
  bert_config_defaults(&cfg);
  /* vocab x hidden = 64000 elements: several chunks, so the parallel split is exercised */
  cfg.vocab_size = 1000, cfg.hidden_size = 64, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 4;
  cfg.intermediate_size = 128, cfg.max_position_embeddings = 64;
  bert_error err = {0};
  CHECK(bert_layout_build(&layout, &cfg, BERT_PARTS_PRETRAINING, &err) == 0);
}

static float *random_buffer(uint64_t seed, float scale) {
  float *x = calloc(layout.total, sizeof *x);
  bert_rng rng = bert_rng_make(seed, BERT_RNG_INIT, 0, 0);
  for (int p = 0; p < layout.count; p++)
    for (size_t j = 0; j < layout.params[p].size; j++)
      x[layout.params[p].offset + j] = scale * (float)bert_rng_normal(rng, layout.params[p].offset + j);
  return x;
}

static int group_of(const bert_optimizer *o, const char *name) {
  const bert_param *p = bert_layout_find(&layout, name);
  return p ? o->groups[p - layout.params] : -1;
}

static void test_groups(void) {
  bert_optimizer_config cfg;
  bert_optimizer_config_defaults(&cfg);
  cfg.kind = BERT_OPT_LAMB, cfg.weight_decay = 0.01;
  bert_optimizer o;
  bert_error err = {0};
  CHECK(bert_optimizer_create(&o, &layout, &cfg, &err) == 0);
  CHECK(group_of(&o, "cls.predictions.bias") == BERT_GROUP_BIAS);
  CHECK(group_of(&o, "bert.encoder.layer.1.attention.self.key.bias") == BERT_GROUP_BIAS);
  CHECK(group_of(&o, "bert.embeddings.LayerNorm.bias") == BERT_GROUP_BIAS);
  CHECK(group_of(&o, "bert.embeddings.LayerNorm.weight") == BERT_GROUP_NORM);
  CHECK(group_of(&o, "cls.predictions.transform.LayerNorm.weight") == BERT_GROUP_NORM);
  CHECK(group_of(&o, "bert.embeddings.word_embeddings.weight") == BERT_GROUP_DECAY);
  CHECK(group_of(&o, "bert.embeddings.token_type_embeddings.weight") == BERT_GROUP_DECAY);
  CHECK(group_of(&o, "cls.seq_relationship.weight") == BERT_GROUP_DECAY);
  int counts[3] = {0};
  for (int p = 0; p < layout.count; p++) {
    const char *name = layout.params[p].name;
    int g = o.groups[p];
    counts[g]++;
    CHECK_MSG(o.weight_decay[p] == (g == BERT_GROUP_DECAY ? 0.01 : 0.0), "%s", name);
    CHECK_MSG(o.max_weight_norm[p] == (g == BERT_GROUP_BIAS ? 0.0 : 65500.0), "%s", name);
  }
  /* 2 layers x 8 biases + embeddings LN + pooler + MLM (dense, LN, output) + NSP */
  CHECK(counts[BERT_GROUP_BIAS] == 16 + 1 + 1 + 3 + 1);
  CHECK(counts[BERT_GROUP_NORM] == 2 * 2 + 1 + 1);
  CHECK(counts[BERT_GROUP_DECAY] == 3 + 2 * 6 + 1 + 1 + 1);
  bert_optimizer_free(&o);
}

/* Steps `a` with seeds [first, first + n), each step its own gradients and LR. */
static void run_steps(bert_optimizer *o, float *w, int first, int n) {
  for (int s = first; s < first + n; s++) {
    float *g = random_buffer(100 + (uint64_t)s, 3.0f);
    bert_optimizer_step(o, w, g, 0.25f, 0.01f * (float)(s + 1));
    free(g);
  }
}

static int state_equal(const bert_optimizer *a, const bert_optimizer *b) {
  return a->step == b->step && a->state_bytes == b->state_bytes && !memcmp(a->state, b->state, a->state_bytes);
}

static void test_round_trip(bert_optimizer_kind kind, int half) {
  bert_optimizer_config cfg;
  bert_optimizer_config_defaults(&cfg);
  cfg.kind = kind, cfg.weight_decay = 0.01, cfg.half_first_moment = half;
  bert_optimizer a, b;
  bert_error err = {0};
  CHECK(bert_optimizer_create(&a, &layout, &cfg, &err) == 0);
  CHECK(bert_optimizer_create(&b, &layout, &cfg, &err) == 0);
  float *wa = random_buffer(1, 0.5f), *wb = malloc(layout.total * sizeof *wb);
  run_steps(&a, wa, 0, 2);
  memcpy(wb, wa, layout.total * sizeof *wb);

  const char *dir = test_tmpdir("optimizer");
  char path[4200];
  snprintf(path, sizeof path, "%s/optimizer.safetensors", dir ? dir : "/tmp");
  CHECK_MSG(bert_optimizer_save(&a, path, &err) == 0, "%s", err.message);
  CHECK_MSG(bert_optimizer_load(&b, path, &err) == 0, "%s", err.message);
  CHECK_MSG(state_equal(&a, &b), "%s half=%d: loaded state differs", bert_optimizer_kind_name(kind), half);
  CHECK(b.step == 2);

  run_steps(&a, wa, 2, 2);
  run_steps(&b, wb, 2, 2);
  CHECK_MSG(!memcmp(wa, wb, layout.total * sizeof *wa), "%s half=%d: resumed parameters differ",
            bert_optimizer_kind_name(kind), half);
  CHECK(state_equal(&a, &b));
  free(wa), free(wb);
  bert_optimizer_free(&a), bert_optimizer_free(&b);
}

static void test_thread_independence(bert_optimizer_kind kind) {
  bert_optimizer_config cfg;
  bert_optimizer_config_defaults(&cfg);
  cfg.kind = kind, cfg.weight_decay = 0.01;
  bert_optimizer a, b;
  bert_error err = {0};
  CHECK(bert_optimizer_create(&a, &layout, &cfg, &err) == 0);
  CHECK(bert_optimizer_create(&b, &layout, &cfg, &err) == 0);
  float *wa = random_buffer(2, 0.5f), *wb = random_buffer(2, 0.5f);
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  run_steps(&a, wa, 0, 3);
  omp_set_num_threads(threads > 1 ? threads : 2);
  run_steps(&b, wb, 0, 3);
  omp_set_num_threads(threads);
  CHECK_MSG(!memcmp(wa, wb, layout.total * sizeof *wa), "%s: 1 and 2 threads differ", bert_optimizer_kind_name(kind));
  CHECK(state_equal(&a, &b));
  free(wa), free(wb);
  bert_optimizer_free(&a), bert_optimizer_free(&b);
}

/* A state file missing a tensor or with a wrong shape is refused and the state is unchanged. */
static void test_bad_state(void) {
  bert_optimizer_config cfg;
  bert_optimizer_config_defaults(&cfg);
  bert_optimizer a;
  bert_error err = {0};
  CHECK(bert_optimizer_create(&a, &layout, &cfg, &err) == 0);
  float *w = random_buffer(3, 0.5f);
  run_steps(&a, w, 0, 1);
  int n = bert_optimizer_state_count(&a);
  bert_st_entry *e = calloc((size_t)n, sizeof *e);
  CHECK(bert_optimizer_state_entries(&a, e) == n);
  CHECK(!strcmp(e[0].name, "exp_avg.bert.embeddings.word_embeddings.weight") && e[0].dtype == BERT_ST_F32);
  CHECK(!strcmp(e[1].name, "exp_avg_sq.bert.embeddings.word_embeddings.weight") && e[1].ndim == 2);
  CHECK(!strcmp(e[n - 1].name, "step") && e[n - 1].dtype == BERT_ST_I64 && e[n - 1].ndim == 0);

  const char *dir = test_tmpdir("optimizer-bad");
  char path[4200];
  snprintf(path, sizeof path, "%s/missing.safetensors", dir ? dir : "/tmp");
  CHECK(bert_safetensors_write(path, e + 1, n - 1, NULL, 0, &err) == 0); /* no exp_avg of word embeddings */
  bert_optimizer b;
  CHECK(bert_optimizer_create(&b, &layout, &cfg, &err) == 0);
  CHECK(bert_optimizer_load(&b, path, &err) == BERT_EMISMATCH);
  CHECK_MSG(strstr(err.message, "exp_avg.bert.embeddings.word_embeddings.weight") != NULL, "%s", err.message);
  CHECK(b.step == 0 && b.v[0] == 0.0f);

  e[1].shape[0] = 999; /* wrong shape; the data is still large enough to write */
  snprintf(path, sizeof path, "%s/shape.safetensors", dir ? dir : "/tmp");
  CHECK(bert_safetensors_write(path, e, n, NULL, 0, &err) == 0);
  CHECK(bert_optimizer_load(&b, path, &err) == BERT_EMISMATCH);
  CHECK(b.step == 0 && b.v[0] == 0.0f);
  free(e), free(w);
  bert_optimizer_free(&a), bert_optimizer_free(&b);
}

static void test_config(void) {
  bert_optimizer_kind k;
  bert_error err = {0};
  CHECK(bert_optimizer_kind_parse("LAMBNoBiasCorrection", &k, &err) == 0 && k == BERT_OPT_LAMB_NO_BIAS_CORRECTION);
  CHECK(bert_optimizer_kind_parse("AdamW", &k, &err) == 0 && k == BERT_OPT_ADAMW);
  CHECK(bert_optimizer_kind_parse("SGD", &k, &err) == BERT_EINVAL);
  bert_optimizer_config cfg;
  bert_optimizer_config_defaults(&cfg);
  CHECK(cfg.beta1 == 0.9 && cfg.beta2 == 0.999 && cfg.eps == 1e-6 && cfg.max_weight_norm == 65500.0);
  cfg.beta2 = 1.0;
  bert_optimizer o;
  CHECK(bert_optimizer_create(&o, &layout, &cfg, &err) == BERT_EINVAL);
}

int main(void) {
  make_layout();
  test_config();
  test_groups();
  for (int kind = 0; kind < 3; kind++)
    for (int half = 0; half < 2; half++) test_round_trip((bert_optimizer_kind)kind, half);
  test_thread_independence(BERT_OPT_LAMB);
  test_thread_independence(BERT_OPT_ADAMW);
  test_bad_state();
  bert_layout_free(&layout);
  return test_summary("test_optimizer");
}
