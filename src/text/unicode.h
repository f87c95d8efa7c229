/* text/unicode: the character classes BERT's BasicTokenizer uses, from utf8proc's Unicode data,
 * defined exactly as Google's tokenization.py defines them (_is_whitespace, _is_control,
 * _is_punctuation, _is_chinese_char), plus lower-casing with accent stripping. */
#ifndef BERT_TEXT_UNICODE_H
#define BERT_TEXT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* What the basic tokenizer does with an input character. */
typedef enum bert_char_class {
  BERT_CHAR_WORD = 0, /* part of a word */
  BERT_CHAR_SPACE,    /* word break: \t \n \r and Unicode Zs, Zl, Zp (Python's split() breaks on
                         U+2028/U+2029 too, so Google's tokenizer treats them as whitespace) */
  BERT_CHAR_DROP,     /* removed as if absent: NUL, U+FFFD, Cc (but \t \n \r), Cf */
  BERT_CHAR_CJK,      /* a CJK ideograph: a word of its own */
  BERT_CHAR_PUNCT,    /* a word of its own: Unicode P* and ASCII 33-47, 58-64, 91-96, 123-126 */
} bert_char_class;

bert_char_class bert_unicode_class(int32_t cp);

/* Punctuation test on a (normalised) character. */
int bert_unicode_is_punct(int32_t cp);

/* Uncased normalisation of one character: lower-case, canonical decomposition (NFD), non-spacing
 * marks (Mn) dropped. Writes up to 4 code points to out and returns how many (0 when the character
 * was only a mark). `final_sigma` selects U+03C2 for U+03A3, as Python's str.lower() does at the
 * end of a word. Canonical reordering of marks is skipped: it only matters when two non-Mn
 * combining characters of different classes meet, which Unicode has 25 of (none in words). */
int bert_unicode_lower_strip(int32_t cp, int final_sigma, int32_t out[4]);

/* Python's str.lower() rule for a capital sigma at text[pos, pos+2) within the whitespace-delimited
 * word that holds it: final when a cased letter comes before it and none after it, skipping
 * case-ignorable and removed characters. */
int bert_unicode_sigma_is_final(const char *text, size_t len, size_t pos);

/* Code-point offsets, the units of Python string indices (SQuAD's answer_start and every offset
 * bertc shows users), against byte offsets into UTF-8 text. */
/* Byte offset of code point `index` in text[0, len); len when index is at or past the end. */
size_t bert_utf8_byte_offset(const char *text, size_t len, int64_t index);
/* Code points in text[0, len) (bytes that do not continue a sequence). */
int64_t bert_utf8_code_points(const char *text, size_t len);

#endif
