#include "data/instances.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/tfrecord.h"

int bert_instance_options_init(bert_instance_options *o, const bert_vocab *vocab, int sequence_length,
                               int mask_tokens, double mlm_prob, double short_seq_prob, int whole_word_masking,
                               uint8_t **continuation, bert_error *err) {
  memset(o, 0, sizeof *o);
  *continuation = NULL;
  if (sequence_length < 5 || sequence_length > 65535)
    return bert_error_set(err, BERT_EINVAL, "--sequence-length %d: must be in [5, 65535]", sequence_length);
  if (mask_tokens < 1 || mask_tokens > sequence_length)
    return bert_error_set(err, BERT_EINVAL, "--mask-tokens %d: must be in [1, sequence length %d]", mask_tokens,
                          sequence_length);
  if (!(mlm_prob >= 0 && mlm_prob <= 1) || !(short_seq_prob >= 0 && short_seq_prob <= 1))
    return bert_error_set(err, BERT_EINVAL, "--mlm-prob and --short-seq-prob must be in [0, 1]");
  o->sequence_length = sequence_length;
  o->mask_tokens = mask_tokens;
  o->mlm_prob = mlm_prob;
  o->short_seq_prob = short_seq_prob;
  o->whole_word_masking = whole_word_masking;
  o->cls_id = bert_vocab_find(vocab, "[CLS]", 5);
  o->sep_id = bert_vocab_find(vocab, "[SEP]", 5);
  o->mask_id = bert_vocab_find(vocab, "[MASK]", 6);
  if (o->cls_id < 0 || o->sep_id < 0 || o->mask_id < 0)
    return bert_error_set(err, BERT_EFORMAT, "the vocabulary lacks [CLS], [SEP] or [MASK]");
  o->vocab_size = vocab->size;
  uint8_t *cont = malloc((size_t)vocab->size);
  if (!cont) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int i = 0; i < vocab->size; i++) cont[i] = !strncmp(bert_vocab_token(vocab, i), "##", 2);
  o->continuation = *continuation = cont;
  return BERT_OK;
}

/* ---------------------------------------------------------------- masking */

typedef struct span {
  int32_t start, len;
} span;

/* Reused per document: candidate positions (or whole-word spans) and the chosen ones. */
typedef struct work {
  bert_instance inst;
  span *spans;      /* [L] */
  int32_t *chosen;  /* [M] in draw order */
} work;

static int num_to_predict(const bert_instance_options *o, int n) {
  long k = (long)nearbyint((double)n * o->mlm_prob); /* Python's round(): halves go to even */
  if (k < 1) k = 1;
  if (k > o->mask_tokens) k = o->mask_tokens;
  long floor = (long)n - o->sequence_length + o->mask_tokens; /* Graphcore: L - n slots must hold M */
  return (int)(k > floor ? k : floor);
}

/* Candidate spans: every token but [CLS] and the two [SEP]s; with whole-word masking a "##" piece
 * joins the span of the token just before it (never across a [SEP]). */
static int candidate_spans(const bert_instance *in, const bert_instance_options *o, span *spans) {
  int count = 0, sep = in->len_a + 1;
  for (int i = 1; i < in->n_tokens - 1; i++) {
    if (i == sep) continue;
    int extend = o->whole_word_masking && count && spans[count - 1].start + spans[count - 1].len == i &&
                 o->continuation[in->tokens[i]];
    if (extend) spans[count - 1].len++;
    else spans[count++] = (span){i, 1};
  }
  return count;
}

/* Picks up to k positions: a random order of the spans, taking each that still fits. Without
 * whole words every span is one token, so a partial shuffle of k spans is enough. */
static int choose_positions(work *w, const bert_instance_options *o, bert_rng_stream *rng, int k) {
  int count = candidate_spans(&w->inst, o, w->spans), chosen = 0;
  for (int t = 0; t < count && chosen < k; t++) {
    int j = t + (int)bert_rng_stream_below(rng, (uint64_t)(count - t));
    span s = w->spans[j];
    w->spans[j] = w->spans[t];
    w->spans[t] = s;
    if (chosen + s.len > k) continue;
    for (int p = 0; p < s.len; p++) w->chosen[chosen++] = s.start + p;
  }
  return chosen;
}

static void sort_masks(bert_instance *in) {
  for (int i = 1; i < in->n_masked; i++)
    for (int j = i; j > 0 && in->positions[j - 1] > in->positions[j]; j--) {
      int32_t p = in->positions[j], l = in->labels[j];
      in->positions[j] = in->positions[j - 1], in->labels[j] = in->labels[j - 1];
      in->positions[j - 1] = p, in->labels[j - 1] = l;
    }
}

