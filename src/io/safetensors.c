#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "io/mapfile.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

/* The format caps the header at 100 MB (as the reference reader does): a larger length is
 * corruption, not a real header. */
#define MAX_HEADER_BYTES (100u << 20)
#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: JSON numbers beyond are not exact integers */

static const struct {
  const char *name;
  bert_st_dtype dtype;
  size_t size;
} DTYPES[] = {
    {"F32", BERT_ST_F32, 4},  {"F16", BERT_ST_F16, 2},      {"BF16", BERT_ST_BF16, 2},
    {"F64", BERT_ST_F64, 8},  {"I64", BERT_ST_I64, 8},      {"I32", BERT_ST_I32, 4},
    {"I16", BERT_ST_I16, 2},  {"I8", BERT_ST_I8, 1},        {"U8", BERT_ST_U8, 1},
    {"BOOL", BERT_ST_BOOL, 1}, {"U16", BERT_ST_OTHER, 2},   {"U32", BERT_ST_OTHER, 4},
    {"U64", BERT_ST_OTHER, 8}, {"F8_E5M2", BERT_ST_OTHER, 1}, {"F8_E4M3", BERT_ST_OTHER, 1},
};
#define NDTYPES (sizeof DTYPES / sizeof DTYPES[0])

size_t bert_st_dtype_size(bert_st_dtype dtype) {
  for (size_t i = 0; i < NDTYPES; i++)
    if (DTYPES[i].dtype == dtype && dtype != BERT_ST_OTHER) return DTYPES[i].size;
  return 0;
}

const char *bert_st_dtype_str(bert_st_dtype dtype) {
  for (size_t i = 0; i < NDTYPES; i++)
    if (DTYPES[i].dtype == dtype && dtype != BERT_ST_OTHER) return DTYPES[i].name;
  return "?";
}

int bert_st_is_float(bert_st_dtype dtype) {
  return dtype == BERT_ST_F32 || dtype == BERT_ST_F16 || dtype == BERT_ST_BF16 || dtype == BERT_ST_F64;
}

/* ---------------------------------------------------------------- reading: header validation */

typedef struct parse_ctx {
  bert_safetensors *st;
  size_t data_size; /* bytes after the header */
  const unsigned char *data;
  bert_error *err;
} parse_ctx;

