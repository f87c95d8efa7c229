#include "serve/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  bert_serve_dtype type;
  const char *name, *config_name;
  size_t size;
} types[] = {
    {BERT_SERVE_BOOL, "BOOL", "TYPE_BOOL", 1},       {BERT_SERVE_UINT8, "UINT8", "TYPE_UINT8", 1},
    {BERT_SERVE_UINT16, "UINT16", "TYPE_UINT16", 2}, {BERT_SERVE_UINT32, "UINT32", "TYPE_UINT32", 4},
    {BERT_SERVE_UINT64, "UINT64", "TYPE_UINT64", 8}, {BERT_SERVE_INT8, "INT8", "TYPE_INT8", 1},
    {BERT_SERVE_INT16, "INT16", "TYPE_INT16", 2},    {BERT_SERVE_INT32, "INT32", "TYPE_INT32", 4},
    {BERT_SERVE_INT64, "INT64", "TYPE_INT64", 8},    {BERT_SERVE_FP16, "FP16", "TYPE_FP16", 2},
    {BERT_SERVE_FP32, "FP32", "TYPE_FP32", 4},       {BERT_SERVE_FP64, "FP64", "TYPE_FP64", 8},
    {BERT_SERVE_BF16, "BF16", "TYPE_BF16", 2},       {BERT_SERVE_BYTES, "BYTES", "TYPE_STRING", 0},
};
#define NTYPES (sizeof types / sizeof types[0])

bert_serve_dtype bert_serve_dtype_parse(const char *name) {
  for (size_t i = 0; name && i < NTYPES; i++)
    if (!strcmp(name, types[i].name)) return types[i].type;
  return BERT_SERVE_INVALID;
}

bert_serve_dtype bert_serve_dtype_parse_config(const char *name) {
  for (size_t i = 0; name && i < NTYPES; i++)
    if (!strcmp(name, types[i].config_name)) return types[i].type;
  return BERT_SERVE_INVALID;
}

const char *bert_serve_dtype_name(bert_serve_dtype t) {
  for (size_t i = 0; i < NTYPES; i++)
    if (types[i].type == t) return types[i].name;
  return "INVALID";
}

const char *bert_serve_dtype_config_name(bert_serve_dtype t) {
  for (size_t i = 0; i < NTYPES; i++)
    if (types[i].type == t) return types[i].config_name;
  return "TYPE_INVALID";
}

size_t bert_serve_dtype_size(bert_serve_dtype t) {
  for (size_t i = 0; i < NTYPES; i++)
    if (types[i].type == t) return types[i].size;
  return 0;
}

int64_t bert_serve_shape_elements(const int64_t *shape, int ndim, int64_t limit) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] && n > limit / shape[i]) return -1;
    n *= shape[i];
  }
  return n > limit ? -1 : n;
}

int bert_serve_tensor_alloc(bert_serve_tensor *t, const char *name, bert_serve_dtype dtype, int ndim,
                            const int64_t *shape, bert_error *err) {
  memset(t, 0, sizeof *t);
  size_t es = bert_serve_dtype_size(dtype);
  int64_t n = bert_serve_shape_elements(shape, ndim, INT64_MAX / 16);
  if (!es || n < 0 || ndim > BERT_SERVE_MAX_DIMS)
    return bert_error_set(err, BERT_EINVAL, "tensor %s: cannot allocate type %s with %d dims", name,
                          bert_serve_dtype_name(dtype), ndim);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->dtype = dtype, t->ndim = ndim;
  memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
  t->bytes = (size_t)n * es;
  t->data = calloc(1, t->bytes ? t->bytes : 1);
  if (!t->data) return bert_error_set(err, BERT_ENOMEM, "tensor %s: out of memory (%zu bytes)", name, t->bytes);
  t->owned = 1;
  return BERT_OK;
}

