/* tf.train.Example (data/example): decode any bytes, read every feature through the views and the
 * fixed-size getters, then encode what was read with the builder and decode it again: the round
 * trip must give the same features. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/example.h"
#include "harness.h"

static volatile unsigned fuzz_sink; /* keeps the reads */

/* Reads every value, so ASan checks the views' extents. */
static unsigned touch(const bert_example *ex, size_t i) {
  size_t n = bert_example_feature_length(ex, i);
  unsigned sum = 0;
  const int64_t *ints = bert_example_int64s(ex, i);
  const float *floats = bert_example_floats(ex, i);
  for (size_t j = 0; j < n; j++) {
    size_t len = 0;
    const uint8_t *bytes = bert_example_bytes(ex, i, j, &len);
    if (ints) sum += (unsigned)ints[j];
    if (floats) sum += floats[j] > 0;
    for (size_t k = 0; bytes && k < len; k++) sum += bytes[k];
  }
  return sum;
}

static void get_all(const bert_example *ex, size_t i) {
  const char *name = bert_example_feature_name(ex, i);
  size_t n = bert_example_feature_length(ex, i);
  void *buf = malloc(n * 8 + 1);
  bert_error err;
  bert_example_get_int64(ex, name, buf, n, &err);
  bert_example_get_float(ex, name, buf, n, &err);
  bert_example_get_int64(ex, name, buf, n ? n - 1 : 0, &err); /* wrong length: an error */
  free(buf);
}

/* Builder holding feature i of ex as it was read. */
static void add_feature(bert_example_builder *b, const bert_example *ex, size_t i, const uint8_t **ptrs,
                        size_t *lens) {
  const char *name = bert_example_feature_name(ex, i);
  size_t n = bert_example_feature_length(ex, i);
  bert_error err;
  switch (bert_example_feature_kind(ex, i)) {
    case BERT_FEATURE_INT64: bert_example_add_int64(b, name, bert_example_int64s(ex, i), n, &err); break;
    case BERT_FEATURE_FLOAT: bert_example_add_float(b, name, bert_example_floats(ex, i), n, &err); break;
    case BERT_FEATURE_BYTES:
      for (size_t j = 0; j < n; j++) ptrs[j] = bert_example_bytes(ex, i, j, &lens[j]);
      bert_example_add_bytes(b, name, ptrs, lens, n, &err);
      break;
    default: bert_example_add_int64(b, name, NULL, 0, &err); break;
  }
}

static void round_trip(const bert_example *ex) {
  size_t count = bert_example_feature_count(ex);
  if (count > BERT_EXAMPLE_MAX_FEATURES) return;
  bert_example_builder b;
  bert_example_builder_init(&b);
  const uint8_t **ptrs[BERT_EXAMPLE_MAX_FEATURES];
  size_t *lens[BERT_EXAMPLE_MAX_FEATURES];
  for (size_t i = 0; i < count; i++) {
    size_t n = bert_example_feature_length(ex, i);
    ptrs[i] = malloc((n + 1) * sizeof *ptrs[i]);
    lens[i] = malloc((n + 1) * sizeof *lens[i]);
    add_feature(&b, ex, i, ptrs[i], lens[i]);
  }
  size_t cap = bert_example_encoded_size(&b), written = 0;
  uint8_t *out = malloc(cap + 1);
  bert_error err;
  if (bert_example_encode(&b, out, cap, &written, &err)) fprintf(stderr, "%s\n", err.message), abort();
  bert_example again = {0};
  if (bert_example_decode(&again, out, written, &err)) fprintf(stderr, "%s\n", err.message), abort();
  if (bert_example_feature_count(&again) != count) abort();
  for (size_t i = 0; i < count; i++) {
    bert_feature_kind kind = bert_example_feature_kind(ex, i);
    if (strcmp(bert_example_feature_name(&again, i), bert_example_feature_name(ex, i)) ||
        bert_example_feature_length(&again, i) != bert_example_feature_length(ex, i) ||
        (kind != BERT_FEATURE_NONE && bert_example_feature_kind(&again, i) != kind))
      abort();
  }
  bert_example_free(&again);
  free(out);
  for (size_t i = 0; i < count; i++) free(ptrs[i]), free(lens[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bert_example ex = {0};
  bert_error err;
  if (fuzz_check(bert_example_decode(&ex, data, size, &err), &err)) return 0;
  unsigned sum = 0;
  size_t count = bert_example_feature_count(&ex);
  for (size_t i = 0; i < count; i++) {
    sum += touch(&ex, i);
    get_all(&ex, i);
  }
  bert_example_find(&ex, "input_ids");
  round_trip(&ex);
  bert_example_free(&ex);
  fuzz_sink = sum;
  return 0;
}
