#include "data/wiki_clean.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "data/html_entities.h"

/* Each pass reads the previous pass's text and writes a new one; spans of text to drop are
 * collected first and removed in one sweep, as WikiExtractor's dropSpans does. */

typedef struct span {
  size_t s, e;
} span;

typedef struct spans {
  span *v;
  size_t n, cap;
  int failed;
} spans;

static void spans_add(spans *a, size_t s, size_t e) {
  if (a->failed) return;
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 64;
    span *v = realloc(a->v, cap * sizeof *v);
    if (!v) {
      a->failed = 1;
      return;
    }
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = (span){s, e};
}

static int span_cmp(const void *x, const void *y) {
  const span *a = x, *b = y;
  if (a->s != b->s) return a->s < b->s ? -1 : 1;
  return a->e < b->e ? -1 : a->e > b->e;
}

static inline void put(bert_strbuf *b, char c) {
  if (b->len + 2 <= b->cap) {
    b->data[b->len++] = c;
    b->data[b->len] = 0; /* strbuf keeps its text NUL-terminated */
  } else {
    bert_strbuf_append(b, &c, 1);
  }
}

static inline void putn(bert_strbuf *b, const char *p, size_t n) {
  if (n) bert_strbuf_append(b, p, n);
}

/* Copies src without the spans (sorted here); a span starting inside a dropped one is skipped. */
static void drop_spans(const char *src, size_t n, spans *a, bert_strbuf *dst) {
  if (a->n) qsort(a->v, a->n, sizeof *a->v, span_cmp);
  size_t offset = 0;
  for (size_t i = 0; i < a->n; i++) {
    if (offset > a->v[i].s) continue;
    putn(dst, src + offset, a->v[i].s - offset);
    offset = a->v[i].e;
  }
  if (offset < n) putn(dst, src + offset, n - offset);
}

/* ---------------------------------------------------------------- characters */

static int is_space_ascii(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_alnum_ascii(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Length of the character at p when it is a word character (Python's \w: letters, digits,
 * numbers, '_'), else 0. */
static size_t word_char(const char *p, size_t left) {
  unsigned char c = (unsigned char)p[0];
  if (c < 0x80) return is_alnum_ascii(c) || c == '_';
  utf8proc_int32_t cp;
  utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)left, &cp);
  if (k <= 0) return 0;
  utf8proc_category_t cat = utf8proc_category(cp);
  int word = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
             (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
  return word ? (size_t)k : 0;
}

/* Length of a Unicode whitespace character at p (Python's \s), else 0. */
static size_t space_char(const char *p, size_t left) {
  unsigned char c = (unsigned char)p[0];
  if (c < 0x80) return is_space_ascii(c) || (c >= 0x1C && c <= 0x1F);
  utf8proc_int32_t cp;
  utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)left, &cp);
  if (k <= 0) return 0;
  utf8proc_category_t cat = utf8proc_category(cp);
  return (cp == 0x85 || cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP)
             ? (size_t)k
             : 0;
}

static int has_word_char(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (word_char(p + i, n - i)) return 1;
  return 0;
}

/* Case-insensitive prefix test (ASCII). */
static int starts_ci(const char *s, size_t n, const char *lit) {
  size_t k = strlen(lit);
  return n >= k && !strncasecmp(s, lit, k);
}

/* ---------------------------------------------------------------- tags */

/* If s[i] starts "<" ws* ["/" ws*] NAME with NAME (case-insensitive) followed by a non-name
 * character, returns the index just after NAME, else 0. `closing`: 1 requires the "/", 0 forbids
 * it; ws_before_name: whether whitespace may follow '<' (WikiExtractor's patterns differ). */
static size_t tag_at(const char *s, size_t n, size_t i, int closing, int ws_before_name, const char *name) {
  size_t j = i + 1;
  if (ws_before_name)
    while (j < n && is_space_ascii((unsigned char)s[j])) j++;
  if (closing) {
    if (j >= n || s[j] != '/') return 0;
    j++;
    while (j < n && is_space_ascii((unsigned char)s[j])) j++;
  } else if (j < n && s[j] == '/') {
    return 0;
  }
  size_t k = strlen(name);
  if (j + k > n || strncasecmp(s + j, name, k)) return 0;
  j += k;
  if (j < n && (is_alnum_ascii((unsigned char)s[j]) || s[j] == '_')) return 0;
  return j;
}

static size_t find_byte(const char *s, size_t n, size_t from, char c) {
  const char *p = from < n ? memchr(s + from, c, n - from) : NULL;
  return p ? (size_t)(p - s) : n;
}

/* The last c in s, or n: a tag opening after it cannot close, so nothing is searched for it. */
static size_t find_last(const char *s, size_t n, char c) {
  const char *p = n ? memrchr(s, c, n) : NULL;
  return p ? (size_t)(p - s) : n;
}

