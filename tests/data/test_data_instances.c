/* Corpus reading (documents, blank lines, UTF-8 errors, thread independence), the instance
 * algorithm (structure, the mask-count rule, whole-word masking, determinism) and the fast record
 * encoder (byte-identical to protobuf-c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "data/corpus.h"
#include "data/example.h"
#include "data/instances.h"
#include "data/tfrecord.h"
#include "test_util.h"
#include "text/tokenizer.h"

static bert_vocab vocab;
static bert_tokenizer *tok;

/* ---------------------------------------------------------------- corpus */

static void test_corpus_lines(void) {
  bert_corpus c;
  bert_error err;
  bert_corpus_init(&c);
  /* doc 1: two sentences (CRLF); blank and whitespace-only lines end it, repeated blanks make no
   * empty documents; a control-character-only line is neither a sentence nor a boundary; an
   * ideographic-space-only line is a boundary (Python's strip() removes it). */
  const char *text = "hello world\r\nthe cat .\n\n \t\n\x01\nsecond doc\n\xe3\x80\x80\nthird\n\n\n";
  CHECK(bert_corpus_add_text(&c, "t1", text, strlen(text), tok, 2, NULL, &err) == 0);
  CHECK(c.n_documents == 3);
  CHECK(c.n_sentences == 4);
  CHECK(bert_corpus_doc_sentences(&c, 0) == 2 && bert_corpus_doc_sentences(&c, 1) == 1);
  CHECK(c.lines == 10);
  CHECK(c.sentences[1] - c.sentences[0] == 2); /* hello world */
  CHECK(c.tokens[0] == bert_vocab_find(&vocab, "hello", 5));
  /* A second file starts a new document even without a blank line before. */
  CHECK(bert_corpus_add_text(&c, "t2", "more text", 9, tok, 1, NULL, &err) == 0);
  CHECK(bert_corpus_add_text(&c, "t3", "", 0, tok, 1, NULL, &err) == 0);
  CHECK(c.n_documents == 4 && c.n_sentences == 5);
  /* Invalid UTF-8 names the file, line and byte offset. */
  const char *bad = "fine\nalso fine\nbad \xff byte\n";
  CHECK(bert_corpus_add_text(&c, "bad.txt", bad, strlen(bad), tok, 2, NULL, &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, "bad.txt: line 3 (byte offset 19): invalid UTF-8"), "%s", err.message);
  const char *overlong = "x\n\xc0\xaf\n";
  CHECK(bert_corpus_add_text(&c, "o.txt", overlong, strlen(overlong), tok, 1, NULL, &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, "o.txt: line 2"), "%s", err.message);
  bert_corpus_free(&c);
}

/* Several chunks (text > 256 KiB) give the same corpus with 1 and 3 threads. */
static void test_corpus_threads(void) {
  size_t cap = 900000, len = 0;
  char *text = malloc(cap);
  for (int i = 0; len + 200 < cap; i++)
    len += (size_t)snprintf(text + len, cap - len, i % 7 == 6 ? "\n" : "sentence %d of the test, with words .\n", i);
  bert_corpus a, b;
  bert_error err;
  bert_corpus_init(&a);
  bert_corpus_init(&b);
  CHECK(bert_corpus_add_text(&a, "big", text, len, tok, 1, NULL, &err) == 0);
  CHECK(bert_corpus_add_text(&b, "big", text, len, tok, 3, NULL, &err) == 0);
  CHECK(a.n_tokens == b.n_tokens && a.n_sentences == b.n_sentences && a.n_documents == b.n_documents);
  CHECK(a.n_tokens > 100000 && !memcmp(a.tokens, b.tokens, a.n_tokens * sizeof(int32_t)));
  CHECK(!memcmp(a.sentences, b.sentences, (a.n_sentences + 1) * sizeof(size_t)));
  CHECK(!memcmp(a.documents, b.documents, (a.n_documents + 1) * sizeof(size_t)));
  bert_corpus_free(&a);
  bert_corpus_free(&b);
  free(text);
}

