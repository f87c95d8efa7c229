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

int bert_unpacked_decode(bert_unpacked *u, int L, int M, const uint8_t *data, size_t size, bert_error *err) {
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

int bert_packed_encode(const bert_packed *p, uint8_t *out, size_t cap, size_t *written, bert_error *err) {
  bert_example_builder b;
  bert_example_builder_init(&b);
  const char *const *n = bert_packed_feature_names;
  size_t L = (size_t)p->L, M = (size_t)p->slots, S = (size_t)p->S;
  int rc = bert_example_add_int64(&b, n[0], p->input_ids, L, err);
  if (!rc) rc = bert_example_add_int64(&b, n[1], p->input_mask, L, err);
  if (!rc) rc = bert_example_add_int64(&b, n[2], p->segment_ids, L, err);
  if (!rc) rc = bert_example_add_int64(&b, n[3], p->position_ids, L, err);
  if (!rc) rc = bert_example_add_int64(&b, n[4], p->mlm_positions, M, err);
  if (!rc) rc = bert_example_add_int64(&b, n[5], p->mlm_ids, M, err);
  if (!rc) rc = bert_example_add_float(&b, n[6], p->mlm_mask, M, err);
  if (!rc) rc = bert_example_add_int64(&b, n[7], p->nsp_labels, S, err);
  if (!rc) rc = bert_example_add_float(&b, n[8], p->nsp_mask, S, err);
  return rc ? rc : bert_example_encode(&b, out, cap, written, err);
}
