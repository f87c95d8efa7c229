/* data/wiki_preprocess: `bert data wiki-preprocess` — WikiExtractor output to one sentence per line
 * with a blank line between documents, as the reference's data/wikipedia_preprocess.py:
 *   - blank (whitespace-only) lines are skipped;
 *   - a line containing "<doc" is skipped together with the line after it (the title);
 *   - a line containing "</doc" becomes an empty line (the document boundary);
 *   - every other line is split into sentences (data/sentence_split, in place of NLTK's
 *     sent_tokenize), one per output line;
 *   - small_files: stop after line max_len + 1 of each file (0-based index > max_len, counting
 *     the skipped title lines), as the script's --small-files / --max-len.
 * A directory input is walked (sorted, recursively) and each file F in folder D is written to
 * OUT/<name of D>/F_cleaned, as the script does; a file input is written to OUT. Files are
 * processed in parallel, each streamed line by line and written atomically. */
#ifndef BERT_DATA_WIKI_PREPROCESS_H
#define BERT_DATA_WIKI_PREPROCESS_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/glob.h"

typedef struct bert_wiki_preprocess_options {
  int small_files;  /* 0 */
  int64_t max_len;  /* 100 */
  int threads;      /* 0: OpenMP's default */
  int progress;     /* -1: a progress bar when stderr is a terminal */
} bert_wiki_preprocess_options;

void bert_wiki_preprocess_options_default(bert_wiki_preprocess_options *o);

typedef struct bert_wiki_preprocess_stats {
  size_t files;
  uint64_t bytes_in, bytes_out, lines, documents, sentences;
  double seconds;
} bert_wiki_preprocess_stats;

/* Streams one WikiExtractor file to `out` (an open stream); `in_name` and `out_name` are used in
 * messages (a read error names the input, a write error the output). */
int bert_wiki_preprocess_stream(FILE *in, const char *in_name, FILE *out, const char *out_name,
                                const bert_wiki_preprocess_options *o, bert_wiki_preprocess_stats *stats,
                                bert_error *err);

/* `in` is a file (written to `out`) or a directory (see above). outputs (may be NULL) receives
 * the files written, in input order. */
int bert_wiki_preprocess(const char *in, const char *out, const bert_wiki_preprocess_options *o,
                         bert_wiki_preprocess_stats *stats, bert_strlist *outputs, bert_error *err);

#endif