/* Streaming a file (blocks of 4 MiB with one thread, a line longer than a block, a last line
 * without '\n') gives what the whole text gives, and errors past the first block keep their
 * file line and offset. */
static void test_corpus_file(void) {
  size_t cap = 7000000, len = 0;
  char *text = malloc(cap + 64);
  for (int i = 0; len < 2500000; i++)
    len += (size_t)snprintf(text + len, cap - len, i % 9 == 8 ? "\n" : "line %d says hello .\n", i);
  while (len < 6900000) len += (size_t)snprintf(text + len, cap - len, "long ");
  len += (size_t)snprintf(text + len, cap - len, "\nlast line without end");
  const char *dir = test_tmpdir("corpus");
  char path[4096];
  snprintf(path, sizeof path, "%s/big.txt", dir);
  bert_error err;
  CHECK(bert_file_write_atomic(path, text, len, &err) == 0);
  bert_corpus a, b;
  bert_corpus_init(&a);
  bert_corpus_init(&b);
  CHECK(bert_corpus_add_file(&a, path, tok, 1, NULL, &err) == 0);
  CHECK(bert_corpus_add_text(&b, path, text, len, tok, 2, NULL, &err) == 0);
  CHECK(a.bytes == len && b.bytes == len && a.lines == b.lines);
  CHECK(a.n_tokens == b.n_tokens && a.n_sentences == b.n_sentences && a.n_documents == b.n_documents);
  CHECK(a.n_tokens > 1000000 && !memcmp(a.tokens, b.tokens, a.n_tokens * sizeof(int32_t)));
  CHECK(!memcmp(a.documents, b.documents, (a.n_documents + 1) * sizeof(size_t)));
  text[len - 3] = (char)0xff;
  CHECK(bert_file_write_atomic(path, text, len, &err) == 0);
  char expect[256];
  snprintf(expect, sizeof expect, "line %zu (byte offset %zu): invalid UTF-8", (size_t)a.lines, len - 3);
  CHECK(bert_corpus_add_file(&a, path, tok, 1, NULL, &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, expect), "%s (wanted %s)", err.message, expect);
  CHECK(bert_corpus_add_file(&a, "no/such/file.txt", tok, 1, NULL, &err) == BERT_EIO);
  CHECK_MSG(strstr(err.message, "no/such/file.txt: cannot open"), "%s", err.message);
  bert_corpus_free(&a);
  bert_corpus_free(&b);
  free(text);
}

/* ---------------------------------------------------------------- instances */

typedef struct collected {
  int count, random_next, bad;
  const bert_instance_options *o;
  uint64_t checksum;
} collected;

static int expected_masks(const bert_instance_options *o, int n) {
  long k = (long)nearbyint(n * o->mlm_prob);
  if (k < 1) k = 1;
  if (k > o->mask_tokens) k = o->mask_tokens;
  if (n - o->sequence_length + o->mask_tokens > k) k = n - o->sequence_length + o->mask_tokens;
  return (int)(k < n - 3 ? k : n - 3);
}

static int is_masked(const bert_instance *in, int p) {
  for (int i = 0; i < in->n_masked; i++)
    if (in->positions[i] == p) return 1;
  return 0;
}

/* Original token at p (labels undo the masking). */
static int32_t original(const bert_instance *in, int p) {
  for (int i = 0; i < in->n_masked; i++)
    if (in->positions[i] == p) return in->labels[i];
  return in->tokens[p];
}

static int structure_ok(const bert_instance *in, const bert_instance_options *o) {
  int n = in->n_tokens, sep = in->len_a + 1;
  if (n > o->sequence_length || in->len_a < 1 || n - in->len_a - 3 < 1) return 0;
  if (in->tokens[0] != o->cls_id || in->tokens[sep] != o->sep_id || in->tokens[n - 1] != o->sep_id) return 0;
  for (int i = 0; i < in->n_masked; i++) {
    int p = in->positions[i];
    if (p <= 0 || p >= n - 1 || p == sep || (i && p <= in->positions[i - 1])) return 0;
  }
  return 1;
}

