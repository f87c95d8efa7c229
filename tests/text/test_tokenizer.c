/* Unit cases for text/tokenizer: normalisation, splitting, WordPiece, byte offsets into the original
 * input, never-split tokens, thread safety and the casing rule. Expected values follow Google's
 * tokenization.py (the same as HuggingFace's BertTokenizer for these inputs). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "test_util.h"
#include "text/tokenizer.h"

static bert_vocab uncased_vocab, cased_vocab;

/* "tok[start,end) tok[start,end) ..." for comparison in one CHECK. */
static const char *describe(const bert_tokenizer *tok, const bert_tokens *t) {
  static char buf[8192];
  size_t n = 0;
  buf[0] = 0;
  for (size_t i = 0; i < t->count && n < sizeof buf - 64; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s[%zu,%zu)", i ? " " : "",
                          bert_vocab_token(bert_tokenizer_vocab(tok), t->ids[i]), t->starts[i],
                          t->ends[i]);
  return buf;
}

static bert_tokenizer *make(const bert_vocab *v, int lower_case, int max_word_chars,
                            const char *const *never_split) {
  bert_tokenizer_options o;
  bert_tokenizer_options_default(&o);
  o.lower_case = lower_case;
  o.max_word_chars = max_word_chars;
  o.never_split = never_split;
  bert_tokenizer *tok = NULL;
  bert_error err = {0};
  if (bert_tokenizer_create(&tok, v, &o, &err)) {
    fprintf(stderr, "tokenizer: %s\n", err.message);
    exit(1);
  }
  return tok;
}

#define EXPECT(tok, text, want)                                                     \
  do {                                                                              \
    bert_tokens t_;                                                                 \
    bert_tokens_init(&t_);                                                          \
    bert_error e_ = {0};                                                            \
    CHECK(bert_tokenize(tok, text, strlen(text), &t_, &e_) == 0);                  \
    const char *got_ = describe(tok, &t_);                                          \
    CHECK_MSG(!strcmp(got_, want), "%s\n  want %s\n  got  %s", text, want, got_);   \
    bert_tokens_free(&t_);                                                          \
  } while (0)

static void test_uncased(void) {
  bert_tokenizer *tok = make(&uncased_vocab, 1, 100, NULL);
  EXPECT(tok, "Hello, world!", "hello[0,5) ,[5,6) world[7,12) ![12,13)");
  EXPECT(tok, "", "");
  EXPECT(tok, " \t\n\r ", "");
  /* accents: é is 2 bytes; the piece spans the original bytes */
  EXPECT(tok, "UNwant\xc3\xa9" "d,running", "unwanted[0,9) ,[9,10) running[10,17)");
  /* a decomposed accent (e + U+0301): the dropped mark is outside the span, as in HuggingFace */
  EXPECT(tok, "cafe\xcc\x81 unaffable", "cafe[0,4) una[7,10) ##ffa[10,13) ##ble[13,16)");
  /* CJK ideographs are words of their own, even inside a word */
  EXPECT(tok, "ab\xe5\x8c\x97\xe4\xba\xac" "cd", "ab[0,2) \xe5\x8c\x97[2,5) \xe4\xba\xac[5,8) cd[8,10)");
  /* Unicode punctuation (guillemets, em dash) and ASCII symbols ($ is 36, ` is 96) split */
  EXPECT(tok, "\xc2\xabhi\xc2\xbb a\xe2\x80\x94" "b $5 `x",
         "\xc2\xab[0,2) hi[2,4) \xc2\xbb[4,6) a[7,8) \xe2\x80\x94[8,11) b[11,12) $[13,14) 5[14,15) `[16,17) x[17,18)");
  /* control and format characters vanish without breaking the word: NUL, BEL, ZWSP, soft hyphen */
  EXPECT(tok, "he\x01l\xe2\x80\x8blo wo\xc2\xadrld\x07", "hello[0,9) world[10,17)");
  /* U+FFFD is removed; NBSP, U+2028 and tabs separate words */
  EXPECT(tok, "a\xef\xbf\xbd" "b c\xc2\xa0" "d e\xe2\x80\xa8" "f\tg",
         "ab[0,5) c[6,7) d[9,10) e[11,12) f[15,16) g[17,18)");
  /* Hangul decomposes (NFD) into jamo: pieces of one syllable share its span */
  EXPECT(tok, "\xed\x95\x9c", "\xe1\x84\x92[0,3) ##\xe1\x85\xa1[0,3) ##\xe1\x86\xab[0,3)");
  /* Python's str.lower() turns a word-final capital sigma into final sigma */
  EXPECT(tok, "\xce\x91\xce\xa3 \xce\xa3", "\xce\xb1[0,2) ##\xcf\x82[2,4) \xcf\x83[5,7)");
  /* invalid UTF-8 is skipped and counted */
  bert_tokens t;
  bert_tokens_init(&t);
  bert_error err = {0};
  CHECK(bert_tokenize(tok, "ok\xff\xfe" "ay \xe2\x82", 9, &t, &err) == 0);
  CHECK(t.invalid_bytes == 4);
  CHECK_MSG(!strcmp(describe(tok, &t), "okay[0,6)"), "%s", describe(tok, &t));
  /* appending keeps earlier tokens; offsets are relative to each call's text */
  CHECK(bert_tokenize_append(tok, "the end", 7, &t, &err) == 0);
  CHECK_MSG(!strcmp(describe(tok, &t), "okay[0,6) the[0,3) end[4,7)"), "%s", describe(tok, &t));
  bert_tokens_free(&t);
  bert_tokenizer_free(tok);
}

