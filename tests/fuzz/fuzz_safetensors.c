/* safetensors (io/safetensors): the input is a whole file. Opening validates the header and the
 * data layout; every float tensor is then converted to fp32 and every name looked up. */
#include <stdlib.h>

#include "harness.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bert_safetensors st;
  bert_error err;
  if (fuzz_check(bert_safetensors_open(&st, fuzz_file(0, data, size), &err), &err)) return 0;
  for (int i = 0; i < st.count; i++) {
    const bert_st_tensor *t = &st.tensors[i];
    if (bert_safetensors_find(&st, t->name) == NULL) abort();
    float *out = malloc((size_t)t->numel * sizeof *out + 1);
    if (bert_st_is_float(t->dtype) && bert_st_to_f32(t, out, &err)) abort();
    free(out);
  }
  bert_safetensors_close(&st);
  return 0;
}
