/* data/wiki_dump: a streaming reader of MediaWiki XML dumps (pages-articles, plain or bzip2,
 * multistream included), page by page in bounded memory.
 *
 * Only the dump subset is parsed: elements, attributes, the five predefined entities and
 * character references, comments, processing instructions and CDATA. Of each <page> it keeps the
 * title, namespace, id, redirect flag and the text of its last revision; of <siteinfo> the base
 * URL and the namespace names. Multistream bzip2 (Wikimedia's dumps) is decoded in parallel, the
 * whole streams of an 8 MB window at a time, as OpenMP tasks (in parallel when the reader runs
 * inside a team). Malformed XML, a corrupt or truncated bzip2 stream and oversized
 * pages are errors naming the file, the XML line and byte offset (and the compressed byte offset
 * for .bz2 input). */
#ifndef BERT_DATA_WIKI_DUMP_H
#define BERT_DATA_WIKI_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Pages whose text exceeds this are an error (MediaWiki's own limit is 2 MiB per revision). */
#define BERT_WIKI_MAX_PAGE_BYTES ((size_t)256 << 20)

typedef struct bert_wiki_page {
  char *title; /* decoded (entities resolved), NUL-terminated */
  size_t title_len, title_cap;
  char id[32];  /* the page id as written in the dump */
  int ns;       /* <ns>; -1000 when the page has none (dumps before schema 0.5) */
  int redirect; /* a <redirect/> element was present */
  char *text;   /* wikitext of the last revision, decoded, NUL-terminated */
  size_t text_len, text_cap;
  uint64_t line;   /* XML line of the <page> tag (1-based) */
  uint64_t offset; /* XML byte offset of the <page> tag */
} bert_wiki_page;

typedef struct bert_wiki_dump bert_wiki_dump;

/* Opens a dump; bzip2 is recognised by its magic bytes, not by the file name. */
int bert_wiki_dump_open(bert_wiki_dump **d, const char *path, bert_error *err);
/* Reads the next page into `page` (its buffers are the caller's: free them with
 * bert_wiki_page_free). Returns 1 for a page, 0 at the end of the dump, or a negative code. */
int bert_wiki_dump_next(bert_wiki_dump *d, bert_wiki_page *page, bert_error *err);
void bert_wiki_dump_close(bert_wiki_dump *d);
void bert_wiki_page_free(bert_wiki_page *page);

/* From <siteinfo> (valid once the first page was read): the article URL base, e.g.
 * "https://en.wikipedia.org/wiki" ("" when absent), and the namespace names (ns != 0). */
const char *bert_wiki_dump_urlbase(const bert_wiki_dump *d);
size_t bert_wiki_dump_namespace_count(const bert_wiki_dump *d);
const char *bert_wiki_dump_namespace(const bert_wiki_dump *d, size_t i);
/* Bytes of the file read so far (compressed bytes for .bz2) and XML bytes decoded so far. */
uint64_t bert_wiki_dump_file_bytes(const bert_wiki_dump *d);
uint64_t bert_wiki_dump_xml_bytes(const bert_wiki_dump *d);

#endif