int bert_serve_tensor_set_bytes(bert_serve_tensor *t, const char *name, int ndim, const int64_t *shape,
                                const char *const *elems, const uint32_t *lens, bert_error *err) {
  memset(t, 0, sizeof *t);
  int64_t n = bert_serve_shape_elements(shape, ndim, INT32_MAX);
  if (n < 0 || ndim > BERT_SERVE_MAX_DIMS) return bert_error_set(err, BERT_EINVAL, "tensor %s: bad BYTES shape", name);
  size_t bytes = 0;
  for (int64_t i = 0; i < n; i++) bytes += 4 + (size_t)lens[i];
  unsigned char *p = malloc(bytes ? bytes : 1);
  if (!p) return bert_error_set(err, BERT_ENOMEM, "tensor %s: out of memory (%zu bytes)", name, bytes);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->dtype = BERT_SERVE_BYTES, t->ndim = ndim, t->data = p, t->bytes = bytes, t->owned = 1;
  memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
  for (int64_t i = 0; i < n; i++) {
    uint32_t len = lens[i];
    p[0] = (unsigned char)len, p[1] = (unsigned char)(len >> 8), p[2] = (unsigned char)(len >> 16), p[3] = (unsigned char)(len >> 24);
    if (len) memcpy(p + 4, elems[i], len); /* an empty element may have no storage (protobuf-c) */
    p += 4 + len;
  }
  return BERT_OK;
}

void bert_serve_tensor_free(bert_serve_tensor *t) {
  if (t->owned) free(t->data);
  t->data = NULL, t->bytes = 0, t->owned = 0;
}

static uint32_t read_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int bert_serve_bytes_check(const void *data, size_t size, int64_t count, bert_error *err) {
  const unsigned char *p = data;
  size_t at = 0;
  for (int64_t i = 0; i < count; i++) {
    if (size - at < 4)
      return bert_error_set(err, BERT_EFORMAT, "BYTES element %lld: its 4-byte length runs past the %zu bytes given",
                            (long long)i, size);
    uint32_t len = read_u32(p + at);
    at += 4;
    if (len > size - at)
      return bert_error_set(err, BERT_EFORMAT, "BYTES element %lld: length %u runs past the %zu bytes given",
                            (long long)i, len, size);
    at += len;
  }
  if (at != size)
    return bert_error_set(err, BERT_EFORMAT, "BYTES: %zu bytes left after the %lld elements", size - at,
                          (long long)count);
  return BERT_OK;
}

const char *bert_serve_bytes_element(const void *data, int64_t i, uint32_t *len) {
  const unsigned char *p = data;
  for (;;) {
    uint32_t n = read_u32(p);
    if (i-- == 0) {
      *len = n;
      return (const char *)p + 4;
    }
    p += 4 + (size_t)n;
  }
}

int64_t bert_serve_tensor_int(const bert_serve_tensor *t, int64_t i) {
  const unsigned char *p = t->data;
  switch (t->dtype) {
    case BERT_SERVE_BOOL: case BERT_SERVE_UINT8: return p[i];
    case BERT_SERVE_INT8: return ((const int8_t *)p)[i];
    case BERT_SERVE_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case BERT_SERVE_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case BERT_SERVE_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case BERT_SERVE_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case BERT_SERVE_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return v > INT64_MAX ? INT64_MAX : (int64_t)v; }
    case BERT_SERVE_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    default: return 0;
  }
}

int bert_serve_dtype_int_range(bert_serve_dtype t, double *lo, double *hi) {
  switch (t) {
    case BERT_SERVE_BOOL: *lo = 0, *hi = 1; return 1;
    case BERT_SERVE_UINT8: *lo = 0, *hi = 255; return 1;
    case BERT_SERVE_UINT16: *lo = 0, *hi = 65535; return 1;
    case BERT_SERVE_UINT32: *lo = 0, *hi = 4294967295.0; return 1;
    case BERT_SERVE_UINT64: *lo = 0, *hi = 9223372036854774784.0; return 1; /* held in an int64 */
    case BERT_SERVE_INT8: *lo = -128, *hi = 127; return 1;
    case BERT_SERVE_INT16: *lo = -32768, *hi = 32767; return 1;
    case BERT_SERVE_INT32: *lo = -2147483648.0, *hi = 2147483647.0; return 1;
    case BERT_SERVE_INT64: *lo = -9223372036854775808.0, *hi = 9223372036854774784.0; return 1;
    default: return 0;
  }
}

void bert_serve_store_int(void *dst, bert_serve_dtype t, int64_t i, int64_t v) {
  switch (bert_serve_dtype_size(t)) {
    case 1: { uint8_t x = (uint8_t)v; memcpy((char *)dst + i, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)v; memcpy((char *)dst + 2 * i, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy((char *)dst + 4 * i, &x, 4); break; }
    default: { uint64_t x = (uint64_t)v; memcpy((char *)dst + 8 * i, &x, 8); break; }
  }
}
