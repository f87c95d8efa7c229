/* base/pyregex: Python regex subset → POSIX ERE, and re.findall (see pyregex.h). */
#include "base/pyregex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 32

typedef struct translator {
  const char *p;       /* the Python pattern */
  size_t i;            /* read position */
  bert_strbuf *out;
  int lazy, groups, first_capture;
  int prev; /* what the last token was, for Python's "nothing to repeat" / "multiple repeat" */
  bert_error *err;
} translator;

enum { PREV_NONE, PREV_ATOM, PREV_QUANT };

static int unsupported(translator *t, const char *what) {
  return bert_error_set(t->err, BERT_EUNSUPPORTED, "regexp '%s': %s is not supported (at offset %zu)", t->p, what,
                        t->i);
}

static void put(translator *t, const char *s) { bert_strbuf_puts(t->out, s); }
static void putc_(translator *t, char c) { bert_strbuf_append(t->out, &c, 1); }

static int control_escape(char c, char *out) {
  static const char from[] = "tnrfv", to[] = "\t\n\r\f\v";
  const char *at = c ? strchr(from, c) : NULL;
  if (!at) return 0;
  *out = to[at - from];
  return 1;
}

static int is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* `\x` outside a class. */
static int escape(translator *t) {
  char n = t->p[t->i + 1], ctl;
  static const char *const shorthand[][2] = {{"d", "[0-9]"}, {"D", "[^0-9]"}, {"s", "[[:space:]]"},
                                             {"S", "[^[:space:]]"}, {"w", "[[:alnum:]_]"}, {"W", "[^[:alnum:]_]"}};
  if (!n) return unsupported(t, "a trailing backslash");
  for (size_t k = 0; k < sizeof shorthand / sizeof shorthand[0]; k++)
    if (n == shorthand[k][0][0]) {
      put(t, shorthand[k][1]);
      t->i += 2;
      return BERT_OK;
    }
  if (control_escape(n, &ctl)) {
    putc_(t, ctl);
  } else if (n >= '0' && n <= '9') {
    return unsupported(t, "a back-reference");
  } else if (is_alnum(n)) {
    char what[32];
    snprintf(what, sizeof what, "the escape \\%c", n);
    return unsupported(t, what);
  } else {
    if (strchr(".[]{}()*+?|^$\\", n)) putc_(t, '\\');
    putc_(t, n);
  }
  t->i += 2;
  return BERT_OK;
}

typedef struct class_parts {
  bert_strbuf body;
  int bracket, caret, dash; /* escaped ] ^ - placed where POSIX reads them literally */
} class_parts;

/* One `\x` inside a class. */
static int class_escape(translator *t, class_parts *c) {
  char n = t->p[t->i + 1], ctl;
  if (n == 'd') bert_strbuf_puts(&c->body, "0-9");
  else if (n == 's') bert_strbuf_puts(&c->body, "[:space:]");
  else if (n == 'w') bert_strbuf_puts(&c->body, "[:alnum:]_");
  else if (n == 'D' || n == 'S' || n == 'W') return unsupported(t, "\\D, \\S or \\W inside [...]");
  else if (control_escape(n, &ctl)) bert_strbuf_append(&c->body, &ctl, 1);
  else if (n == ']') c->bracket = 1;
  else if (n == '^') c->caret = 1;
  else if (n == '-') c->dash = 1;
  else if (!n || is_alnum(n)) return unsupported(t, "this escape inside [...]");
  else bert_strbuf_append(&c->body, &n, 1); /* POSIX reads a backslash literally inside [] */
  t->i += 2;
  return BERT_OK;
}

/* `[...]`: POSIX takes ] first and - last literally, and backslash as itself. */
static int char_class(translator *t) {
  class_parts c = {0};
  int negate = 0, rc = BERT_OK;
  t->i++;
  if (t->p[t->i] == '^') negate = 1, t->i++;
  if (t->p[t->i] == ']') c.bracket = 1, t->i++;
  while (!rc && t->p[t->i] != ']') {
    char ch = t->p[t->i];
    if (!ch) rc = unsupported(t, "an unterminated [");
    else if (ch == '\\') rc = class_escape(t, &c);
    else if (ch == '[' && t->p[t->i + 1] && strchr(":.=", t->p[t->i + 1])) rc = unsupported(t, "'[:', '[.' or '[=' inside [...]");
    else bert_strbuf_append(&c.body, &ch, 1), t->i++;
  }
  if (!rc) {
    put(t, negate ? "[^" : "[");
    if (c.bracket) putc_(t, ']');
    if (c.body.len) put(t, c.body.data);
    if (c.caret) putc_(t, '^');
    if (c.dash) putc_(t, '-');
    if (!c.bracket && !c.body.len && !c.caret && !c.dash) rc = unsupported(t, "an empty []");
    putc_(t, ']');
    t->i++;
  }
  bert_strbuf_free(&c.body);
  return rc;
}

