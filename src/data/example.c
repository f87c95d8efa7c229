#include "data/example.h"

#include <stdlib.h>
#include <string.h>

#include "example.pb-c.h"

const char *bert_feature_kind_name(bert_feature_kind kind) {
  switch (kind) {
    case BERT_FEATURE_BYTES: return "bytes_list";
    case BERT_FEATURE_FLOAT: return "float_list";
    case BERT_FEATURE_INT64: return "int64_list";
    default: return "empty";
  }
}

/* ---------------------------------------------------------------- decoding */

static Tensorflow__Features *features_of(const bert_example *ex) {
  const Tensorflow__Example *m = ex->msg;
  return m ? m->features : NULL;
}

static const Tensorflow__Feature *feature_at(const bert_example *ex, size_t i) {
  const Tensorflow__Features *f = features_of(ex);
  return f && i < f->n_feature ? f->feature[i]->value : NULL;
}

int bert_example_decode(bert_example *ex, const uint8_t *data, size_t size, bert_error *err) {
  ex->msg = tensorflow__example__unpack(NULL, size, data);
  if (!ex->msg)
    return bert_error_set(err, BERT_EFORMAT, "payload of %zu bytes is not a valid tf.train.Example", size);
  return BERT_OK;
}

void bert_example_free(bert_example *ex) {
  if (ex->msg) tensorflow__example__free_unpacked(ex->msg, NULL);
  ex->msg = NULL;
}

size_t bert_example_feature_count(const bert_example *ex) {
  const Tensorflow__Features *f = features_of(ex);
  return f ? f->n_feature : 0;
}

const char *bert_example_feature_name(const bert_example *ex, size_t i) {
  const Tensorflow__Features *f = features_of(ex);
  return f && i < f->n_feature ? f->feature[i]->key : NULL;
}

bert_feature_kind bert_example_feature_kind(const bert_example *ex, size_t i) {
  const Tensorflow__Feature *f = feature_at(ex, i);
  return f ? (bert_feature_kind)f->kind_case : BERT_FEATURE_NONE;
}

size_t bert_example_feature_length(const bert_example *ex, size_t i) {
  const Tensorflow__Feature *f = feature_at(ex, i);
  if (!f) return 0;
  switch (f->kind_case) {
    case TENSORFLOW__FEATURE__KIND_BYTES_LIST: return f->bytes_list->n_value;
    case TENSORFLOW__FEATURE__KIND_FLOAT_LIST: return f->float_list->n_value;
    case TENSORFLOW__FEATURE__KIND_INT64_LIST: return f->int64_list->n_value;
    default: return 0;
  }
}

int bert_example_find(const bert_example *ex, const char *name) {
  const Tensorflow__Features *f = features_of(ex);
  if (!f) return -1;
  /* Protobuf maps keep the last of duplicate keys. */
  for (size_t i = f->n_feature; i-- > 0;)
    if (!strcmp(f->feature[i]->key, name)) return (int)i;
  return -1;
}

const int64_t *bert_example_int64s(const bert_example *ex, size_t i) {
  const Tensorflow__Feature *f = feature_at(ex, i);
  return f && f->kind_case == TENSORFLOW__FEATURE__KIND_INT64_LIST ? f->int64_list->value : NULL;
}

const float *bert_example_floats(const bert_example *ex, size_t i) {
  const Tensorflow__Feature *f = feature_at(ex, i);
  return f && f->kind_case == TENSORFLOW__FEATURE__KIND_FLOAT_LIST ? f->float_list->value : NULL;
}

const uint8_t *bert_example_bytes(const bert_example *ex, size_t i, size_t j, size_t *len) {
  const Tensorflow__Feature *f = feature_at(ex, i);
  if (!f || f->kind_case != TENSORFLOW__FEATURE__KIND_BYTES_LIST || j >= f->bytes_list->n_value) return NULL;
  *len = f->bytes_list->value[j].len;
  /* protobuf-c leaves empty strings without storage; callers still get a valid pointer. */
  return *len ? f->bytes_list->value[j].data : (const uint8_t *)"";
}

