/* tool_dump_checkpoint IN OUT.safetensors: reads IN (a torch.save'd state dict, or a
 * .safetensors file) with the library and writes every tensor to OUT twice: "raw.<name>" in its
 * own dtype and bytes, and, for float tensors, "f32.<name>" as converted to fp32. Driven by
 * tests/io/test_torch_checkpoints.py, which compares both against PyTorch. Exit status 1 with
 * the library's message on stderr when IN is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "io/torch_pickle.h"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

static int dump(const bert_st_tensor *tensors, int count, const char *out, bert_error *err) {
  bert_st_entry *e = calloc((size_t)(2 * count + 1), sizeof *e);
  char **names = calloc((size_t)(2 * count + 1), sizeof *names);
  float **f32 = calloc((size_t)(count + 1), sizeof *f32);
  int n = 0, rc = 0;
  for (int i = 0; i < count && !rc; i++) {
    const bert_st_tensor *t = &tensors[i];
    bert_st_entry base = {.dtype = t->dtype, .ndim = t->ndim, .data = t->data};
    memcpy(base.shape, t->shape, sizeof base.shape);
    names[n] = malloc(strlen(t->name) + 5);
    sprintf(names[n], "raw.%s", t->name);
    e[n] = base;
    e[n].name = names[n];
    n++;
    if (!bert_st_is_float(t->dtype)) continue;
    f32[i] = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    rc = bert_st_to_f32(t, f32[i], err);
    names[n] = malloc(strlen(t->name) + 5);
    sprintf(names[n], "f32.%s", t->name);
    e[n] = base;
    e[n].name = names[n];
    e[n].dtype = BERT_ST_F32;
    e[n].data = f32[i];
    n++;
  }
  if (!rc) rc = bert_safetensors_write(out, e, n, NULL, 0, err);
  for (int i = 0; i < n; i++) free(names[i]);
  for (int i = 0; i < count; i++) free(f32[i]);
  free(names);
  free(f32);
  free(e);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IN OUT.safetensors\n", argv[0]);
    return 2;
  }
  bert_error err = {0};
  int rc;
  if (ends_with(argv[1], ".safetensors")) {
    bert_safetensors st;
    if (!(rc = bert_safetensors_open(&st, argv[1], &err))) {
      rc = dump(st.tensors, st.count, argv[2], &err);
      bert_safetensors_close(&st);
    }
  } else {
    bert_torch_file tf;
    if (!(rc = bert_torch_open(&tf, argv[1], &err))) {
      rc = dump(tf.tensors, tf.count, argv[2], &err);
      bert_torch_close(&tf);
    }
  }
  if (rc) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  return 0;
}
