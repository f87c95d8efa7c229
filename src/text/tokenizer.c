#include "text/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/unicode.h"

const char *const bert_never_split_specials[] = {"[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", NULL};

/* Words longer than this are [UNK] anyway; the cap bounds the per-word scratch buffers. */
#define MAX_WORD_CHARS_LIMIT 65536

/* What a byte of input starts. ASCII is classified by table so the common case never calls into
 * utf8proc; SPECIAL marks the first byte of a never-split token. */
enum { B_WORD, B_SPACE, B_DROP, B_PUNCT, B_HIGH, B_SPECIAL };

/* FNV-1a, fed one byte at a time so that one pass over a word yields the hash of every prefix. */
#define FNV_INIT 1469598103934665603ull
#define FNV_PRIME 1099511628211ull
static inline uint64_t fnv_step(uint64_t h, unsigned char c) { return (h ^ c) * FNV_PRIME; }

/* A vocabulary entry keyed by its first 8 bytes, so that checking a candidate piece of up to 8
 * bytes (nearly all of them) touches one cache line: lookups are the tokenizer's main cost. */
typedef struct piece_slot {
  uint64_t head; /* the first 8 bytes of the piece without "##", zero-padded */
  int32_t id;    /* -1 = empty slot */
  uint16_t len;  /* bytes without "##" */
  uint16_t cont; /* 1 for a "##" continuation piece */
} piece_slot;

typedef struct never_split {
  const char *text; /* the vocabulary's copy */
  size_t len;
  int32_t id;
} never_split;

struct bert_tokenizer {
  const bert_vocab *vocab;
  int lower_case, max_word_chars;
  int32_t unk_id;
  piece_slot *slots;
  size_t mask;
  size_t max_piece_bytes;  /* longest token without its "##" */
  uint64_t cont_hash;      /* FNV state after "##" */
  uint8_t byte_class[256]; /* B_* with B_SPECIAL where a never-split token may start */
  uint8_t base_class[256]; /* B_* without B_SPECIAL */
  uint8_t ascii_map[128];  /* lower-cased in uncased mode */
  int32_t ascii_id[128];   /* id of the one-character word */
  never_split *never;
  size_t never_count;
};

struct bert_tokens_scratch {
  char *word;     /* the current word, normalised */
  size_t *lo;     /* per byte of word: the source span of the character it came from */
  size_t *hi;
  uint64_t *hash; /* hash[k] = hash of word[s, k) during a WordPiece step starting at s */
  size_t cap;     /* bytes `word` holds; lo, hi and hash hold cap + 1 */
};

/* ---------------------------------------------------------------- creation */

void bert_tokenizer_options_default(bert_tokenizer_options *opts) {
  opts->lower_case = 1;
  opts->max_word_chars = 100;
  opts->never_split = NULL;
}

/* The first min(len, 8) bytes of s as a little-endian number, the rest zero. s must be readable
 * for 8 bytes. */
static inline uint64_t head_of(const char *s, size_t len) {
  uint64_t v;
  memcpy(&v, s, 8);
  return len >= 8 ? v : v & ((1ull << (8 * len)) - 1);
}

static int build_pieces(bert_tokenizer *tok, bert_error *err) {
  const bert_vocab *v = tok->vocab;
  size_t count = 16;
  while (count < (size_t)v->size * 2) count <<= 1;
  tok->slots = malloc(count * sizeof *tok->slots);
  if (!tok->slots) return bert_error_set(err, BERT_ENOMEM, "tokenizer: out of memory");
  for (size_t i = 0; i < count; i++) tok->slots[i].id = -1;
  tok->mask = count - 1;
  for (int id = 0; id < v->size; id++) {
    const char *t = v->tokens[id];
    size_t len = strlen(t);
    if (bert_vocab_find(v, t, len) != id) continue; /* a duplicate line: the vocabulary's choice */
    uint64_t h = FNV_INIT;
    for (size_t k = 0; k < len; k++) h = fnv_step(h, (unsigned char)t[k]);
    int cont = len > 2 && t[0] == '#' && t[1] == '#';
    size_t bare = len - (cont ? 2 : 0);
    if (bare > UINT16_MAX) continue; /* cannot match: words are shorter */
    char head[8] = {0};
    memcpy(head, t + (cont ? 2 : 0), bare < 8 ? bare : 8);
    size_t slot = h & tok->mask;
    while (tok->slots[slot].id >= 0) slot = (slot + 1) & tok->mask;
    tok->slots[slot] = (piece_slot){head_of(head, 8), id, (uint16_t)bare, (uint16_t)cont};
    if (bare > tok->max_piece_bytes) tok->max_piece_bytes = bare;
  }
  tok->cont_hash = fnv_step(fnv_step(FNV_INIT, '#'), '#');
  return BERT_OK;
}