static int group_open(translator *t) {
  const char *p = t->p + t->i;
  int capture = 1;
  if (p[1] == '?' && p[2] == ':') {
    capture = 0, t->i += 3;
  } else if (p[1] == '?' && p[2] == 'P' && p[3] == '<') {
    const char *close = strchr(p + 4, '>');
    if (!close) return unsupported(t, "an unterminated (?P<name>");
    t->i += (size_t)(close - p) + 1;
  } else if (p[1] == '?') {
    return unsupported(t, "(?...) other than (?: and (?P<name>");
  } else {
    t->i++;
  }
  t->groups++;
  if (capture && !t->first_capture) t->first_capture = t->groups;
  putc_(t, '(');
  return BERT_OK;
}

/* Length of a repetition `{m}`, `{m,}`, `{m,n}` or `{,n}` at p (0 when `{` is a literal, as in
 * Python); writes the POSIX form to out. */
static size_t repetition(const char *p, bert_strbuf *out) {
  size_t i = 1, m0 = i;
  while (p[i] >= '0' && p[i] <= '9') i++;
  size_t m1 = i, n0 = i, n1 = i;
  int comma = p[i] == ',';
  if (comma) {
    n0 = ++i;
    while (p[i] >= '0' && p[i] <= '9') i++;
    n1 = i;
  }
  if (p[i] != '}' || (m1 == m0 && (!comma || n1 == n0))) return 0;
  bert_strbuf_printf(out, "{%.*s%s%.*s}", m1 == m0 ? 1 : (int)(m1 - m0), m1 == m0 ? "0" : p + m0, comma ? "," : "",
                     (int)(n1 - n0), p + n0);
  return i + 1;
}

/* After a quantifier: its lazy form, and Python's errors for a quantifier without an atom. */
static int quantified(translator *t) {
  if (t->prev == PREV_NONE) return unsupported(t, "a quantifier with nothing to repeat");
  if (t->prev == PREV_QUANT) return unsupported(t, "a repeated quantifier");
  t->prev = PREV_QUANT;
  if (t->p[t->i] == '?') t->lazy = 1, t->i++;
  return BERT_OK;
}

static int next_prev(char c) { return c == '(' || c == '|' || c == '^' ? PREV_NONE : PREV_ATOM; }

int bert_pyregex_translate(const char *pattern, bert_strbuf *out, int *lazy, int *group, bert_error *err) {
  translator t = {.p = pattern, .out = out, .err = err};
  int rc = BERT_OK;
  while (!rc && pattern[t.i]) {
    char c = pattern[t.i];
    size_t n;
    if (c == '*' || c == '+' || c == '?') {
      putc_(&t, c), t.i++;
      rc = quantified(&t);
      continue;
    }
    if (c == '{' && (n = repetition(pattern + t.i, out))) {
      t.i += n;
      rc = quantified(&t);
      continue;
    }
    if (c == '\\') rc = escape(&t);
    else if (c == '[') rc = char_class(&t);
    else if (c == '(') rc = group_open(&t);
    else if (c == '{' || c == '}') put(&t, c == '{' ? "\\{" : "\\}"), t.i++;
    else putc_(&t, c), t.i++;
    t.prev = next_prev(c);
  }
  if (!rc && out->failed) rc = bert_error_set(err, BERT_ENOMEM, "regexp '%s': out of memory", pattern);
  *lazy = t.lazy;
  *group = t.first_capture;
  return rc;
}

