/* With dropout on (hidden and attention), the backward pass differentiates exactly the function
 * the forward computed: the directional derivative from the gradients matches central finite
 * differences of the loss along a random direction, with the same dropout masks. Also: dropout
 * changes the training-mode loss, and eval mode ignores it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test_util.h"

enum { B = 2, L = 16, M = 4 };

static float loss_at(bert_model *m, bert_workspace *ws, const bert_batch *b, int train) {
  bert_error err = {0};
  int rc = bert_model_forward(m, ws, b, train, bert_rng_make(7, BERT_RNG_DROPOUT, 1, 0), &err);
  CHECK_MSG(rc == 0, "%s", err.message);
  return ws->out.loss;
}

int main(void) {
  bert_config cfg;
  bert_config_defaults(&cfg);
  cfg.vocab_size = 50, cfg.hidden_size = 32, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 4;
  cfg.intermediate_size = 64, cfg.max_position_embeddings = 32, cfg.layer_norm_eps = 1e-3f;
  cfg.hidden_dropout_prob = 0.2f, cfg.attention_probs_dropout_prob = 0.2f, cfg.initializer_range = 0.3f;
  bert_model m;
  bert_error err = {0};
  CHECK(bert_model_create(&m, &cfg, BERT_PARTS_PRETRAINING, &err) == 0);
  bert_layout_init(&m.layout, &m.config, 11, BERT_PART_ALL, m.params);
  CHECK(bert_model_enable_grads(&m, &err) == 0);
  bert_workspace ws;
  CHECK(bert_workspace_create(&ws, &m, BERT_TASK_PRETRAINING, B, L, M, 1, 1, &err) == 0);

  int32_t ids[B * L], mask[B * L], pos[B * M], labels[B * M], nsp[B] = {0, 1};
  for (int i = 0; i < B * L; i++) ids[i] = 1 + (i * 7) % 49, mask[i] = (i % L) < (i < L ? L : L - 5);
  for (int i = 0; i < B * M; i++) pos[i] = (i * 3) % (L - 5), labels[i] = 1 + (i * 5) % 49;
  labels[B * M - 1] = 0;
  bert_batch b = {.batch = B, .len = L, .input_ids = ids, .attention_mask = mask, .masked = M,
                  .masked_positions = pos, .masked_labels = labels, .slots = 1, .nsp_labels = nsp};

  float train_loss = loss_at(&m, &ws, &b, 1);
  float eval_loss = loss_at(&m, &ws, &b, 0);
  CHECK_MSG(fabsf(train_loss - eval_loss) > 1e-4f, "dropout did not change the loss (%g)", train_loss);

  loss_at(&m, &ws, &b, 1);
  CHECK(bert_model_backward(&m, &ws, &b, 1.0f, &err) == 0);
  size_t n = m.layout.total;
  float *dir = malloc(n * sizeof(float)), *base = malloc(n * sizeof(float));
  memcpy(base, m.params, n * sizeof(float));
  double gv = 0;
  for (size_t i = 0; i < n; i++) {
    dir[i] = bert_rng_uniform(bert_rng_make(3, BERT_RNG_INIT, 0, 0), i) - 0.5f;
    gv += (double)dir[i] * m.grads[i];
  }
  const float eps = 2e-3f;
  for (size_t i = 0; i < n; i++) m.params[i] = base[i] + eps * dir[i];
  double up = loss_at(&m, &ws, &b, 1);
  for (size_t i = 0; i < n; i++) m.params[i] = base[i] - eps * dir[i];
  double down = loss_at(&m, &ws, &b, 1);
  double fd = (up - down) / (2 * eps);
  CHECK_MSG(fabs(fd - gv) <= 2e-2 * fabs(gv) + 1e-3, "finite difference %g vs gradient %g", fd, gv);

  free(dir), free(base);
  bert_workspace_free(&ws);
  bert_model_free(&m);
  return test_summary("dropout gradient");
}