static int header_error(parse_ctx *c, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int header_error(parse_ctx *c, const char *name, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (name) return bert_error_set(c->err, BERT_EFORMAT, "%s: tensor '%s': %s", c->st->path, name, what);
  return bert_error_set(c->err, BERT_EFORMAT, "%s: %s", c->st->path, what);
}

/* A JSON number that is an exact non-negative integer. */
static int json_uint(const cJSON *item, int64_t *out) {
  if (!cJSON_IsNumber(item)) return 0;
  double v = item->valuedouble;
  if (!(v >= 0 && v <= MAX_EXACT_INT) || v != floor(v)) return 0;
  *out = (int64_t)v;
  return 1;
}

static int parse_dtype(parse_ctx *c, bert_st_tensor *t, const cJSON *info, size_t *elem_size) {
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(info, "dtype");
  if (!dt) return header_error(c, t->name, "missing \"dtype\"");
  if (!cJSON_IsString(dt)) return header_error(c, t->name, "\"dtype\" is not a string");
  for (size_t i = 0; i < NDTYPES; i++) {
    if (strcmp(dt->valuestring, DTYPES[i].name)) continue;
    t->dtype = DTYPES[i].dtype;
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", DTYPES[i].name);
    *elem_size = DTYPES[i].size;
    return BERT_OK;
  }
  return header_error(c, t->name, "unknown dtype \"%.32s\"", dt->valuestring);
}

static int parse_shape(parse_ctx *c, bert_st_tensor *t, const cJSON *info) {
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(info, "shape");
  if (!cJSON_IsArray(shape)) return header_error(c, t->name, "missing or non-array \"shape\"");
  int n = cJSON_GetArraySize(shape);
  if (n > BERT_ST_MAX_DIMS) return header_error(c, t->name, "%d dimensions (at most %d supported)", n, BERT_ST_MAX_DIMS);
  t->ndim = n;
  t->numel = 1;
  int i = 0;
  for (const cJSON *d = shape->child; d; d = d->next, i++) {
    if (cJSON_IsNumber(d) && d->valuedouble < 0) return header_error(c, t->name, "negative dimension %d in \"shape\"", i);
    if (!json_uint(d, &t->shape[i])) return header_error(c, t->name, "dimension %d of \"shape\" is not an integer", i);
    if (t->shape[i] && t->numel > INT64_MAX / t->shape[i]) return header_error(c, t->name, "\"shape\" overflows");
    t->numel *= t->shape[i];
  }
  return BERT_OK;
}

/* data_offsets [begin, end] relative to the data section; their difference must be exactly the
 * tensor's byte size and the range must lie inside the file. Stores begin in `*begin`. */
static int parse_offsets(parse_ctx *c, bert_st_tensor *t, const cJSON *info, size_t elem_size, size_t *begin) {
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(info, "data_offsets");
  int64_t b, e;
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &b) ||
      !json_uint(off->child->next, &e))
    return header_error(c, t->name, "\"data_offsets\" must be two non-negative integers");
  if (e < b) return header_error(c, t->name, "data_offsets [%lld, %lld] end before begin", (long long)b, (long long)e);
  if ((uint64_t)e > c->data_size)
    return header_error(c, t->name, "data_offsets [%lld, %lld] out of bounds: the data section has %zu bytes",
                        (long long)b, (long long)e, c->data_size);
  if ((uint64_t)t->numel > SIZE_MAX / elem_size || (uint64_t)(e - b) != (uint64_t)t->numel * elem_size)
    return header_error(c, t->name, "data_offsets [%lld, %lld] hold %lld bytes but %s x %lld elements need %llu",
                        (long long)b, (long long)e, (long long)(e - b), t->dtype_name, (long long)t->numel,
                        (unsigned long long)t->numel * elem_size);
  *begin = (size_t)b;
  t->nbytes = (size_t)(e - b);
  t->data = c->data + b;
  return BERT_OK;
}

static int parse_entry(parse_ctx *c, bert_st_tensor *t, const cJSON *info) {
  if (!cJSON_IsObject(info)) return header_error(c, t->name, "entry is not a JSON object");
  size_t elem_size = 0, begin = 0;
  int rc = parse_dtype(c, t, info, &elem_size);
  if (!rc) rc = parse_shape(c, t, info);
  if (!rc) rc = parse_offsets(c, t, info, elem_size, &begin);
  return rc;
}

/* "__metadata__" is a flat string -> string map; it is kept serialised for callers. */
static int parse_metadata(parse_ctx *c, const cJSON *meta) {
  if (!cJSON_IsObject(meta)) return header_error(c, NULL, "\"__metadata__\" is not a JSON object");
  for (const cJSON *kv = meta->child; kv; kv = kv->next)
    if (!cJSON_IsString(kv)) return header_error(c, NULL, "\"__metadata__\" value '%s' is not a string", kv->string);
  c->st->metadata_json = cJSON_PrintUnformatted(meta);
  if (!c->st->metadata_json) return bert_error_set(c->err, BERT_ENOMEM, "%s: out of memory", c->st->path);
  return BERT_OK;
}