/* The id of s[0, len) (preceded by "##" when cont), whose hash (including "##") is h, or -1.
 * s must be readable for 8 bytes. */
static int find_piece(const bert_tokenizer *tok, uint64_t h, const char *s, size_t len, int cont) {
  uint64_t head = head_of(s, len);
  for (size_t slot = h & tok->mask; tok->slots[slot].id >= 0; slot = (slot + 1) & tok->mask) {
    const piece_slot *p = &tok->slots[slot];
    if (p->head != head || p->len != len || p->cont != cont) continue;
    if (len <= 8 || !memcmp(tok->vocab->tokens[p->id] + (cont ? 2 : 0) + 8, s + 8, len - 8))
      return p->id;
  }
  return -1;
}

static int lookup(const bert_tokenizer *tok, const char *s, size_t len) {
  uint64_t h = FNV_INIT;
  for (size_t k = 0; k < len; k++) h = fnv_step(h, (unsigned char)s[k]);
  return find_piece(tok, h, s, len, 0);
}

static void build_ascii_tables(bert_tokenizer *tok) {
  for (int c = 0; c < 256; c++) {
    uint8_t k = B_HIGH;
    if (c < 128) {
      bert_char_class cls = bert_unicode_class(c);
      k = cls == BERT_CHAR_SPACE ? B_SPACE
          : cls == BERT_CHAR_DROP ? B_DROP
          : cls == BERT_CHAR_PUNCT ? B_PUNCT
                                   : B_WORD;
      tok->ascii_map[c] = (uint8_t)((tok->lower_case && c >= 'A' && c <= 'Z') ? c + 32 : c);
      char ch[8] = {(char)tok->ascii_map[c]};
      int id = tok->max_word_chars >= 1 ? lookup(tok, ch, 1) : -1;
      tok->ascii_id[c] = id >= 0 ? id : tok->unk_id;
    }
    tok->byte_class[c] = tok->base_class[c] = k;
  }
}

static int add_never_split(bert_tokenizer *tok, const char *const *list, bert_error *err) {
  size_t n = 0;
  while (list && list[n]) n++;
  if (!n) return BERT_OK;
  tok->never = calloc(n, sizeof *tok->never);
  if (!tok->never) return bert_error_set(err, BERT_ENOMEM, "tokenizer: out of memory");
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(list[i]);
    int id = len ? bert_vocab_find(tok->vocab, list[i], len) : -1;
    if (id < 0)
      return bert_error_set(err, BERT_EINVAL, "never-split token '%s' is not in the vocabulary",
                            list[i]);
    tok->never[i] = (never_split){tok->vocab->tokens[id], len, id};
    tok->byte_class[(unsigned char)list[i][0]] = B_SPECIAL;
  }
  tok->never_count = n;
  return BERT_OK;
}

int bert_tokenizer_create(bert_tokenizer **out, const bert_vocab *vocab,
                          const bert_tokenizer_options *opts, bert_error *err) {
  *out = NULL;
  if (opts->max_word_chars < 0 || opts->max_word_chars > MAX_WORD_CHARS_LIMIT)
    return bert_error_set(err, BERT_EINVAL, "max_word_chars must be between 0 and %d, not %d",
                          MAX_WORD_CHARS_LIMIT, opts->max_word_chars);
  bert_tokenizer *tok = calloc(1, sizeof *tok);
  if (!tok) return bert_error_set(err, BERT_ENOMEM, "tokenizer: out of memory");
  tok->vocab = vocab;
  tok->lower_case = opts->lower_case != 0;
  tok->max_word_chars = opts->max_word_chars;
  tok->unk_id = bert_vocab_find(vocab, "[UNK]", 5);
  int rc = tok->unk_id < 0 ? bert_error_set(err, BERT_EFORMAT, "the vocabulary has no [UNK] token")
                           : build_pieces(tok, err);
  if (!rc) {
    build_ascii_tables(tok);
    rc = add_never_split(tok, opts->never_split, err);
  }
  if (rc) {
    bert_tokenizer_free(tok);
    return rc;
  }
  *out = tok;
  return BERT_OK;
}

