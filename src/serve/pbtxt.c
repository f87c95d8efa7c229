/* A recursive-descent parser over a tiny tokenizer; the tree owns every string. */
#include "serve/pbtxt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define PBTXT_MAX_DEPTH 64

typedef struct pbtxt_parser {
  const char *s, *end, *line_start;
  const char *source;
  int line;
  bert_error *err;
} pbtxt_parser;

static int fail(pbtxt_parser *p, const char *what) {
  return bert_error_set(p->err, BERT_EFORMAT, "%s:%d:%d: %s", p->source, p->line, (int)(p->s - p->line_start) + 1,
                        what);
}

/* Skips blanks, newlines and # comments. */
static void skip_space(pbtxt_parser *p) {
  while (p->s < p->end) {
    char c = *p->s;
    if (c == '\n') {
      p->line++;
      p->line_start = ++p->s;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      p->s++;
    } else if (c == '#') {
      while (p->s < p->end && *p->s != '\n') p->s++;
    } else {
      break;
    }
  }
}

static int peek(pbtxt_parser *p) {
  skip_space(p);
  return p->s < p->end ? (unsigned char)*p->s : -1;
}

static int accept(pbtxt_parser *p, char c) {
  if (peek(p) != c) return 0;
  p->s++;
  return 1;
}

static int ident_char(int c, int first) { return isalpha(c) || c == '_' || (!first && (isdigit(c) || c == '.')); }

static char *copy(const char *s, size_t n) {
  char *out = malloc(n + 1);
  if (out) memcpy(out, s, n), out[n] = '\0';
  return out;
}

static int read_ident(pbtxt_parser *p, char **out, size_t *len) {
  const char *start = p->s;
  while (p->s < p->end && ident_char((unsigned char)*p->s, p->s == start)) p->s++;
  if (p->s == start) return fail(p, "expected a field name");
  *len = (size_t)(p->s - start);
  if (!(*out = copy(start, *len))) return bert_error_set(p->err, BERT_ENOMEM, "%s: out of memory", p->source);
  return BERT_OK;
}

static int hex_value(int c) { return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1; }

/* One escape after the backslash; appends the byte to out. */
static int read_escape(pbtxt_parser *p, char *out, size_t *n) {
  if (p->s >= p->end) return fail(p, "unterminated string");
  char c = *p->s++;
  static const char from[] = "ntrabfv\\'\"?", to[] = "\n\t\r\a\b\f\v\\'\"?";
  const char *hit = strchr(from, c);
  if (hit && c) {
    out[(*n)++] = to[hit - from];
  } else if (c == 'x' || c == 'X') {
    int v = 0, digits = 0, h;
    while (digits < 2 && p->s < p->end && (h = hex_value((unsigned char)*p->s)) >= 0) v = v * 16 + h, p->s++, digits++;
    if (!digits) return fail(p, "\\x without hex digits");
    out[(*n)++] = (char)v;
  } else if (c >= '0' && c <= '7') {
    int v = c - '0', digits = 1;
    while (digits < 3 && p->s < p->end && *p->s >= '0' && *p->s <= '7') v = v * 8 + (*p->s++ - '0'), digits++;
    out[(*n)++] = (char)v;
  } else {
    return fail(p, "unknown escape in string");
  }
  return BERT_OK;
}

/* One or more adjacent quoted strings, concatenated. */
static int read_string(pbtxt_parser *p, bert_pbtxt_node *node) {
  /* the decoded text is never longer than the source it comes from */
  size_t cap = (size_t)(p->end - p->s) + 1;
  char *out = malloc(cap);
  if (!out) return bert_error_set(p->err, BERT_ENOMEM, "%s: out of memory", p->source);
  size_t n = 0;
  while (peek(p) == '"' || peek(p) == '\'') {
    char quote = *p->s++;
    for (;;) {
      if (p->s >= p->end || *p->s == '\n') {
        free(out);
        return fail(p, "unterminated string");
      }
      char c = *p->s++;
      if (c == quote) break;
      if (c != '\\') {
        out[n++] = c;
      } else if (read_escape(p, out, &n)) {
        free(out);
        return p->err ? p->err->code : BERT_EFORMAT;
      }
    }
  }
  out[n] = '\0';
  node->kind = BERT_PBTXT_STRING, node->value = out, node->value_len = n;
  return BERT_OK;
}

/* A number or an identifier (enum value, true/false, inf, nan), possibly signed. */
static int read_word(pbtxt_parser *p, bert_pbtxt_node *node) {
  const char *start = p->s;
  if (*p->s == '-' || *p->s == '+') p->s++;
  const char *body = p->s;
  while (p->s < p->end && (isalnum((unsigned char)*p->s) || *p->s == '_' || *p->s == '.' ||
                           ((*p->s == '-' || *p->s == '+') && (p->s[-1] == 'e' || p->s[-1] == 'E'))))
    p->s++;
  if (p->s == body) return fail(p, "expected a value");
  int numeric = isdigit((unsigned char)*body) || (*body == '.' && p->s > body + 1);
  if (!numeric && start != body && strncmp(body, "inf", 3) && strncmp(body, "nan", 3)) return fail(p, "expected a number after the sign");
  node->kind = numeric ? BERT_PBTXT_NUMBER : BERT_PBTXT_IDENT;
  node->value_len = (size_t)(p->s - start);
  if (!(node->value = copy(start, node->value_len))) return bert_error_set(p->err, BERT_ENOMEM, "%s: out of memory", p->source);
  return BERT_OK;
}

