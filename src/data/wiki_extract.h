/* data/wiki_extract: `bert data wiki-extract` — a MediaWiki XML dump (plain or .bz2) to
 * WikiExtractor-style text files, streaming.
 *
 * Output as WikiExtractor 3.0 writes it with `-b SIZE`: OUTDIR/AA/wiki_00 ... AA/wiki_99,
 * AB/wiki_00, ..., each file holding whole documents
 *     <doc id="ID" url="URLBASE?curid=ID" title="TITLE">\nTITLE\n\nparagraph\n...\n\n</doc>\n
 * until the next one would take it past SIZE bytes. Articles are the pages of namespace 0
 * (WikiExtractor's title test — no ':' in the title — for dumps without <ns>); redirects are kept
 * as empty documents as WikiExtractor keeps them, unless skip_redirects. Pages are read by one
 * thread while the others clean the previous batch; the output does not depend on the thread
 * count. Each output file appears atomically when complete. */
#ifndef BERT_DATA_WIKI_EXTRACT_H
#define BERT_DATA_WIKI_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct bert_wiki_extract_options {
  uint64_t file_bytes; /* largest output file, 100 MiB (WikiExtractor -b 100M) */
  int threads;         /* 0: OpenMP's default */
  int skip_redirects;  /* 0: redirects become empty documents, as in WikiExtractor */
  int progress;        /* -1: a progress bar when stderr is a terminal */
} bert_wiki_extract_options;

void bert_wiki_extract_options_default(bert_wiki_extract_options *o);

typedef struct bert_wiki_extract_stats {
  uint64_t file_bytes;   /* input read (compressed bytes for .bz2) */
  uint64_t xml_bytes;    /* XML decoded */
  uint64_t pages;        /* <page> elements */
  uint64_t documents;    /* written */
  uint64_t redirects;    /* among the documents (or skipped with skip_redirects) */
  uint64_t output_bytes;
  size_t files;
  double seconds;
} bert_wiki_extract_stats;

int bert_wiki_extract(const char *dump, const char *outdir, const bert_wiki_extract_options *o,
                      bert_wiki_extract_stats *stats, bert_error *err);

/* The output file number `index` (0-based) under outdir: outdir/AA/wiki_00 for 0, AB/wiki_00
 * for 100. BERT_ERANGE past ZZ/wiki_99. */
int bert_wiki_extract_path(const char *outdir, size_t index, char *out, size_t cap, bert_error *err);

#endif
