#include "data/corpus.h"

#include <errno.h>
#include <inttypes.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/unicode.h"

/* Text is cut into chunks of about this size at line ends; a wave of chunks (a few per thread) is
 * tokenized in parallel, then appended in order. */
#define CHUNK_BYTES ((size_t)256 << 10)
#define CHUNKS_PER_THREAD 4
#define NO_ERROR ((size_t)-1)

typedef struct chunk {
  size_t begin, end;   /* byte range of whole lines */
  int32_t *tokens;
  size_t n_tokens, cap_tokens;
  int32_t *events;     /* > 0: a sentence of that many tokens; -1: a document boundary */
  size_t n_events, cap_events;
  size_t lines;
  size_t bad_line;     /* line (0-based, in the chunk) of the first invalid UTF-8, or NO_ERROR */
  size_t bad_offset;   /* its byte offset in the text */
  int rc;              /* allocation failure */
} chunk;

void bert_corpus_init(bert_corpus *c) {
  memset(c, 0, sizeof *c);
}

void bert_corpus_free(bert_corpus *c) {
  free(c->tokens);
  free(c->sentences);
  free(c->documents);
  memset(c, 0, sizeof *c);
}

void bert_corpus_clear(bert_corpus *c) {
  c->n_tokens = c->n_sentences = c->n_documents = 0;
  c->lines = c->bytes = 0;
  if (c->sentences) c->sentences[0] = 0;
  if (c->documents) c->documents[0] = 0;
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 1024;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return BERT_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

/* The corpus always holds the end markers sentences[n_sentences] and documents[n_documents]. */
static int ensure_markers(bert_corpus *c, bert_error *err) {
  if (reserve((void **)&c->sentences, &c->cap_sentences, c->n_sentences + 2, sizeof(size_t)) ||
      reserve((void **)&c->documents, &c->cap_documents, c->n_documents + 2, sizeof(size_t)))
    return bert_error_set(err, BERT_ENOMEM, "out of memory holding %zu sentences", c->n_sentences);
  if (c->n_sentences == 0) c->sentences[0] = 0;
  if (c->n_documents == 0) c->documents[0] = 0;
  return BERT_OK;
}

/* Closes the open document if it has sentences; an empty one is simply not kept. */
static void end_document(bert_corpus *c) {
  if (c->n_sentences > c->documents[c->n_documents]) c->documents[++c->n_documents] = c->n_sentences;
}

/* ---------------------------------------------------------------- one chunk (any thread) */

static size_t first_invalid_utf8(const char *text, size_t len) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
  size_t i = 0;
  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
    if (n <= 0 || cp < 0) return i;
    i += (size_t)n;
  }
  return NO_ERROR;
}

static int ascii_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
  return 1;
}

/* Python's str.strip() also removes Unicode spaces and \x1c-\x1f, \x85: such a line is blank. */
static int unicode_blank(const char *s, size_t n) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
  for (size_t i = 0; i < n;) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
    if (k <= 0) return 0;
    int space = bert_unicode_class(cp) == BERT_CHAR_SPACE || cp == 0x0b || cp == 0x0c ||
                (cp >= 0x1c && cp <= 0x1f) || cp == 0x85;
    if (!space) return 0;
    i += (size_t)k;
  }
  return 1;
}

static int push_event(chunk *ch, int32_t ev) {
  if (reserve((void **)&ch->events, &ch->cap_events, ch->n_events + 1, sizeof(int32_t))) return BERT_ENOMEM;
  ch->events[ch->n_events++] = ev;
  return 0;
}

static int process_line(chunk *ch, const char *line, size_t len, const bert_tokenizer *tok, bert_tokens *scratch) {
  if (len && line[len - 1] == '\r') len--;
  if (ascii_blank(line, len)) return push_event(ch, -1);
  bert_error err;
  if (bert_tokenize(tok, line, len, scratch, &err)) return BERT_ENOMEM;
  if (scratch->count == 0) return unicode_blank(line, len) ? push_event(ch, -1) : 0;
  if (scratch->count > INT32_MAX ||
      reserve((void **)&ch->tokens, &ch->cap_tokens, ch->n_tokens + scratch->count, sizeof(int32_t)))
    return BERT_ENOMEM;
  memcpy(ch->tokens + ch->n_tokens, scratch->ids, scratch->count * sizeof(int32_t));
  ch->n_tokens += scratch->count;
  return push_event(ch, (int32_t)scratch->count);
}

