#include "data/sentence_split.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

/* Abbreviations whose period rarely ends a sentence (lower-case, without the final period). */
static const char *const abbreviations[] = {
    "mr", "mrs", "ms", "messrs", "dr", "prof", "sr", "jr", "st", "ste", "mt", "ft", "gen", "gov", "sen", "rep", "rev",
    "capt", "col", "lt", "sgt", "cpl", "maj", "adm", "cmdr", "cdr", "brig", "hon", "pres", "supt", "insp", "det",
    "fr", "rt", "inc", "ltd", "co", "corp", "bros", "llc", "plc", "dept", "univ", "assn", "assoc", "est", "approx",
    "ca", "cf", "vs", "viz", "etc", "al", "fig", "figs", "no", "nos", "vol", "vols", "pp", "ed", "eds", "op", "ch",
    "sec", "para", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue",
    "tues", "thu", "thur", "thurs", "fri", "ave", "blvd", "rd", "hwy", "lb", "lbs", "oz", "qt", "yd", "yds", "mi",
    "km", "cm", "mm", "kg", "hr", "hrs", "min", "mins", "secs", "fl", "dist", "govt", "intl", "natl", "mfg", "repr",
    "ver", "esp", "incl", "ibid", "resp", "abbr", "sp", "spp", "ssp", "subsp", "cv", "aff", NULL};

/* Capitalised, these usually start a sentence: Punkt's orthographic heuristic (a word seen in
 * lower case and never capitalised mid-sentence) approximated by a list of frequent words. */
static const char *const common_words[] = {
    "a", "about", "according", "additionally", "after", "afterwards", "against", "all", "along", "also", "although",
    "among", "an", "and", "another", "any", "are", "around", "as", "at", "based", "because", "before", "being",
    "besides", "between", "both", "but", "by", "can", "consequently", "could", "currently", "despite", "did", "do",
    "does", "due", "during", "each", "early", "either", "even", "eventually", "every", "few", "finally", "first",
    "following", "for", "from", "further", "furthermore", "had", "has", "have", "he", "her", "here", "hers",
    "however", "his", "how", "if", "in", "including", "indeed", "initially", "instead", "into", "is", "it", "its",
    "last", "later", "like", "many", "meanwhile", "moreover", "most", "much", "my", "neither", "nevertheless",
    "next", "no", "nor", "not", "now", "of", "often", "on", "once", "one", "only", "or", "originally", "other",
    "others", "our", "over", "perhaps", "prior", "rather", "recently", "second", "several", "she", "should",
    "similarly", "since", "so", "some", "soon", "still", "subsequently", "such", "that", "the", "their", "them",
    "then", "there", "therefore", "these", "they", "third", "this", "those", "though", "three", "through", "thus",
    "to", "today", "two", "under", "unlike", "until", "upon", "was", "we", "were", "what", "when", "whereas",
    "where", "whether", "which", "while", "who", "whose", "why", "will", "with", "within", "without", "would",
    "yet", "you", "your", NULL};

static int in_list(const char *w, size_t n, const char *const *list) {
  if (n == 0 || n > 15) return 0;
  for (; *list; list++)
    if (strlen(*list) == n && !strncasecmp(*list, w, n)) return 1;
  return 0;
}

/* ---------------------------------------------------------------- characters */

static int decode(const char *p, size_t left, int *cp) {
  utf8proc_int32_t c;
  utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)left, &c);
  if (k <= 0) {
    *cp = (unsigned char)p[0];
    return 1;
  }
  *cp = c;
  return (int)k;
}

/* Length of the whitespace character at p, else 0. */
static size_t space_at(const char *p, size_t left) {
  unsigned char c = (unsigned char)p[0];
  if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');
  int cp, k = decode(p, left, &cp);
  utf8proc_category_t cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP ? (size_t)k : 0;
}

/* Closing quotes and brackets that stay with the sentence they end: " ' ) ] } ’ ” » ›. */
static size_t closer_at(const char *p, size_t left) {
  if (strchr("\"')]}", p[0]) && p[0]) return 1;
  int cp, k = decode(p, left, &cp);
  return cp == 0x2019 || cp == 0x201D || cp == 0xBB || cp == 0x203A ? (size_t)k : 0;
}

/* Opening quotes and brackets before a word: " ' ( [ { ‘ “ « ‹. */
static size_t opener_at(const char *p, size_t left) {
  if (strchr("\"'([{", p[0]) && p[0]) return 1;
  int cp, k = decode(p, left, &cp);
  return cp == 0x2018 || cp == 0x201C || cp == 0xAB || cp == 0x2039 ? (size_t)k : 0;
}

static int is_terminal(char c) { return c == '.' || c == '?' || c == '!'; }

/* ---------------------------------------------------------------- the word before a period */

typedef enum kind { ORDINARY, ABBREVIATION, INITIAL, NUMBER, ELLIPSIS } kind;

/* "U.S", "e.g", "Ph.D": letters in groups of at most three, joined by periods. */
static int dotted(const char *w, size_t n) {
  if (!memchr(w, '.', n)) return 0;
  size_t group = 0;
  for (size_t i = 0; i < n;) {
    int cp, k = decode(w + i, n - i, &cp);
    if (cp == '.') {
      if (!group) return 0;
      group = 0;
    } else if (utf8proc_category(cp) >= UTF8PROC_CATEGORY_LU && utf8proc_category(cp) <= UTF8PROC_CATEGORY_LO) {
      if (++group > 3) return 0;
    } else {
      return 0;
    }
    i += (size_t)k;
  }
  return group > 0;
}

