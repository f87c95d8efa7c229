/* data/corpus: text files (one sentence per line, blank line = document boundary) as tokenized
 * documents, the input of pretraining-instance creation. Files are tokenized by several threads in
 * waves of chunks, so the memory held is the token ids of the files added plus a few chunks of
 * text. The result does not depend on the thread count.
 *
 * Line rules (those of create_pretraining_data.py): a line of only whitespace ends the current
 * document; other lines are tokenized and become a sentence when they give at least one token;
 * empty documents are dropped. Unlike the reference, every file also starts a new document (the
 * reference lets the last document of a file run on into the next file). Text must be valid UTF-8:
 * anything else is an error naming the file, line and byte offset. */
#ifndef BERT_DATA_CORPUS_H
#define BERT_DATA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"
#include "text/tokenizer.h"

typedef struct bert_corpus {
  int32_t *tokens;       /* all sentences' token ids, back to back */
  size_t n_tokens, cap_tokens;
  size_t *sentences;     /* sentence i = tokens[sentences[i], sentences[i+1]) */
  size_t n_sentences, cap_sentences;
  size_t *documents;     /* document d = sentences [documents[d], documents[d+1]) */
  size_t n_documents, cap_documents;
  uint64_t lines, bytes; /* input read so far */
} bert_corpus;

void bert_corpus_init(bert_corpus *c);
void bert_corpus_free(bert_corpus *c);
/* Empties the corpus, keeping its buffers for the next group of files. */
void bert_corpus_clear(bert_corpus *c);

/* Tokenizes one file and appends its documents. threads <= 0: OpenMP's default. progress (may be
 * NULL) advances by the file's bytes as chunks finish. */
int bert_corpus_add_file(bert_corpus *c, const char *path, const bert_tokenizer *tok, int threads,
                         bert_progress *progress, bert_error *err);
/* Same, for text already in memory; `name` is used in messages. */
int bert_corpus_add_text(bert_corpus *c, const char *name, const char *text, size_t len,
                         const bert_tokenizer *tok, int threads, bert_progress *progress, bert_error *err);

static inline size_t bert_corpus_doc_sentences(const bert_corpus *c, size_t d) {
  return c->documents[d + 1] - c->documents[d];
}

#endif