/* The name right after '<' (and an optional '/'), lower-cased into buf; its end index or 0. */
static size_t tag_name(const char *s, size_t n, size_t i, int *closing, char *buf, size_t cap) {
  size_t j = i + 1;
  while (j < n && is_space_ascii((unsigned char)s[j])) j++;
  *closing = j < n && s[j] == '/';
  if (*closing) {
    j++;
    while (j < n && is_space_ascii((unsigned char)s[j])) j++;
  }
  size_t k = 0;
  while (j < n && is_alnum_ascii((unsigned char)s[j])) {
    if (k + 1 >= cap) return 0;
    buf[k++] = (char)(s[j] | 0x20);
    j++;
  }
  buf[k] = 0;
  return k ? j : 0;
}

static int in_list(const char *name, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(name, *list)) return 1;
  return 0;
}

/* ---------------------------------------------------------------- input: valid UTF-8 */

/* Length of the valid UTF-8 prefix of s. */
static size_t utf8_valid(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if ((unsigned char)s[i] < 0x80) {
      i++;
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (k <= 0) return i;
    i += (size_t)k;
  }
  return n;
}

/* Bytes that are not UTF-8 become U+FFFD, so every later stage can rely on valid text. */
static void pass_utf8(const char *s, size_t n, bert_strbuf *dst) {
  size_t i = 0;
  while (i < n) {
    size_t k = utf8_valid(s + i, n - i);
    putn(dst, s + i, k);
    if ((i += k) >= n) break;
    putn(dst, "\xEF\xBF\xBD", 3);
    i++;
  }
}

/* ---------------------------------------------------------------- pass 0: comments, math, code */

/* <math>/<code> element at i (WikiExtractor's placeholder pattern): its end, else 0. When the
 * rest of the page has no closing tag, *none is set so that later openings are not searched. */
static size_t placeholder_end(const char *s, size_t n, size_t i, const char *name, int *none) {
  size_t j = tag_at(s, n, i, 0, 1, name);
  if (!j || j >= n || (s[j] != '>' && !is_space_ascii((unsigned char)s[j]))) return 0;
  size_t gt = find_byte(s, n, j, '>');
  if (gt == n) {
    *none = 1;
    return 0;
  }
  for (size_t k = find_byte(s, n, gt + 1, '<'); k < n; k = find_byte(s, n, k + 1, '<')) {
    size_t e = tag_at(s, n, k, 1, 1, name);
    if (!e) continue;
    while (e < n && is_space_ascii((unsigned char)s[e])) e++;
    if (e < n && s[e] == '>') return e + 1;
  }
  *none = 1;
  return 0;
}

static void pass_comments(const char *s, size_t n, bert_strbuf *dst) {
  int formulas = 0, codes = 0, no_math = 0, no_code = 0; /* set once a closing tag is missing */
  size_t i = 0;
  while (i < n) {
    size_t lt = find_byte(s, n, i, '<');
    putn(dst, s + i, lt - i);
    if ((i = lt) >= n) break;
    size_t e;
    if (n - i >= 4 && !memcmp(s + i, "<!--", 4)) {
      /* an unclosed comment runs to the end of the page, as in MediaWiki */
      const char *c = memmem(s + i + 4, n - i - 4, "-->", 3);
      i = c ? (size_t)(c - s) + 3 : n;
    } else if (!no_math && (e = placeholder_end(s, n, i, "math", &no_math))) {
      bert_strbuf_printf(dst, "formula_%d", ++formulas);
      i = e;
    } else if (!no_code && (e = placeholder_end(s, n, i, "code", &no_code))) {
      bert_strbuf_printf(dst, "codice_%d", ++codes);
      i = e;
    } else {
      put(dst, s[i++]);
    }
  }
}

/* ---------------------------------------------------------------- passes 1-2: {{templates}}, {|tables|} */

typedef struct brace {
  size_t pos, count;
} brace;

/* Drops {{...}} and {{{...}}} (nested, runs of braces matched as MediaWiki's preprocessor pairs
 * them); an unmatched opening stays as text. */
static void pass_templates(const char *s, size_t n, bert_strbuf *dst, spans *sp) {
  brace stack[256];
  size_t depth = 0, overflow = 0;
  sp->n = 0;
  for (size_t i = 0; i < n;) {
    char c = s[i];
    if (c != '{' && c != '}') {
      i++;
      continue;
    }
    size_t run = 1;
    while (i + run < n && s[i + run] == c) run++;
    if (c == '{' && run >= 2) {
      if (depth < 256) stack[depth++] = (brace){i, run};
      else overflow++;
    } else if (c == '}' && run >= 2) {
      size_t m = run, used = 0;
      while (m >= 2 && depth > 0) {
        if (overflow) { /* too deep to track: treat as matching an untracked opening */
          overflow--;
          m -= 2;
          used += 2;
          continue;
        }
        brace *t = &stack[depth - 1];
        size_t k = t->count < m ? t->count : m;
        used += k;
        spans_add(sp, t->pos + t->count - k, i + used);
        t->count -= k;
        m -= k;
        if (t->count < 2) depth--;
      }
    }
    i += run;
  }
  drop_spans(s, n, sp, dst);
}

