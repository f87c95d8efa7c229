/* io/safetensors: the safetensors checkpoint format (8-byte little-endian header length, a JSON
 * header of name -> {dtype, shape, data_offsets} plus optional "__metadata__", then the raw
 * little-endian tensor bytes). Reading validates the header strictly (offsets in bounds, contiguous,
 * non-overlapping, sizes matching dtype x shape) and converts F32/F16/BF16 to fp32; other dtypes
 * (I64 buffers such as position_ids) are listed but not converted. Writing is atomic. The file is
 * mapped read-only, so tensor data points into the mapping until close. */
#ifndef BERT_IO_SAFETENSORS_H
#define BERT_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERT_ST_MAX_DIMS 8

typedef enum bert_st_dtype {
  BERT_ST_F32, BERT_ST_F16, BERT_ST_BF16, BERT_ST_F64,
  BERT_ST_I64, BERT_ST_I32, BERT_ST_I16, BERT_ST_I8, BERT_ST_U8, BERT_ST_BOOL, BERT_ST_OTHER
} bert_st_dtype;

typedef struct bert_st_tensor {
  char *name;
  bert_st_dtype dtype;
  char dtype_name[16];          /* as written in the header, e.g. "F16" */
  int ndim;
  int64_t shape[BERT_ST_MAX_DIMS];
  int64_t numel;
  const void *data;             /* into the file buffer */
  size_t nbytes;
} bert_st_tensor;

typedef struct bert_safetensors {
  char path[4096];
  const unsigned char *buf;     /* the whole file, mapped read-only */
  size_t size;
  bert_st_tensor *tensors;      /* in file (offset) order */
  int count;
  char *metadata_json;          /* "__metadata__" object serialised, or NULL */
} bert_safetensors;

int bert_safetensors_open(bert_safetensors *st, const char *path, bert_error *err);
void bert_safetensors_close(bert_safetensors *st);
const bert_st_tensor *bert_safetensors_find(const bert_safetensors *st, const char *name);
/* Bytes per element (0 for BERT_ST_OTHER, whose size only the header's dtype name knows) and the
 * header spelling ("F32", ...; "?" for BERT_ST_OTHER). */
size_t bert_st_dtype_size(bert_st_dtype dtype);
const char *bert_st_dtype_str(bert_st_dtype dtype);
/* 1 for F32, F16, BF16 (and F64): tensors that convert to fp32. */
int bert_st_is_float(bert_st_dtype dtype);
/* Converts a float tensor into out[numel]; BERT_EUNSUPPORTED for other dtypes. */
int bert_st_to_f32(const bert_st_tensor *t, float *out, bert_error *err);

/* One tensor to write: fp32 data, or raw bytes of another dtype. */
typedef struct bert_st_entry {
  const char *name;
  bert_st_dtype dtype;          /* BERT_ST_F32 unless stated */
  int ndim;
  int64_t shape[BERT_ST_MAX_DIMS];
  const void *data;
} bert_st_entry;

/* Writes the entries (header keys sorted by name as HuggingFace's writer does, data in that
 * order, header padded with spaces to a multiple of 8) with optional string metadata pairs
 * (metadata[2i] = key, metadata[2i+1] = value; may be NULL), atomically. */
int bert_safetensors_write(const char *path, const bert_st_entry *entries, int count,
                           const char *const *metadata, int metadata_pairs, bert_error *err);

#endif
