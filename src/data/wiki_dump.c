#include "data/wiki_dump.h"

#include "base/log.h"

#include <bzlib.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)1 << 20)
/* Compressed bytes looked at once for whole bzip2 streams to decode in parallel. */
#define WINDOW ((size_t)8 << 20)
/* A stream that decodes to more than this is left to the sequential decoder. */
#define MAX_STREAM_OUTPUT ((size_t)256 << 20)
#define MAX_DEPTH 64
#define MAX_NAME 256
#define MAX_TITLE ((size_t)64 << 10)
#define MAX_SMALL 4096

/* What the text of the current element is collected for. */
typedef enum capture { CAP_NONE, CAP_TITLE, CAP_NS, CAP_ID, CAP_TEXT, CAP_BASE, CAP_NSNAME } capture;

typedef struct grow {
  char *p;
  size_t len, cap;
} grow;

struct bert_wiki_dump {
  char path[4096];
  FILE *f;
  int file_eof;
  /* bzip2 input */
  int bz, bz_active;
  bz_stream bzs;
  uint8_t *cin;
  size_t cin_len, cin_pos;
  uint64_t cin_base; /* file offset of cin[0] */
  /* whole streams decoded in parallel, waiting to be parsed */
  struct piece {
    uint8_t *p;
    size_t len;
  } *queue;
  size_t queue_n, queue_i, queue_off;
  /* decoded XML */
  uint8_t *buf;
  size_t len, pos;
  uint64_t base;             /* XML offset of buf[0] */
  uint64_t lines;            /* newlines before buf[line_pos] */
  size_t line_pos;
  int io_rc;                 /* sticky input error */
  bert_error io_err;
  /* element stack */
  char names[MAX_DEPTH][MAX_NAME];
  uint64_t open_line[MAX_DEPTH];
  int depth, root_done;
  int in_page, page_depth;
  capture cap;
  size_t cap_limit;
  grow acc;
  char ns_key[32];
  /* siteinfo */
  char urlbase[MAX_SMALL];
  char **ns_names;
  size_t n_ns;
};

/* ---------------------------------------------------------------- input */

/* Records an input error; it stays (io_rc) so that every later read reports it. */
static int fail_io(bert_wiki_dump *d, int code, const char *what) {
  d->io_rc = bert_error_set(&d->io_err, code, "%s: %s", d->path, what);
  return d->io_rc;
}