static int compile_one(regex_t *re, const char *posix, const char *pattern, bert_error *err) {
  int rc = regcomp(re, posix, REG_EXTENDED | REG_NEWLINE);
  if (!rc) return BERT_OK;
  char msg[256];
  regerror(rc, re, msg, sizeof msg);
  return bert_error_set(err, BERT_EINVAL, "regexp '%s' (POSIX '%s'): %s", pattern, posix, msg);
}

int bert_pyregex_compile(bert_pyregex *r, const char *pattern, bert_error *err) {
  memset(r, 0, sizeof *r);
  bert_strbuf posix = {0}, anchored = {0};
  int rc = bert_pyregex_translate(pattern, &posix, &r->lazy, &r->group, err);
  if (!rc && r->group >= MAX_GROUPS - 1)
    rc = bert_error_set(err, BERT_EUNSUPPORTED, "regexp '%s': more than %d groups before the first capturing one",
                        pattern, MAX_GROUPS - 2);
  if (!rc) rc = compile_one(&r->re, posix.data ? posix.data : "", pattern, err);
  if (!rc && r->lazy) {
    bert_strbuf_printf(&anchored, "^(%s)$", posix.data ? posix.data : "");
    if ((rc = compile_one(&r->anchored, anchored.data, pattern, err))) regfree(&r->re);
  }
  r->compiled = !rc;
  bert_strbuf_free(&posix);
  bert_strbuf_free(&anchored);
  return rc;
}

void bert_pyregex_free(bert_pyregex *r) {
  if (r->compiled) {
    regfree(&r->re);
    if (r->lazy) regfree(&r->anchored);
  }
  r->compiled = 0;
}

/* For a lazy pattern: the earliest end e in (s, E] such that the whole pattern matches exactly
 * text[s, e); fills pm (offsets relative to text) from the anchored regex. The copy keeps the
 * anchored `^` at s. Returns 0 when found, 1 when not (pm untouched), -1 when out of memory. */
static int shortest(const bert_pyregex *r, const char *text, regoff_t s, regoff_t E, regmatch_t *pm) {
  size_t n = (size_t)(E - s);
  char *copy = malloc(n + 1);
  if (!copy) return -1;
  memcpy(copy, text + s, n);
  copy[n] = '\0';
  int found = 1;
  for (regoff_t e = 0; e <= (regoff_t)n && found; e++) {
    regmatch_t m[MAX_GROUPS];
    m[0].rm_so = 0, m[0].rm_eo = e;
    if (regexec(&r->anchored, copy, MAX_GROUPS, m, REG_STARTEND) || m[0].rm_so != 0 || m[0].rm_eo != e) continue;
    for (int g = 0; g < MAX_GROUPS - 1; g++) /* group g of the pattern is group g + 1 here */
      pm[g].rm_so = m[g + 1].rm_so < 0 ? -1 : m[g + 1].rm_so + s, pm[g].rm_eo = m[g + 1].rm_eo < 0 ? -1 : m[g + 1].rm_eo + s;
    found = 0;
  }
  free(copy);
  return found;
}

long bert_pyregex_findall(const bert_pyregex *r, const char *text, size_t len, bert_pyregex_fn fn, void *ctx,
                          bert_error *err) {
  if (!r->compiled) return bert_error_set(err, BERT_EINVAL, "pyregex: not compiled");
  long count = 0;
  size_t pos = 0;
  while (pos <= len) {
    regmatch_t pm[MAX_GROUPS];
    pm[0].rm_so = (regoff_t)pos, pm[0].rm_eo = (regoff_t)len;
    int rc = regexec(&r->re, text, MAX_GROUPS, pm, REG_STARTEND);
    if (rc == REG_NOMATCH) break;
    if (rc) return bert_error_set(err, BERT_ENOMEM, "regexec failed (%d)", rc);
    if (r->lazy && shortest(r, text, pm[0].rm_so, pm[0].rm_eo, pm) < 0)
      return bert_error_set(err, BERT_ENOMEM, "pyregex: out of memory");
    const regmatch_t *g = &pm[r->group];
    count++;
    if (fn && fn(g->rm_so < 0 ? text : text + g->rm_so, g->rm_so < 0 ? 0 : (size_t)(g->rm_eo - g->rm_so), ctx)) break;
    pos = pm[0].rm_eo > pm[0].rm_so ? (size_t)pm[0].rm_eo : (size_t)pm[0].rm_eo + 1;
  }
  return count;
}