static int read_scalar(pbtxt_parser *p, bert_pbtxt_node *node) {
  int c = peek(p);
  if (c == '"' || c == '\'') return read_string(p, node);
  if (c < 0) return fail(p, "expected a value, found the end of the file");
  if (c == '{' || c == '}' || c == '[' || c == ']' || c == ':' || c == ',' || c == '<' || c == '>')
    return fail(p, "expected a value");
  return read_word(p, node);
}

static bert_pbtxt_node *add_child(pbtxt_parser *p, bert_pbtxt_node *msg, const char *name, size_t len) {
  if (msg->count == msg->cap) {
    int cap = msg->cap ? msg->cap * 2 : 8;
    bert_pbtxt_node *c = realloc(msg->children, sizeof *c * (size_t)cap);
    if (!c) return NULL;
    msg->children = c, msg->cap = cap;
  }
  bert_pbtxt_node *n = &msg->children[msg->count];
  memset(n, 0, sizeof *n);
  if (!(n->name = copy(name, len))) return NULL;
  n->line = p->line;
  msg->count++;
  return n;
}

static int parse_fields(pbtxt_parser *p, bert_pbtxt_node *msg, int close, int depth);

/* '{' or '<' already consumed: the message's fields up to the matching brace. */
static int parse_message_body(pbtxt_parser *p, bert_pbtxt_node *node, char open, int depth) {
  node->kind = BERT_PBTXT_MESSAGE;
  if (depth >= PBTXT_MAX_DEPTH) return fail(p, "messages nested too deeply");
  return parse_fields(p, node, open == '{' ? '}' : '>', depth + 1);
}

/* A list after '[': scalars or messages, one child named `name` per element. */
static int parse_list(pbtxt_parser *p, bert_pbtxt_node *msg, const char *name, size_t len, int depth) {
  if (accept(p, ']')) return BERT_OK;
  for (;;) {
    bert_pbtxt_node *el = add_child(p, msg, name, len);
    if (!el) return bert_error_set(p->err, BERT_ENOMEM, "%s: out of memory", p->source);
    int c = peek(p), rc;
    if (c == '{' || c == '<') {
      p->s++;
      rc = parse_message_body(p, el, (char)c, depth);
    } else {
      rc = read_scalar(p, el);
    }
    if (rc) return rc;
    if (accept(p, ']')) return BERT_OK;
    if (!accept(p, ',')) return fail(p, "expected ',' or ']' in a list");
  }
}

static int parse_field(pbtxt_parser *p, bert_pbtxt_node *msg, int depth) {
  char *name = NULL;
  size_t len = 0;
  int rc = read_ident(p, &name, &len);
  if (rc) return rc;
  int colon = accept(p, ':');
  int c = peek(p);
  if (c == '[') {
    p->s++;
    rc = parse_list(p, msg, name, len, depth);
  } else {
    bert_pbtxt_node *node = add_child(p, msg, name, len);
    if (!node) {
      rc = bert_error_set(p->err, BERT_ENOMEM, "%s: out of memory", p->source);
    } else if (c == '{' || c == '<') {
      p->s++;
      rc = parse_message_body(p, node, (char)c, depth);
    } else if (!colon) {
      rc = fail(p, "expected ':' or '{' after the field name");
    } else {
      rc = read_scalar(p, node);
    }
  }
  free(name);
  return rc;
}

static int parse_fields(pbtxt_parser *p, bert_pbtxt_node *msg, int close, int depth) {
  for (;;) {
    int c = peek(p);
    if (c < 0) return close ? fail(p, "missing closing brace at the end of the file") : BERT_OK;
    if (c == close) {
      p->s++;
      return BERT_OK;
    }
    if (c == '}' || c == '>') return fail(p, "unbalanced closing brace");
    int rc = parse_field(p, msg, depth);
    if (rc) return rc;
    if (!accept(p, ',')) accept(p, ';');
  }
}

int bert_pbtxt_parse(const char *text, size_t len, const char *source, bert_pbtxt_node *root, bert_error *err) {
  memset(root, 0, sizeof *root);
  pbtxt_parser p = {text, text + len, text, source, 1, err};
  int rc = parse_fields(&p, root, 0, 0);
  if (rc) bert_pbtxt_free(root);
  return rc;
}

void bert_pbtxt_free(bert_pbtxt_node *node) {
  for (int i = 0; i < node->count; i++) bert_pbtxt_free(&node->children[i]);
  free(node->children);
  free(node->name);
  free(node->value);
  memset(node, 0, sizeof *node);
}

int bert_pbtxt_count(const bert_pbtxt_node *msg, const char *name) {
  int n = 0;
  for (int i = 0; i < msg->count; i++) n += !strcmp(msg->children[i].name, name);
  return n;
}

const bert_pbtxt_node *bert_pbtxt_get(const bert_pbtxt_node *msg, const char *name, int k) {
  for (int i = 0; i < msg->count; i++)
    if (!strcmp(msg->children[i].name, name) && k-- == 0) return &msg->children[i];
  return NULL;
}