static void test_cased(void) {
  bert_tokenizer *tok = make(&cased_vocab, 0, 100, NULL);
  EXPECT(tok, "Hello World", "Hello[0,5) World[6,11)");
  EXPECT(tok, "caf\xc3\xa9", "caf\xc3\xa9[0,5)");
  EXPECT(tok, "\xce\x91\xce\xa3", "\xce\x91[0,2) ##\xce\xa3[2,4)");
  bert_tokenizer_free(tok);
}

static void test_long_words(void) {
  char word[260];
  memset(word, 'a', sizeof word);
  bert_tokenizer *hf = make(&uncased_vocab, 1, 100, NULL), *google = make(&uncased_vocab, 1, 200, NULL);
  bert_tokens t;
  bert_tokens_init(&t);
  bert_error err = {0};
  /* 100 characters: word pieces; 101: [UNK] spanning the word (HuggingFace's limit) */
  CHECK(bert_tokenize(hf, word, 100, &t, &err) == 0);
  CHECK(t.count > 1 && t.ids[0] != bert_tokenizer_unk_id(hf) && t.ends[t.count - 1] == 100);
  CHECK(bert_tokenize(hf, word, 101, &t, &err) == 0);
  CHECK(t.count == 1 && t.ids[0] == bert_tokenizer_unk_id(hf) && t.starts[0] == 0 && t.ends[0] == 101);
  CHECK(bert_tokenize(google, word, 200, &t, &err) == 0);
  CHECK(t.count > 1 && t.ids[0] != bert_tokenizer_unk_id(google));
  CHECK(bert_tokenize(google, word, 201, &t, &err) == 0);
  CHECK(t.count == 1 && t.ids[0] == bert_tokenizer_unk_id(google) && t.ends[0] == 201);
  /* characters, not bytes, count: 60 two-byte characters are 60 */
  char accented[200];
  for (int i = 0; i < 60; i++) memcpy(accented + 2 * i, "\xc3\xa9", 2);
  CHECK(bert_tokenize(hf, accented, 120, &t, &err) == 0);
  CHECK(t.count > 1);
  /* an over-long word still ends at the next space, and what follows is tokenized */
  char text[300];
  memcpy(text, word, 150);
  memcpy(text + 150, " end", 4);
  CHECK(bert_tokenize(hf, text, 154, &t, &err) == 0);
  CHECK_MSG(!strcmp(describe(hf, &t), "[UNK][0,150) end[151,154)"), "%s", describe(hf, &t));
  /* no piece matches: the whole word is [UNK] */
  EXPECT(hf, "x\xe1\x9e\x80y ok", "[UNK][0,5) ok[6,8)");
  bert_tokens_free(&t);
  bert_tokenizer_free(hf);
  bert_tokenizer_free(google);
}

