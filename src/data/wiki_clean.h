/* data/wiki_clean: MediaWiki markup to plain text, as WikiExtractor (3.0, default options) writes
 * an article's body: templates, tables and references dropped; links replaced by their labels;
 * bold/italic marks removed (italics become "quotes"); HTML comments, tags and entities resolved;
 * <math>/<code> replaced by formula_N / codice_N; list items and table residue dropped; section
 * titles kept as a line ending in '.' before their first paragraph; one paragraph per line; the
 * result HTML-escaped (& < >) as WikiExtractor's --html-safe default.
 *
 * Deliberate differences (all towards cleaner text): comments are removed first, as MediaWiki
 * does, so a commented-out brace cannot unbalance a template; unmatched "[[" or "{{" stay as text
 * instead of stopping all later link handling; links are dropped only when their prefix is a
 * namespace or a language code (WikiExtractor also drops "Star Wars: Episode IV"-style titles);
 * every __BEHAVIOUR_SWITCH__ is removed; <br>, <templatestyles/> and a few non-prose extension tags
 * are dropped; lines without any letter or digit are dropped. Templates are not expanded (the
 * dump's Template pages are not read): WikiExtractor with no template definitions gives the same. */
#ifndef BERT_DATA_WIKI_CLEAN_H
#define BERT_DATA_WIKI_CLEAN_H

#include <stddef.h>

#include "base/strbuf.h"

/* The site's namespace names (from <siteinfo>), so links into them are dropped; may be empty. */
typedef struct bert_wiki_namespaces {
  const char *const *names;
  size_t count;
} bert_wiki_namespaces;

/* Appends the article's paragraphs to `out`, each line ending in '\n'. Returns the number of
 * lines, or -1 when memory ran out (`out->failed` is then set too). Thread-safe. */
long bert_wiki_clean(const char *wikitext, size_t len, const bert_wiki_namespaces *ns, bert_strbuf *out);

/* Appends `s` with & < > " escaped (a <doc> title attribute). */
void bert_wiki_escape(bert_strbuf *out, const char *s, size_t n, int quotes);

#endif
