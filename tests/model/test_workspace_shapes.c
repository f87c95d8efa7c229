/* A batch smaller than its workspace (fewer rows, shorter sequences: SQuAD trims every batch to
 * its longest feature) gives exactly the losses, logits and gradients of a workspace sized for it,
 * for the QA and pretraining heads, with and without dropout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test_util.h"

enum { B = 2, L = 24, M = 3 };

typedef struct run {
  float loss;
  float *grads;
  float logits[B * L];
} run;

static void run_batch(bert_model *m, bert_task task, int max_batch, int max_len, const bert_batch *b, int train,
                      run *out) {
  bert_error err = {0};
  bert_workspace ws;
  CHECK_MSG(bert_workspace_create(&ws, m, task, max_batch, max_len, M, 1, 1, &err) == 0, "%s", err.message);
  bert_model_zero_grads(m);
  CHECK_MSG(bert_model_forward(m, &ws, b, train, bert_rng_make(3, BERT_RNG_DROPOUT, 5, 0), &err) == 0, "%s", err.message);
  out->loss = ws.out.loss;
  if (task == BERT_TASK_QA) memcpy(out->logits, ws.start_logits, sizeof out->logits);
  CHECK_MSG(bert_model_backward(m, &ws, b, 1.0f, &err) == 0, "%s", err.message);
  out->grads = malloc(m->layout.total * sizeof(float));
  memcpy(out->grads, m->grads, m->layout.total * sizeof(float));
  bert_workspace_free(&ws);
}

static void compare(bert_model *m, bert_task task, const bert_batch *b, int train, const char *what) {
  run exact, bigger;
  run_batch(m, task, B, L, b, train, &exact);
  run_batch(m, task, B + 3, L + 40, b, train, &bigger);
  CHECK_MSG(fabsf(exact.loss - bigger.loss) <= 1e-6f * fabsf(exact.loss), "%s: loss %.9g vs %.9g", what, exact.loss,
            bigger.loss);
  double g = test_max_rel_diff(exact.grads, bigger.grads, m->layout.total);
  CHECK_MSG(g <= 1e-5, "%s: gradients differ by %.3g of their largest", what, g);
  if (task == BERT_TASK_QA) {
    double l = test_max_rel_diff(exact.logits, bigger.logits, B * L);
    CHECK_MSG(l <= 1e-5, "%s: logits differ by %.3g", what, l);
  }
  free(exact.grads);
  free(bigger.grads);
}

int main(void) {
  bert_config cfg;
  bert_config_defaults(&cfg);
  cfg.vocab_size = 60, cfg.hidden_size = 32, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 4;
  cfg.intermediate_size = 64, cfg.max_position_embeddings = 128, cfg.initializer_range = 0.2f;
  cfg.hidden_dropout_prob = 0.1f, cfg.attention_probs_dropout_prob = 0.1f;
  bert_model m;
  bert_error err = {0};
  CHECK(bert_model_create(&m, &cfg, BERT_PART_QA | BERT_PARTS_PRETRAINING, &err) == 0);
  bert_layout_init(&m.layout, &m.config, 5, BERT_PART_ALL, m.params);
  CHECK(bert_model_enable_grads(&m, &err) == 0);

  int32_t ids[B * L], types[B * L], mask[B * L], starts[B] = {3, 10}, ends[B] = {5, L}, pos[B * M], labels[B * M];
  int32_t nsp[B] = {1, 0};
  for (int i = 0; i < B * L; i++) {
    ids[i] = 1 + (i * 13) % 59;
    types[i] = (i % L) > 6;
    mask[i] = (i % L) < (i < L ? L : L - 7);
  }
  for (int i = 0; i < B * M; i++) pos[i] = 1 + (i * 5) % (L - 8), labels[i] = 2 + (i * 11) % 57;
  bert_batch qa = {.batch = B, .len = L, .input_ids = ids, .token_type_ids = types, .attention_mask = mask,
                   .slots = 1, .start_positions = starts, .end_positions = ends};
  compare(&m, BERT_TASK_QA, &qa, 0, "QA, eval");
  compare(&m, BERT_TASK_QA, &qa, 1, "QA, dropout");
  bert_batch pre = {.batch = B, .len = L, .input_ids = ids, .token_type_ids = types, .attention_mask = mask,
                    .masked = M, .masked_positions = pos, .masked_labels = labels, .slots = 1, .nsp_labels = nsp};
  compare(&m, BERT_TASK_PRETRAINING, &pre, 1, "pretraining, dropout");
  bert_model_free(&m);
  return test_summary("model/workspace_shapes");
}