static void pass_tables(const char *s, size_t n, bert_strbuf *dst, spans *sp) {
  size_t stack[256], depth = 0, overflow = 0;
  sp->n = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] == '{' && s[i + 1] == '|') {
      if (depth < 256) stack[depth++] = i;
      else overflow++;
      i++;
    } else if (s[i] == '|' && s[i + 1] == '}' && (depth || overflow)) {
      if (overflow) overflow--;
      else spans_add(sp, stack[--depth], i + 2);
      i++;
    }
  }
  drop_spans(s, n, sp, dst);
}

/* ---------------------------------------------------------------- pass 3: [http://external links] */

static const char *const url_protocols[] = {
    "bitcoin:", "ftp://", "ftps://", "geo:",  "git://",   "gopher://",   "http://", "https://", "irc://", "ircs://",
    "magnet:",  "mailto:", "mms://", "news:", "nntp://",  "redis://",    "sftp://", "sip:",     "sips:",  "sms:",
    "ssh://",   "svn://",  "tel:",   "telnet://", "urn:", "worldwind://", "xmpp:",  "//",       NULL};

static size_t url_char(const char *p, size_t left) {
  unsigned char c = (unsigned char)p[0];
  if (c < 0x80) return c > 0x20 && c != 0x7F && !strchr("[]<>\"", c);
  if (space_char(p, left)) return 0;
  size_t k = 1;
  while (k < left && k < 4 && ((unsigned char)p[k] & 0xC0) == 0x80) k++;
  return k;
}

/* WikiExtractor drops a label that is itself an image URL. */
static int image_url(const char *p, size_t n) {
  if (!starts_ci(p, n, "http://") && !starts_ci(p, n, "https://")) return 0;
  for (size_t i = 0; i < n; i++)
    if (is_space_ascii((unsigned char)p[i])) return 0;
  static const char *const ext[] = {".gif", ".png", ".jpg", ".jpeg"};
  for (int i = 0; i < 4; i++) {
    size_t k = strlen(ext[i]);
    if (n > k && !strncasecmp(p + n - k, ext[i], k)) return 1;
  }
  return 0;
}

/* "[URL label]" at i: writes the label and returns the end, or 0 when it is no such link. A
 * label that meets a line break before its ']' sets *dead there: no '[' before it can succeed. */
static size_t external_link(const char *s, size_t n, size_t i, bert_strbuf *dst, size_t *dead) {
  size_t j = i + 1, k;
  const char *const *pr = url_protocols;
  for (; *pr; pr++)
    if (starts_ci(s + j, n - j, *pr)) break;
  if (!*pr) return 0;
  j += strlen(*pr);
  size_t url = j;
  while (j < n && (k = url_char(s + j, n - j))) j += k;
  if (j == url) return 0;
  while (j < n && (k = space_char(s + j, n - j))) j += k;
  size_t label = j;
  if (j < *dead) return 0;
  for (; j < n && s[j] != ']'; j++) {
    unsigned char c = (unsigned char)s[j];
    if (c <= 0x08 || (c >= 0x0A && c <= 0x1F)) break;
  }
  if (j >= n || s[j] != ']') {
    *dead = j;
    return 0;
  }
  if (!image_url(s + label, j - label)) putn(dst, s + label, j - label);
  return j + 1;
}

static void pass_external_links(const char *s, size_t n, bert_strbuf *dst) {
  size_t i = 0, dead = 0;
  while (i < n) {
    size_t b = find_byte(s, n, i, '[');
    putn(dst, s + i, b - i);
    if ((i = b) >= n) break;
    size_t e = external_link(s, n, i, dst, &dead);
    if (e) i = e;
    else put(dst, s[i++]);
  }
}

/* ---------------------------------------------------------------- pass 4: [[internal links]] */

typedef struct link_ctx {
  const bert_wiki_namespaces *ns;
} link_ctx;

/* MediaWiki's canonical namespace names and aliases, valid on every wiki. */
static const char *const canonical_namespaces[] = {
    "Media", "Special", "Talk", "User", "User talk", "Wikipedia", "Wikipedia talk", "Project", "Project talk",
    "File", "File talk", "Image", "Image talk", "MediaWiki", "MediaWiki talk", "Template", "Template talk", "Help",
    "Help talk", "Category", "Category talk", "Portal", "Portal talk", "Draft", "Draft talk", "Book", "Book talk",
    "TimedText", "TimedText talk", "Module", "Module talk", "Gadget", "Gadget definition", "Topic", "WP", "WT",
    "CAT", "MOS", NULL};