/* Finds a feature of the wanted kind and length, or explains why not. */
static int lookup(const bert_example *ex, const char *name, bert_feature_kind kind, size_t n, size_t *index,
                  bert_error *err) {
  int i = bert_example_find(ex, name);
  if (i < 0) return bert_error_set(err, BERT_EFORMAT, "feature '%s' is missing", name);
  bert_feature_kind got = bert_example_feature_kind(ex, (size_t)i);
  if (got != kind)
    return bert_error_set(err, BERT_EFORMAT, "feature '%s' is a %s, expected a %s", name,
                          bert_feature_kind_name(got), bert_feature_kind_name(kind));
  size_t len = bert_example_feature_length(ex, (size_t)i);
  if (len != n)
    return bert_error_set(err, BERT_EFORMAT, "feature '%s' has %zu values, expected %zu", name, len, n);
  *index = (size_t)i;
  return BERT_OK;
}

int bert_example_get_int64(const bert_example *ex, const char *name, int64_t *out, size_t n, bert_error *err) {
  size_t i;
  int rc = lookup(ex, name, BERT_FEATURE_INT64, n, &i, err);
  if (rc) return rc;
  if (n) memcpy(out, bert_example_int64s(ex, i), n * sizeof *out);
  return BERT_OK;
}

int bert_example_get_float(const bert_example *ex, const char *name, float *out, size_t n, bert_error *err) {
  size_t i;
  int rc = lookup(ex, name, BERT_FEATURE_FLOAT, n, &i, err);
  if (rc) return rc;
  if (n) memcpy(out, bert_example_floats(ex, i), n * sizeof *out);
  return BERT_OK;
}

/* ---------------------------------------------------------------- encoding */

void bert_example_builder_init(bert_example_builder *b) { b->count = 0; }

static int add(bert_example_builder *b, const char *name, bert_feature_kind kind, const void *values,
               const size_t *lengths, size_t n, bert_error *err) {
  if (b->count == BERT_EXAMPLE_MAX_FEATURES)
    return bert_error_set(err, BERT_ERANGE, "feature '%s': more than %d features in one example", name,
                          BERT_EXAMPLE_MAX_FEATURES);
  b->features[b->count++] = (bert_example_feature){name, kind, values, lengths, n};
  return BERT_OK;
}

int bert_example_add_int64(bert_example_builder *b, const char *name, const int64_t *values, size_t n,
                           bert_error *err) {
  return add(b, name, BERT_FEATURE_INT64, values, NULL, n, err);
}

int bert_example_add_float(bert_example_builder *b, const char *name, const float *values, size_t n,
                           bert_error *err) {
  return add(b, name, BERT_FEATURE_FLOAT, values, NULL, n, err);
}

int bert_example_add_bytes(bert_example_builder *b, const char *name, const uint8_t *const *values,
                           const size_t *lengths, size_t n, bert_error *err) {
  return add(b, name, BERT_FEATURE_BYTES, values, lengths, n, err);
}

/* The protobuf-c message tree, built on the stack around the caller's arrays. */
typedef struct message_tree {
  Tensorflow__Example example;
  Tensorflow__Features features;
  Tensorflow__Features__FeatureEntry entries[BERT_EXAMPLE_MAX_FEATURES];
  Tensorflow__Features__FeatureEntry *entry_ptrs[BERT_EXAMPLE_MAX_FEATURES];
  Tensorflow__Feature feature[BERT_EXAMPLE_MAX_FEATURES];
  Tensorflow__Int64List int64s[BERT_EXAMPLE_MAX_FEATURES];
  Tensorflow__FloatList floats[BERT_EXAMPLE_MAX_FEATURES];
  Tensorflow__BytesList bytes[BERT_EXAMPLE_MAX_FEATURES];
  ProtobufCBinaryData *binaries[BERT_EXAMPLE_MAX_FEATURES]; /* malloc'ed, bytes features only */
} message_tree;

