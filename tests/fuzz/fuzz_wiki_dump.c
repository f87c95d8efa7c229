/* Wikipedia XML dumps (data/wiki_dump + data/wiki_clean): the input is a dump (plain XML, or
 * bzip2 by its magic bytes); every page is read and its wikitext cleaned with the namespaces of
 * the dump's <siteinfo>, as `bert data wiki-extract` does. */
#include <stdlib.h>

#include "base/strbuf.h"
#include "data/wiki_clean.h"
#include "data/wiki_dump.h"
#include "harness.h"

#define MAX_NAMESPACES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bert_wiki_dump *d;
  bert_error err;
  if (fuzz_check(bert_wiki_dump_open(&d, fuzz_file(0, data, size), &err), &err)) return 0;
  bert_wiki_page page = {0};
  bert_strbuf out = {0};
  int rc;
  while ((rc = bert_wiki_dump_next(d, &page, &err)) > 0) {
    const char *names[MAX_NAMESPACES];
    size_t n = bert_wiki_dump_namespace_count(d);
    if (n > MAX_NAMESPACES) n = MAX_NAMESPACES;
    for (size_t i = 0; i < n; i++) names[i] = bert_wiki_dump_namespace(d, i);
    bert_wiki_namespaces ns = {names, n};
    bert_strbuf_clear(&out);
    bert_wiki_escape(&out, page.title, page.title_len, 1);
    bert_wiki_clean(page.text, page.text_len, &ns, &out);
  }
  fuzz_check(rc < 0 ? rc : 0, &err);
  bert_wiki_dump_urlbase(d);
  bert_strbuf_free(&out);
  bert_wiki_page_free(&page);
  bert_wiki_dump_close(d);
  return 0;
}
