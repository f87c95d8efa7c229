/* Wiki markup cleaning (data/wiki_clean): any bytes as an article's wikitext (what the dump
 * reader hands over after XML decoding), with English Wikipedia's usual namespaces. Every output
 * line must end in '\n', and the line count must match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "data/wiki_clean.h"
#include "harness.h"

static const char *const kNames[] = {"Talk", "User", "Wikipedia", "File", "MediaWiki", "Template",
                                     "Help", "Category", "Portal", "Draft", "Module"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_string(data, size);
  bert_wiki_namespaces ns = {kNames, sizeof kNames / sizeof kNames[0]};
  bert_strbuf out = {0};
  long lines = bert_wiki_clean(text, size, &ns, &out);
  if (lines < 0) abort();
  long newlines = 0;
  for (size_t i = 0; i < out.len; i++) newlines += out.data[i] == '\n';
  if (newlines != lines || (out.len && out.data[out.len - 1] != '\n'))
    fprintf(stderr, "%ld lines, %ld newlines\n", lines, newlines), abort();
  bert_strbuf_free(&out);
  free(text);
  return 0;
}
