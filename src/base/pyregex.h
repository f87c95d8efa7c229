/* base/pyregex: the subset of Python `re` syntax that benchmark specs (benchmarks.yml) use,
 * translated to POSIX extended regexes (regex.h), with Python's re.findall semantics.
 *
 * Supported: literals; `.` (not newline); `^ $` (line anchors); `| ( ) (?: ) (?P<name> )`;
 * `* + ? {m} {m,} {m,n}` and their lazy forms `*? +? ?? {m,n}?`; a `{` that does not start a
 * repetition is literal (as Python); classes `[...]` `[^...]` with ranges and `\d \s \w` inside;
 * `\d \D \s \S \w \W` (ASCII); `\t \n \r \f \v`; a backslash before any punctuation makes it
 * literal (`\. \% \/ \( \\` ...). Not supported (an error naming the construct): back-references,
 * `\b \B \A \Z`, other letter escapes, look-around, inline flags, `\D \S \W` inside a class, `\]`
 * and `\^` inside a class (write `]` first and `^` not first).
 *
 * Semantics: matches never cross a newline unless the pattern says `\s` or `\n` (REG_NEWLINE:
 * `.` and negated classes stop at line ends, as Python's `.` does); a pattern with a lazy
 * quantifier ends its match at the earliest position where the whole pattern matches — which is
 * Python's result for patterns like `throughput: *(.*?) samples/sec` — and POSIX then fills the
 * groups leftmost-longest. findall yields the first capturing group (the whole match when the
 * pattern has none); non-overlapping; after an empty match the search moves one byte on. */
#ifndef BERT_BASE_PYREGEX_H
#define BERT_BASE_PYREGEX_H

#include <regex.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strbuf.h"

typedef struct bert_pyregex {
  regex_t re;       /* the translated pattern */
  regex_t anchored; /* ^(pattern)$, for the shortest match of a lazy pattern */
  int lazy;         /* the pattern has lazy quantifiers */
  int group;        /* POSIX index of the first capturing group in `re` (0: none) */
  int compiled;
} bert_pyregex;

/* Translates a Python pattern into POSIX ERE text; sets *lazy and *group as above. */
int bert_pyregex_translate(const char *pattern, bert_strbuf *out, int *lazy, int *group, bert_error *err);

int bert_pyregex_compile(bert_pyregex *r, const char *pattern, bert_error *err);
void bert_pyregex_free(bert_pyregex *r);

/* Called for each match with the matched text (not NUL-terminated); non-zero stops the scan. */
typedef int (*bert_pyregex_fn)(const char *match, size_t len, void *ctx);

/* re.findall over text[0, len): calls fn for every match in order; returns the number of matches
 * seen (or a negative BERT_E* code when the regex library fails). */
long bert_pyregex_findall(const bert_pyregex *r, const char *text, size_t len, bert_pyregex_fn fn, void *ctx,
                          bert_error *err);

#endif