static void test_never_split(void) {
  bert_tokenizer *hf = make(&uncased_vocab, 1, 100, bert_never_split_specials);
  bert_tokenizer *google = make(&uncased_vocab, 1, 100, NULL);
  EXPECT(hf, "[CLS] a[MASK]b [mask]", "[CLS][0,5) a[6,7) [MASK][7,13) b[13,14) [[15,16) mask[16,20) ][20,21)");
  EXPECT(google, "[MASK]", "[[0,1) mask[1,5) ][5,6)");
  bert_tokenizer_free(hf);
  bert_tokenizer_free(google);

  bert_tokenizer_options o;
  bert_tokenizer_options_default(&o);
  const char *const missing[] = {"[NOPE]", NULL};
  o.never_split = missing;
  bert_tokenizer *tok = NULL;
  bert_error err = {0};
  CHECK(bert_tokenizer_create(&tok, &uncased_vocab, &o, &err) == BERT_EINVAL);
  CHECK(strstr(err.message, "[NOPE]") != NULL);
  CHECK(tok == NULL);
  o.never_split = NULL;
  o.max_word_chars = -1;
  CHECK(bert_tokenizer_create(&tok, &uncased_vocab, &o, &err) == BERT_EINVAL);
}

/* Concurrent calls on one tokenizer, each thread with its own output, give the sequential result. */
static void test_threads(void) {
  char *text;
  size_t size;
  bert_error err = {0};
  CHECK(bert_file_read("tests/data/text/wikiextractor_en/AA_wiki_00", &text, &size, &err) == 0);
  if (!text) return;
  bert_tokenizer *tok = make(&uncased_vocab, 1, 100, NULL);
  enum { PARTS = 64 };
  size_t part = size / PARTS, counts[PARTS];
  uint64_t sums[PARTS], seq_sum = 0;
  bert_tokens t;
  bert_tokens_init(&t);
  for (int p = 0; p < PARTS; p++) {
    CHECK(bert_tokenize(tok, text + p * part, part, &t, &err) == 0);
    for (size_t i = 0; i < t.count; i++) seq_sum += (uint64_t)t.ids[i] * (i + 1) + t.starts[i];
  }
  bert_tokens_free(&t);
  int failed = 0;
#pragma omp parallel num_threads(4) reduction(| : failed)
  {
    bert_tokens mine;
    bert_tokens_init(&mine);
    bert_error e = {0};
#pragma omp for schedule(dynamic, 1)
    for (int p = 0; p < PARTS; p++) {
      failed |= bert_tokenize(tok, text + p * part, part, &mine, &e) != 0;
      sums[p] = 0;
      for (size_t i = 0; i < mine.count; i++) sums[p] += (uint64_t)mine.ids[i] * (i + 1) + mine.starts[i];
      counts[p] = mine.count;
    }
    bert_tokens_free(&mine);
  }
  uint64_t par_sum = 0;
  size_t total = 0;
  for (int p = 0; p < PARTS; p++) par_sum += sums[p], total += counts[p];
  CHECK(!failed);
  CHECK(total > 200000);
  CHECK(par_sum == seq_sum);
  bert_tokenizer_free(tok);
  free(text);
}

static int write_text(const char *dir, const char *name, const char *text) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return bert_file_write_atomic(path, text, strlen(text), NULL);
}

