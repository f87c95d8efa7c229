/* data/packed: unpacked-sequence decoding and pack construction (see packed.h); the pack layout
 * follows the reference's create_multi_sequence_example. */
#include "data/packed.h"

#include <stdlib.h>
#include <string.h>

#include "data/example.h"

const char *const bert_packed_feature_names[BERT_PACKED_FEATURES] = {
    "packed_input_ids",           "packed_input_mask",          "packed_segment_ids",
    "packed_position_ids",        "packed_masked_lm_positions", "packed_masked_lm_ids",
    "packed_masked_lm_mask",      "packed_next_sentence_labels", "packed_next_sentence_mask"};

/* ---------------------------------------------------------------- unpacked */

int bert_unpacked_init(bert_unpacked *u, int L, int M, bert_error *err) {
  memset(u, 0, sizeof *u);
  u->ids = malloc((3 * (size_t)L + 2 * (size_t)M + 1) * sizeof(int64_t));
  if (!u->ids) return bert_error_set(err, BERT_ENOMEM, "out of memory for a sequence of %d tokens", L);
  u->seg = u->ids + L, u->mask = u->seg + L, u->mpos = u->mask + L, u->mids = u->mpos + M;
  return BERT_OK;
}

void bert_unpacked_free(bert_unpacked *u) {
  free(u->ids);
  memset(u, 0, sizeof *u);
}

static int get(const bert_example *ex, const char *name, int64_t *out, int n, const char *option, int value,
               bert_error *err) {
  int rc = bert_example_get_int64(ex, name, out, (size_t)n, err);
  if (rc && err && option && strstr(err->message, " values, expected ")) {
    char what[sizeof err->message];
    memcpy(what, err->message, sizeof what);
    bert_error_set(err, rc, "%.900s (%s %d)", what, option, value);
  }
  return rc;
}

static int check_sequence(bert_unpacked *u, int L, int M, bert_error *err) {
  int n = 0;
  while (n < L && u->mask[n] == 1) n++;
  for (int i = n; i < L; i++)
    if (u->mask[i] != 0) return bert_error_set(err, BERT_EFORMAT, "input_mask is not 1s followed by 0s (position %d)", i);
  if (n == 0) return bert_error_set(err, BERT_EFORMAT, "input_mask has no real token");
  int m = 0;
  while (m < M && u->mpos[m] != 0) m++;
  for (int i = m; i < M; i++)
    if (u->mpos[i] != 0)
      return bert_error_set(err, BERT_EFORMAT, "masked_lm_positions has a non-zero position after padding (slot %d)", i);
  for (int i = 0; i < m; i++)
    if (u->mpos[i] < 1 || u->mpos[i] >= n)
      return bert_error_set(err, BERT_EFORMAT, "masked_lm_positions[%d] = %lld is outside the sequence (1..%d)", i,
                            (long long)u->mpos[i], n - 1);
  u->len = n, u->masked = m;
  return BERT_OK;
}

/* ---- fast path: the tf.train.Example wire format read directly (no allocation). It handles the
 * records TensorFlow and bertc write (packed int64 lists); anything else — unpacked repeated
 * values, a feature of another kind or length, a duplicate name — returns 0 and the general
 * protobuf-c path below decides, with its messages. */

typedef struct wire {
  const uint8_t *p, *end;
} wire;

static inline int wire_varint(wire *w, uint64_t *v) {
  if (w->p < w->end && *w->p < 0x80) return *v = *w->p++, 1; /* most token ids: one or two bytes */
  if (w->end - w->p >= 2 && w->p[1] < 0x80) {
    *v = (uint64_t)(w->p[0] & 0x7f) | (uint64_t)w->p[1] << 7;
    return w->p += 2, 1;
  }
  uint64_t x = 0;
  for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
    uint8_t b = *w->p++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (b < 0x80) return *v = x, 1;
  }
  return 0;
}

/* Next field: its number, wire type, and for length-delimited ones the payload as a sub-reader.
 * Field numbers outside [1, 2^29 - 1] are malformed. */