static int cmp_offset(const void *a, const void *b) {
  const bert_st_tensor *x = a, *y = b;
  const unsigned char *px = x->data, *py = y->data;
  if (px != py) return px < py ? -1 : 1;
  return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int cmp_name_ptr(const void *a, const void *b) {
  return strcmp((*(const bert_st_tensor *const *)a)->name, (*(const bert_st_tensor *const *)b)->name);
}

static int check_duplicates(parse_ctx *c) {
  bert_safetensors *st = c->st;
  if (st->count < 2) return BERT_OK;
  const bert_st_tensor **order = malloc((size_t)st->count * sizeof *order);
  if (!order) return bert_error_set(c->err, BERT_ENOMEM, "%s: out of memory", st->path);
  for (int i = 0; i < st->count; i++) order[i] = &st->tensors[i];
  qsort(order, (size_t)st->count, sizeof *order, cmp_name_ptr);
  int rc = BERT_OK;
  for (int i = 1; i < st->count && !rc; i++)
    if (!strcmp(order[i - 1]->name, order[i]->name)) rc = header_error(c, order[i]->name, "duplicate name in the header");
  free(order);
  return rc;
}

/* Tensors sorted by offset must tile the data section exactly: no overlap, no gap, nothing after. */
static int check_coverage(parse_ctx *c) {
  bert_safetensors *st = c->st;
  qsort(st->tensors, (size_t)st->count, sizeof *st->tensors, cmp_offset);
  size_t expected = 0;
  for (int i = 0; i < st->count; i++) {
    const bert_st_tensor *t = &st->tensors[i];
    size_t begin = (size_t)((const unsigned char *)t->data - c->data);
    if (begin < expected)
      return header_error(c, t->name, "data_offsets overlap those of '%s' (begins at %zu, previous ends at %zu)",
                          st->tensors[i - 1].name, begin, expected);
    if (begin > expected)
      return header_error(c, t->name, "bytes [%zu, %zu) of the data section are not covered by any tensor", expected, begin);
    expected = begin + t->nbytes;
  }
  if (expected != c->data_size)
    return header_error(c, NULL, "the data section has %zu bytes but the tensors cover only %zu", c->data_size, expected);
  return BERT_OK;
}

static int parse_header(parse_ctx *c, const cJSON *root) {
  bert_safetensors *st = c->st;
  int n = cJSON_GetArraySize(root);
  st->tensors = calloc((size_t)(n ? n : 1), sizeof *st->tensors);
  if (!st->tensors) return bert_error_set(c->err, BERT_ENOMEM, "%s: out of memory", st->path);
  int rc = BERT_OK;
  for (const cJSON *item = root->child; item && !rc; item = item->next) {
    if (!strcmp(item->string, "__metadata__")) {
      if (st->metadata_json) return header_error(c, NULL, "duplicate \"__metadata__\"");
      rc = parse_metadata(c, item);
      continue;
    }
    bert_st_tensor *t = &st->tensors[st->count++];
    if (!(t->name = strdup(item->string))) return bert_error_set(c->err, BERT_ENOMEM, "%s: out of memory", st->path);
    rc = parse_entry(c, t, item);
  }
  if (!rc) rc = check_duplicates(c);
  if (!rc) rc = check_coverage(c);
  return rc;
}

static int is_json_space(unsigned char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

/* Splits the file into header JSON and data, parses and validates the header. */
static int read_layout(parse_ctx *c) {
  bert_safetensors *st = c->st;
  if (st->size < 8) return header_error(c, NULL, "truncated: %zu bytes, shorter than the 8-byte header length", st->size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | st->buf[i];
  if (n > st->size - 8)
    return header_error(c, NULL, "header length %llu is beyond the file size (%zu bytes): truncated or not safetensors",
                        (unsigned long long)n, st->size);
  if (n > MAX_HEADER_BYTES) return header_error(c, NULL, "header length %llu exceeds 100 MB", (unsigned long long)n);
  const char *text = (const char *)st->buf + 8, *end = NULL;
  if (n < 2 || text[0] != '{') return header_error(c, NULL, "header is not a JSON object");
  cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
  if (!root) return header_error(c, NULL, "header is not valid JSON (near byte %zu)", (size_t)(end ? end - text : 0));
  int rc = BERT_OK;
  for (const char *p = end; p < text + n && !rc; p++)
    if (!is_json_space((unsigned char)*p)) rc = header_error(c, NULL, "unexpected bytes after the header's JSON object");
  if (!rc && !cJSON_IsObject(root)) rc = header_error(c, NULL, "header is not a JSON object");
  c->data = st->buf + 8 + n;
  c->data_size = st->size - 8 - (size_t)n;
  if (!rc) rc = parse_header(c, root);
  cJSON_Delete(root);
  return rc;
}

int bert_safetensors_open(bert_safetensors *st, const char *path, bert_error *err) {
  memset(st, 0, sizeof *st);
  if (snprintf(st->path, sizeof st->path, "%s", path) >= (int)sizeof st->path)
    return bert_error_set(err, BERT_EINVAL, "%s: path too long", path);
  int rc = bert_map_file(path, &st->buf, &st->size, err);
  if (rc) return rc;
  parse_ctx c = {st, 0, NULL, err};
  if ((rc = read_layout(&c))) bert_safetensors_close(st);
  return rc;
}

void bert_safetensors_close(bert_safetensors *st) {
  for (int i = 0; i < st->count; i++) free(st->tensors[i].name);
  free(st->tensors);
  free(st->metadata_json);
  bert_unmap_file(st->buf, st->size);
  memset(st, 0, sizeof *st);
}

const bert_st_tensor *bert_safetensors_find(const bert_safetensors *st, const char *name) {
  for (int i = 0; i < st->count; i++)
    if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
  return NULL;
}

/* ---------------------------------------------------------------- conversion */

/* IEEE half to single: exact (every half is a float). */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0) { /* zero or subnormal: mant x 2^-24, exact in float */
    float f = (float)mant * 0x1p-24f;
    return sign ? -f : f;
  }
  if (exp == 31) bits = sign | 0x7f800000u | mant << 13; /* inf / NaN (payload kept) */
  else bits = sign | (exp + 112) << 23 | mant << 13;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

int bert_st_to_f32(const bert_st_tensor *t, float *out, bert_error *err) {
  const unsigned char *p = t->data;
  size_t n = (size_t)t->numel;
  switch (t->dtype) {
  case BERT_ST_F32:
    if (n) memcpy(out, p, n * sizeof(float));
    return BERT_OK;
  case BERT_ST_F16:
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      out[i] = half_to_float(h);
    }
    return BERT_OK;
  case BERT_ST_BF16:
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      uint32_t bits = (uint32_t)h << 16;
      memcpy(&out[i], &bits, sizeof(float));
    }
    return BERT_OK;
  case BERT_ST_F64:
    for (size_t i = 0; i < n; i++) {
      double d;
      memcpy(&d, p + 8 * i, 8);
      out[i] = (float)d;
    }
    return BERT_OK;
  default:
    return bert_error_set(err, BERT_EUNSUPPORTED, "tensor '%s': dtype %s does not convert to fp32", t->name,
                          t->dtype_name[0] ? t->dtype_name : bert_st_dtype_str(t->dtype));
  }
}