static void process_chunk(chunk *ch, const char *text, const bert_tokenizer *tok, bert_tokens *scratch) {
  const char *p = text + ch->begin, *end = text + ch->end;
  size_t bad = first_invalid_utf8(p, (size_t)(end - p));
  if (bad != NO_ERROR) {
    ch->bad_offset = ch->begin + bad;
    ch->bad_line = 0;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + bad - q))) != NULL; q++) ch->bad_line++;
    return;
  }
  while (p < end && !ch->rc) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    ch->rc = process_line(ch, p, (size_t)(line_end - p), tok, scratch);
    ch->lines++;
    p = nl ? nl + 1 : end;
  }
}

/* ---------------------------------------------------------------- merging (one thread) */

static int merge_chunk(bert_corpus *c, const chunk *ch, bert_error *err) {
  if (reserve((void **)&c->tokens, &c->cap_tokens, c->n_tokens + ch->n_tokens, sizeof(int32_t)))
    return bert_error_set(err, BERT_ENOMEM, "out of memory holding %zu tokens", c->n_tokens + ch->n_tokens);
  if (ch->n_tokens) memcpy(c->tokens + c->n_tokens, ch->tokens, ch->n_tokens * sizeof(int32_t));
  for (size_t i = 0; i < ch->n_events; i++) {
    int rc = ensure_markers(c, err);
    if (rc) return rc;
    if (ch->events[i] < 0) {
      end_document(c);
      continue;
    }
    c->n_tokens += (size_t)ch->events[i];
    c->sentences[++c->n_sentences] = c->n_tokens;
  }
  c->lines += ch->lines;
  return BERT_OK;
}

static void reset_chunk(chunk *ch, size_t begin, size_t end) {
  ch->begin = begin;
  ch->end = end;
  ch->n_tokens = ch->n_events = ch->lines = 0;
  ch->bad_line = ch->bad_offset = NO_ERROR;
  ch->rc = 0;
}

/* Cuts the next chunk at a line end. */
static size_t chunk_end(const char *text, size_t len, size_t begin) {
  if (len - begin <= CHUNK_BYTES) return len;
  const char *nl = memchr(text + begin + CHUNK_BYTES, '\n', len - begin - CHUNK_BYTES);
  return nl ? (size_t)(nl - text) + 1 : len;
}

typedef struct wave_state {
  chunk *chunks;
  size_t n_chunks;
  bert_tokens *scratch; /* one per thread */
  int threads;
} wave_state;

static void run_wave(wave_state *w, size_t count, const char *text, const bert_tokenizer *tok,
                     bert_progress *progress, uint64_t *bytes_done) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(w->threads)
  for (size_t i = 0; i < count; i++) {
    chunk *ch = &w->chunks[i];
    process_chunk(ch, text, tok, &w->scratch[omp_get_thread_num()]);
#pragma omp atomic
    *bytes_done += ch->end - ch->begin;
    if (progress && omp_get_thread_num() == 0) {
      uint64_t done;
#pragma omp atomic read
      done = *bytes_done;
      bert_progress_set(progress, done);
    }
  }
}

/* Where a piece of text sits in its file, for messages and the progress bar. */
typedef struct cursor {
  const char *name;
  uint64_t offset; /* file offset of the piece's first byte */
  size_t lines;    /* lines of the file before it */
  uint64_t done;   /* progress value */
} cursor;

/* Appends a wave's chunks in order; the first bad chunk stops it with a message. */
static int merge_wave(bert_corpus *c, const wave_state *w, size_t count, cursor *at, bert_error *err) {
  for (size_t i = 0; i < count; i++) {
    const chunk *ch = &w->chunks[i];
    if (ch->bad_offset != NO_ERROR)
      return bert_error_set(err, BERT_EFORMAT, "%s: line %zu (byte offset %" PRIu64 "): invalid UTF-8", at->name,
                            at->lines + ch->bad_line + 1, at->offset + ch->bad_offset);
    if (ch->rc) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory tokenizing", at->name);
    int rc = merge_chunk(c, ch, err);
    if (rc) return rc;
    at->lines += ch->lines;
  }
  return BERT_OK;
}

static void free_wave(wave_state *w) {
  for (size_t i = 0; i < w->n_chunks && w->chunks; i++) {
    free(w->chunks[i].tokens);
    free(w->chunks[i].events);
  }
  for (int t = 0; t < w->threads && w->scratch; t++) bert_tokens_free(&w->scratch[t]);
  free(w->chunks);
  free(w->scratch);
}