static int read_file_chunk(bert_wiki_dump *d, uint8_t *dst, size_t cap, size_t *got) {
  *got = fread(dst, 1, cap, d->f);
  if (*got < cap) {
    if (ferror(d->f)) return fail_io(d, BERT_EIO, strerror(errno));
    d->file_eof = 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- bzip2, multistream in parallel
 * Multistream dumps (the ones Wikimedia publishes) are many bzip2 streams back to back. At a
 * stream boundary the next WINDOW of compressed bytes is searched for stream starts ("BZh" + block
 * size + the block magic 0x314159265359); the whole streams found are decoded in parallel (OpenMP
 * tasks, so a reader running as a task shares the team) and queued in order. A stream that does
 * not decode exactly (a false start, corrupt or truncated data) sends the window to the sequential
 * decoder, which then reports any error with its exact offset. */

static int stream_start(const uint8_t *p) {
  static const uint8_t magic[6] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
  return p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9' && !memcmp(p + 4, magic, 6);
}

/* Decodes one whole stream; 0, or -1 when in[0, n) is not exactly one valid stream. */
static int decode_stream(const uint8_t *in, size_t n, struct piece *out) {
  bz_stream s;
  memset(&s, 0, sizeof s);
  if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) return -1;
  size_t cap = 6 * n + 4096, len = 0;
  uint8_t *buf = malloc(cap);
  int rc = BZ_OK;
  s.next_in = (char *)in;
  s.avail_in = (unsigned)n;
  while (buf) {
    if (len == cap) {
      uint8_t *b = cap < MAX_STREAM_OUTPUT ? realloc(buf, cap * 2) : NULL;
      if (!b) break;
      buf = b;
      cap *= 2;
    }
    s.next_out = (char *)buf + len;
    s.avail_out = (unsigned)(cap - len);
    rc = BZ2_bzDecompress(&s);
    len = (size_t)((uint8_t *)s.next_out - buf);
    if (rc != BZ_OK || (!s.avail_in && s.avail_out)) break;
  }
  BZ2_bzDecompressEnd(&s);
  if (!buf || rc != BZ_STREAM_END || s.avail_in) {
    free(buf);
    return -1;
  }
  out->p = buf;
  out->len = len;
  return 0;
}

/* Moves the unread compressed bytes to the front of cin and reads up to WINDOW. */
static int fill_window(bert_wiki_dump *d) {
  if (d->cin_pos) {
    memmove(d->cin, d->cin + d->cin_pos, d->cin_len - d->cin_pos);
    d->cin_base += d->cin_pos;
    d->cin_len -= d->cin_pos;
    d->cin_pos = 0;
  }
  while (d->cin_len < WINDOW && !d->file_eof) {
    size_t got;
    if (read_file_chunk(d, d->cin + d->cin_len, WINDOW - d->cin_len, &got)) return d->io_rc;
    d->cin_len += got;
  }
  return 0;
}

static void free_queue(bert_wiki_dump *d) {
  for (size_t i = d->queue_i; i < d->queue_n; i++) free(d->queue[i].p);
  d->queue_n = d->queue_i = d->queue_off = 0;
}

/* At a stream boundary: decodes the whole streams of the next window in parallel. 1 when some
 * were queued, 0 when the sequential decoder should go on, negative on a read error. */
static int parallel_streams(bert_wiki_dump *d) {
  int rc = fill_window(d);
  if (rc) return rc;
  if (d->cin_len < 10 || !stream_start(d->cin)) return 0;
  size_t starts[1024], n = 1;
  starts[0] = 0;
  for (size_t i = 1; i + 10 <= d->cin_len && n < 1023; i++) {
    const uint8_t *b = memchr(d->cin + i, 'B', d->cin_len - 10 + 1 - i);
    if (!b) break;
    i = (size_t)(b - d->cin);
    if (stream_start(b)) starts[n++] = i;
  }
  if (d->file_eof && n < 1023) starts[n++] = d->cin_len; /* the last stream ends the file */
  size_t k = n - 1; /* whole streams */
  if (k < 2) return 0;
  struct piece *q = realloc(d->queue, k * sizeof *q);
  if (!q) return 0;
  d->queue = q;
  int failed = 0;
#pragma omp taskloop grainsize(1) shared(failed, starts, q)
  for (size_t i = 0; i < k; i++) {
    q[i].p = NULL;
    if (decode_stream(d->cin + starts[i], starts[i + 1] - starts[i], &q[i])) {
#pragma omp atomic write
      failed = 1;
    }
  }
  if (failed) {
    for (size_t i = 0; i < k; i++) free(q[i].p);
    return 0;
  }
  d->queue_n = k;
  d->queue_i = d->queue_off = 0;
  d->cin_pos = starts[k];
  return 1;
}

/* Hands out the next CHUNK of queued XML: 1, or 0 when the queue is empty. */
static int queue_pop(bert_wiki_dump *d) {
  while (d->queue_i < d->queue_n) {
    struct piece *p = &d->queue[d->queue_i];
    size_t k = p->len - d->queue_off < CHUNK ? p->len - d->queue_off : CHUNK;
    if (k) {
      memcpy(d->buf, p->p + d->queue_off, k);
      d->queue_off += k;
      d->len = k;
      return 1;
    }
    free(p->p);
    p->p = NULL;
    d->queue_i++;
    d->queue_off = 0;
  }
  return 0;
}

/* Decompresses until some XML bytes come out: 1, 0 at a clean end, or negative. */
static int fill_bz(bert_wiki_dump *d) {
  for (;;) {
    if (queue_pop(d)) return 1;
    if (!d->bz_active && (d->cin_pos < d->cin_len || !d->file_eof)) {
      int rc = parallel_streams(d);
      if (rc < 0) return rc;
      if (rc > 0) continue;
    }
    if (d->cin_pos == d->cin_len && !d->file_eof) {
      d->cin_base += d->cin_len;
      d->cin_pos = d->cin_len = 0;
      if (read_file_chunk(d, d->cin, WINDOW, &d->cin_len)) return d->io_rc;
    }
    int more_input = d->cin_pos < d->cin_len;
    if (!d->bz_active) {
      if (!more_input) return 0; /* every stream ended cleanly */
      memset(&d->bzs, 0, sizeof d->bzs);
      if (BZ2_bzDecompressInit(&d->bzs, 0, 0) != BZ_OK)
        return fail_io(d, BERT_ENOMEM, "cannot start the bzip2 decoder");
      d->bz_active = 1;
    }
    d->bzs.next_in = (char *)d->cin + d->cin_pos;
    d->bzs.avail_in = (unsigned)(d->cin_len - d->cin_pos);
    d->bzs.next_out = (char *)d->buf;
    d->bzs.avail_out = (unsigned)CHUNK;
    int rc = BZ2_bzDecompress(&d->bzs);
    d->cin_pos = d->cin_len - d->bzs.avail_in;
    size_t produced = CHUNK - d->bzs.avail_out;
    if (rc == BZ_STREAM_END) {
      BZ2_bzDecompressEnd(&d->bzs);
      d->bz_active = 0;
    } else if (rc != BZ_OK) {
      BZ2_bzDecompressEnd(&d->bzs);
      d->bz_active = 0;
      uint64_t at = d->cin_base + d->cin_pos;
      /* a damaged block is only noticed at its end (its CRC): the offset is where that happened */
      return d->io_rc = bert_error_set(&d->io_err, BERT_EFORMAT,
                                       "%s: %s, detected at compressed byte offset %" PRIu64 " (after %" PRIu64
                                       " bytes of XML)",
                                       d->path,
                                       rc == BZ_DATA_ERROR_MAGIC ? "data that is not a bzip2 stream"
                                       : rc == BZ_MEM_ERROR      ? "out of memory in the bzip2 decoder"
                                                                 : "corrupt bzip2 data",
                                       at, d->base + d->len);
    } else if (!produced && d->cin_pos == d->cin_len && d->file_eof) {
      return d->io_rc = bert_error_set(&d->io_err, BERT_EFORMAT,
                                       "%s: truncated bzip2 stream: the file ends at compressed byte offset %" PRIu64
                                       " inside a stream (after %" PRIu64 " bytes of XML)",
                                       d->path, d->cin_base + d->cin_len, d->base + d->len);
    }
    if (produced) {
      d->len = produced;
      return 1;
    }
  }
}

/* Moves to the next buffer of XML: 1, 0 at the end, negative on error. */
static int refill(bert_wiki_dump *d) {
  if (d->io_rc) return d->io_rc;
  for (size_t i = d->line_pos; i < d->len; i++) d->lines += d->buf[i] == '\n';
  d->base += d->len;
  d->len = d->pos = d->line_pos = 0;
  if (d->bz) return fill_bz(d);
  if (d->file_eof) return 0;
  size_t got;
  if (read_file_chunk(d, d->buf, CHUNK, &got)) return d->io_rc;
  d->len = got;
  return got > 0;
}

/* Next XML byte, or -1 at the end or on an input error (d->io_rc tells which). */
static inline int next_byte(bert_wiki_dump *d) {
  if (d->pos < d->len || refill(d) > 0) return d->buf[d->pos++];
  return -1;
}

static inline int peek_byte(bert_wiki_dump *d) {
  if (d->pos < d->len || refill(d) > 0) return d->buf[d->pos];
  return -1;
}

static uint64_t cur_line(bert_wiki_dump *d) {
  for (; d->line_pos < d->pos; d->line_pos++) d->lines += d->buf[d->line_pos] == '\n';
  return d->lines + 1;
}

static uint64_t cur_offset(const bert_wiki_dump *d) { return d->base + d->pos; }

/* A syntax error at a given XML line and byte offset. */
static int syntax_at(bert_wiki_dump *d, bert_error *err, uint64_t line, uint64_t offset, const char *fmt,
                     const char *arg) {
  if (d->io_rc) {
    if (err) *err = d->io_err;
    return d->io_rc;
  }
  char what[1024];
  snprintf(what, sizeof what, fmt, arg);
  return bert_error_set(err, BERT_EFORMAT, "%s: line %" PRIu64 " (XML byte offset %" PRIu64 "): %s", d->path, line,
                        offset, what);
}

/* A syntax error at the byte just read. */
static int syntax(bert_wiki_dump *d, bert_error *err, const char *fmt, const char *arg) {
  uint64_t off = cur_offset(d) ? cur_offset(d) - 1 : 0;
  return syntax_at(d, err, cur_line(d), off, fmt, arg);
}

/* ---------------------------------------------------------------- open / close */

int bert_wiki_dump_open(bert_wiki_dump **out, const char *path, bert_error *err) {
  *out = NULL;
  bert_wiki_dump *d = calloc(1, sizeof *d);
  if (!d) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  snprintf(d->path, sizeof d->path, "%s", path);
  d->f = fopen(path, "rb");
  if (!d->f) {
    int e = errno;
    free(d);
    return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", path, strerror(e));
  }
  d->buf = malloc(CHUNK);
  d->cin = malloc(WINDOW);
  if (!d->buf || !d->cin) {
    bert_wiki_dump_close(d);
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  /* bzip2 by its magic: "BZh" and a block size digit */
  if (read_file_chunk(d, d->cin, CHUNK, &d->cin_len)) {
    if (err) *err = d->io_err;
    bert_wiki_dump_close(d);
    return BERT_EIO;
  }
  d->bz = d->cin_len >= 4 && !memcmp(d->cin, "BZh", 3) && d->cin[3] >= '1' && d->cin[3] <= '9';
  if (!d->bz) { /* plain XML: the first chunk is the first buffer */
    memcpy(d->buf, d->cin, d->cin_len);
    d->len = d->cin_len;
    d->cin_len = 0;
  }
  *out = d;
  return 0;
}

void bert_wiki_dump_close(bert_wiki_dump *d) {
  if (!d) return;
  if (d->bz_active) BZ2_bzDecompressEnd(&d->bzs);
  free_queue(d);
  free(d->queue);
  if (d->f) fclose(d->f);
  free(d->buf);
  free(d->cin);
  free(d->acc.p);
  for (size_t i = 0; i < d->n_ns; i++) free(d->ns_names[i]);
  free(d->ns_names);
  free(d);
}

void bert_wiki_page_free(bert_wiki_page *p) {
  free(p->title);
  free(p->text);
  memset(p, 0, sizeof *p);
}

const char *bert_wiki_dump_urlbase(const bert_wiki_dump *d) { return d->urlbase; }
size_t bert_wiki_dump_namespace_count(const bert_wiki_dump *d) { return d->n_ns; }
const char *bert_wiki_dump_namespace(const bert_wiki_dump *d, size_t i) { return d->ns_names[i]; }
uint64_t bert_wiki_dump_file_bytes(const bert_wiki_dump *d) {
  return d->bz ? d->cin_base + d->cin_pos : d->base + d->pos;
}
uint64_t bert_wiki_dump_xml_bytes(const bert_wiki_dump *d) { return d->base + d->pos; }

/* ---------------------------------------------------------------- captured text */

static int acc_push(bert_wiki_dump *d, const void *p, size_t n, bert_error *err) {
  if (d->cap == CAP_NONE) return 0;
  if (d->acc.len + n > d->cap_limit)
    return syntax(d, err, "%s", d->cap == CAP_TEXT ? "page text longer than the 256 MiB limit" : "element text too long");
  if (d->acc.len + n + 1 > d->acc.cap) {
    size_t cap = d->acc.cap ? d->acc.cap : 4096;
    while (cap < d->acc.len + n + 1) cap *= 2;
    char *q = realloc(d->acc.p, cap);
    if (!q) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory for a page of %zu bytes", d->path, cap);
    d->acc.p = q;
    d->acc.cap = cap;
  }
  memcpy(d->acc.p + d->acc.len, p, n);
  d->acc.len += n;
  d->acc.p[d->acc.len] = 0;
  return 0;
}

static int push_utf8(bert_wiki_dump *d, uint32_t cp, bert_error *err) {
  uint8_t b[4];
  size_t n;
  if (cp < 0x80) b[0] = (uint8_t)cp, n = 1;
  else if (cp < 0x800) b[0] = (uint8_t)(0xC0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000)
    b[0] = (uint8_t)(0xE0 | cp >> 12), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), b[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
  else
    b[0] = (uint8_t)(0xF0 | cp >> 18), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F)),
    b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (uint8_t)(0x80 | (cp & 0x3F)), n = 4;
  return acc_push(d, b, n, err);
}