/* ---------------------------------------------------------------- writing */

typedef struct strbuf {
  char *p;
  size_t n, cap;
  int oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + len + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = 0;
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(strbuf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  sb_put(b, tmp, (size_t)len); /* callers print only numbers: always fits */
}

static void sb_json_string(strbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      char esc[2] = {'\\', (char)ch};
      sb_put(b, esc, 2);
    } else if (ch < 0x20) {
      sb_printf(b, "\\u%04x", ch);
    } else {
      sb_put(b, (const char *)&ch, 1);
    }
  }
  sb_put(b, "\"", 1);
}

static int64_t entry_numel(const bert_st_entry *e) {
  int64_t n = 1;
  for (int d = 0; d < e->ndim; d++) n *= e->shape[d];
  return n;
}

static int check_entry(const char *path, const bert_st_entry *e, bert_error *err) {
  const char *name = e->name ? e->name : "(null)";
  if (!e->name || !e->name[0] || !strcmp(e->name, "__metadata__"))
    return bert_error_set(err, BERT_EINVAL, "%s: invalid tensor name '%s'", path, name);
  if (!bert_st_dtype_size(e->dtype))
    return bert_error_set(err, BERT_EINVAL, "%s: tensor '%s': cannot write dtype %d", path, name, (int)e->dtype);
  if (e->ndim < 0 || e->ndim > BERT_ST_MAX_DIMS)
    return bert_error_set(err, BERT_EINVAL, "%s: tensor '%s': %d dimensions", path, name, e->ndim);
  int64_t n = 1;
  for (int d = 0; d < e->ndim; d++) {
    if (e->shape[d] < 0 || (e->shape[d] && n > (INT64_MAX / 8) / e->shape[d]))
      return bert_error_set(err, BERT_EINVAL, "%s: tensor '%s': invalid shape", path, name);
    n *= e->shape[d];
  }
  if (n && !e->data) return bert_error_set(err, BERT_EINVAL, "%s: tensor '%s': no data", path, name);
  return BERT_OK;
}