static int whole_words_ok(const bert_instance *in, const bert_instance_options *o) {
  int sep = in->len_a + 1;
  for (int p = 2; p < in->n_tokens - 1; p++) {
    if (p == sep || p - 1 == sep || !o->continuation[original(in, p)]) continue;
    if (is_masked(in, p) != is_masked(in, p - 1)) return 0; /* a piece and the one before it */
  }
  return 1;
}

static int collect(const bert_instance *in, void *ctx) {
  collected *c = ctx;
  const bert_instance_options *o = c->o;
  int ok = structure_ok(in, o);
  ok &= o->whole_word_masking ? in->n_masked <= expected_masks(o, in->n_tokens) && whole_words_ok(in, o)
                              : in->n_masked == expected_masks(o, in->n_tokens);
  c->bad += !ok;
  c->count++;
  c->random_next += in->is_random_next;
  for (int i = 0; i < in->n_tokens; i++) c->checksum = c->checksum * 31 + (uint64_t)in->tokens[i];
  return 0;
}

static collected run_all(const bert_corpus *c, const bert_instance_options *o, uint64_t seed) {
  collected col = {0, 0, 0, o, 0};
  size_t *order = malloc(c->n_documents * sizeof *order);
  for (size_t d = 0; d < c->n_documents; d++) order[d] = d;
  for (size_t d = 0; d < c->n_documents; d++) {
    bert_rng_stream rng = bert_rng_stream_make(bert_rng_child(bert_rng_make(seed, BERT_RNG_DATA, 0, 0), d));
    CHECK(bert_instances_from_document(c, order, c->n_documents, d, o, &rng, collect, &col) == 0);
  }
  free(order);
  return col;
}

static void test_instances(void) {
  char *text;
  size_t len;
  bert_error err;
  CHECK(bert_file_read("data/sample_text.txt", &text, &len, &err) == 0);
  bert_corpus c;
  bert_corpus_init(&c);
  CHECK(bert_corpus_add_text(&c, "sample", text, len, tok, 2, NULL, &err) == 0);
  CHECK(c.n_documents == 3);
  bert_instance_options o;
  uint8_t *cont;
  CHECK(bert_instance_options_init(&o, &vocab, 128, 20, 0.15, 0.1, 0, &cont, &err) == 0);
  int rounds = 40, total = 0, random_next = 0;
  for (int r = 0; r < rounds; r++) {
    collected col = run_all(&c, &o, (uint64_t)r);
    CHECK(col.bad == 0);
    total += col.count, random_next += col.random_next;
  }
  /* Random next is 50 %, plus the single-sentence chunks that must take it. */
  CHECK_MSG(random_next > 0.45 * total && random_next < 0.7 * total, "%d of %d", random_next, total);
  /* Same seed, same instances; another seed, others. */
  CHECK(run_all(&c, &o, 7).checksum == run_all(&c, &o, 7).checksum);
  CHECK(run_all(&c, &o, 7).checksum != run_all(&c, &o, 8).checksum);
  free(cont);

  /* Whole-word masking, short sequences, tiny L (the count rule's floor clipped to candidates). */
  int configs[][3] = {{128, 20, 1}, {32, 5, 1}, {5, 3, 0}, {12, 12, 0}};
  for (int k = 0; k < 4; k++) {
    CHECK(bert_instance_options_init(&o, &vocab, configs[k][0], configs[k][1], 0.15, 0.3, configs[k][2], &cont, &err) == 0);
    for (int r = 0; r < 10; r++) CHECK_MSG(run_all(&c, &o, (uint64_t)r).bad == 0, "config %d seed %d", k, r);
    free(cont);
  }
  CHECK(bert_instance_options_init(&o, &vocab, 4, 2, 0.15, 0.1, 0, &cont, &err) == BERT_EINVAL);
  CHECK(bert_instance_options_init(&o, &vocab, 128, 129, 0.15, 0.1, 0, &cont, &err) == BERT_EINVAL);
  bert_corpus_free(&c);
  free(text);
}