static void mask_instance(work *w, const bert_instance_options *o, bert_rng_stream *rng) {
  bert_instance *in = &w->inst;
  int chosen = choose_positions(w, o, rng, num_to_predict(o, in->n_tokens));
  for (int i = 0; i < chosen; i++) {
    int p = w->chosen[i];
    in->positions[i] = p;
    in->labels[i] = in->tokens[p];
    if (bert_rng_stream_double(rng) < 0.8) in->tokens[p] = o->mask_id;            /* 80 % [MASK] */
    else if (bert_rng_stream_double(rng) >= 0.5)                                   /* 10 % kept */
      in->tokens[p] = (int32_t)bert_rng_stream_below(rng, (uint64_t)o->vocab_size); /* 10 % random */
  }
  in->n_masked = chosen;
  sort_masks(in);
}

/* ---------------------------------------------------------------- pairs */

typedef struct range {
  size_t lo, hi; /* token offsets into the corpus */
} range;

typedef struct doc_source {
  const bert_corpus *c;
  const size_t *order;
  size_t n_docs;
} doc_source;

static size_t first_sentence(const doc_source *d, size_t doc) { return d->c->documents[d->order[doc]]; }
static size_t sentence_count(const doc_source *d, size_t doc) { return bert_corpus_doc_sentences(d->c, d->order[doc]); }
static size_t sentence_start(const doc_source *d, size_t s) { return d->c->sentences[s]; }

/* Random next: text from another document (ten tries to avoid this one), from a random sentence
 * on, until it reaches target_b tokens. */
static range random_next(const doc_source *d, size_t doc, long target_b, bert_rng_stream *rng) {
  size_t other = doc;
  for (int t = 0; t < 10; t++) {
    other = (size_t)bert_rng_stream_below(rng, d->n_docs);
    if (other != doc) break;
  }
  size_t s0 = first_sentence(d, other), n = sentence_count(d, other);
  size_t s = s0 + (size_t)bert_rng_stream_below(rng, n);
  range b = {sentence_start(d, s), sentence_start(d, s)};
  for (; s < s0 + n; s++) {
    b.hi = sentence_start(d, s + 1);
    if ((long)(b.hi - b.lo) >= target_b) break;
  }
  return b;
}

/* Heads among k fair coin flips, 32 flips per random word. */
static size_t coin_heads(bert_rng_stream *rng, size_t k) {
  size_t heads = 0;
  for (; k >= 32; k -= 32) heads += (size_t)__builtin_popcount(bert_rng_stream_u32(rng));
  if (k) heads += (size_t)__builtin_popcount(bert_rng_stream_u32(rng) & ((1u << k) - 1));
  return heads;
}

/* The reference removes one token at a time from the longer side (B on ties), from the front or
 * the back with probability 1/2. Which side loses each token does not depend on the coins, so we
 * count the removals per side first; the front/back split of each side is then binomial, drawn
 * with one coin per removal as before, 32 coins per random word. */
static void truncate_pair(range *a, range *b, size_t max_tokens, bert_rng_stream *rng) {
  size_t la = a->hi - a->lo, lb = b->hi - b->lo, ka = 0, kb = 0;
  while (la + lb > max_tokens) {
    if (la > lb) la--, ka++;
    else lb--, kb++;
  }
  size_t fa = coin_heads(rng, ka), fb = coin_heads(rng, kb);
  a->lo += fa, a->hi -= ka - fa;
  b->lo += fb, b->hi -= kb - fb;
}

static void assemble(work *w, const bert_instance_options *o, const int32_t *tokens, range a, range b) {
  bert_instance *in = &w->inst;
  int32_t *t = in->tokens;
  size_t la = a.hi - a.lo, lb = b.hi - b.lo;
  t[0] = o->cls_id;
  memcpy(t + 1, tokens + a.lo, la * sizeof *t);
  t[1 + la] = o->sep_id;
  memcpy(t + 2 + la, tokens + b.lo, lb * sizeof *t);
  t[2 + la + lb] = o->sep_id;
  in->n_tokens = (int)(la + lb + 3);
  in->len_a = (int)la;
}

typedef struct chunk_state {
  size_t first;  /* first sentence of the chunk */
  size_t count;  /* sentences in it */
  size_t length; /* tokens in it */
} chunk_state;

/* Turns the current chunk into one instance; returns how many sentences to put back. */
static size_t make_pair(work *w, const doc_source *d, size_t doc, const chunk_state *ch, long target,
                        const bert_instance_options *o, bert_rng_stream *rng) {
  size_t a_end = 1, put_back = 0;
  if (ch->count >= 2) a_end = (size_t)bert_rng_stream_range(rng, 1, (int64_t)ch->count - 1);
  range a = {sentence_start(d, ch->first), sentence_start(d, ch->first + a_end)}, b;
  w->inst.is_random_next = ch->count == 1 || bert_rng_stream_double(rng) < 0.5;
  if (w->inst.is_random_next) {
    b = random_next(d, doc, target - (long)(a.hi - a.lo), rng);
    put_back = ch->count - a_end;
  } else {
    b = (range){a.hi, sentence_start(d, ch->first + ch->count)};
  }
  truncate_pair(&a, &b, (size_t)o->sequence_length - 3, rng);
  assemble(w, o, d->c->tokens, a, b);
  mask_instance(w, o, rng);
  return put_back;
}