static int wire_field(wire *w, uint32_t *num, int *type, wire *sub) {
  uint64_t key, v;
  if (!wire_varint(w, &key) || key >> 3 == 0 || key >> 3 > 0x1fffffff) return 0;
  *num = (uint32_t)(key >> 3), *type = (int)(key & 7);
  switch (*type) {
    case 0: return wire_varint(w, &v);
    case 1: return (size_t)(w->end - w->p) >= 8 ? (w->p += 8, 1) : 0;
    case 5: return (size_t)(w->end - w->p) >= 4 ? (w->p += 4, 1) : 0;
    case 2:
      if (!wire_varint(w, &v) || v > (uint64_t)(w->end - w->p)) return 0;
      *sub = (wire){w->p, w->p + v};
      w->p += v;
      return 1;
    default: return 0;
  }
}

/* Feature { int64_list = 3 { value = 1 [packed] } } with exactly n values into out. */
static int wire_int64s(wire f, int64_t *out, int n) {
  uint32_t num;
  int type, got = 0, lists = 0;
  wire list, values;
  while (f.p < f.end) {
    if (!wire_field(&f, &num, &type, &list) || num != 3 || type != 2 || lists++) return 0;
    while (list.p < list.end) {
      if (!wire_field(&list, &num, &type, &values) || num != 1 || type != 2) return 0;
      uint64_t v;
      while (values.p < values.end) {
        if (got == n || !wire_varint(&values, &v)) return 0;
        out[got++] = (int64_t)v;
      }
    }
  }
  return got == n;
}

/* A feature the fast path does not read is still checked as protobuf-c checks it (each list of
 * its kind: BytesList = 1, FloatList = 2, Int64List = 3, well formed), so a record is accepted here
 * only if the general path accepts it. */
static int wire_list_ok(wire list, uint32_t kind) {
  uint32_t num;
  int type;
  wire sub;
  while (list.p < list.end) {
    if (!wire_field(&list, &num, &type, &sub)) return 0;
    if (num != 1) continue; /* unknown fields are kept */
    if (kind == 1 && type != 2) return 0;
    if (kind == 2 && type != 5 && (type != 2 || (sub.end - sub.p) % 4)) return 0;
    if (kind == 3 && type != 0 && type != 2) return 0;
    for (uint64_t v; kind == 3 && type == 2 && sub.p < sub.end;)
      if (!wire_varint(&sub, &v)) return 0;
  }
  return 1;
}

static int wire_feature_ok(wire f) {
  uint32_t num;
  int type;
  wire list;
  while (f.p < f.end) {
    if (!wire_field(&f, &num, &type, &list)) return 0;
    if (num <= 3 && (type != 2 || !wire_list_ok(list, num))) return 0;
  }
  return 1;
}

static int wire_key_is(wire k, const char *name, size_t n) {
  return (size_t)(k.end - k.p) == n && !memcmp(k.p, name, n);
}

/* One map entry of Features: key = 1, value = 2. Sets bit i of *seen for the i-th wanted name. */
static int wire_entry(wire e, bert_unpacked *u, int L, int M, unsigned *seen) {
  static const char *const names[6] = {"input_ids", "input_mask", "segment_ids",
                                       "masked_lm_positions", "masked_lm_ids", "next_sentence_labels"};
  int64_t *dst[6] = {u->ids, u->mask, u->seg, u->mpos, u->mids, &u->nsp};
  static const size_t name_len[6] = {9, 10, 11, 19, 13, 20};
  const int len[6] = {L, L, L, M, M, 1};
  wire key = {0}, value = {0}, sub;
  uint32_t num;
  int type, have_key = 0, have_value = 0;
  while (e.p < e.end) {
    if (!wire_field(&e, &num, &type, &sub)) return 0;
    /* a wrong wire type, or a repeated key or value (protobuf-c merges values), is the general path's */
    if (num <= 2 && (type != 2 || (num == 1 ? have_key : have_value))) return 0;
    if (num == 1) key = sub, have_key = 1;
    else if (num == 2) value = sub, have_value = 1;
  }
  if (!have_key) return 0;
  for (int i = 0; i < 6; i++)
    if (wire_key_is(key, names[i], name_len[i])) {
      if ((*seen >> i) & 1 || !have_value || !wire_int64s(value, dst[i], len[i])) return 0;
      *seen |= 1u << i;
      return 1;
    }
  return !have_value || wire_feature_ok(value);
}

static int fast_decode(bert_unpacked *u, int L, int M, const uint8_t *data, size_t size) {
  wire ex = {data, data + size}, features, entry;
  uint32_t num;
  int type;
  unsigned seen = 0;
  while (ex.p < ex.end) {
    if (!wire_field(&ex, &num, &type, &features)) return 0;
    if (num != 1) continue;
    if (type != 2) return 0;
    while (features.p < features.end) {
      if (!wire_field(&features, &num, &type, &entry)) return 0;
      if (num == 1 && (type != 2 || !wire_entry(entry, u, L, M, &seen))) return 0;
    }
  }
  return seen == 0x3f;
}

