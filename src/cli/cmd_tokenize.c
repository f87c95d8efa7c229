/* cli/cmd_tokenize: `bert tokenize` — WordPiece-tokenizes text lines (or JSON-string lines) and
 * writes one JSON line per input line with tokens, ids and byte offsets. Lines are processed in
 * chunks, each chunk in parallel, and written in input order whatever the thread count. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "cli/commands.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

#define CHUNK_LINES 16384
#define CHUNK_BYTES ((size_t)8 << 20)
#define MAX_WARNINGS 10

typedef struct tokenize_args {
  const char *vocab, *input;
  int casing; /* -1 unset, 0 cased, 1 lower-case */
  int max_word_chars, threads, jsonl, never_split;
} tokenize_args;

static void usage(FILE *out) {
  fprintf(out,
          "usage: bert tokenize --vocab FILE [options] [INPUT]\n\n"
          "WordPiece-tokenizes each line of INPUT (default or '-': standard input) and writes one\n"
          "JSON line per input line to standard output:\n"
          "  {\"tokens\": [...], \"ids\": [...], \"offsets\": [[start, end], ...]}\n"
          "where offsets are byte spans [start, end) of the line's UTF-8. No [CLS]/[SEP] added.\n\n"
          "options:\n"
          "  --vocab FILE          vocabulary (vocab.txt), required\n"
          "  --do-lower-case       lower-case and strip accents (uncased models)\n"
          "  --cased               keep case and accents (cased models)\n"
          "                        default: do_lower_case from tokenizer_config.json beside the\n"
          "                        vocabulary, else inferred from the vocabulary (logged)\n"
          "  --max-word-chars N    longer words become [UNK] (default 100, as HuggingFace;\n"
          "                        Google's tokenization.py uses 200)\n"
          "  --never-split         keep [CLS] [SEP] [MASK] [PAD] [UNK] whole wherever they occur,\n"
          "                        as HuggingFace does (default off, as Google: split like text)\n"
          "  --jsonl               each input line is a JSON string (texts may hold newlines);\n"
          "                        offsets then index the decoded string's UTF-8\n"
          "  --threads N           worker threads (default: OMP_NUM_THREADS, else all cores)\n"
          "  -h, --help            this help\n\n"
          "Invalid UTF-8 bytes are skipped, as Google's decode(errors=\"ignore\") does, with a\n"
          "warning naming the line. Exit status: 0 ok, 1 error, 2 bad usage.\n");
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
  char *end = NULL;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "bert tokenize: %s needs an integer in [%d, %d], got '%s'\n", opt, lo, hi,
            s ? s : "");
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* Returns 0 to run, 1 when help was printed, -1 on bad usage. */
static int parse_args(int argc, char **argv, tokenize_args *a) {
  *a = (tokenize_args){.casing = -1, .max_word_chars = 100, .threads = omp_get_max_threads()};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
    int takes_value = !strcmp(arg, "--vocab") || !strcmp(arg, "--max-word-chars") ||
                      !strcmp(arg, "--threads");
    if (takes_value && !value) {
      fprintf(stderr, "bert tokenize: %s needs a value\n", arg);
      return -1;
    }
    if (takes_value) i++;
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      usage(stdout);
      return 1;
    } else if (!strcmp(arg, "--vocab")) {
      a->vocab = value;
    } else if (!strcmp(arg, "--max-word-chars")) {
      if (parse_int(arg, value, 0, 65536, &a->max_word_chars)) return -1;
    } else if (!strcmp(arg, "--threads")) {
      if (parse_int(arg, value, 1, 1024, &a->threads)) return -1;
    } else if (!strcmp(arg, "--do-lower-case") || !strcmp(arg, "--cased")) {
      a->casing = !strcmp(arg, "--do-lower-case");
    } else if (!strcmp(arg, "--jsonl")) {
      a->jsonl = 1;
    } else if (!strcmp(arg, "--never-split")) {
      a->never_split = 1;
    } else if (arg[0] == '-' && arg[1]) {
      fprintf(stderr, "bert tokenize: unknown option '%s' (see --help)\n", arg);
      return -1;
    } else if (!a->input) {
      a->input = arg;
    } else {
      fprintf(stderr, "bert tokenize: more than one INPUT ('%s', '%s')\n", a->input, arg);
      return -1;
    }
  }
  if (!a->vocab) {
    fprintf(stderr, "bert tokenize: --vocab FILE is required (see --help)\n");
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- number formatting */

/* Decimal digits of v ending at end (no NUL); returns where they start. printf is a large share
 * of the command's time otherwise. */
static char *put_uint(char *end, unsigned long long v) {
  do *--end = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  return end;
}

static void put_utf8(bert_strbuf *b, unsigned cp) {
  char s[4];
  size_t n;
  if (cp < 0x80) {
    s[0] = (char)cp, n = 1;
  } else if (cp < 0x800) {
    s[0] = (char)(0xC0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  } else if (cp < 0x10000) {
    s[0] = (char)(0xE0 | cp >> 12), s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
  } else {
    s[0] = (char)(0xF0 | cp >> 18), s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    s[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), s[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
  }
  bert_strbuf_append(b, s, n);
}

/* ---------------------------------------------------------------- JSON strings */

/* ", " then the token as a JSON string: list items are then one append each. */
static void json_list_item(bert_strbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  bert_strbuf_append(b, ", \"", 3);
  for (size_t run; *s; s += run) {
    run = strcspn(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                     "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");
    bert_strbuf_append(b, s, run);
    if (!s[run]) break;
    unsigned char c = (unsigned char)s[run++];
    char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
    if (c < 0x20) esc[1] = 'u', esc[2] = esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
    bert_strbuf_append(b, esc, c < 0x20 ? 6 : 2);
  }
  bert_strbuf_append(b, "\"", 1);
}

static int hex4(const char *s, size_t left, unsigned *v) {
  if (left < 4) return 0;
  *v = 0;
  for (int k = 0; k < 4; k++) {
    char c = s[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return 0;
    *v = *v * 16 + (unsigned)d;
  }
  return 1;
}

/* Decodes the \u escape at s[i] (just after the 'u'); lone surrogates become U+FFFD, which the
 * tokenizer drops like Google's and HuggingFace's. Returns the index after it, or 0. */
static size_t json_unicode_escape(const char *s, size_t len, size_t i, bert_strbuf *out) {
  unsigned cp, lo;
  if (!hex4(s + i, len - i, &cp)) return 0;
  i += 4;
  if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= len && s[i] == '\\' && s[i + 1] == 'u' &&
      hex4(s + i + 2, len - i - 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    i += 6;
  } else if (cp >= 0xD800 && cp < 0xE000) {
    cp = 0xFFFD;
  }
  put_utf8(out, cp);
  return i;
}

/* Decodes a line holding one JSON string (whitespace around it allowed) into out. On failure
 * returns -1 with *at = the byte offset of the problem and *why = what it is. */
static int json_string_decode(const char *s, size_t len, bert_strbuf *out, size_t *at, const char **why) {
  size_t i = 0;
  bert_strbuf_clear(out);
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
  if (i >= len || s[i] != '"') return *at = i, *why = "expected a JSON string", -1;
  for (i++;;) {
    if (i >= len) return *at = i, *why = "unterminated string", -1;
    char c = s[i];
    if (c == '"') break;
    if (c != '\\') {
      size_t run = i;
      while (run < len && s[run] != '"' && s[run] != '\\') run++;
      bert_strbuf_append(out, s + i, run - i);
      i = run;
      continue;
    }
    if (++i >= len) return *at = i, *why = "unterminated string", -1;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = strchr(from, s[i]);
    if (s[i] == 'u') {
      size_t next = json_unicode_escape(s, len, i + 1, out);
      if (!next) return *at = i - 1, *why = "bad \\u escape", -1;
      i = next;
    } else if (e && s[i]) {
      bert_strbuf_append(out, &to[e - from], 1);
      i++;
    } else {
      return *at = i - 1, *why = "unknown escape", -1;
    }
  }
  for (i++; i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'); i++) {
  }
  if (i != len) return *at = i, *why = "text after the string", -1;
  return 0;
}

/* ---------------------------------------------------------------- input in chunks of lines */

typedef struct span {
  size_t off, len;
} span;

typedef struct reader {
  FILE *f;
  char *buf;
  size_t cap, len, pos; /* buf[pos, len) is read but not yet handed out */
  int eof;
} reader;

/* Hands out up to CHUNK_LINES complete lines (about CHUNK_BYTES) as spans into r->buf, which stay
 * valid until the next call. A last line without '\n' counts. */
static int read_chunk(reader *r, span *lines, size_t *count, bert_error *err) {
  if (r->pos) memmove(r->buf, r->buf + r->pos, r->len - r->pos);
  r->len -= r->pos;
  r->pos = 0;
  *count = 0;
  size_t scan = 0;
  while (*count < CHUNK_LINES) {
    char *nl = scan < r->len ? memchr(r->buf + scan, '\n', r->len - scan) : NULL;
    if (nl) {
      lines[(*count)++] = (span){scan, (size_t)(nl - r->buf) - scan};
      scan = (size_t)(nl - r->buf) + 1;
      continue;
    }
    if (r->eof) {
      if (scan < r->len) lines[(*count)++] = (span){scan, r->len - scan};
      scan = r->len;
      break;
    }
    if (*count && scan >= CHUNK_BYTES) break;
    if (r->len == r->cap) {
      size_t cap = r->cap ? r->cap * 2 : CHUNK_BYTES;
      char *buf = realloc(r->buf, cap);
      if (!buf) return bert_error_set(err, BERT_ENOMEM, "input: out of memory (a very long line?)");
      r->buf = buf;
      r->cap = cap;
    }
    size_t got = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
    if (!got && ferror(r->f)) return bert_error_set(err, BERT_EIO, "input: read error");
    if (!got) r->eof = 1;
    r->len += got;
  }
  r->pos = scan;
  return BERT_OK;
}

/* ---------------------------------------------------------------- tokenizing a chunk */

typedef struct worker {
  bert_tokens tokens;
  bert_strbuf out;  /* this chunk's JSON lines from this thread */
  bert_strbuf text; /* a decoded --jsonl line */
} worker;

typedef struct line_result {
  int thread;
  size_t off, len;      /* the JSON line in workers[thread].out */
  size_t invalid_bytes; /* invalid UTF-8 skipped */
  const char *error;    /* NULL, or why the line could not be read */
  size_t error_at;
} line_result;

typedef struct job {
  const bert_tokenizer *tok;
  char **json_tokens; /* every vocabulary token as ", \"token\"" (JSON-escaped) */
  size_t *json_token_len;
  int jsonl;
} job;

static void format_line(const job *jb, const bert_tokens *t, bert_strbuf *b) {
  bert_strbuf_append(b, "{\"tokens\": [", 12);
  for (size_t k = 0; k < t->count; k++) {
    const char *item = jb->json_tokens[t->ids[k]];
    size_t skip = k ? 0 : 2; /* no ", " before the first */
    bert_strbuf_append(b, item + skip, jb->json_token_len[t->ids[k]] - skip);
  }
  bert_strbuf_append(b, "], \"ids\": [", 11);
  char num[64], *end = num + sizeof num, *p;
  for (size_t k = 0; k < t->count; k++) {
    p = put_uint(end, (unsigned long long)t->ids[k]);
    if (k) *--p = ' ', *--p = ',';
    bert_strbuf_append(b, p, (size_t)(end - p));
  }
  bert_strbuf_append(b, "], \"offsets\": [", 15);
  for (size_t k = 0; k < t->count; k++) {
    p = end;
    *--p = ']';
    p = put_uint(p, t->ends[k]);
    *--p = ' ', *--p = ',';
    p = put_uint(p, t->starts[k]);
    *--p = '[';
    if (k) *--p = ' ', *--p = ',';
    bert_strbuf_append(b, p, (size_t)(end - p));
  }
  bert_strbuf_append(b, "]}\n", 3);
}

static void tokenize_line(const job *jb, worker *w, const char *text, size_t len, line_result *res) {
  if (jb->jsonl) {
    if (json_string_decode(text, len, &w->text, &res->error_at, &res->error)) return;
    if (w->text.failed) {
      res->error = "out of memory";
      return;
    }
    text = w->text.data ? w->text.data : "";
    len = w->text.len;
  }
  bert_error err = {0};
  if (bert_tokenize(jb->tok, text, len, &w->tokens, &err)) {
    res->error = "out of memory";
    return;
  }
  res->invalid_bytes = w->tokens.invalid_bytes;
  res->off = w->out.len;
  format_line(jb, &w->tokens, &w->out);
  res->len = w->out.len - res->off;
}

static void tokenize_chunk(const job *jb, worker *workers, int threads, const char *buf,
                           const span *lines, size_t count, line_result *results) {
  for (int t = 0; t < threads; t++) bert_strbuf_clear(&workers[t].out);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
  for (size_t i = 0; i < count; i++) {
    int t = omp_get_thread_num();
    results[i] = (line_result){.thread = t};
    tokenize_line(jb, &workers[t], buf + lines[i].off, lines[i].len, &results[i]);
  }
}

/* Writes a chunk's lines in order; returns 0, or 1 after reporting the first bad line. */
static int write_chunk(const worker *workers, int threads, const line_result *results,
                       size_t count, size_t first_line, const char *input, size_t *warnings) {
  for (int t = 0; t < threads; t++)
    if (workers[t].out.failed) {
      fprintf(stderr, "bert tokenize: out of memory\n");
      return 1;
    }
  for (size_t i = 0; i < count; i++) {
    const line_result *r = &results[i];
    if (r->error) {
      fprintf(stderr, "bert tokenize: %s:%zu: %s at byte %zu\n", input, first_line + i, r->error,
              r->error_at + 1);
      return 1;
    }
    if (r->invalid_bytes && (*warnings)++ < MAX_WARNINGS)
      bert_warn("%s:%zu: %zu invalid UTF-8 byte(s) skipped", input, first_line + i,
                r->invalid_bytes);
    fwrite(workers[r->thread].out.data + r->off, 1, r->len, stdout);
  }
  return 0;
}

/* ---------------------------------------------------------------- the command */

static int make_job(job *jb, const bert_tokenizer *tok, int jsonl) {
  const bert_vocab *v = bert_tokenizer_vocab(tok);
  *jb = (job){.tok = tok, .jsonl = jsonl};
  jb->json_tokens = calloc((size_t)v->size, sizeof *jb->json_tokens);
  jb->json_token_len = calloc((size_t)v->size, sizeof *jb->json_token_len);
  if (!jb->json_tokens || !jb->json_token_len) return -1;
  for (int id = 0; id < v->size; id++) {
    bert_strbuf b = {0};
    json_list_item(&b, v->tokens[id]);
    if (b.failed) return -1;
    jb->json_tokens[id] = b.data;
    jb->json_token_len[id] = b.len;
  }
  return 0;
}

static void free_job(job *jb, const bert_tokenizer *tok) {
  for (int id = 0; jb->json_tokens && id < bert_tokenizer_vocab(tok)->size; id++)
    free(jb->json_tokens[id]);
  free(jb->json_tokens);
  free(jb->json_token_len);
}

static int run(const tokenize_args *a, const bert_tokenizer *tok, FILE *in, const char *name) {
  job jb;
  reader rd = {.f = in};
  span *lines = malloc(CHUNK_LINES * sizeof *lines);
  line_result *results = malloc(CHUNK_LINES * sizeof *results);
  worker *workers = calloc((size_t)a->threads, sizeof *workers);
  int status = 0;
  size_t first_line = 1, count, warnings = 0;
  bert_error err = {0};
  if (make_job(&jb, tok, a->jsonl) || !lines || !results || !workers) {
    fprintf(stderr, "bert tokenize: out of memory\n");
    status = 1;
  }
  while (!status) {
    if (read_chunk(&rd, lines, &count, &err)) {
      fprintf(stderr, "bert tokenize: %s: %s\n", name, err.message);
      status = 1;
      break;
    }
    if (!count) break;
    tokenize_chunk(&jb, workers, a->threads, rd.buf, lines, count, results);
    status = write_chunk(workers, a->threads, results, count, first_line, name, &warnings);
    first_line += count;
  }
  if (warnings > MAX_WARNINGS)
    bert_warn("%zu lines in all had invalid UTF-8 bytes (skipped)", warnings);
  if (!status && (fflush(stdout) || ferror(stdout))) {
    fprintf(stderr, "bert tokenize: error writing the output\n");
    status = 1;
  }
  for (int t = 0; workers && t < a->threads; t++) {
    bert_tokens_free(&workers[t].tokens);
    bert_strbuf_free(&workers[t].out);
    bert_strbuf_free(&workers[t].text);
  }
  free_job(&jb, tok);
  free(workers);
  free(results);
  free(lines);
  free(rd.buf);
  return status;
}

int cmd_tokenize(int argc, char **argv) {
  tokenize_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc > 0 ? 0 : 2;
  bert_error err = {0};
  bert_vocab vocab;
  if (bert_vocab_load(&vocab, a.vocab, &err)) {
    fprintf(stderr, "bert tokenize: %s\n", err.message);
    return 1;
  }
  bert_tokenizer_options opts;
  bert_tokenizer_options_default(&opts);
  opts.max_word_chars = a.max_word_chars;
  opts.never_split = a.never_split ? bert_never_split_specials : NULL;
  bert_tokenizer *tok = NULL;
  if (bert_casing_resolve(a.vocab, &vocab, a.casing, &opts.lower_case, &err) ||
      bert_tokenizer_create(&tok, &vocab, &opts, &err)) {
    fprintf(stderr, "bert tokenize: %s\n", err.message);
    bert_vocab_free(&vocab);
    return 1;
  }
  int use_stdin = !a.input || !strcmp(a.input, "-");
  FILE *in = use_stdin ? stdin : fopen(a.input, "rb");
  int status = 1;
  if (!in)
    fprintf(stderr, "bert tokenize: %s: %s\n", a.input, strerror(errno));
  else
    status = run(&a, tok, in, use_stdin ? "<stdin>" : a.input);
  if (in && !use_stdin) fclose(in);
  bert_tokenizer_free(tok);
  bert_vocab_free(&vocab);
  return status;
}
