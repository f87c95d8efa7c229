/* text/tokenizer: BERT's BasicTokenizer + WordPiece with the semantics of Google's tokenization.py
 * and HuggingFace's BertTokenizer, where every token keeps the byte span [start, end) of the
 * ORIGINAL UTF-8 input it came from (SQuAD maps answers back through these spans).
 *
 * Pipeline per input: text cleaning (NUL, U+FFFD, control and format characters removed; any
 * whitespace is a word break), CJK ideographs as single-character words, lower-casing and accent
 * stripping (NFD, Mn marks dropped) in uncased mode, punctuation split (Unicode P* plus the ASCII
 * symbols), then greedy longest-match WordPiece with "##" continuations. Invalid UTF-8 bytes are
 * skipped, as Google's decode(errors="ignore") does. No [CLS]/[SEP] are added.
 *
 * A tokenizer is read-only after creation: any number of threads may call bert_tokenize at once,
 * each with its own bert_tokens. */
#ifndef BERT_TEXT_TOKENIZER_H
#define BERT_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "text/vocab.h"

typedef struct bert_tokenizer_options {
  int lower_case;     /* 1: uncased models (lower-case + strip accents); 0: cased models */
  int max_word_chars; /* words of more characters become [UNK]: 100 as HuggingFace, 200 as Google */
  /* Tokens kept whole wherever they occur in the raw text, matched case-sensitively before any
   * normalisation (as HuggingFace does with special tokens). NULL-terminated list, or NULL for
   * none (Google's behaviour: "[MASK]" in text is split as "[", "mask", "]"). Every entry must be
   * in the vocabulary. bert_never_split_specials is the usual list. */
  const char *const *never_split;
} bert_tokenizer_options;

/* [CLS], [SEP], [MASK], [PAD], [UNK], NULL-terminated. */
extern const char *const bert_never_split_specials[];

/* lower_case 1, max_word_chars 100, never_split NULL. */
void bert_tokenizer_options_default(bert_tokenizer_options *opts);

typedef struct bert_tokenizer bert_tokenizer;

/* The tokenizer keeps a pointer to `vocab`, which must outlive it. Fails (BERT_EFORMAT) when the
 * vocabulary has no [UNK], (BERT_EINVAL) on a never-split token missing from the vocabulary. */
int bert_tokenizer_create(bert_tokenizer **tok, const bert_vocab *vocab,
                          const bert_tokenizer_options *opts, bert_error *err);
void bert_tokenizer_free(bert_tokenizer *tok);

const bert_vocab *bert_tokenizer_vocab(const bert_tokenizer *tok);
int bert_tokenizer_unk_id(const bert_tokenizer *tok);
int bert_tokenizer_lower_case(const bert_tokenizer *tok);

/* A growable token list, reused across calls so steady-state tokenization does not allocate.
 * Zero-initialise it (or call bert_tokens_init) before first use. */
typedef struct bert_tokens {
  size_t count;         /* tokens held */
  int32_t *ids;         /* ids[count]; the string is bert_vocab_token(vocab, id) */
  size_t *starts;       /* starts[i], ends[i]: byte span of token i in the input, end exclusive */
  size_t *ends;
  size_t invalid_bytes; /* invalid UTF-8 bytes skipped in the inputs since the last clear */
  size_t capacity;      /* private: allocated length of ids/starts/ends */
  struct bert_tokens_scratch *scratch; /* private: per-call working buffers */
} bert_tokens;

void bert_tokens_init(bert_tokens *out);
void bert_tokens_free(bert_tokens *out);

/* Tokenizes `len` bytes of UTF-8 (need not be NUL-terminated); `out` is cleared first. Offsets are
 * relative to `text`. Only fails on allocation failure (BERT_ENOMEM). */
int bert_tokenize(const bert_tokenizer *tok, const char *text, size_t len, bert_tokens *out,
                  bert_error *err);
/* As bert_tokenize, but appends to `out`; offsets are still relative to this call's `text`. */
int bert_tokenize_append(const bert_tokenizer *tok, const char *text, size_t len, bert_tokens *out,
                         bert_error *err);

/* The casing rule, shared by every command that uses a vocabulary:
 *  1. `flag` when given (1 = --do-lower-case, 0 = --cased, -1 = not given);
 *  2. otherwise "do_lower_case" from tokenizer_config.json in the vocabulary's folder;
 *  3. otherwise inferred from the vocabulary: ordinary tokens (not [BRACKETED]) with upper-case
 *     letters mean a cased model.
 * Steps 2 and 3 are logged with bert_log. Sets *lower_case to 1 or 0. A tokenizer_config.json
 * that is not valid JSON, or whose do_lower_case is not a boolean, is an error (BERT_EFORMAT). */
int bert_casing_resolve(const char *vocab_path, const bert_vocab *vocab, int flag, int *lower_case,
                        bert_error *err);

/* A model folder's tokenizer as HuggingFace's BertTokenizerFast builds it: the vocabulary at
 * `vocab_path` (loaded into `vocab`, which the tokenizer then points to), the casing rule above
 * with no flag, special tokens kept whole, words of more than 100 characters [UNK]. On failure
 * nothing is left to free. *lower_case (may be NULL) receives the casing used. */
int bert_tokenizer_open(const char *vocab_path, bert_vocab *vocab, bert_tokenizer **tok, int *lower_case,
                        bert_error *err);

#endif