int bert_unpacked_decode(bert_unpacked *u, int L, int M, const uint8_t *data, size_t size, bert_error *err) {
  if (fast_decode(u, L, M, data, size)) return check_sequence(u, L, M, err);
  bert_example ex;
  int rc = bert_example_decode(&ex, data, size, err);
  if (rc) return rc;
  if (!rc) rc = get(&ex, "input_ids", u->ids, L, "--sequence-length", L, err);
  if (!rc) rc = get(&ex, "input_mask", u->mask, L, "--sequence-length", L, err);
  if (!rc) rc = get(&ex, "segment_ids", u->seg, L, "--sequence-length", L, err);
  if (!rc) rc = get(&ex, "masked_lm_positions", u->mpos, M, "--mask-tokens", M, err);
  if (!rc) rc = get(&ex, "masked_lm_ids", u->mids, M, "--mask-tokens", M, err);
  if (!rc) rc = get(&ex, "next_sentence_labels", &u->nsp, 1, NULL, 0, err);
  bert_example_free(&ex);
  return rc ? rc : check_sequence(u, L, M, err);
}

/* ---------------------------------------------------------------- packed */

int bert_packed_init(bert_packed *p, int L, int M, int S, bert_error *err) {
  memset(p, 0, sizeof *p);
  p->L = L, p->M = M, p->S = S, p->slots = M + S - 1;
  size_t ints = 4 * (size_t)L + 2 * (size_t)p->slots + (size_t)S, floats = (size_t)p->slots + (size_t)S;
  p->input_ids = malloc(ints * sizeof(int64_t) + 1);
  p->mlm_mask = malloc(floats * sizeof(float) + 1);
  if (!p->input_ids || !p->mlm_mask) {
    bert_packed_free(p);
    return bert_error_set(err, BERT_ENOMEM, "out of memory for a pack of %d tokens", L);
  }
  p->input_mask = p->input_ids + L, p->segment_ids = p->input_mask + L, p->position_ids = p->segment_ids + L;
  p->mlm_positions = p->position_ids + L, p->mlm_ids = p->mlm_positions + p->slots;
  p->nsp_labels = p->mlm_ids + p->slots;
  p->nsp_mask = p->mlm_mask + p->slots;
  bert_packed_reset(p);
  return BERT_OK;
}

void bert_packed_free(bert_packed *p) {
  free(p->input_ids), free(p->mlm_mask);
  memset(p, 0, sizeof *p);
}

void bert_packed_reset(bert_packed *p) {
  memset(p->input_ids, 0, (4 * (size_t)p->L + 2 * (size_t)p->slots + (size_t)p->S) * sizeof(int64_t));
  memset(p->mlm_mask, 0, ((size_t)p->slots + (size_t)p->S) * sizeof(float));
  p->sequences = p->seq_offset = p->mlm_offset = 0;
}

int bert_packed_add(bert_packed *p, const bert_unpacked *u) {
  int k = p->sequences + 1, body = u->len - 1, off = p->seq_offset;
  /* Bodies grow from the front, [CLS] tokens from the back: they must not meet. */
  if (k > p->S || off + body > p->L - k || p->mlm_offset + u->masked > p->slots) return 1;
  for (int i = 0; i < body; i++) {
    p->input_ids[off + i] = u->ids[1 + i];
    p->input_mask[off + i] = k;
    p->segment_ids[off + i] = u->seg[1 + i];
    p->position_ids[off + i] = 1 + i;
  }
  for (int j = 0; j < u->masked; j++) {
    p->mlm_positions[p->mlm_offset + j] = u->mpos[j] - 1 + off;
    p->mlm_ids[p->mlm_offset + j] = u->mids[j];
    p->mlm_mask[p->mlm_offset + j] = (float)k;
  }
  p->input_ids[p->L - k] = u->ids[0];
  p->input_mask[p->L - k] = k;
  p->segment_ids[p->L - k] = u->seg[0];
  p->position_ids[p->L - k] = 0;
  p->nsp_labels[p->S - k] = u->nsp;
  p->nsp_mask[p->S - k] = 1;
  p->sequences = k, p->seq_offset = off + body, p->mlm_offset += u->masked;
  return 0;
}