typedef struct sort_item {
  const bert_st_entry *e;
} sort_item;

static int cmp_entry_name(const void *a, const void *b) {
  return strcmp(((const sort_item *)a)->e->name, ((const sort_item *)b)->e->name);
}

/* Entries sorted by name (duplicates rejected); the caller frees the array. */
static int sorted_entries(const char *path, const bert_st_entry *entries, int count, sort_item **out, bert_error *err) {
  *out = NULL;
  for (int i = 0; i < count; i++) {
    int rc = check_entry(path, &entries[i], err);
    if (rc) return rc;
  }
  sort_item *items = malloc((size_t)(count ? count : 1) * sizeof *items);
  if (!items) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  for (int i = 0; i < count; i++) items[i].e = &entries[i];
  qsort(items, (size_t)count, sizeof *items, cmp_entry_name);
  for (int i = 1; i < count; i++)
    if (!strcmp(items[i - 1].e->name, items[i].e->name)) {
      int rc = bert_error_set(err, BERT_EINVAL, "%s: tensor '%s' given twice", path, items[i].e->name);
      free(items);
      return rc;
    }
  *out = items;
  return BERT_OK;
}

static void build_header(strbuf *b, const sort_item *items, int count, const char *const *metadata, int pairs) {
  sb_put(b, "{", 1);
  if (pairs > 0) {
    sb_put(b, "\"__metadata__\":{", 16);
    for (int i = 0; i < pairs; i++) {
      if (i) sb_put(b, ",", 1);
      sb_json_string(b, metadata[2 * i]);
      sb_put(b, ":", 1);
      sb_json_string(b, metadata[2 * i + 1]);
    }
    sb_put(b, "}", 1);
  }
  uint64_t offset = 0;
  for (int i = 0; i < count; i++) {
    const bert_st_entry *e = items[i].e;
    if (i || pairs > 0) sb_put(b, ",", 1);
    sb_json_string(b, e->name);
    sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", bert_st_dtype_str(e->dtype));
    for (int d = 0; d < e->ndim; d++) sb_printf(b, d ? ",%lld" : "%lld", (long long)e->shape[d]);
    uint64_t nbytes = (uint64_t)entry_numel(e) * bert_st_dtype_size(e->dtype);
    sb_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset, (unsigned long long)(offset + nbytes));
    offset += nbytes;
  }
  sb_put(b, "}", 1);
  while (b->n % 8 && !b->oom) sb_put(b, " ", 1); /* data starts 8-byte aligned, as HuggingFace's writer does */
}

static int write_file(const char *path, const strbuf *header, const sort_item *items, int count, bert_error *err) {
  bert_atomic_file af;
  int rc = bert_atomic_open(&af, path, err);
  if (rc) return rc;
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)header->n >> (8 * i));
  int ok = fwrite(len, 1, 8, af.f) == 8 && fwrite(header->p, 1, header->n, af.f) == header->n;
  for (int i = 0; i < count && ok; i++) {
    size_t nbytes = (size_t)entry_numel(items[i].e) * bert_st_dtype_size(items[i].e->dtype);
    ok = fwrite(items[i].e->data, 1, nbytes, af.f) == nbytes;
  }
  return ok ? bert_atomic_commit(&af, err) : bert_atomic_write_failed(&af, err);
}

int bert_safetensors_write(const char *path, const bert_st_entry *entries, int count, const char *const *metadata,
                           int metadata_pairs, bert_error *err) {
  if (count < 0 || metadata_pairs < 0 || (metadata_pairs && !metadata))
    return bert_error_set(err, BERT_EINVAL, "%s: invalid arguments", path);
  for (int i = 0; i < 2 * metadata_pairs; i++)
    if (!metadata[i]) return bert_error_set(err, BERT_EINVAL, "%s: metadata entry %d is NULL", path, i);
  sort_item *items;
  int rc = sorted_entries(path, entries, count, &items, err);
  if (rc) return rc;
  strbuf header = {0};
  build_header(&header, items, count, metadata, metadata_pairs);
  if (header.oom) rc = bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  else rc = write_file(path, &header, items, count, err);
  free(header.p);
  free(items);
  return rc;
}