static int alloc_work(work *w, const bert_instance_options *o) {
  size_t L = (size_t)o->sequence_length, M = (size_t)o->mask_tokens;
  w->inst.tokens = malloc(L * sizeof(int32_t));
  w->inst.positions = malloc(M * sizeof(int32_t));
  w->inst.labels = malloc(M * sizeof(int32_t));
  w->spans = malloc(L * sizeof(span));
  w->chosen = malloc(M * sizeof(int32_t));
  return w->inst.tokens && w->inst.positions && w->inst.labels && w->spans && w->chosen ? 0 : BERT_ENOMEM;
}

static void free_work(work *w) {
  free(w->inst.tokens);
  free(w->inst.positions);
  free(w->inst.labels);
  free(w->spans);
  free(w->chosen);
}

int bert_instances_from_document(const bert_corpus *c, const size_t *order, size_t n_docs, size_t doc,
                                 const bert_instance_options *o, bert_rng_stream *rng, bert_instance_sink sink,
                                 void *ctx) {
  doc_source d = {c, order, n_docs};
  work w = {0};
  if (alloc_work(&w, o)) {
    free_work(&w);
    return BERT_ENOMEM;
  }
  long max_tokens = o->sequence_length - 3, target = max_tokens;
  if (bert_rng_stream_double(rng) < o->short_seq_prob) target = (long)bert_rng_stream_range(rng, 2, max_tokens);
  size_t s0 = first_sentence(&d, doc), n = sentence_count(&d, doc);
  chunk_state ch = {s0, 0, 0};
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    if (ch.count == 0) ch.first = s0 + i;
    ch.count++;
    ch.length += sentence_start(&d, s0 + i + 1) - sentence_start(&d, s0 + i);
    if (i != n - 1 && (long)ch.length < target) continue;
    i -= make_pair(&w, &d, doc, &ch, target, o, rng);
    rc = sink(&w.inst, ctx);
    ch.count = ch.length = 0;
  }
  free_work(&w);
  return rc;
}

/* ---------------------------------------------------------------- encoding
 * The hot path of `bert data create` writes the protobuf wire format of this one fixed schema
 * directly: protobuf-c's generic, descriptor-driven packing took a third of the run time. The
 * bytes are those protobuf-c (and TensorFlow) produce for the same features in the same order;
 * tests/data/test_data_instances.c checks that against data/example.c. */

size_t bert_instance_record_bound(const bert_instance_options *o) {
  size_t values = 3 * (size_t)o->sequence_length + 2 * (size_t)o->mask_tokens + 1;
  return 10 * values + 4 * (size_t)o->mask_tokens + 512 + BERT_TFRECORD_OVERHEAD;
}

static inline size_t varint_size(uint64_t v) {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : (size_t)(70 - __builtin_clzll(v)) / 7;
}

/* Values below 2^14 (masks, segments, most ids) take a branch-free path that may write one byte
 * past the varint; callers leave room for it. */
static inline uint8_t *put_varint(uint8_t *p, uint64_t v) {
  if (__builtin_expect(v < 0x4000, 1)) {
    uint64_t hi = v >> 7;
    p[0] = (uint8_t)(v | (hi ? 0x80 : 0));
    p[1] = (uint8_t)hi;
    return p + 1 + (hi != 0);
  }
  while (v >= 0x80) *p++ = (uint8_t)(v | 0x80), v >>= 7;
  *p++ = (uint8_t)v;
  return p;
}

typedef struct pb_feature {
  const char *name;
  const int64_t *ints; /* int64_list, or NULL for a float_list */
  const float *floats;
  size_t n;
  int small;           /* every value in [0, 128): one byte each (masks, segments, labels) */
  size_t list, feature, entry; /* encoded sizes of the packed values, the Feature, the map entry */
} pb_feature;

/* Sizes: values -> Int64List/FloatList -> Feature -> map entry {key, value}. */
static size_t size_feature(pb_feature *f) {
  f->list = 0;
  if (f->small || !f->ints)
    f->list = (f->ints ? 1 : 4) * f->n;
  else
    for (size_t i = 0; i < f->n; i++) f->list += varint_size((uint64_t)f->ints[i]);
  size_t list_msg = 1 + varint_size(f->list) + f->list;
  f->feature = 1 + varint_size(list_msg) + list_msg;
  size_t key = strlen(f->name);
  f->entry = 1 + varint_size(key) + key + 1 + varint_size(f->feature) + f->feature;
  return 1 + varint_size(f->entry) + f->entry;
}