/* Case-insensitive comparison treating '_' as ' ' (namespace names). */
static int same_name(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b), i = 0, j = 0;
  while (i < an && j < bn) {
    utf8proc_int32_t x, y;
    utf8proc_ssize_t kx = utf8proc_iterate((const utf8proc_uint8_t *)a + i, (utf8proc_ssize_t)(an - i), &x);
    utf8proc_ssize_t ky = utf8proc_iterate((const utf8proc_uint8_t *)b + j, (utf8proc_ssize_t)(bn - j), &y);
    if (kx <= 0 || ky <= 0) return 0;
    if (x == '_') x = ' ';
    if (y == '_') y = ' ';
    if (utf8proc_tolower(x) != utf8proc_tolower(y)) return 0;
    i += (size_t)kx;
    j += (size_t)ky;
  }
  return i == an && j == bn;
}

/* Interlanguage prefixes: "fr", "zh-min-nan", "simple". */
static int language_code(const char *p, size_t n) {
  if (n == 6 && !memcmp(p, "simple", 6)) return 1;
  size_t i = 0;
  while (i < n && p[i] >= 'a' && p[i] <= 'z') i++;
  if (i < 2 || i > 3) return 0;
  while (i < n) {
    if (p[i] != '-' || i + 1 >= n) return 0;
    i++;
    while (i < n && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9'))) i++;
  }
  return 1;
}

/* Whether a link with this target shows its label: not when it points into a namespace (files,
 * categories) or another language. "w:", "wikt:" links are kept as WikiExtractor keeps them. */
static int link_visible(const char *title, size_t n, const link_ctx *c) {
  const char *colon = memchr(title, ':', n);
  if (!colon || colon == title) return 1;
  size_t a = 0, b = (size_t)(colon - title);
  while (a < b && (title[a] == ' ' || title[a] == '_')) a++;
  while (b > a && (title[b - 1] == ' ' || title[b - 1] == '_')) b--;
  const char *p = title + a;
  size_t k = b - a;
  if (same_name(p, k, "w") || same_name(p, k, "wikt") || same_name(p, k, "wiktionary")) return 1;
  for (const char *const *ns = canonical_namespaces; *ns; ns++)
    if (same_name(p, k, *ns)) return 0;
  for (size_t i = 0; c->ns && i < c->ns->count; i++)
    if (same_name(p, k, c->ns->names[i])) return 0;
  return !language_code(p, k);
}

typedef struct link_pairs {
  size_t *open, *end; /* end[i] = index after the "]]" matching open[i], 0 when unmatched */
  size_t n, cap;
  int failed;
} link_pairs;

/* Pairs every "[[" with its "]]" (innermost first, as a stack). */
static void find_link_pairs(const char *s, size_t n, link_pairs *lp) {
  size_t stack[256], depth = 0;
  lp->n = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] == '[' && s[i + 1] == '[') {
      if (lp->n == lp->cap) {
        size_t cap = lp->cap ? 2 * lp->cap : 64;
        size_t *o = realloc(lp->open, cap * sizeof *o), *e = o ? realloc(lp->end, cap * sizeof *e) : NULL;
        if (o) lp->open = o;
        if (!o || !e) {
          lp->failed = 1;
          return;
        }
        lp->end = e;
        lp->cap = cap;
      }
      lp->open[lp->n] = i;
      lp->end[lp->n] = 0;
      if (depth < 256) stack[depth++] = lp->n;
      lp->n++;
      i++;
    } else if (s[i] == ']' && s[i + 1] == ']' && depth) {
      lp->end[stack[--depth]] = i + 2;
      i++;
    }
  }
}

static void pass_links(const char *s, size_t n, const link_ctx *c, bert_strbuf *dst, int level);

static size_t strip_left(const char *p, size_t n) {
  size_t i = 0;
  while (i < n && is_space_ascii((unsigned char)p[i])) i++;
  return i;
}

static size_t strip_right(const char *p, size_t n) {
  while (n && is_space_ascii((unsigned char)p[n - 1])) n--;
  return n;
}

/* Where the label of "[[inner]]" starts: after the last '|' that precedes a nested link (as
 * WikiExtractor), else after the first '|'; SIZE_MAX when there is no pipe (label = title). */
static size_t label_start(const char *in, size_t n, link_pairs *nested) {
  const char *pipe = memchr(in, '|', n);
  if (!pipe) return SIZE_MAX;
  size_t at = (size_t)(pipe - in), cur = at + 1;
  find_link_pairs(in, n, nested);
  size_t covered = 0;
  for (size_t i = 0; i < nested->n; i++) {
    size_t s1 = nested->open[i], e1 = nested->end[i];
    if (!e1 || s1 < covered) continue;
    for (size_t k = s1; k > cur; k--)
      if (in[k - 1] == '|') {
        at = k - 1;
        break;
      }
    cur = covered = e1;
  }
  return at + 1;
}