static int init_wave(wave_state *w, int threads, bert_error *err) {
  w->threads = threads > 0 ? threads : omp_get_max_threads();
  w->n_chunks = (size_t)w->threads * CHUNKS_PER_THREAD;
  w->chunks = calloc(w->n_chunks, sizeof *w->chunks);
  w->scratch = calloc((size_t)w->threads, sizeof *w->scratch);
  if (!w->chunks || !w->scratch) {
    free_wave(w);
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  return BERT_OK;
}

/* Tokenizes whole lines of text, wave by wave, and appends them. */
static int add_lines(bert_corpus *c, wave_state *w, cursor *at, const char *text, size_t len,
                     const bert_tokenizer *tok, bert_progress *progress, bert_error *err) {
  size_t pos = 0;
  int rc = 0;
  while (pos < len && !rc) {
    size_t count = 0;
    for (; count < w->n_chunks && pos < len; count++) {
      size_t end = chunk_end(text, len, pos);
      reset_chunk(&w->chunks[count], pos, end);
      pos = end;
    }
    run_wave(w, count, text, tok, progress, &at->done);
    rc = merge_wave(c, w, count, at, err);
  }
  at->offset += len;
  return rc;
}

int bert_corpus_add_text(bert_corpus *c, const char *name, const char *text, size_t len,
                         const bert_tokenizer *tok, int threads, bert_progress *progress, bert_error *err) {
  wave_state w = {0};
  int rc = ensure_markers(c, err);
  if (!rc) rc = init_wave(&w, threads, err);
  if (rc) return rc;
  end_document(c); /* a file always starts a document */
  cursor at = {name, 0, 0, progress ? progress->done : 0};
  rc = add_lines(c, &w, &at, text, len, tok, progress, err);
  if (!rc) rc = ensure_markers(c, err);
  if (!rc) end_document(c);
  c->bytes += len;
  free_wave(&w);
  return rc;
}

/* ---------------------------------------------------------------- streaming a file */

typedef struct block {
  char *buf;
  size_t cap, len; /* bytes held; the first `len` are unprocessed */
} block;

/* Reads more of the file after what the block holds; returns bytes read (0 at the end). */
static size_t fill_block(block *b, FILE *f, bert_error *err, const char *path, int *rc) {
  if (b->len == b->cap) {
    char *p = realloc(b->buf, 2 * b->cap); /* a line longer than the block */
    if (!p) return *rc = bert_error_set(err, BERT_ENOMEM, "%s: out of memory for a long line", path), 0;
    b->buf = p;
    b->cap *= 2;
  }
  size_t n = fread(b->buf + b->len, 1, b->cap - b->len, f);
  if (ferror(f)) *rc = bert_error_set(err, BERT_EIO, "%s: read error", path);
  b->len += n;
  return n;
}

/* Streams the file through a block of a few waves' size: whole lines are tokenized, a partial last
 * line waits for the next read, so memory does not grow with the file. */
static int stream_file(bert_corpus *c, wave_state *w, FILE *f, cursor *at, const bert_tokenizer *tok,
                       bert_progress *progress, bert_error *err) {
  block b = {malloc(4 * w->n_chunks * CHUNK_BYTES), 4 * w->n_chunks * CHUNK_BYTES, 0};
  if (!b.buf) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", at->name);
  int rc = 0, eof = 0;
  while (!rc && !eof) {
    eof = fill_block(&b, f, err, at->name, &rc) == 0;
    if (rc) break;
    char *nl = eof ? NULL : memrchr(b.buf, '\n', b.len);
    size_t take = eof ? b.len : nl ? (size_t)(nl - b.buf) + 1 : 0;
    if (take) rc = add_lines(c, w, at, b.buf, take, tok, progress, err);
    memmove(b.buf, b.buf + take, b.len - take);
    b.len -= take;
    c->bytes += take;
  }
  free(b.buf);
  return rc;
}

int bert_corpus_add_file(bert_corpus *c, const char *path, const bert_tokenizer *tok, int threads,
                         bert_progress *progress, bert_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", path, strerror(errno));
  wave_state w = {0};
  int rc = ensure_markers(c, err);
  if (!rc) rc = init_wave(&w, threads, err);
  if (!rc) {
    end_document(c);
    cursor at = {path, 0, 0, progress ? progress->done : 0};
    rc = stream_file(c, &w, f, &at, tok, progress, err);
    if (!rc) rc = ensure_markers(c, err);
    if (!rc) end_document(c);
    free_wave(&w);
  }
  fclose(f);
  return rc;
}