/* ---------------------------------------------------------------- encoder */

static void test_encoder(void) {
  bert_instance_options o;
  uint8_t *cont;
  bert_error err;
  int shapes[][2] = {{128, 20}, {16, 3}, {384, 56}};
  for (int k = 0; k < 3; k++) {
    CHECK(bert_instance_options_init(&o, &vocab, shapes[k][0], shapes[k][1], 0.15, 0.1, 0, &cont, &err) == 0);
    int L = o.sequence_length, M = o.mask_tokens;
    int32_t tokens[512], positions[64], labels[64];
    bert_instance in = {L - 7, 3, M - 1, k & 1, tokens, positions, labels};
    for (int i = 0; i < L; i++) tokens[i] = (i * 7919) % 30522;
    for (int i = 0; i < M; i++) positions[i] = 1 + i, labels[i] = 20000 + i;
    int64_t ignores[] = {0, -100};
    for (int g = 0; g < 2; g++) {
      uint8_t fast[16384], ref[16384];
      size_t n = bert_instance_encode(&in, &o, ignores[g], fast, sizeof fast);
      /* The same record through protobuf-c. */
      int64_t ids[512], mask[512], seg[512], pos[64], lab[64], nsp = in.is_random_next;
      float w[64];
      for (int i = 0; i < L; i++) ids[i] = i < in.n_tokens ? tokens[i] : 0, mask[i] = i < in.n_tokens, seg[i] = i < in.n_tokens && i > 4;
      for (int i = 0; i < M; i++) {
        int real = i < in.n_masked;
        pos[i] = real ? positions[i] : 0, lab[i] = real ? labels[i] : ignores[g], w[i] = real ? 1.0f : 0.0f;
      }
      bert_example_builder b;
      bert_example_builder_init(&b);
      bert_example_add_int64(&b, "input_ids", ids, (size_t)L, &err);
      bert_example_add_int64(&b, "input_mask", mask, (size_t)L, &err);
      bert_example_add_int64(&b, "segment_ids", seg, (size_t)L, &err);
      bert_example_add_int64(&b, "masked_lm_positions", pos, (size_t)M, &err);
      bert_example_add_int64(&b, "masked_lm_ids", lab, (size_t)M, &err);
      bert_example_add_float(&b, "masked_lm_weights", w, (size_t)M, &err);
      bert_example_add_int64(&b, "next_sentence_labels", &nsp, 1, &err);
      size_t payload = 0;
      CHECK(bert_example_encode(&b, ref + 12, sizeof ref - 16, &payload, &err) == 0);
      size_t framed = bert_tfrecord_frame(ref + 12, payload, ref);
      CHECK_MSG(n == framed && !memcmp(fast, ref, n), "shape %d ignore %d: %zu vs %zu bytes", k, g, n, framed);
      CHECK(n <= bert_instance_record_bound(&o));
      CHECK(bert_instance_encode(&in, &o, ignores[g], fast, 40) == 0); /* too small: refused */
    }
    free(cont);
  }
}

int main(void) {
  bert_error err;
  CHECK(bert_vocab_load(&vocab, "data/vocab.txt", &err) == 0);
  bert_tokenizer_options opts;
  bert_tokenizer_options_default(&opts);
  CHECK(bert_tokenizer_create(&tok, &vocab, &opts, &err) == 0);
  test_corpus_lines();
  test_corpus_threads();
  test_corpus_file();
  test_instances();
  test_encoder();
  bert_tokenizer_free(tok);
  bert_vocab_free(&vocab);
  return test_summary("data_instances");
}
