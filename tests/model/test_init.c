/* Initialisation (reference 3.3): truncated normal within ±2σ with σ = initializer_range for every
 * linear and embedding weight, zero biases, zero padding row, LayerNorm 1/0; the same seed gives
 * the same parameters, another seed other ones; initialising one part leaves the rest alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test_util.h"

int main(void) {
  bert_config cfg;
  bert_config_defaults(&cfg);
  cfg.vocab_size = 1000, cfg.hidden_size = 64, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 8;
  cfg.intermediate_size = 256, cfg.max_position_embeddings = 128, cfg.initializer_range = 0.05f;
  bert_model a, b;
  bert_error err = {0};
  CHECK(bert_model_create(&a, &cfg, BERT_PART_ALL, &err) == 0);
  CHECK(bert_model_create(&b, &cfg, BERT_PART_ALL, &err) == 0);
  bert_layout_init(&a.layout, &a.config, 5, BERT_PART_ALL, a.params);
  bert_layout_init(&b.layout, &b.config, 5, BERT_PART_ALL, b.params);
  CHECK(memcmp(a.params, b.params, a.layout.total * sizeof(float)) == 0);

  double sum = 0, sum2 = 0, worst = 0;
  size_t count = 0;
  for (int i = 0; i < a.layout.count; i++) {
    const bert_param *p = &a.layout.params[i];
    const float *v = a.params + p->offset;
    if (p->ndim == 2) {
      size_t from = p->offset == a.layout.word_emb ? (size_t)p->shape[1] : 0; /* padding row 0 */
      for (size_t j = 0; j < from; j++) CHECK(v[j] == 0.0f);
      for (size_t j = from; j < p->size; j++) {
        sum += v[j], sum2 += (double)v[j] * v[j], count++;
        if (fabs(v[j]) > worst) worst = fabs(v[j]);
      }
    } else {
      float want = strstr(p->name, "LayerNorm.weight") ? 1.0f : 0.0f;
      for (size_t j = 0; j < p->size; j++) CHECK_MSG(v[j] == want, "%s[%zu] = %g", p->name, j, v[j]);
    }
  }
  double mean = sum / count, sd = sqrt(sum2 / count - mean * mean);
  /* the standard deviation of a normal truncated at ±2σ is 0.8796σ */
  CHECK_MSG(fabs(mean) < 1e-3, "mean %g", mean);
  CHECK_MSG(fabs(sd - 0.8796 * 0.05) < 1e-3, "sd %g", sd);
  CHECK_MSG(worst <= 2 * 0.05 + 1e-7 && worst > 1.9 * 0.05, "max |w| %g", worst);

  bert_layout_init(&b.layout, &b.config, 6, BERT_PART_ALL, b.params);
  CHECK(memcmp(a.params, b.params, a.layout.total * sizeof(float)) != 0);
  /* a missing head initialised alone: the encoder keeps its values */
  bert_layout_init(&b.layout, &b.config, 5, BERT_PART_ALL, b.params);
  const bert_param *qa = bert_layout_find(&b.layout, "qa_outputs.weight");
  CHECK(qa != NULL);
  memset(b.params + qa->offset, 0, qa->size * sizeof(float));
  b.params[b.layout.word_emb + 70] = 9.0f;
  bert_layout_init(&b.layout, &b.config, 5, BERT_PART_QA, b.params);
  CHECK(memcmp(a.params + qa->offset, b.params + qa->offset, qa->size * sizeof(float)) == 0);
  CHECK(b.params[b.layout.word_emb + 70] == 9.0f);
  bert_model_free(&a);
  bert_model_free(&b);
  return test_summary("init");
}