static int numeric(const char *w, size_t n) {
  int digits = 0;
  for (size_t i = 0; i < n; i++) {
    if (w[i] >= '0' && w[i] <= '9') digits = 1;
    else if (!strchr(".,-", w[i])) return 0;
  }
  return digits;
}

/* Classifies the word w[0, n) that a single period follows. */
static kind classify(const char *w, size_t n) {
  size_t k;
  while (n && (k = opener_at(w, n))) w += k, n -= k;
  if (!n) return ORDINARY;
  size_t last = n - 1;
  while (last > 0 && ((unsigned char)w[last] & 0xC0) == 0x80) last--;
  if (closer_at(w + last, n - last)) return ORDINARY; /* "(1990)." or "word”." */
  if (numeric(w, n)) return NUMBER;
  int cp, len = decode(w, n, &cp);
  utf8proc_category_t cat = utf8proc_category(cp);
  if ((size_t)len == n && cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) return INITIAL;
  if (in_list(w, n, abbreviations) || dotted(w, n)) return ABBREVIATION;
  const char *dash = memrchr(w, '-', n); /* "Jean-Pierre"-style compounds: Punkt checks the last part */
  if (dash && in_list(dash + 1, n - (size_t)(dash + 1 - w), abbreviations)) return ABBREVIATION;
  return ORDINARY;
}

/* ---------------------------------------------------------------- the word after */

typedef enum next_case { NEXT_UPPER, NEXT_LOWER, NEXT_OTHER } next_case;

static next_case next_word(const char *p, size_t n, int *common) {
  size_t k, i = 0;
  while (i < n && (k = opener_at(p + i, n - i))) i += k;
  *common = 0;
  if (i >= n) return NEXT_OTHER;
  int cp;
  decode(p + i, n - i, &cp);
  utf8proc_category_t cat = utf8proc_category(cp);
  if (cat == UTF8PROC_CATEGORY_LL) return NEXT_LOWER;
  if (cat != UTF8PROC_CATEGORY_LU && cat != UTF8PROC_CATEGORY_LT) return NEXT_OTHER;
  size_t e = i;
  while (e < n && !space_at(p + e, n - e) && !strchr(",;:.?!\"')]}", p[e])) e++;
  *common = in_list(p + i, e - i, common_words);
  return NEXT_UPPER;
}

/* Whether the terminal run text[j, r) followed by whitespace and the word at `next` ends a
 * sentence; `word` is where the word holding the run starts. */
static int ends_sentence(const char *t, size_t len, size_t word, size_t j, size_t r, size_t next) {
  int common;
  next_case nc = next_word(t + next, len - next, &common);
  for (size_t i = j; i < r; i++) /* "Why?" asked he: unlike Punkt, not before a lower-case word */
    if (t[i] != '.') return nc != NEXT_LOWER;
  /* "..." and a lone "." (spaced ". . .") are ellipses */
  kind k = r - j >= 2 || j == word ? ELLIPSIS : classify(t + word, j - word);
  if (k == ORDINARY) return 1;
  if (k == NUMBER) return nc != NEXT_LOWER;
  return nc == NEXT_UPPER && common;
}

/* ---------------------------------------------------------------- iteration */

void bert_sentence_iter_init(bert_sentence_iter *it, const char *text, size_t len) {
  it->text = text;
  it->len = len;
  it->pos = 0;
}

static size_t skip_space(const char *t, size_t len, size_t i) {
  size_t k;
  while (i < len && (k = space_at(t + i, len - i))) i += k;
  return i;
}

static size_t trim_end(const char *t, size_t start, size_t end) {
  while (end > start) {
    size_t b = end - 1;
    while (b > start && ((unsigned char)t[b] & 0xC0) == 0x80) b--;
    if (!space_at(t + b, end - b)) break;
    end = b;
  }
  return end;
}

int bert_sentence_next(bert_sentence_iter *it, size_t *start, size_t *end) {
  const char *t = it->text;
  size_t len = it->len, i = skip_space(t, len, it->pos), word = i, k;
  if (i >= len) {
    it->pos = len;
    return 0;
  }
  *start = i;
  while (i < len) {
    if (!is_terminal(t[i])) {
      if ((k = space_at(t + i, len - i))) word = i + k;
      i += k ? k : 1;
      continue;
    }
    size_t j = i, r = i;
    while (r < len && is_terminal(t[r])) r++;
    size_t after = r;
    while (after < len && (k = closer_at(t + after, len - after))) after += k;
    if (after < len && !space_at(t + after, len - after)) { /* "3.14", "U.S.A" inside a word */
      i = after > r ? after : r;
      continue;
    }
    size_t next = skip_space(t, len, after);
    if (next >= len || ends_sentence(t, len, word, j, r, next)) {
      *end = trim_end(t, *start, after);
      it->pos = next;
      return 1;
    }
    i = after;
  }
  *end = trim_end(t, *start, len);
  it->pos = len;
  return *end > *start;
}