static void test_casing(void) {
  const char *dir = test_tmpdir("casing");
  CHECK(dir != NULL);
  if (!dir) return;
  char vocab_path[4200], copy[4200];
  snprintf(vocab_path, sizeof vocab_path, "%s/vocab.txt", dir);
  CHECK(write_text(dir, "vocab.txt", "[PAD]\n[UNK]\nthe\n") == 0);
  bert_error err = {0};
  int lower = -1;
  /* a flag wins over everything */
  CHECK(bert_casing_resolve(vocab_path, &cased_vocab, 1, &lower, &err) == 0 && lower == 1);
  CHECK(bert_casing_resolve(vocab_path, &uncased_vocab, 0, &lower, &err) == 0 && lower == 0);
  /* no tokenizer_config.json: inferred from the vocabulary */
  CHECK(bert_casing_resolve(vocab_path, &uncased_vocab, -1, &lower, &err) == 0 && lower == 1);
  CHECK(bert_casing_resolve(vocab_path, &cased_vocab, -1, &lower, &err) == 0 && lower == 0);
  CHECK(bert_casing_resolve(NULL, &cased_vocab, -1, &lower, &err) == 0 && lower == 0);
  /* tokenizer_config.json beside the vocabulary wins over inference */
  CHECK(write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": false, \"x\": 1}") == 0);
  CHECK(bert_casing_resolve(vocab_path, &uncased_vocab, -1, &lower, &err) == 0 && lower == 0);
  CHECK(write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": true}") == 0);
  CHECK(bert_casing_resolve(vocab_path, &cased_vocab, -1, &lower, &err) == 0 && lower == 1);
  /* a config without the key falls back to inference */
  CHECK(write_text(dir, "tokenizer_config.json", "{\"model_max_length\": 512}") == 0);
  CHECK(bert_casing_resolve(vocab_path, &cased_vocab, -1, &lower, &err) == 0 && lower == 0);
  /* a broken config is an error naming the file */
  CHECK(write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": tru") == 0);
  CHECK(bert_casing_resolve(vocab_path, &cased_vocab, -1, &lower, &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "tokenizer_config.json") != NULL);
  CHECK(write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": \"yes\"}") == 0);
  CHECK(bert_casing_resolve(vocab_path, &cased_vocab, -1, &lower, &err) == BERT_EFORMAT);
  /* the bundled tiny model says do_lower_case true over a cased vocabulary: the config wins */
  snprintf(copy, sizeof copy, "tests/data/camphr_ner_bert/vocab.txt");
  if (bert_path_exists(copy)) {
    bert_vocab tiny;
    CHECK(bert_vocab_load(&tiny, copy, &err) == 0);
    CHECK(bert_casing_resolve(copy, &tiny, -1, &lower, &err) == 0 && lower == 1);
    bert_vocab_free(&tiny);
  }
}

static void test_no_unk(void) {
  const char *dir = test_tmpdir("nounk");
  if (!dir) return;
  char path[4200];
  snprintf(path, sizeof path, "%s/vocab.txt", dir);
  CHECK(write_text(dir, "vocab.txt", "[PAD]\nthe\n") == 0);
  bert_vocab v;
  bert_error err = {0};
  CHECK(bert_vocab_load(&v, path, &err) == 0);
  bert_tokenizer_options o;
  bert_tokenizer_options_default(&o);
  bert_tokenizer *tok = NULL;
  CHECK(bert_tokenizer_create(&tok, &v, &o, &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "[UNK]") != NULL);
  bert_vocab_free(&v);
}

int main(void) {
  bert_error err = {0};
  if (bert_vocab_load(&uncased_vocab, "tests/data/tokenizer/bert-base-uncased-vocab.txt", &err) ||
      bert_vocab_load(&cased_vocab, "tests/data/tokenizer/bert-base-cased-vocab.txt", &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  test_uncased();
  test_cased();
  test_long_words();
  test_never_split();
  test_threads();
  test_casing();
  test_no_unk();
  bert_vocab_free(&uncased_vocab);
  bert_vocab_free(&cased_vocab);
  return test_summary("tokenizer");
}