/* One link [s, e): its label (links inside it resolved too) and trail, or only the trail. */
static void internal_link(const char *s, size_t n, size_t a, size_t e, const link_ctx *c, bert_strbuf *dst,
                          int level, size_t *next) {
  size_t t = e, k;
  while (t < n && (k = word_char(s + t, n - t))) t += k;
  const char *in = s + a + 2;
  size_t len = e - a - 4;
  link_pairs nested = {0};
  size_t ls = label_start(in, len, &nested);
  free(nested.open);
  free(nested.end);
  int piped = ls != SIZE_MAX;
  size_t title_len = piped ? strip_right(in, (size_t)((const char *)memchr(in, '|', len) - in)) : len;
  if (link_visible(in, title_len, c)) {
    const char *label = piped ? in + ls : in;
    size_t label_len = piped ? len - ls : len;
    size_t l = strip_left(label, label_len);
    label += l;
    label_len = strip_right(label, label_len - l);
    if (level < 8 && memmem(label, label_len, "[[", 2)) pass_links(label, label_len, c, dst, level + 1);
    else putn(dst, label, label_len);
  }
  putn(dst, s + e, t - e);
  *next = t;
}

static void pass_links(const char *s, size_t n, const link_ctx *c, bert_strbuf *dst, int level) {
  link_pairs lp = {0};
  find_link_pairs(s, n, &lp);
  if (lp.failed) dst->failed = 1;
  size_t i = 0, oi = 0;
  while (i < n) {
    while (oi < lp.n && lp.open[oi] < i) oi++;
    size_t next_open = oi < lp.n ? lp.open[oi] : n;
    putn(dst, s + i, next_open - i);
    if ((i = next_open) >= n) break;
    if (lp.end[oi]) {
      internal_link(s, n, i, lp.end[oi], c, dst, level, &i);
    } else { /* unmatched: plain text, links inside it still resolved */
      putn(dst, "[[", 2);
      i += 2;
    }
  }
  free(lp.open);
  free(lp.end);
}

/* ---------------------------------------------------------------- pass 5: __MAGIC_WORDS__ */

static void pass_magic_words(const char *s, size_t n, bert_strbuf *dst) {
  size_t i = 0;
  while (i < n) {
    const char *u = i + 1 < n ? memmem(s + i, n - i, "__", 2) : NULL;
    size_t at = u ? (size_t)(u - s) : n;
    putn(dst, s + i, at - i);
    if ((i = at) >= n) break;
    size_t j = i + 2;
    while (j < n && s[j] >= 'A' && s[j] <= 'Z') j++;
    if (j > i + 2 && j + 1 < n && s[j] == '_' && s[j + 1] == '_') {
      i = j + 2;
    } else {
      put(dst, s[i++]);
    }
  }
}

/* ---------------------------------------------------------------- pass 6: ''italic'' and '''bold''' */

/* Replaces open + content + close by wrap + content + wrap, leftmost and shortest first, as the
 * regular expressions of WikiExtractor: content stays on one line unless no_quote (then it may
 * not contain '"' but may span lines). */
static void quote_pass(const char *s, size_t n, const char *open, const char *close, const char *wrap, int no_quote,
                       bert_strbuf *dst) {
  size_t ol = strlen(open), cl = strlen(close), wl = strlen(wrap), i = 0;
  size_t dead = 0; /* a search that failed stopped here: openings whose search would reach it fail too */
  while (i < n) {
    const char *m = memmem(s + i, n - i, open, ol);
    size_t at = m ? (size_t)(m - s) : n;
    putn(dst, s + i, at - i);
    if ((i = at) >= n) break;
    size_t j = i + ol, found = n;
    for (; j + cl <= n && j >= dead; j++) {
      if (!memcmp(s + j, close, cl)) {
        found = j;
        break;
      }
      if (no_quote ? s[j] == '"' : s[j] == '\n') break;
    }
    if (found == n) { /* keeps the pass linear on lines full of unmatched quotes */
      if (j > dead) dead = j;
      put(dst, s[i++]);
      continue;
    }
    putn(dst, wrap, wl);
    putn(dst, s + i + ol, found - i - ol);
    putn(dst, wrap, wl);
    i = found + cl;
  }
}

static void replace_all(const char *s, size_t n, const char *from, const char *to, bert_strbuf *dst) {
  size_t fl = strlen(from), tl = strlen(to), i = 0;
  while (i < n) {
    const char *m = memmem(s + i, n - i, from, fl);
    size_t at = m ? (size_t)(m - s) : n;
    putn(dst, s + i, at - i);
    if ((i = at) >= n) break;
    putn(dst, to, tl);
    i += fl;
  }
}