void bert_tokenizer_free(bert_tokenizer *tok) {
  if (!tok) return;
  free(tok->slots);
  free(tok->never);
  free(tok);
}

const bert_vocab *bert_tokenizer_vocab(const bert_tokenizer *tok) { return tok->vocab; }
int bert_tokenizer_unk_id(const bert_tokenizer *tok) { return tok->unk_id; }
int bert_tokenizer_lower_case(const bert_tokenizer *tok) { return tok->lower_case; }

/* ---------------------------------------------------------------- output */

void bert_tokens_init(bert_tokens *out) { memset(out, 0, sizeof *out); }

void bert_tokens_free(bert_tokens *out) {
  free(out->ids);
  free(out->starts);
  free(out->ends);
  if (out->scratch) {
    free(out->scratch->word);
    free(out->scratch->lo);
    free(out->scratch->hi);
    free(out->scratch->hash);
    free(out->scratch);
  }
  memset(out, 0, sizeof *out);
}

static int grow_tokens(bert_tokens *out) {
  size_t cap = out->capacity ? out->capacity * 2 : 256;
  int32_t *ids = realloc(out->ids, cap * sizeof *ids);
  if (ids) out->ids = ids;
  size_t *starts = realloc(out->starts, cap * sizeof *starts);
  if (starts) out->starts = starts;
  size_t *ends = realloc(out->ends, cap * sizeof *ends);
  if (ends) out->ends = ends;
  if (!ids || !starts || !ends) return BERT_ENOMEM;
  out->capacity = cap;
  return BERT_OK;
}

/* Sizes the word buffers for the longest word this tokenizer looks into: max_word_chars + 1
 * characters (one more makes it over-long) plus the up to 3 extra characters one input character
 * may expand to, at 4 bytes each. */
static int reserve_scratch(bert_tokens *out, int max_word_chars) {
  size_t need = ((size_t)max_word_chars + 5) * 4;
  struct bert_tokens_scratch *s = out->scratch;
  if (!s) {
    s = out->scratch = calloc(1, sizeof *s);
    if (!s) return BERT_ENOMEM;
  }
  if (s->cap >= need) return BERT_OK;
  free(s->word);
  free(s->lo);
  free(s->hi);
  free(s->hash);
  s->word = malloc(need + 8); /* lookups read 8 bytes at a time */
  s->lo = malloc((need + 1) * sizeof *s->lo);
  s->hi = malloc((need + 1) * sizeof *s->hi);
  s->hash = malloc((need + 1) * sizeof *s->hash);
  s->cap = (s->word && s->lo && s->hi && s->hash) ? need : 0;
  return s->cap ? BERT_OK : BERT_ENOMEM;
}

/* ---------------------------------------------------------------- tokenization */

/* One call's state: the word being collected and where it came from. */
typedef struct run {
  const bert_tokenizer *tok;
  bert_tokens *out;
  const char *text;
  size_t len;
  char *word;
  size_t *lo, *hi;
  uint64_t *hash;
  size_t n;          /* bytes in word */
  size_t chars;      /* characters in the word (all of them, also past the ones kept) */
  size_t start, end; /* source span of the word */
  int mapped;        /* lo/hi hold the spans; otherwise word[k] is text[start + k] */
  int failed;        /* out of memory */
} run;

static void emit(run *r, int32_t id, size_t start, size_t end) {
  bert_tokens *out = r->out;
  if (out->count == out->capacity && grow_tokens(out)) {
    r->failed = 1;
    return;
  }
  out->ids[out->count] = id;
  out->starts[out->count] = start;
  out->ends[out->count] = end;
  out->count++;
}

/* Greedy longest-match-first WordPiece over the collected word (Google's WordpieceTokenizer):
 * one pass hashes every prefix of the remainder, then candidates are tried longest first. */
