/* text/vocab: a WordPiece vocabulary (vocab.txt, one token per line, id = line number) with
 * token -> id lookup by hash and id -> token by index. */
#ifndef BERT_TEXT_VOCAB_H
#define BERT_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct bert_vocab {
  int size;            /* number of tokens */
  char **tokens;       /* tokens[id], NUL-terminated, pointing into `text` */
  char *text;          /* the file's bytes, lines split in place */
  int32_t *slots;      /* open-addressing hash table of ids, -1 = empty */
  size_t slot_count;   /* power of two */
} bert_vocab;

/* The most tokens a vocabulary may have (ids are int; real vocabularies have 30k to 250k). */
#define BERT_VOCAB_MAX_TOKENS (1 << 24)

/* Loads vocab.txt: '\n' or "\r\n" line ends; a final line without '\n' counts; empty lines are
 * tokens too (as in Google's and HuggingFace's loaders, which keep ids aligned with lines). */
int bert_vocab_load(bert_vocab *vocab, const char *path, bert_error *err);
void bert_vocab_free(bert_vocab *vocab);

/* Returns the id of a token of `len` bytes, or -1. */
int bert_vocab_find(const bert_vocab *vocab, const char *token, size_t len);
/* Returns the token for an id, or NULL when out of range. */
const char *bert_vocab_token(const bert_vocab *vocab, int id);

#endif