/* After '&': decodes one entity or character reference into the capture. */
static int entity(bert_wiki_dump *d, bert_error *err) {
  uint64_t line = cur_line(d), at = cur_offset(d) - 1; /* the '&' */
  char name[16];
  size_t n = 0;
  int c;
  while ((c = next_byte(d)) != ';') {
    if (c < 0 || n + 1 >= sizeof name || c == '<' || c == '&' || c == ' ' || c == '\n') {
      name[n] = 0;
      return syntax_at(d, err, line, at, "bad entity '&%s' (a bare '&' must be written &amp;)", name);
    }
    name[n++] = (char)c;
  }
  name[n] = 0;
  static const struct { const char *name; char ch; } known[] = {
      {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
  for (size_t i = 0; i < 5; i++)
    if (!strcmp(name, known[i].name)) return acc_push(d, &known[i].ch, 1, err);
  if (name[0] != '#') return syntax_at(d, err, line, at, "unknown entity '&%s;'", name);
  char *end;
  int hex = name[1] == 'x';
  errno = 0;
  unsigned long cp = strtoul(name + 1 + hex, &end, hex ? 16 : 10);
  if (end == name + 1 + hex || *end || errno || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return syntax_at(d, err, line, at, "bad character reference '&%s;'", name);
  return push_utf8(d, (uint32_t)cp, err);
}

/* Character data up to the next '<' (left unread). Only whitespace may stand outside the root. */
static int text_run(bert_wiki_dump *d, bert_error *err) {
  for (;;) {
    if (d->pos == d->len && refill(d) <= 0) return d->io_rc ? syntax(d, err, "%s", "") : 0;
    const uint8_t *p = d->buf + d->pos, *end = d->buf + d->len, *q = p;
    while (q < end && *q != '<' && *q != '&') q++;
    if (d->depth == 0) {
      for (const uint8_t *s = p; s < q; s++)
        if (*s != ' ' && *s != '\n' && *s != '\r' && *s != '\t') {
          d->pos = (size_t)(s - d->buf) + 1;
          return syntax(d, err, "%s", d->root_done ? "text after the root element" : "text before the root element");
        }
    }
    int rc = acc_push(d, p, (size_t)(q - p), err);
    d->pos = (size_t)(q - d->buf);
    if (rc) return rc;
    if (q == end) continue;
    if (*q == '<') return 0;
    d->pos++;
    if ((rc = entity(d, err))) return rc;
  }
}

/* ---------------------------------------------------------------- markup */

static int is_name_byte(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
         c == '-' || c == '.' || c >= 0x80;
}

static int read_name(bert_wiki_dump *d, char *name, bert_error *err) {
  size_t n = 0;
  int c;
  while (is_name_byte(c = peek_byte(d))) {
    if (n + 1 >= MAX_NAME) return syntax(d, err, "%s", "element or attribute name too long");
    name[n++] = (char)c;
    d->pos++;
  }
  name[n] = 0;
  if (!n) return syntax(d, err, "%s", c < 0 ? "unexpected end of the XML inside a tag" : "expected a name");
  return 0;
}

static int skip_space(bert_wiki_dump *d) {
  int c;
  while ((c = peek_byte(d)) == ' ' || c == '\n' || c == '\t' || c == '\r') d->pos++;
  return c;
}

/* Skips to the end of `term` (comments, processing instructions); `what` names it in errors. */
static int skip_until(bert_wiki_dump *d, const char *term, const char *what, bert_error *err) {
  size_t n = strlen(term), matched = 0;
  uint64_t line = cur_line(d);
  int c;
  while ((c = next_byte(d)) >= 0) {
    if (c == term[matched]) {
      if (++matched == n) return 0;
    } else if (!(matched == 2 && term[0] == term[1] && c == term[0])) { /* "--->" still ends a comment */
      matched = c == term[0];
    }
  }
  char msg[128];
  snprintf(msg, sizeof msg, "unexpected end of the XML inside a %s opened at line %" PRIu64, what, line);
  return syntax(d, err, "%s", msg);
}

/* CDATA content is literal text. */
static int cdata(bert_wiki_dump *d, bert_error *err) {
  uint64_t line = cur_line(d);
  int c, brackets = 0;
  while ((c = next_byte(d)) >= 0) {
    if (c == ']') {
      brackets++;
      continue;
    }
    int rc = 0;
    if (c == '>' && brackets >= 2) {
      for (int i = 2; i < brackets && !rc; i++) rc = acc_push(d, "]", 1, err);
      return rc;
    }
    for (; brackets > 0 && !rc; brackets--) rc = acc_push(d, "]", 1, err);
    char ch = (char)c;
    if (!rc) rc = acc_push(d, &ch, 1, err);
    if (rc) return rc;
  }
  char msg[96];
  snprintf(msg, sizeof msg, "unexpected end of the XML inside CDATA opened at line %" PRIu64, line);
  return syntax(d, err, "%s", msg);
}

/* After "<!": a comment, CDATA or a DOCTYPE without internal subset. */
static int bang(bert_wiki_dump *d, bert_error *err) {
  char head[8] = {0};
  for (int i = 0; i < 2; i++) {
    int c = next_byte(d);
    if (c < 0) return syntax(d, err, "%s", "unexpected end of the XML after '<!'");
    head[i] = (char)c;
  }
  if (!strcmp(head, "--")) return skip_until(d, "-->", "comment", err);
  if (!strcmp(head, "[C")) {
    for (int i = 2; i < 7; i++) {
      int c = next_byte(d);
      head[i] = c < 0 ? 0 : (char)c;
    }
    if (strcmp(head, "[CDATA[")) return syntax(d, err, "%s", "malformed '<![CDATA['");
    return cdata(d, err);
  }
  if (d->depth == 0 && !strcmp(head, "DO")) {
    int c;
    while ((c = next_byte(d)) >= 0 && c != '>')
      if (c == '[') return syntax(d, err, "%s", "DOCTYPE with an internal subset is not supported");
    return c < 0 ? syntax(d, err, "%s", "unexpected end of the XML in DOCTYPE") : 0;
  }
  return syntax(d, err, "%s", "'<!' not followed by a comment or CDATA");
}

/* Attribute value (quoted), decoded; kept only for <namespace key="..">. */
static int attribute(bert_wiki_dump *d, const char *elem, bert_error *err) {
  char name[MAX_NAME];
  int rc = read_name(d, name, err);
  if (rc) return rc;
  if (skip_space(d) != '=') return syntax(d, err, "attribute '%s' without a value", name);
  d->pos++;
  int q = skip_space(d);
  if (q != '"' && q != '\'') return syntax(d, err, "attribute '%s': value not in quotes", name);
  d->pos++;
  capture saved = d->cap;
  size_t saved_len = d->acc.len;
  int keep = !strcmp(elem, "namespace") && !strcmp(name, "key");
  d->cap = keep ? CAP_NSNAME : CAP_NONE;
  size_t saved_limit = d->cap_limit;
  if (keep) d->cap_limit = saved_len + sizeof d->ns_key - 1;
  int c;
  while ((c = next_byte(d)) != q) {
    if (c < 0 || c == '<') {
      d->cap = saved;
      return syntax(d, err, "attribute '%s': unterminated value", name);
    }
    if (c == '&') rc = entity(d, err);
    else {
      char ch = (char)c;
      rc = acc_push(d, &ch, 1, err);
    }
    if (rc) {
      d->cap = saved;
      return rc;
    }
  }
  if (keep) { /* an empty key="" before any text leaves the accumulator unallocated */
    const char *value = d->acc.p ? d->acc.p + saved_len : "";
    snprintf(d->ns_key, sizeof d->ns_key, "%.*s", (int)(d->acc.len - saved_len), value);
    d->acc.len = saved_len;
  }
  d->cap = saved;
  d->cap_limit = saved_limit;
  return 0;
}

static const char *parent(const bert_wiki_dump *d, int up) {
  int i = d->depth - 1 - up;
  return i >= 0 && i < MAX_DEPTH ? d->names[i] : "";
}

static void begin_capture(bert_wiki_dump *d, capture c, size_t limit) {
  d->cap = c;
  d->cap_limit = limit;
  d->acc.len = 0;
  if (d->acc.p) d->acc.p[0] = 0;
}

/* Element start: decides what to collect. d->names[d->depth-1] is the new element. */
static void on_start(bert_wiki_dump *d, bert_wiki_page *page, uint64_t line, uint64_t offset) {
  const char *name = parent(d, 0), *up = parent(d, 1);
  if (!strcmp(name, "page") && d->depth == 2) {
    d->in_page = 1;
    d->page_depth = d->depth;
    page->title_len = page->text_len = 0;
    if (page->title) page->title[0] = 0;
    if (page->text) page->text[0] = 0;
    page->id[0] = 0;
    page->ns = -1000;
    page->redirect = 0;
    page->line = line;
    page->offset = offset;
  } else if (d->in_page && d->depth == d->page_depth + 1) {
    if (!strcmp(name, "title")) begin_capture(d, CAP_TITLE, MAX_TITLE);
    else if (!strcmp(name, "ns")) begin_capture(d, CAP_NS, 31);
    else if (!strcmp(name, "id") && !page->id[0]) begin_capture(d, CAP_ID, 31);
    else if (!strcmp(name, "redirect")) page->redirect = 1;
  } else if (d->in_page && !strcmp(name, "text") && !strcmp(up, "revision") && d->depth == d->page_depth + 2) {
    begin_capture(d, CAP_TEXT, BERT_WIKI_MAX_PAGE_BYTES);
  } else if (!d->in_page && !strcmp(name, "base") && !strcmp(up, "siteinfo")) {
    begin_capture(d, CAP_BASE, MAX_SMALL - 1);
  } else if (!d->in_page && !strcmp(name, "namespace") && !strcmp(up, "namespaces")) {
    begin_capture(d, CAP_NSNAME, MAX_SMALL - 1);
  }
}

/* Moves the collected bytes into a page buffer (swapping, so no copy of large texts). */
static void take(grow *acc, char **dst, size_t *len, size_t *cap) {
  char *p = *dst;
  size_t c = *cap;
  if (!acc->p) { /* nothing was collected */
    if (p) p[0] = 0;
    *len = 0;
    return;
  }
  *dst = acc->p;
  *len = acc->len;
  *cap = acc->cap;
  acc->p = p;
  acc->cap = c;
  acc->len = 0;
}

static int add_namespace(bert_wiki_dump *d, bert_error *err) {
  if (!d->acc.len || !strcmp(d->ns_key, "0")) return 0;
  char **names = realloc(d->ns_names, (d->n_ns + 1) * sizeof *names);
  if (!names) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  d->ns_names = names;
  if (!(names[d->n_ns] = strndup(d->acc.p, d->acc.len))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  d->n_ns++;
  return 0;
}

/* Element end: stores what was collected; returns 1 when a page is complete. */
static int on_end(bert_wiki_dump *d, bert_wiki_page *page, bert_error *err) {
  capture c = d->cap;
  d->cap = CAP_NONE;
  char *end;
  switch (c) {
    case CAP_TITLE: take(&d->acc, &page->title, &page->title_len, &page->title_cap); break;
    case CAP_TEXT: take(&d->acc, &page->text, &page->text_len, &page->text_cap); break;
    case CAP_ID: snprintf(page->id, sizeof page->id, "%s", d->acc.p ? d->acc.p : ""); break;
    case CAP_NS: {
      long v = strtol(d->acc.p ? d->acc.p : "", &end, 10);
      if (!d->acc.p || end == d->acc.p || *end || v < -1000000 || v > 1000000)
        return syntax(d, err, "bad <ns> value '%s'", d->acc.p ? d->acc.p : "");
      page->ns = (int)v;
      break;
    }
    case CAP_BASE: {
      const char *b = d->acc.p ? d->acc.p : "";
      const char *slash = strrchr(b, '/');
      snprintf(d->urlbase, sizeof d->urlbase, "%.*s", (int)(slash ? slash - b : 0), b);
      break;
    }
    case CAP_NSNAME: {
      int rc = add_namespace(d, err);
      if (rc) return rc;
      break;
    }
    case CAP_NONE: break;
  }
  if (d->in_page && d->depth == d->page_depth - 1) { /* </page> */
    d->in_page = 0;
    if (!page->title) {
      if (!(page->title = calloc(1, 1))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
      page->title_cap = 1;
    }
    if (!page->text) {
      if (!(page->text = calloc(1, 1))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
      page->text_cap = 1;
    }
    return 1;
  }
  return 0;
}

static int start_tag(bert_wiki_dump *d, bert_wiki_page *page, uint64_t line, uint64_t offset, bert_error *err) {
  if (d->depth == 0 && d->root_done) return syntax(d, err, "%s", "a second root element");
  if (d->depth >= MAX_DEPTH) return syntax(d, err, "%s", "elements nested too deeply");
  int rc = read_name(d, d->names[d->depth], err);
  if (rc) return rc;
  d->open_line[d->depth] = line;
  d->depth++;
  on_start(d, page, line, offset);
  for (;;) {
    int c = skip_space(d);
    if (c == '>') {
      d->pos++;
      return 0;
    }
    if (c == '/') {
      d->pos++;
      if (next_byte(d) != '>') return syntax(d, err, "%s", "'/' in a tag not followed by '>'");
      d->depth--;
      rc = on_end(d, page, err);
      if (d->depth == 0) d->root_done = 1;
      return rc;
    }
    if (c < 0) return syntax(d, err, "unexpected end of the XML inside <%s>", d->names[d->depth - 1]);
    if ((rc = attribute(d, d->names[d->depth - 1], err))) return rc;
  }
}

static int end_tag(bert_wiki_dump *d, bert_wiki_page *page, uint64_t line, uint64_t offset, bert_error *err) {
  char name[MAX_NAME];
  int rc = read_name(d, name, err);
  if (rc) return rc;
  if (skip_space(d) != '>') return syntax(d, err, "</%s> not closed by '>'", name);
  d->pos++;
  if (d->depth == 0) return syntax_at(d, err, line, offset, "closing tag </%s> without an open element", name);
  if (strcmp(name, d->names[d->depth - 1])) {
    char msg[2 * MAX_NAME + 96];
    snprintf(msg, sizeof msg, "closing tag </%s> does not match <%s> opened at line %" PRIu64, name,
             d->names[d->depth - 1], d->open_line[d->depth - 1]);
    return syntax_at(d, err, line, offset, "%s", msg);
  }
  d->depth--;
  if (d->depth == 0) d->root_done = 1;
  return on_end(d, page, err);
}

/* After '<'. Returns 1 when a page was completed. */
static int markup(bert_wiki_dump *d, bert_wiki_page *page, bert_error *err) {
  uint64_t line = cur_line(d), offset = cur_offset(d) - 1;
  int c = peek_byte(d);
  if (c == '?') return skip_until(d, "?>", "processing instruction", err);
  if (c == '!') {
    d->pos++;
    return bang(d, err);
  }
  if (c == '/') {
    d->pos++;
    return end_tag(d, page, line, offset, err);
  }
  if (c >= 0 && is_name_byte(c) && c != '-' && c != '.' && !(c >= '0' && c <= '9'))
    return start_tag(d, page, line, offset, err);
  return syntax(d, err, "%s", c < 0 ? "unexpected end of the XML after '<'" : "'<' not followed by a tag name");
}

int bert_wiki_dump_next(bert_wiki_dump *d, bert_wiki_page *page, bert_error *err) {
  if (d->io_rc) {
    if (err) *err = d->io_err;
    return d->io_rc;
  }
  for (;;) {
    int rc = text_run(d, err);
    if (rc) return rc;
    int c = next_byte(d);
    if (c < 0) {
      if (d->io_rc) return syntax(d, err, "%s", "");
      if (d->depth == 1 && !d->in_page) {
        /* Cut after a whole page (WikiExtractor's own test dump ends so): keep what was read. */
        bert_warn("%s: the XML ends at line %" PRIu64 " without </%s> (a truncated dump?); all %s pages were read",
                  d->path, cur_line(d), d->names[0], "complete");
        d->depth = 0;
        d->root_done = 1;
        return 0;
      }
      if (d->depth > 0) {
        char msg[MAX_NAME + 96];
        snprintf(msg, sizeof msg, "unexpected end of the XML inside <%s> opened at line %" PRIu64,
                 d->names[d->depth - 1], d->open_line[d->depth - 1]);
        return syntax(d, err, "%s", msg);
      }
      if (!d->root_done) return syntax(d, err, "%s", "no XML element in the file");
      return 0;
    }
    if ((rc = markup(d, page, err))) return rc < 0 ? rc : 1;
  }
}