size_t bert_packed_max_size(const bert_packed *p) {
  /* varints are at most 10 bytes; each feature adds its name and at most ~20 bytes of tags */
  size_t ints = 4 * (size_t)p->L + 2 * (size_t)p->slots + (size_t)p->S, floats = (size_t)p->slots + (size_t)p->S;
  return ints * 10 + floats * 4 + BERT_PACKED_FEATURES * 64 + 64;
}

/* ---- encoding: the wire format written directly, byte for byte what protobuf-c writes for the
 * same tf.train.Example (map entries in the order given, key then value, packed lists omitted when
 * empty), without building a message tree. tests/data/test_packing.c compares the two. */

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) *p++ = (uint8_t)(v | 0x80), v >>= 7;
  *p++ = (uint8_t)v;
  return p;
}

typedef struct wire_feature {
  const char *name;
  const int64_t *ints; /* or */
  const float *floats;
  size_t n;
  size_t values, list, feature, entry; /* byte sizes of the nested messages */
} wire_feature;

static void measure(wire_feature *f) {
  f->values = 0;
  if (f->ints)
    for (size_t i = 0; i < f->n; i++) f->values += varint_size((uint64_t)f->ints[i]);
  else f->values = 4 * f->n;
  f->list = f->n ? 1 + varint_size(f->values) + f->values : 0;
  f->feature = 1 + varint_size(f->list) + f->list;
  size_t key = strlen(f->name);
  f->entry = 1 + varint_size(key) + key + 1 + varint_size(f->feature) + f->feature;
}

static uint8_t *put_feature(uint8_t *p, const wire_feature *f) {
  size_t key = strlen(f->name);
  p = put_varint(p, 0x0a), p = put_varint(p, f->entry);  /* Features.feature = 1 */
  p = put_varint(p, 0x0a), p = put_varint(p, key);       /* entry key = 1 */
  memcpy(p, f->name, key), p += key;
  p = put_varint(p, 0x12), p = put_varint(p, f->feature); /* entry value = 2 */
  p = put_varint(p, f->ints ? 0x1a : 0x12), p = put_varint(p, f->list); /* int64_list = 3 / float_list = 2 */
  if (!f->n) return p;
  p = put_varint(p, 0x0a), p = put_varint(p, f->values); /* value = 1, packed */
  if (!f->ints) return memcpy(p, f->floats, 4 * f->n), p + 4 * f->n;
  for (size_t i = 0; i < f->n; i++) p = put_varint(p, (uint64_t)f->ints[i]);
  return p;
}

int bert_packed_encode(const bert_packed *p, uint8_t *out, size_t cap, size_t *written, bert_error *err) {
  const char *const *n = bert_packed_feature_names;
  size_t L = (size_t)p->L, M = (size_t)p->slots, S = (size_t)p->S;
  wire_feature f[BERT_PACKED_FEATURES] = {
      {n[0], p->input_ids, NULL, L, 0, 0, 0, 0},        {n[1], p->input_mask, NULL, L, 0, 0, 0, 0},
      {n[2], p->segment_ids, NULL, L, 0, 0, 0, 0},      {n[3], p->position_ids, NULL, L, 0, 0, 0, 0},
      {n[4], p->mlm_positions, NULL, M, 0, 0, 0, 0},    {n[5], p->mlm_ids, NULL, M, 0, 0, 0, 0},
      {n[6], NULL, p->mlm_mask, M, 0, 0, 0, 0},         {n[7], p->nsp_labels, NULL, S, 0, 0, 0, 0},
      {n[8], NULL, p->nsp_mask, S, 0, 0, 0, 0}};
  size_t features = 0;
  for (int i = 0; i < BERT_PACKED_FEATURES; i++) measure(&f[i]), features += 1 + varint_size(f[i].entry) + f[i].entry;
  size_t total = 1 + varint_size(features) + features;
  if (total > cap) return bert_error_set(err, BERT_ERANGE, "a pack of %zu bytes does not fit in %zu bytes", total, cap);
  uint8_t *q = put_varint(out, 0x0a); /* Example.features = 1 */
  q = put_varint(q, features);
  for (int i = 0; i < BERT_PACKED_FEATURES; i++) q = put_feature(q, &f[i]);
  *written = (size_t)(q - out);
  return BERT_OK;
}
