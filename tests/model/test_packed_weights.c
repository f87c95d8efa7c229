/* Weights packed once for inference give the outputs of the plain weights, in fp32, int8 and
 * bf16, for row counts other than the one packed for, and the products really read them; packing
 * is dropped when the precision or the weights change. Releasing the fp32 encoder weights (bf16,
 * int8 inference) changes no output, gives the memory back, and refuses what would need them. The packing is forced: on CPUs whose
 * kernels read a plain layout (AVX2) nothing would be packed otherwise, and oneDNN's preferred
 * plain order (W as [in, out], where bertc keeps [out, in]) is what gets packed and read then. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "model/model.h"
#include "test_util.h"

enum { B = 3, L = 20 };

static void qa_logits(bert_model *m, const bert_batch *b, float *out) {
  bert_error err = {0};
  bert_workspace ws;
  CHECK_MSG(bert_workspace_create(&ws, m, BERT_TASK_QA, B, L, 0, 1, 0, &err) == 0, "%s", err.message);
  CHECK_MSG(bert_model_forward(m, &ws, b, 0, bert_rng_make(1, BERT_RNG_DROPOUT, 0, 0), &err) == 0, "%s", err.message);
  memcpy(out, ws.start_logits, sizeof(float) * b->batch * b->len);
  memcpy(out + b->batch * b->len, ws.end_logits, sizeof(float) * b->batch * b->len);
  bert_workspace_free(&ws);
}

static int packed_count(const bert_model *m) {
  int n = 0;
  for (int i = 0; i < m->packing.count; i++) n += m->packing.weights[i].layout != NULL;
  return n;
}

/* The same batches plain (just after set_precision, which drops any packing) and packed for 64 rows,
 * run at 60 and at 20 rows. */
static void compare(bert_model *m, bert_precision p, bert_batch *b, const char *what, int expect_packed) {
  bert_error err = {0};
  float plain[2][2 * B * L], packed[2][2 * B * L];
  CHECK(bert_model_set_precision(m, p, &err) == 0);
  CHECK_MSG(m->packing.count == 0, "%s: set_precision keeps a packing", what);
  for (int r = 0; r < 2; r++) b->batch = r ? 1 : B, qa_logits(m, b, plain[r]);
  CHECK_MSG(bert_model_pack_weights(m, 64, 1, &err) == 0 && m->packing.count > 0, "%s: %s", what, err.message);
  /* forced, everything is packed unless oneDNN prefers exactly our plain layout (then nothing is) */
  int packed_weights = packed_count(m);
  expect_packed = expect_packed && packed_weights > 0;
  CHECK_MSG(packed_weights == 0 || packed_weights == m->packing.count, "%s: %d of %d weights packed", what,
            packed_weights, m->packing.count);
  printf("%s: %d of %d weights packed\n", what, packed_weights, m->packing.count);
  int64_t calls = bert_gemm_packed_calls(m->gemm);
  for (int r = 0; r < 2; r++) {
    b->batch = r ? 1 : B;
    qa_logits(m, b, packed[r]);
    if (expect_packed)
      CHECK_MSG(bert_gemm_packed_calls(m->gemm) >= calls + 4 * (r + 1) * m->config.num_hidden_layers,
                "%s: the products did not read the packed weights", what);
    double e = test_max_rel_diff(plain[r], packed[r], 2 * b->batch * L);
    CHECK_MSG(e <= 1e-5, "%s, %d rows: packed weights change the logits by %.3g", what, b->batch * L, e);
  }
  b->batch = B;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

static void release(bert_precision p) {
  bert_config cfg;
  bert_config_defaults(&cfg);
  cfg.vocab_size = 60, cfg.hidden_size = 256, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 4;
  cfg.intermediate_size = 1024, cfg.max_position_embeddings = 64;
  bert_model m;
  bert_error err = {0};
  CHECK(bert_model_create(&m, &cfg, BERT_PART_QA, &err) == 0);
  bert_layout_init(&m.layout, &m.config, 4, BERT_PART_ALL, m.params);
  int32_t ids[B * L];
  for (int i = 0; i < B * L; i++) ids[i] = 1 + (i * 7) % 59;
  bert_batch b = {.batch = B, .len = L, .input_ids = ids, .slots = 1};
  float before[2 * B * L], after[2 * B * L];
  CHECK(bert_model_set_precision(&m, BERT_FP32, &err) == 0);
  CHECK(bert_model_release_fp32_weights(&m, &err) == BERT_EINVAL); /* fp32 inference reads them */
  CHECK(bert_model_set_precision(&m, p, &err) == 0);
  qa_logits(&m, &b, before);
  long rss0 = rss_kb();
  CHECK_MSG(bert_model_release_fp32_weights(&m, &err) == 0, "%s", err.message);
  long freed = rss0 - rss_kb(); /* 2 layers x 786,432 fp32 weights = 6 MiB */
  CHECK_MSG(freed >= 4096, "%s: releasing the fp32 weights gave back %ld KiB", bert_precision_name(p), freed);
  qa_logits(&m, &b, after);
  CHECK_MSG(memcmp(before, after, sizeof before) == 0, "%s: the logits changed after the release", bert_precision_name(p));
  CHECK(bert_model_set_precision(&m, BERT_FP32, &err) == BERT_EINVAL && strstr(err.message, "released"));
  CHECK(bert_model_enable_grads(&m, &err) == BERT_EINVAL);
  CHECK(bert_checkpoint_save(&m, test_tmpdir("released"), NULL, 1, &err) == BERT_EINVAL);
  bert_model_free(&m);
}

int main(void) {
  bert_config cfg;
  bert_config_defaults(&cfg);
  cfg.vocab_size = 60, cfg.hidden_size = 32, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 4;
  cfg.intermediate_size = 64, cfg.max_position_embeddings = 64, cfg.initializer_range = 0.2f;
  bert_model m;
  bert_error err = {0};
  CHECK(bert_model_create(&m, &cfg, BERT_PART_QA, &err) == 0);
  bert_layout_init(&m.layout, &m.config, 9, BERT_PART_ALL, m.params);
  int32_t ids[B * L], mask[B * L];
  for (int i = 0; i < B * L; i++) ids[i] = 1 + (i * 17) % 59, mask[i] = (i % L) < L - (i / L) * 3;
  bert_batch b = {.batch = B, .len = L, .input_ids = ids, .attention_mask = mask, .slots = 1};

  compare(&m, BERT_FP32, &b, "fp32", 1);
  compare(&m, BERT_INT8, &b, "int8", 1);
  compare(&m, BERT_BF16, &b, "bf16", bert_gemm_bf16_native(m.gemm)); /* emulated bf16 packs nothing */
  bert_model_sync_bf16(&m);
  CHECK(m.packing.count == 0); /* changed weights drop the packing */
  bert_model_free(&m);
  release(BERT_BF16);
  release(BERT_INT8);
  return test_summary("model/packed_weights");
}