static void wordpiece(run *r) {
  const bert_tokenizer *tok = r->tok;
  if (r->chars > (size_t)tok->max_word_chars) {
    emit(r, tok->unk_id, r->start, r->end);
    return;
  }
  size_t mark = r->out->count, s = 0, n = r->n;
  while (s < n) {
    size_t limit = s + tok->max_piece_bytes < n ? s + tok->max_piece_bytes : n;
    uint64_t h = s ? tok->cont_hash : FNV_INIT, *hash = r->hash;
    const unsigned char *word = (const unsigned char *)r->word;
    for (size_t k = s; k < limit; k++) hash[k + 1] = h = fnv_step(h, word[k]);
    int id = -1;
    size_t e = limit;
    for (; e > s; e--) {
      if (e < n && ((unsigned char)r->word[e] & 0xC0) == 0x80) continue; /* inside a character */
      if ((id = find_piece(tok, r->hash[e], r->word + s, e - s, s > 0)) >= 0) break;
    }
    if (id < 0) { /* no piece fits: the whole word is unknown */
      r->out->count = mark;
      emit(r, tok->unk_id, r->start, r->end);
      return;
    }
    if (r->mapped)
      emit(r, id, r->lo[s], r->hi[e - 1]);
    else
      emit(r, id, r->start + s, r->start + e);
    s = e;
  }
}

static void flush(run *r) {
  if (!r->chars) return;
  wordpiece(r);
  r->chars = r->n = 0;
  r->mapped = 0;
}

/* Switches the word to explicit spans, filling them in for the bytes collected so far. */
static void map_word(run *r) {
  for (size_t k = 0; k < r->n; k++) {
    r->lo[k] = r->start + k;
    r->hi[k] = r->start + k + 1;
  }
  r->mapped = 1;
}

/* Starts a word at source byte `at` if none is open; returns 0 when the word is already over-long
 * (its characters are then only counted). */
static int open_word(run *r, size_t at) {
  if (!r->chars) r->start = at;
  return r->chars <= (size_t)r->tok->max_word_chars;
}

/* Appends the ASCII word characters text[i, j). Works on locals: stores through char pointers
 * would otherwise make the compiler reload the run's fields for every byte. */
static void add_ascii(run *r, size_t i, size_t j) {
  int keep = open_word(r, i);
  size_t count = j - i, n = r->n;
  r->end = j;
  r->chars += count;
  if (!keep) return;
  size_t room = (size_t)r->tok->max_word_chars + 1 - (r->chars - count);
  size_t take = count < room ? count : room;
  if (!r->mapped && r->start + n != i) map_word(r); /* something was dropped in between */
  const uint8_t *map = r->tok->ascii_map;
  const unsigned char *src = (const unsigned char *)r->text + i;
  char *dst = r->word + n;
  for (size_t k = 0; k < take; k++) dst[k] = (char)map[src[k]];
  if (r->mapped) {
    size_t *lo = r->lo + n, *hi = r->hi + n;
    for (size_t k = 0; k < take; k++) lo[k] = i + k, hi[k] = i + k + 1;
  }
  r->n = n + take;
}

/* Appends one normalised character that came from source bytes [a, b). */
static void add_char(run *r, int32_t cp, size_t a, size_t b) {
  int keep = open_word(r, a);
  r->end = b;
  r->chars++;
  if (!keep) return;
  uint8_t enc[4];
  size_t len = (size_t)utf8proc_encode_char(cp, enc);
  /* An unchanged character right after the previous one keeps the word unmapped. */
  int same = !r->mapped && r->start + r->n == a && b - a == len && !memcmp(r->text + a, enc, len);
  if (!same && !r->mapped) map_word(r);
  for (size_t k = 0; k < len; k++) {
    if (r->mapped) {
      r->lo[r->n] = a;
      r->hi[r->n] = b;
    }
    r->word[r->n++] = (char)enc[k];
  }
}

/* A word character or punctuation outside ASCII: normalise, then split off punctuation. */
static void add_normalised(run *r, int32_t cp, size_t a, size_t b) {
  int32_t chars[4];
  int n = 1;
  chars[0] = cp;
  if (r->tok->lower_case) {
    int final = cp == 0x03A3 && bert_unicode_sigma_is_final(r->text, r->len, a);
    n = bert_unicode_lower_strip(cp, final, chars);
  }
  for (int k = 0; k < n; k++) {
    if (bert_unicode_is_punct(chars[k])) {
      flush(r);
      add_char(r, chars[k], a, b);
      flush(r);
    } else {
      add_char(r, chars[k], a, b);
    }
  }
}