/* ---------------------------------------------------------------- pass 7: tags kept or dropped */

/* Self-closing tags dropped (<br/>, <ref name=x/>, ...). */
static const char *const self_closing_tags[] = {"br", "hr", "nobr", "ref", "references", "nowiki", "templatestyles",
                                                "section", NULL};
/* Tags dropped while their content is kept. */
static const char *const ignored_tags[] = {
    "abbr", "b", "big", "blockquote", "center", "cite", "div", "em", "font", "h1", "h2", "h3", "h4", "hiero", "i",
    "kbd", "nowiki", "p", "plaintext", "s", "span", "strike", "strong", "sub", "sup", "tt", "u", "var", "a", "br",
    "hr", "poem", "includeonly", "onlyinclude", "ins", "del", "mark", "bdi", "q", NULL};
/* Elements dropped with their content. */
static const char *const discard_tags[] = {
    "gallery", "timeline", "noinclude", "pre", "table", "tr", "td", "th", "caption", "form", "input", "select",
    "option", "textarea", "ul", "li", "ol", "dl", "dt", "dd", "menu", "dir", "ref", "references", "img", "imagemap",
    "source", "small", "score", "graph", "mapframe", "maplink", "templatedata", "inputbox", "categorytree", NULL};

/* The end of a droppable tag at i (self-closing, or the opening/closing of an ignored tag), else
 * 0. *next_gt caches the next '>' (positions only grow), so the pass stays linear. */
static size_t droppable_tag(const char *s, size_t n, size_t i, size_t *next_gt) {
  char name[32];
  int closing;
  size_t j = tag_name(s, n, i, &closing, name, sizeof name);
  if (!j) return 0;
  int ignored = in_list(name, ignored_tags);
  if (closing) {
    if (!ignored) return 0;
    while (j < n && is_space_ascii((unsigned char)s[j])) j++;
    return j < n && s[j] == '>' ? j + 1 : 0;
  }
  int self_closing = in_list(name, self_closing_tags);
  if (!ignored && !self_closing) return 0;
  if (*next_gt < j) *next_gt = find_byte(s, n, j, '>');
  size_t gt = *next_gt;
  if (gt == n) return 0;
  if (ignored && !is_space_ascii((unsigned char)s[i + 1])) return gt + 1;
  size_t b = gt;
  while (b > j && is_space_ascii((unsigned char)s[b - 1])) b--;
  return self_closing && b > j && s[b - 1] == '/' ? gt + 1 : 0;
}

static void pass_tags(const char *s, size_t n, bert_strbuf *dst) {
  size_t i = 0, next_gt = 0;
  while (i < n) {
    size_t lt = find_byte(s, n, i, '<');
    putn(dst, s + i, lt - i);
    if ((i = lt) >= n) break;
    size_t e = droppable_tag(s, n, i, &next_gt);
    if (e) i = e;
    else put(dst, s[i++]);
  }
}

/* ---------------------------------------------------------------- pass 8: elements dropped whole */

typedef struct tag_token {
  size_t s, e;
  int tag, closing;
} tag_token;

static void pass_discard(const char *s, size_t n, bert_strbuf *dst, spans *sp) {
  enum { NTAGS = sizeof discard_tags / sizeof discard_tags[0] - 1 };
  size_t open_at[NTAGS][64];
  int depth[NTAGS] = {0};
  sp->n = 0;
  size_t last_gt = find_last(s, n, '>');
  for (size_t i = find_byte(s, n, 0, '<'); i < n && last_gt != n && i < last_gt; i = find_byte(s, n, i + 1, '<')) {
    char name[32];
    int closing, tag = -1;
    size_t j = tag_name(s, n, i, &closing, name, sizeof name);
    if (!j) continue;
    for (int t = 0; t < NTAGS; t++)
      if (!strcmp(name, discard_tags[t])) tag = t;
    if (tag < 0) continue;
    size_t gt = find_byte(s, n, j, '>');
    if (gt == n) continue;
    size_t b = gt;
    while (b > j && is_space_ascii((unsigned char)s[b - 1])) b--;
    if (!closing && b > j && s[b - 1] == '/') { /* self-closing: nothing inside */
      spans_add(sp, i, gt + 1);
    } else if (!closing) {
      if (depth[tag] < 64) open_at[tag][depth[tag]] = i;
      depth[tag]++;
    } else if (depth[tag] > 0) {
      depth[tag]--;
      spans_add(sp, depth[tag] < 64 ? open_at[tag][depth[tag]] : i, gt + 1);
    } else {
      spans_add(sp, i, gt + 1); /* a stray closing tag */
    }
    i = gt;
  }
  /* unclosed openings: the tag alone goes */
  for (int t = 0; t < NTAGS; t++)
    for (int d = 0; d < depth[t] && d < 64; d++) spans_add(sp, open_at[t][d], find_byte(s, n, open_at[t][d], '>') + 1);
  drop_spans(s, n, sp, dst);
}

