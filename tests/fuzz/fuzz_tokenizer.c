/* vocab.txt + tokenizer (text/vocab, text/tokenizer): any bytes are tokenized with the real
 * bert-base-uncased and bert-base-cased vocabularies (uncased with HF's 100-character words;
 * cased with the special tokens kept whole and Google's 200), and the same bytes are loaded as a
 * vocabulary: each of its first lines must be found again, and when it has [UNK] the input is
 * tokenized with it too. Every token must have an id of the vocabulary and a byte span inside the
 * input, spans in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

static bert_vocab uncased_vocab, cased_vocab;
static bert_tokenizer *uncased, *cased;
static bert_tokens tokens;

static bert_tokenizer *make(bert_vocab *v, const char *rel, int lower, int max_chars, const char *const *never) {
  char path[4096];
  bert_error err;
  snprintf(path, sizeof path, "%s/%s", BERT_SOURCE_DIR, rel);
  bert_tokenizer_options o;
  bert_tokenizer_options_default(&o);
  o.lower_case = lower, o.max_word_chars = max_chars, o.never_split = never;
  bert_tokenizer *t;
  if (bert_vocab_load(v, path, &err) || bert_tokenizer_create(&t, v, &o, &err))
    fprintf(stderr, "%s\n", err.message), abort();
  return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  uncased = make(&uncased_vocab, "data/vocab.txt", 1, 100, NULL);
  cased = make(&cased_vocab, "tests/data/tokenizer/bert-base-cased-vocab.txt", 0, 200, bert_never_split_specials);
  bert_tokens_init(&tokens);
  return 0;
}

static void tokenize_checked(const bert_tokenizer *tok, const char *text, size_t len) {
  bert_error err;
  if (bert_tokenize(tok, text, len, &tokens, &err)) abort();
  int vocab_size = bert_tokenizer_vocab(tok)->size;
  for (size_t i = 0; i < tokens.count; i++) {
    if (tokens.ids[i] < 0 || tokens.ids[i] >= vocab_size)
      fprintf(stderr, "token %zu: id %d\n", i, tokens.ids[i]), abort();
    if (tokens.starts[i] > tokens.ends[i] || tokens.ends[i] > len || (i && tokens.starts[i] < tokens.starts[i - 1]))
      fprintf(stderr, "token %zu: span [%zu, %zu) of %zu bytes\n", i, tokens.starts[i], tokens.ends[i], len), abort();
  }
}

static void as_vocabulary(const uint8_t *data, size_t size, const char *text) {
  bert_vocab v;
  bert_error err;
  if (fuzz_check(bert_vocab_load(&v, fuzz_file(0, data, size), &err), &err)) return;
  for (int id = 0; id < v.size && id < 64; id++) {
    int found = bert_vocab_find(&v, v.tokens[id], strlen(v.tokens[id]));
    if (found < 0 || found > id || strcmp(bert_vocab_token(&v, found), v.tokens[id])) abort();
  }
  for (int lower = 0; lower < 2; lower++) {
    bert_tokenizer_options o;
    bert_tokenizer_options_default(&o);
    o.lower_case = lower;
    bert_tokenizer *t;
    if (fuzz_check(bert_tokenizer_create(&t, &v, &o, &err), &err)) continue;
    tokenize_checked(t, text, size);
    bert_tokenizer_free(t);
  }
  bert_vocab_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size ? size : 1); /* exactly the input: no NUL after it */
  if (size) memcpy(text, data, size);
  tokenize_checked(uncased, text, size);
  tokenize_checked(cased, text, size);
  as_vocabulary(data, size, text);
  free(text);
  return 0;
}