static uint8_t *put_feature(uint8_t *p, const pb_feature *f) {
  size_t key = strlen(f->name), list_msg = 1 + varint_size(f->list) + f->list;
  *p++ = 0x0a, p = put_varint(p, f->entry);                     /* Features.feature (map entry) */
  *p++ = 0x0a, p = put_varint(p, key);                          /* entry key */
  memcpy(p, f->name, key), p += key;
  *p++ = 0x12, p = put_varint(p, f->feature);                   /* entry value: Feature */
  *p++ = f->ints ? 0x1a : 0x12, p = put_varint(p, list_msg);    /* int64_list = 3, float_list = 2 */
  *p++ = 0x0a, p = put_varint(p, f->list);                      /* packed values */
  if (f->small)
    for (size_t i = 0; i < f->n; i++) *p++ = (uint8_t)f->ints[i];
  else if (f->ints)
    for (size_t i = 0; i < f->n; i++) p = put_varint(p, (uint64_t)f->ints[i]);
  else
    for (size_t i = 0; i < f->n; i++, p += 4) memcpy(p, &f->floats[i], 4); /* little endian */
  return p;
}

static size_t encode_example(pb_feature *fs, size_t count, uint8_t *out, size_t cap) {
  size_t features = 0;
  for (size_t i = 0; i < count; i++) features += size_feature(&fs[i]);
  size_t total = 1 + varint_size(features) + features;
  if (total + 1 > cap) return 0; /* + 1: put_varint's spare byte */
  uint8_t *p = out;
  *p++ = 0x0a, p = put_varint(p, features); /* Example.features */
  for (size_t i = 0; i < count; i++) p = put_feature(p, &fs[i]);
  return (size_t)(p - out);
}

static void fill_arrays(const bert_instance *in, const bert_instance_options *o, int64_t ignore_index, int64_t *ids,
                        int64_t *mask, int64_t *seg, int64_t *pos, int64_t *lab, float *weights) {
  int L = o->sequence_length, M = o->mask_tokens, sep = in->len_a + 1;
  for (int i = 0; i < L; i++) {
    int real = i < in->n_tokens;
    ids[i] = real ? in->tokens[i] : 0;
    mask[i] = real;
    seg[i] = real && i > sep;
  }
  for (int i = 0; i < M; i++) {
    int real = i < in->n_masked;
    pos[i] = real ? in->positions[i] : 0;
    lab[i] = real ? in->labels[i] : ignore_index;
    weights[i] = real ? 1.0f : 0.0f;
  }
}

#define STACK_VALUES 4096

size_t bert_instance_encode(const bert_instance *in, const bert_instance_options *o, int64_t ignore_index,
                            uint8_t *out, size_t cap) {
  size_t L = (size_t)o->sequence_length, M = (size_t)o->mask_tokens, need = 3 * L + 2 * M + 1;
  if (cap < BERT_TFRECORD_OVERHEAD) return 0;
  int64_t stack_values[STACK_VALUES];
  float stack_weights[STACK_VALUES / 4];
  int small = need <= STACK_VALUES && M <= STACK_VALUES / 4;
  int64_t *v = small ? stack_values : malloc(need * sizeof *v);
  float *weights = small ? stack_weights : malloc(M * sizeof *weights);
  size_t framed = 0;
  if (v && weights) {
    int64_t *ids = v, *mask = v + L, *seg = v + 2 * L, *pos = v + 3 * L, *lab = pos + M, *nsp = lab + M;
    fill_arrays(in, o, ignore_index, ids, mask, seg, pos, lab, weights);
    *nsp = in->is_random_next;
    pb_feature fs[7] = {{"input_ids", ids, NULL, L, 0, 0, 0, 0},
                        {"input_mask", mask, NULL, L, 1, 0, 0, 0},
                        {"segment_ids", seg, NULL, L, 1, 0, 0, 0},
                        {"masked_lm_positions", pos, NULL, M, L <= 128, 0, 0, 0},
                        {"masked_lm_ids", lab, NULL, M, 0, 0, 0, 0},
                        {"masked_lm_weights", NULL, weights, M, 0, 0, 0, 0},
                        {"next_sentence_labels", nsp, NULL, 1, 1, 0, 0, 0}};
    size_t n = encode_example(fs, 7, out + 12, cap - BERT_TFRECORD_OVERHEAD);
    if (n) framed = bert_tfrecord_frame_in_place(out, n);
  }
  if (!small) {
    free(v);
    free(weights);
  }
  return framed;
}
