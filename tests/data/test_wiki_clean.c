/* data/wiki_clean: MediaWiki markup to WikiExtractor's plain text — templates, tables, links,
 * lists, references, comments, magic words, bold/italic, entities, sections; and
 * data/wiki_dump's reading of plain and bzip2 (multistream) dumps with errors that name the place. */
#include <bzlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "data/wiki_clean.h"
#include "data/wiki_dump.h"
#include "test_util.h"

static const char *const site_ns[] = {"Thể loại", "Tập tin"};
static const bert_wiki_namespaces ns = {site_ns, 2};

/* Cleans `wikitext` and compares with `want` (lines joined by '\n', each ending in '\n'). */
static void expect(const char *wikitext, const char *want) {
  bert_strbuf out = {0};
  long lines = bert_wiki_clean(wikitext, strlen(wikitext), &ns, &out);
  const char *got = out.data ? out.data : "";
  CHECK_MSG(lines >= 0 && !strcmp(got, want), "\n  wikitext: %s\n  got:  [%s]\n  want: [%s]", wikitext, got, want);
  bert_strbuf_free(&out);
}

static void templates_and_tables(void) {
  expect("A {{cite|x={{nested|y}}}} B", "A B\n");
  expect("A {{{1|default}}} B", "A B\n");
  expect("{{Infobox\n| name = X\n| size = {{convert|5|km}}\n}}\nThe text.", "The text.\n");
  expect("Open {{ never closed", "Open {{ never closed\n");
  expect("Before\n{| class=\"wikitable\"\n|-\n| a || b\n|}\nAfter", "Before\nAfter\n");
  expect("x {{a}}} y", "x } y\n");
}

static void links(void) {
  expect("A [[dog]] and [[cat|kitten]]s.", "A dog and kittens.\n");
  expect("[[File:X.jpg|thumb|A caption with [[link]]]] Text.", " Text.\n"); /* leading space kept, as WikiExtractor */
  expect("[[Category:Animals]][[Thể loại:Động vật]][[Tập tin:A.png|nhỏ]]Body", "Body\n");
  expect("See [[fr:Chat]] and [[wikt:cat|cat]].", "See and cat.\n");
  expect("[[Star Wars: Episode IV|the film]] won.", "the film won.\n");
  expect("An [[example|]] here.", "An here.\n");
  expect("Visit [http://example.com the site] or [https://x.org].", "Visit the site or .\n");
  expect("[[a [[b]] c", "[[a b c\n");
  expect("[[Paris#History|history of Paris]]", "history of Paris\n");
}

static void formatting(void) {
  expect("'''Bold''' and ''italic'' and '''''both'''''.", "Bold and \"italic\" and both.\n");
  expect("__NOTOC__Text__NOEDITSECTION__ here", "Text here\n");
  expect("A<!-- hidden {{ -->B", "AB\n");
  expect("A<!-- unclosed", "A\n");
  expect("Fact.<ref name=\"a\">{{cite web|url=x}}</ref> More.<ref name=b/>", "Fact. More.\n");
  expect("Unclosed <ref>ref text", "Unclosed ref text\n");
  expect("x<sup>2</sup> and <span style=\"a\">y</span><br/>z<br>w", "x2 and yzw\n");
  expect("Tom&nbsp;&amp;&#x41;&#66; &lt;tag&gt; &bogus;", "Tom\xC2\xA0&amp;AB &lt;tag&gt; &amp;bogus;\n");
  expect("E = <math>mc^{2}</math> and <code>x</code>.", "E = formula_1 and codice_1.\n");
  expect("a <small>tiny</small> b\tc   d.... e,, f,.", "a b c d... e, f.\n");
  expect("<gallery>\nA.jpg\n</gallery>After", "After\n");
  expect("bad \xC3 byte \xFF\xFE ok \xC3\xA9", "bad \xEF\xBF\xBD byte \xEF\xBF\xBD\xEF\xBF\xBD ok \xC3\xA9\n");
}

static void structure(void) {
  expect("Intro.\n== History ==\nOld times.\n=== Early ===\nVery old.", "Intro.\nHistory.\nOld times.\nEarly.\nVery old.\n");
  expect("== Empty ==\n== Why? ==\nText.", "Why?\nText.\n");
  expect("Text.\n* item one\n# item two\n; term\n: indented\nEnd.", "Text.\n indented\nEnd.\n");
  expect("Line\n(parenthetical only)\n---\n...\n!!\nLast", "Line\nLast\n");
  expect("#REDIRECT [[Target]]", "");
  expect("", "");
}

/* ---------------------------------------------------------------- dump reader */

static const char *xml =
    "<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.10/\">\n"
    "  <siteinfo>\n    <base>https://en.wikipedia.org/wiki/Main_Page</base>\n"
    "    <namespaces>\n      <namespace key=\"0\" />\n      <namespace key=\"14\">Category</namespace>\n"
    "    </namespaces>\n  </siteinfo>\n"
    "  <page>\n    <title>AT&amp;T</title>\n    <ns>0</ns>\n    <id>7</id>\n"
    "    <revision>\n      <id>99</id>\n      <text bytes=\"5\" xml:space=\"preserve\">A &lt;b&gt; &#233;</text>\n"
    "    </revision>\n  </page>\n"
    "  <page>\n    <title>R</title>\n    <ns>0</ns>\n    <id>8</id>\n    <redirect title=\"AT&amp;T\" />\n"
    "    <revision><id>100</id><text xml:space=\"preserve\"><![CDATA[x]]]]></text></revision>\n  </page>\n"
    "</mediawiki>\n";