/* ---------------------------------------------------------------- pass 9: &entities; */

static void put_utf8(bert_strbuf *dst, uint32_t cp) {
  utf8proc_uint8_t b[4];
  utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)cp, b);
  putn(dst, (const char *)b, (size_t)k);
}

/* "&name;", "&#123;", "&#x7B;" at i: writes the character and returns the end, else 0. */
static size_t entity(const char *s, size_t n, size_t i, bert_strbuf *dst) {
  size_t j = i + 1;
  int num = j < n && s[j] == '#';
  j += (size_t)num;
  size_t a = j;
  while (j < n && j - a < 32 && (is_alnum_ascii((unsigned char)s[j]) || s[j] == '_')) j++;
  if (j == a || j >= n || s[j] != ';') return 0;
  char name[40];
  memcpy(name, s + a, j - a);
  name[j - a] = 0;
  uint32_t cp = 0;
  if (!num) {
    cp = bert_html_entity(name);
  } else {
    char *end;
    int hex = name[0] == 'x' || name[0] == 'X';
    unsigned long v = strtoul(name + hex, &end, hex ? 16 : 10);
    if (*end || end == name + hex || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    cp = (uint32_t)v;
  }
  if (!cp) return 0;
  put_utf8(dst, cp);
  return j + 1;
}

static void pass_entities(const char *s, size_t n, bert_strbuf *dst) {
  size_t i = 0;
  while (i < n) {
    size_t amp = find_byte(s, n, i, '&');
    putn(dst, s + i, amp - i);
    if ((i = amp) >= n) break;
    size_t e = entity(s, n, i, dst);
    if (e) i = e;
    else put(dst, s[i++]);
  }
}

/* ---------------------------------------------------------------- pass 10: spacing and punctuation */

/* Tabs and runs of spaces become one space, runs of 4+ dots "...". */
static void pass_spacing(const char *s, size_t n, bert_strbuf *dst) {
  for (size_t i = 0; i < n;) {
    char c = s[i];
    if (c == ' ' || c == '\t') {
      put(dst, ' ');
      while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    } else if (c == '.') {
      size_t j = i;
      while (j < n && s[j] == '.') j++;
      if (j - i >= 4) putn(dst, "...", 3);
      else putn(dst, s + i, j - i);
      i = j;
    } else {
      put(dst, c);
      i++;
    }
  }
}

/* ---------------------------------------------------------------- compact: lines, sections */

void bert_wiki_escape(bert_strbuf *out, const char *s, size_t n, int quotes) {
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] != '&' && s[j] != '<' && s[j] != '>' && !(quotes && s[j] == '"')) j++;
    putn(out, s + i, j - i);
    if ((i = j) >= n) break;
    const char *rep = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : "&quot;";
    putn(out, rep, strlen(rep));
    i++;
  }
}

#define MAX_LEVEL 16

typedef struct compactor {
  bert_strbuf *out;
  const char *head[MAX_LEVEL + 1]; /* pending section titles by level */
  size_t head_len[MAX_LEVEL + 1];
  int has_head[MAX_LEVEL + 1], any_head, empty_section;
  long lines;
} compactor;

static void emit(compactor *c, const char *p, size_t n, int period) {
  bert_wiki_escape(c->out, p, n, 0);
  if (period) put(c->out, '.');
  put(c->out, '\n');
  c->lines++;
}

/* "== Title ==" (WikiExtractor's (==+)\s*(.*?)\s*\1 at the line start): level, or 0. */
static int section(const char *p, size_t n, const char **title, size_t *title_len) {
  size_t run = 0;
  while (run < n && p[run] == '=') run++;
  for (size_t k = run < 32 ? run : 32; k >= 2; k--) { /* bounded: a line of '=' stays linear */
    size_t a = k;
    while (a < n && is_space_ascii((unsigned char)p[a])) a++;
    for (size_t q = a; q + k <= n; q++) {
      size_t r = 0;
      while (r < k && p[q + r] == '=') r++;
      if (r < k) continue;
      size_t b = q;
      while (b > a && is_space_ascii((unsigned char)p[b - 1])) b--;
      *title = p + a;
      *title_len = b - a;
      return k > MAX_LEVEL ? MAX_LEVEL : (int)k;
    }
  }
  return 0;
}

static int only_dots_dashes(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != '.' && p[i] != '-') return 0;
  return 1;
}

