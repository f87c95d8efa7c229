/* serve/tensor: the KServe v2 tensor — data types (protocol names "INT32", config names
 * "TYPE_INT32", element sizes) and a named, shaped tensor whose bytes are little-endian and
 * row-major, or for BYTES the binary extension's serialisation (each element a 4-byte
 * little-endian length followed by its bytes). Requests, responses and backends all speak it. */
#ifndef BERT_SERVE_TENSOR_H
#define BERT_SERVE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERT_SERVE_MAX_DIMS 8
#define BERT_SERVE_NAME_MAX 128

typedef enum bert_serve_dtype {
  BERT_SERVE_INVALID = 0,
  BERT_SERVE_BOOL, BERT_SERVE_UINT8, BERT_SERVE_UINT16, BERT_SERVE_UINT32, BERT_SERVE_UINT64,
  BERT_SERVE_INT8, BERT_SERVE_INT16, BERT_SERVE_INT32, BERT_SERVE_INT64,
  BERT_SERVE_FP16, BERT_SERVE_FP32, BERT_SERVE_FP64, BERT_SERVE_BF16, BERT_SERVE_BYTES,
} bert_serve_dtype;

/* "INT32" -> BERT_SERVE_INT32; BERT_SERVE_INVALID when unknown. */
bert_serve_dtype bert_serve_dtype_parse(const char *name);
/* "TYPE_INT32" -> BERT_SERVE_INT32 ("TYPE_STRING" is BYTES); BERT_SERVE_INVALID when unknown. */
bert_serve_dtype bert_serve_dtype_parse_config(const char *name);
const char *bert_serve_dtype_name(bert_serve_dtype t);        /* "INT32" */
const char *bert_serve_dtype_config_name(bert_serve_dtype t); /* "TYPE_INT32" */
/* Bytes per element; 0 for BYTES (variable) and INVALID. */
size_t bert_serve_dtype_size(bert_serve_dtype t);

typedef struct bert_serve_tensor {
  char name[BERT_SERVE_NAME_MAX];
  bert_serve_dtype dtype;
  int ndim;
  int64_t shape[BERT_SERVE_MAX_DIMS];
  void *data;   /* elements, or serialised BYTES */
  size_t bytes;
  int owned;    /* data was malloc'ed for this tensor (else it points into a request body) */
} bert_serve_tensor;

/* Elements of a shape; -1 when a dimension is negative or the product overflows `limit`. */
int64_t bert_serve_shape_elements(const int64_t *shape, int ndim, int64_t limit);
/* Allocates zeroed data for a fixed-size type and shape (owned). */
int bert_serve_tensor_alloc(bert_serve_tensor *t, const char *name, bert_serve_dtype dtype, int ndim,
                            const int64_t *shape, bert_error *err);
/* A BYTES tensor of `shape` (count = its elements) from elements elems[i] of lens[i] bytes,
 * serialised into owned data. */
int bert_serve_tensor_set_bytes(bert_serve_tensor *t, const char *name, int ndim, const int64_t *shape,
                                const char *const *elems, const uint32_t *lens, bert_error *err);
void bert_serve_tensor_free(bert_serve_tensor *t);

/* Walks serialised BYTES: checks that `data` holds exactly `count` elements, each inside the
 * buffer, and nothing after the last. */
int bert_serve_bytes_check(const void *data, size_t size, int64_t count, bert_error *err);
/* Element i of checked serialised BYTES: pointer and length (walks from the start). */
const char *bert_serve_bytes_element(const void *data, int64_t i, uint32_t *len);

/* The values an integer type (BOOL, INT8..INT64, UINT8..UINT64) holds; 0 for other types.
 * UINT64's upper bound is INT64's: elements are carried as int64. */
int bert_serve_dtype_int_range(bert_serve_dtype t, double *lo, double *hi);
/* Stores v as element i of little-endian elements of integer type t at dst. */
void bert_serve_store_int(void *dst, bert_serve_dtype t, int64_t i, int64_t v);

/* Element i of an integer tensor (INT8..INT64, UINT8..UINT64, BOOL) as int64. */
int64_t bert_serve_tensor_int(const bert_serve_tensor *t, int64_t i);

#endif