static char *bz2(const char *data, size_t n, unsigned *out_len) {
  unsigned cap = (unsigned)(n + n / 100 + 700);
  char *out = malloc(cap);
  *out_len = cap;
  if (BZ2_bzBuffToBuffCompress(out, out_len, (char *)data, (unsigned)n, 9, 0, 0) != BZ_OK) *out_len = 0;
  return out;
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(p, 1, n, f);
  fclose(f);
}

/* Reads every page; returns the count, or -1 with the error message in msg. */
static int read_all(const char *path, char *msg, char titles[4][64]) {
  bert_wiki_dump *d;
  bert_error err;
  bert_wiki_page p = {0};
  int rc = bert_wiki_dump_open(&d, path, &err), n = 0;
  while (!rc && (rc = bert_wiki_dump_next(d, &p, &err)) > 0) {
    if (n < 4) snprintf(titles[n], 64, "%s|%s|%d|%d|%s", p.title, p.id, p.ns, p.redirect, p.text);
    n++;
    rc = 0;
  }
  if (rc < 0) snprintf(msg, 1024, "%s", err.message);
  if (!rc && d) CHECK(!strcmp(bert_wiki_dump_urlbase(d), "https://en.wikipedia.org/wiki"));
  if (!rc && d) CHECK(bert_wiki_dump_namespace_count(d) == 1 && !strcmp(bert_wiki_dump_namespace(d, 0), "Category"));
  bert_wiki_dump_close(d);
  bert_wiki_page_free(&p);
  return rc < 0 ? -1 : n;
}

static void expect_error(const char *dir, const char *name, const char *data, size_t n, const char *want) {
  char path[4200], msg[1024] = "", titles[4][64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  write_file(path, data, n);
  int got = read_all(path, msg, titles);
  CHECK_MSG(got < 0 && strstr(msg, want), "%s: wanted an error with '%s', got %d pages, message '%s'", name, want,
            got, msg);
}

static void dump_reader(void) {
  const char *dir = test_tmpdir("wiki_dump");
  char path[4200], msg[1024] = "", titles[4][64];
  size_t n = strlen(xml);
  snprintf(path, sizeof path, "%s/plain.xml", dir);
  write_file(path, xml, n);
  CHECK(read_all(path, msg, titles) == 2);
  CHECK_MSG(!strcmp(titles[0], "AT&T|7|0|0|A <b> \xC3\xA9"), "%s", titles[0]);
  CHECK_MSG(!strcmp(titles[1], "R|8|0|1|x]]"), "%s", titles[1]);

  /* two bzip2 streams back to back, as the multistream dumps */
  unsigned l1, l2;
  char *a = bz2(xml, n / 2, &l1), *b = bz2(xml + n / 2, n - n / 2, &l2);
  char *both = malloc(l1 + l2);
  memcpy(both, a, l1);
  memcpy(both + l1, b, l2);
  snprintf(path, sizeof path, "%s/multi.xml.bz2", dir);
  write_file(path, both, l1 + l2);
  CHECK(read_all(path, msg, titles) == 2);
  CHECK(!strcmp(titles[1], "R|8|0|1|x]]"));
  expect_error(dir, "cut.xml.bz2", both, l1 + l2 - 20, "truncated bzip2 stream: the file ends at compressed byte offset");
  both[l1 + 40] ^= 0x55;
  expect_error(dir, "corrupt.xml.bz2", both, l1 + l2, "corrupt bzip2 data");
  free(a);
  free(b);
  free(both);

  expect_error(dir, "cut.xml", xml, n - 200, "unexpected end of the XML inside <");
  const char *mismatch = "<mediawiki>\n<page>\n<title>x</titel>\n</page>\n</mediawiki>\n";
  expect_error(dir, "mismatch.xml", mismatch, strlen(mismatch), "line 3 (XML byte offset 27): closing tag </titel> does not match <title> opened at line 3");
  const char *entity = "<mediawiki>\n<page><title>a &nbsp; b</title></page></mediawiki>";
  expect_error(dir, "entity.xml", entity, strlen(entity), "line 2 (XML byte offset 27): unknown entity '&nbsp;'");
  const char *amp = "<mediawiki><page><title>a & b</title></page></mediawiki>";
  expect_error(dir, "amp.xml", amp, strlen(amp), "bad entity");
  const char *junk = "not xml at all";
  expect_error(dir, "junk.xml", junk, strlen(junk), "line 1 (XML byte offset 0): text before the root element");
  expect_error(dir, "empty.xml", "", 0, "no XML element");
}

int main(void) {
  templates_and_tables();
  links();
  formatting();
  structure();
  dump_reader();
  return test_summary("test_wiki_clean");
}
