/* data/example: tf.train.Example records (the payload of pretraining TFRecords) through
 * protobuf-c. Decoding gives named features; the fixed-size getters fail with a message naming
 * the missing, mistyped or mis-sized feature. Encoding takes named arrays the caller keeps alive
 * and serialises them in the order added (no allocation). */
#ifndef BERT_DATA_EXAMPLE_H
#define BERT_DATA_EXAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum bert_feature_kind {
  BERT_FEATURE_NONE = 0,
  BERT_FEATURE_BYTES = 1,
  BERT_FEATURE_FLOAT = 2,
  BERT_FEATURE_INT64 = 3,
} bert_feature_kind;

const char *bert_feature_kind_name(bert_feature_kind kind);

/* ---- decoding ---- */
typedef struct bert_example {
  void *msg; /* Tensorflow__Example, owned */
} bert_example;

int bert_example_decode(bert_example *ex, const uint8_t *data, size_t size, bert_error *err);
void bert_example_free(bert_example *ex);

/* Features in the order stored in the record. */
size_t bert_example_feature_count(const bert_example *ex);
const char *bert_example_feature_name(const bert_example *ex, size_t i);
bert_feature_kind bert_example_feature_kind(const bert_example *ex, size_t i);
/* Number of values of feature i (bytes: number of strings). */
size_t bert_example_feature_length(const bert_example *ex, size_t i);
/* Position of the named feature, or -1. */
int bert_example_find(const bert_example *ex, const char *name);
/* Direct views of feature i (NULL if it has another kind). */
const int64_t *bert_example_int64s(const bert_example *ex, size_t i);
const float *bert_example_floats(const bert_example *ex, size_t i);
const uint8_t *bert_example_bytes(const bert_example *ex, size_t i, size_t j, size_t *len);

/* Copies exactly n values of the named feature; BERT_EFORMAT names the feature when it is missing,
 * of another kind, or of another length. */
int bert_example_get_int64(const bert_example *ex, const char *name, int64_t *out, size_t n, bert_error *err);
int bert_example_get_float(const bert_example *ex, const char *name, float *out, size_t n, bert_error *err);

/* ---- encoding ---- */
#define BERT_EXAMPLE_MAX_FEATURES 32

typedef struct bert_example_feature {
  const char *name;
  bert_feature_kind kind;
  const void *values;        /* int64_t[n], float[n], or for bytes an array of n pointers */
  const size_t *byte_lengths; /* bytes only: length of each string */
  size_t n;
} bert_example_feature;

typedef struct bert_example_builder {
  size_t count;
  bert_example_feature features[BERT_EXAMPLE_MAX_FEATURES];
} bert_example_builder;

void bert_example_builder_init(bert_example_builder *b);
int bert_example_add_int64(bert_example_builder *b, const char *name, const int64_t *values, size_t n,
                           bert_error *err);
int bert_example_add_float(bert_example_builder *b, const char *name, const float *values, size_t n,
                           bert_error *err);
int bert_example_add_bytes(bert_example_builder *b, const char *name, const uint8_t *const *values,
                           const size_t *lengths, size_t n, bert_error *err);
/* Serialised size in bytes. */
size_t bert_example_encoded_size(const bert_example_builder *b);
/* Serialises into out (cap bytes, at least bert_example_encoded_size); *written = bytes used. */
int bert_example_encode(const bert_example_builder *b, uint8_t *out, size_t cap, size_t *written, bert_error *err);

#endif