static void compact_line(compactor *c, const char *p, size_t n) {
  if (!n || !has_word_char(p, n)) return; /* WikiExtractor: lines of only punctuation go */
  const char *title;
  size_t tl;
  int level = section(p, n, &title, &tl);
  if (level) {
    c->head[level] = title;
    c->head_len[level] = tl;
    c->has_head[level] = 1;
    for (int k = level + 1; k <= MAX_LEVEL; k++) c->has_head[k] = 0;
    c->any_head = 1;
    c->empty_section = 1;
    return;
  }
  char first = p[0], last = p[n - 1];
  if (n >= 2 && p[0] == '+' && p[1] == '+') {
    if (n > 4) emit(c, p + 2, n - 4, !strchr("!?", p[n - 3]));
  } else if (first == ':') {
    size_t k = 0;
    while (k < n && p[k] == ':') k++;
    if (k < n) emit(c, p + k, n - k, 0);
  } else if (first == '*' || first == '#' || first == ';') {
    return; /* list items */
  } else if (first == '{' || first == '|' || last == '}') {
    return; /* table residue */
  } else if ((first == '(' && last == ')') || only_dots_dashes(p, n)) {
    return;
  } else if (c->any_head) {
    for (int k = 0; k <= MAX_LEVEL; k++)
      if (c->has_head[k]) emit(c, c->head[k], c->head_len[k], c->head_len[k] && !strchr("!?", c->head[k][c->head_len[k] - 1]));
    memset(c->has_head, 0, sizeof c->has_head);
    c->any_head = 0;
    emit(c, p, n, 0);
    c->empty_section = 0;
  } else if (!c->empty_section) {
    emit(c, p, n, 0);
  }
}

/* ---------------------------------------------------------------- driver */

typedef struct passes {
  bert_strbuf a, b;
  const char *cur;
  size_t len;
  int failed;
} passes;

/* Makes the output of the last pass the input of the next. */
static bert_strbuf *next_pass(passes *p) {
  bert_strbuf *dst = p->cur == p->a.data ? &p->b : &p->a;
  dst->len = 0;
  if (dst->data) dst->data[0] = 0;
  return dst;
}

static void done_pass(passes *p, bert_strbuf *dst) {
  if (dst->failed) p->failed = 1;
  if (!dst->data) bert_strbuf_append(dst, "", 0), dst->len = 0;
  if (!dst->data) {
    p->failed = 1;
    return;
  }
  dst->data[dst->len] = 0;
  p->cur = dst->data;
  p->len = dst->len;
}

long bert_wiki_clean(const char *wikitext, size_t len, const bert_wiki_namespaces *ns, bert_strbuf *out) {
  passes p = {.cur = wikitext, .len = len};
  spans sp = {0};
  link_ctx lc = {ns};
  bert_strbuf *d;
#define PASS(call)                 \
  do {                             \
    if (p.failed) break;           \
    d = next_pass(&p);             \
    call;                          \
    done_pass(&p, d);              \
  } while (0)
  if (utf8_valid(p.cur, p.len) < p.len) PASS(pass_utf8(p.cur, p.len, d));
  PASS(pass_comments(p.cur, p.len, d));
  PASS(pass_templates(p.cur, p.len, d, &sp));
  PASS(pass_tables(p.cur, p.len, d, &sp));
  PASS(pass_external_links(p.cur, p.len, d));
  PASS(pass_links(p.cur, p.len, &lc, d, 0));
  PASS(pass_magic_words(p.cur, p.len, d));
  PASS(quote_pass(p.cur, p.len, "'''''", "'''''", "", 0, d));
  PASS(quote_pass(p.cur, p.len, "'''", "'''", "", 0, d));
  PASS(quote_pass(p.cur, p.len, "''\"", "\"''", "\"", 1, d));
  PASS(quote_pass(p.cur, p.len, "''", "''", "\"", 0, d));
  PASS(quote_pass(p.cur, p.len, "\"\"", "\"\"", "\"", 1, d));
  PASS(replace_all(p.cur, p.len, "'''", "", d));
  PASS(replace_all(p.cur, p.len, "''", "\"", d));
  PASS(pass_tags(p.cur, p.len, d));
  PASS(pass_discard(p.cur, p.len, d, &sp));
  PASS(pass_entities(p.cur, p.len, d));
  PASS(replace_all(p.cur, p.len, "<<", "\xC2\xAB", d));
  PASS(replace_all(p.cur, p.len, ">>", "\xC2\xBB", d));
  PASS(pass_spacing(p.cur, p.len, d));
  PASS(replace_all(p.cur, p.len, ",,", ",", d));
  PASS(replace_all(p.cur, p.len, ",.", ".", d));
#undef PASS
  long lines = -1;
  if (!p.failed && !sp.failed) {
    compactor c = {.out = out};
    for (size_t i = 0; i < p.len;) {
      size_t e = find_byte(p.cur, p.len, i, '\n');
      compact_line(&c, p.cur + i, e - i);
      i = e + 1;
    }
    lines = out->failed ? -1 : c.lines;
  }
  if (lines < 0) out->failed = 1;
  bert_strbuf_free(&p.a);
  bert_strbuf_free(&p.b);
  free(sp.v);
  return lines;
}