static void fill_feature(message_tree *t, size_t i, const bert_example_feature *f) {
  Tensorflow__Feature *out = &t->feature[i];
  *out = (Tensorflow__Feature)TENSORFLOW__FEATURE__INIT;
  out->kind_case = (Tensorflow__Feature__KindCase)f->kind;
  if (f->kind == BERT_FEATURE_INT64) {
    t->int64s[i] = (Tensorflow__Int64List)TENSORFLOW__INT64_LIST__INIT;
    t->int64s[i].n_value = f->n;
    t->int64s[i].value = (int64_t *)f->values; /* protobuf-c only reads it when packing */
    out->int64_list = &t->int64s[i];
  } else if (f->kind == BERT_FEATURE_FLOAT) {
    t->floats[i] = (Tensorflow__FloatList)TENSORFLOW__FLOAT_LIST__INIT;
    t->floats[i].n_value = f->n;
    t->floats[i].value = (float *)f->values;
    out->float_list = &t->floats[i];
  } else {
    t->bytes[i] = (Tensorflow__BytesList)TENSORFLOW__BYTES_LIST__INIT;
    t->bytes[i].n_value = f->n;
    t->bytes[i].value = t->binaries[i];
    const uint8_t *const *v = f->values;
    for (size_t j = 0; j < f->n; j++) t->binaries[i][j] = (ProtobufCBinaryData){f->byte_lengths[j], (uint8_t *)v[j]};
    out->bytes_list = &t->bytes[i];
  }
}

static void free_tree(message_tree *t, size_t count) {
  for (size_t i = 0; i < count; i++) free(t->binaries[i]);
}

static int build_tree(const bert_example_builder *b, message_tree *t, bert_error *err) {
  t->example = (Tensorflow__Example)TENSORFLOW__EXAMPLE__INIT;
  t->features = (Tensorflow__Features)TENSORFLOW__FEATURES__INIT;
  for (size_t i = 0; i < b->count; i++) {
    const bert_example_feature *f = &b->features[i];
    t->binaries[i] = NULL;
    if (f->kind == BERT_FEATURE_BYTES && f->n) {
      t->binaries[i] = malloc(f->n * sizeof *t->binaries[i]);
      if (!t->binaries[i]) {
        free_tree(t, i);
        return bert_error_set(err, BERT_ENOMEM, "feature '%s': out of memory", f->name);
      }
    }
    fill_feature(t, i, f);
    t->entries[i] = (Tensorflow__Features__FeatureEntry)TENSORFLOW__FEATURES__FEATURE_ENTRY__INIT;
    t->entries[i].key = (char *)f->name;
    t->entries[i].value = &t->feature[i];
    t->entry_ptrs[i] = &t->entries[i];
  }
  t->features.n_feature = b->count;
  t->features.feature = t->entry_ptrs;
  t->example.features = &t->features;
  return BERT_OK;
}

size_t bert_example_encoded_size(const bert_example_builder *b) {
  message_tree t;
  if (build_tree(b, &t, NULL)) return 0;
  size_t n = tensorflow__example__get_packed_size(&t.example);
  free_tree(&t, b->count);
  return n;
}

int bert_example_encode(const bert_example_builder *b, uint8_t *out, size_t cap, size_t *written,
                        bert_error *err) {
  message_tree t;
  int rc = build_tree(b, &t, err);
  if (rc) return rc;
  size_t n = tensorflow__example__get_packed_size(&t.example);
  if (n > cap) {
    free_tree(&t, b->count);
    return bert_error_set(err, BERT_ERANGE, "an example of %zu bytes does not fit in %zu bytes", n, cap);
  }
  *written = tensorflow__example__pack(&t.example, out);
  free_tree(&t, b->count);
  return BERT_OK;
}
