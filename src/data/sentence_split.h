/* data/sentence_split: splits a line of text into sentences, in place of NLTK's English Punkt
 * tokenizer (sent_tokenize), which the reference's Wikipedia preprocessing uses.
 *
 * A sentence may end at a run of '.', '?' or '!' (plus closing quotes and brackets) followed by
 * whitespace, as in Punkt. '?' and '!' end one unless a lower-case word follows ('"Why?" he
 * asked', where Punkt splits). A '.' ends one after an ordinary word; after
 * an abbreviation ("Dr.", "etc.", "U.S.", "e.g."), an initial ("J."), or an ellipsis ("...") only
 * when the next word is a capitalised common word ("The", "However"), which is what Punkt's
 * orthographic heuristic decides with its trained statistics; after a number ("1990.") unless the
 * next word is lower-case. Decimals ("3.14"), spaced ". . ." and "…" never split. The
 * rules use fixed word lists instead of Punkt's trained model, so a few boundaries differ. */
#ifndef BERT_DATA_SENTENCE_SPLIT_H
#define BERT_DATA_SENTENCE_SPLIT_H

#include <stddef.h>

typedef struct bert_sentence_iter {
  const char *text;
  size_t len, pos;
} bert_sentence_iter;

void bert_sentence_iter_init(bert_sentence_iter *it, const char *text, size_t len);
/* The next sentence as text[*start, *end), without surrounding whitespace; 0 when none is left. */
int bert_sentence_next(bert_sentence_iter *it, size_t *start, size_t *end);

#endif