/* Handles the character starting at a non-ASCII byte; returns the next position. */
static size_t add_high(run *r, size_t i) {
  utf8proc_int32_t cp;
  utf8proc_ssize_t n =
      utf8proc_iterate((const utf8proc_uint8_t *)r->text + i, (utf8proc_ssize_t)(r->len - i), &cp);
  if (n <= 0) { /* invalid UTF-8: skipped, as decode(errors="ignore") does */
    r->out->invalid_bytes++;
    return i + 1;
  }
  size_t b = i + (size_t)n;
  switch (bert_unicode_class(cp)) {
    case BERT_CHAR_SPACE: flush(r); break;
    case BERT_CHAR_DROP: break;
    case BERT_CHAR_CJK:
      flush(r);
      add_normalised(r, cp, i, b);
      flush(r);
      break;
    default: add_normalised(r, cp, i, b); break;
  }
  return b;
}

/* The longest never-split token at text[i], or NULL. */
static const never_split *match_never(const run *r, size_t i) {
  const never_split *best = NULL;
  for (size_t k = 0; k < r->tok->never_count; k++) {
    const never_split *ns = &r->tok->never[k];
    if (ns->len <= r->len - i && !memcmp(r->text + i, ns->text, ns->len) &&
        (!best || ns->len > best->len))
      best = ns;
  }
  return best;
}

static void scan(run *r) {
  const uint8_t *cls = r->tok->byte_class;
  const unsigned char *text = (const unsigned char *)r->text;
  size_t i = 0, len = r->len;
  while (i < len) {
    unsigned char c = text[i];
    uint8_t k = cls[c];
    if (k == B_SPECIAL) {
      const never_split *ns = match_never(r, i);
      if (ns) {
        flush(r);
        emit(r, ns->id, i, i + ns->len);
        i += ns->len;
        continue;
      }
      k = r->tok->base_class[c];
    }
    switch (k) {
      case B_WORD: {
        size_t j = i + 1;
        while (j < len && cls[text[j]] == B_WORD) j++;
        add_ascii(r, i, j);
        i = j;
        break;
      }
      case B_SPACE: flush(r); i++; break;
      case B_PUNCT:
        flush(r);
        emit(r, r->tok->ascii_id[c], i, i + 1);
        i++;
        break;
      case B_DROP: i++; break;
      default: i = add_high(r, i); break;
    }
  }
  flush(r);
}

int bert_tokenize_append(const bert_tokenizer *tok, const char *text, size_t len, bert_tokens *out,
                         bert_error *err) {
  if (reserve_scratch(out, tok->max_word_chars))
    return bert_error_set(err, BERT_ENOMEM, "tokenizer: out of memory");
  struct bert_tokens_scratch *s = out->scratch;
  run r = {.tok = tok, .out = out, .text = text, .len = len, .word = s->word, .lo = s->lo,
           .hi = s->hi, .hash = s->hash};
  scan(&r);
  if (r.failed) return bert_error_set(err, BERT_ENOMEM, "tokenizer: out of memory");
  return BERT_OK;
}

int bert_tokenize(const bert_tokenizer *tok, const char *text, size_t len, bert_tokens *out,
                  bert_error *err) {
  out->count = 0;
  out->invalid_bytes = 0;
  return bert_tokenize_append(tok, text, len, out, err);
}

int bert_tokenizer_open(const char *vocab_path, bert_vocab *vocab, bert_tokenizer **tok, int *lower_case,
                        bert_error *err) {
  *tok = NULL;
  int lower = 1, rc = bert_vocab_load(vocab, vocab_path, err);
  if (rc) return rc;
  rc = bert_casing_resolve(vocab_path, vocab, -1, &lower, err);
  bert_tokenizer_options opts;
  bert_tokenizer_options_default(&opts);
  opts.lower_case = lower;
  opts.never_split = bert_never_split_specials;
  if (!rc) rc = bert_tokenizer_create(tok, vocab, &opts, err);
  if (rc) {
    bert_vocab_free(vocab);
    return rc;
  }
  if (lower_case) *lower_case = lower;
  return BERT_OK;
}
