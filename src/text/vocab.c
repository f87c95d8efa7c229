#include "text/vocab.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static int build_index(bert_vocab *vocab, bert_error *err) {
  size_t count = 16;
  while (count < (size_t)vocab->size * 2) count <<= 1;
  vocab->slots = malloc(count * sizeof *vocab->slots);
  if (!vocab->slots) return bert_error_set(err, BERT_ENOMEM, "vocabulary index: out of memory");
  memset(vocab->slots, 0xff, count * sizeof *vocab->slots);
  vocab->slot_count = count;
  for (int id = 0; id < vocab->size; id++) {
    const char *tok = vocab->tokens[id];
    size_t len = strlen(tok);
    if (bert_vocab_find(vocab, tok, len) >= 0) continue; /* first occurrence wins */
    size_t slot = hash_bytes(tok, len) & (count - 1);
    while (vocab->slots[slot] >= 0) slot = (slot + 1) & (count - 1);
    vocab->slots[slot] = id;
  }
  return BERT_OK;
}

int bert_vocab_load(bert_vocab *vocab, const char *path, bert_error *err) {
  memset(vocab, 0, sizeof *vocab);
  size_t size;
  int rc = bert_file_read(path, &vocab->text, &size, err);
  if (rc) return rc;
  size_t lines = 0;
  for (size_t i = 0; i < size; i++) lines += vocab->text[i] == '\n';
  if (size && vocab->text[size - 1] != '\n') lines++;
  if (lines == 0 || lines > BERT_VOCAB_MAX_TOKENS) {
    bert_vocab_free(vocab);
    if (lines)
      return bert_error_set(err, BERT_EFORMAT, "%s: %zu lines, over the limit of %d tokens", path, lines,
                            BERT_VOCAB_MAX_TOKENS);
    return bert_error_set(err, BERT_EFORMAT, "%s: empty vocabulary", path);
  }
  vocab->tokens = malloc(lines * sizeof *vocab->tokens);
  if (!vocab->tokens) {
    bert_vocab_free(vocab);
    return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  }
  char *p = vocab->text, *end = vocab->text + size;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *stop = nl ? nl : end;
    if (stop > p && stop[-1] == '\r') stop[-1] = 0;
    *stop = 0;
    vocab->tokens[vocab->size++] = p;
    p = stop + 1;
  }
  rc = build_index(vocab, err);
  if (rc) bert_vocab_free(vocab);
  return rc;
}

void bert_vocab_free(bert_vocab *vocab) {
  free(vocab->tokens);
  free(vocab->text);
  free(vocab->slots);
  memset(vocab, 0, sizeof *vocab);
}

int bert_vocab_find(const bert_vocab *vocab, const char *token, size_t len) {
  if (!vocab->slots) return -1;
  size_t mask = vocab->slot_count - 1, slot = hash_bytes(token, len) & mask;
  while (vocab->slots[slot] >= 0) {
    const char *cand = vocab->tokens[vocab->slots[slot]];
    if (strncmp(cand, token, len) == 0 && cand[len] == 0) return vocab->slots[slot];
    slot = (slot + 1) & mask;
  }
  return -1;
}

const char *bert_vocab_token(const bert_vocab *vocab, int id) {
  return (id >= 0 && id < vocab->size) ? vocab->tokens[id] : NULL;
}
