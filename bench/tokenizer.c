/* bench/tokenizer: WordPiece tokenizer throughput, in MB/s of UTF-8 input, single-threaded and with
 * all cores, on English Wikipedia paragraphs (WikiExtractor output without its <doc> lines,
 * repeated in memory to about --mb megabytes). bench/tokenizer.sh runs it beside HuggingFace's
 * Rust tokenizer (bench/peers/hf_tokenizer.js) on the same lines and compares the ids.
 *
 *   bench_tokenizer [--vocab data/vocab.txt] [--corpus FILE] [--mb 20] [--repeats 5]
 *                   [--threads N] [--dump-ids FILE]
 *
 * Each figure is the best of --repeats timed passes after one warm-up pass. --dump-ids writes the
 * ids of one pass over the unrepeated lines, one line of space-separated ids per input line.
 * Lines starting with "RESULT " are the figures. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/file.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

typedef struct corpus {
  char *text;        /* the repeated lines, each ending in '\n' */
  size_t *start;     /* line i is text[start[i], start[i + 1] - 1) */
  size_t lines;      /* all lines, repeats included */
  size_t base_lines; /* lines of one copy */
  size_t bytes;      /* bytes of the lines, '\n' excluded */
} corpus;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int keep_line(const char *s, size_t len) {
  if (!len) return 0;
  if (len >= 5 && !memcmp(s, "<doc ", 5)) return 0;
  return !(len == 6 && !memcmp(s, "</doc>", 6));
}

/* The file's non-empty lines other than <doc ...> and </doc>, copied until about `mb` MB. */
static int load_corpus(corpus *c, const char *path, double mb) {
  char *raw;
  size_t size;
  bert_error err = {0};
  if (bert_file_read(path, &raw, &size, &err)) {
    fprintf(stderr, "bench_tokenizer: %s\n", err.message);
    return -1;
  }
  char *kept = malloc(size + 1);
  size_t kept_len = 0, kept_lines = 0;
  for (size_t p = 0; p < size;) {
    char *nl = memchr(raw + p, '\n', size - p);
    size_t len = (nl ? (size_t)(nl - raw) : size) - p;
    if (keep_line(raw + p, len)) {
      memcpy(kept + kept_len, raw + p, len);
      kept_len += len;
      kept[kept_len++] = '\n';
      kept_lines++;
    }
    p += len + 1;
  }
  free(raw);
  size_t copies = (size_t)(mb * 1e6 / (double)kept_len) + 1;
  c->text = malloc(kept_len * copies);
  c->start = malloc((kept_lines * copies + 1) * sizeof *c->start);
  if (!c->text || !c->start) return -1;
  for (size_t k = 0; k < copies; k++) memcpy(c->text + k * kept_len, kept, kept_len);
  free(kept);
  c->lines = 0;
  for (size_t p = 0; p < kept_len * copies; p++)
    if (p == 0 || c->text[p - 1] == '\n') c->start[c->lines++] = p;
  c->start[c->lines] = kept_len * copies;
  c->base_lines = kept_lines;
  c->bytes = kept_len * copies - c->lines;
  return 0;
}

/* One pass over lines [0, count) with `threads` threads; returns the tokens produced. */
static size_t pass(const bert_tokenizer *tok, const corpus *c, size_t count, int threads) {
  size_t tokens = 0;
#pragma omp parallel num_threads(threads) reduction(+ : tokens)
  {
    bert_tokens out;
    bert_tokens_init(&out);
    bert_error err = {0};
#pragma omp for schedule(dynamic, 256)
    for (size_t i = 0; i < count; i++) {
      size_t s = c->start[i], len = c->start[i + 1] - 1 - s;
      if (bert_tokenize(tok, c->text + s, len, &out, &err)) abort(); /* out of memory only */
      tokens += out.count;
    }
    bert_tokens_free(&out);
  }
  return tokens;
}

static void measure(const char *name, const bert_tokenizer *tok, const corpus *c, int threads,
                    int repeats) {
  size_t tokens = pass(tok, c, c->lines, threads); /* warm-up */
  double best = 1e30;
  for (int r = 0; r < repeats; r++) {
    double t0 = now_s();
    tokens = pass(tok, c, c->lines, threads);
    double dt = now_s() - t0;
    if (dt < best) best = dt;
  }
  printf("RESULT bertc %s threads=%d MB/s=%.1f Mtokens/s=%.2f seconds=%.3f tokens=%zu\n", name,
         threads, (double)c->bytes / best / 1e6, (double)tokens / best / 1e6, best, tokens);
}

static int dump_ids(const bert_tokenizer *tok, const corpus *c, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  bert_tokens out;
  bert_tokens_init(&out);
  bert_error err = {0};
  for (size_t i = 0; i < c->base_lines; i++) {
    size_t s = c->start[i];
    if (bert_tokenize(tok, c->text + s, c->start[i + 1] - 1 - s, &out, &err)) abort();
    for (size_t k = 0; k < out.count; k++) fprintf(f, k ? " %d" : "%d", out.ids[k]);
    fputc('\n', f);
  }
  bert_tokens_free(&out);
  return fclose(f);
}

int main(int argc, char **argv) {
  const char *vocab_path = "data/vocab.txt", *corpus_path = "tests/data/text/wikiextractor_en/AA_wiki_00";
  const char *dump = NULL;
  double mb = 20;
  int repeats = 5, threads = omp_get_num_procs();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--vocab")) vocab_path = argv[i + 1];
    else if (!strcmp(argv[i], "--corpus")) corpus_path = argv[i + 1];
    else if (!strcmp(argv[i], "--mb")) mb = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--dump-ids")) dump = argv[i + 1];
    else {
      fprintf(stderr, "bench_tokenizer: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  bert_vocab vocab;
  bert_tokenizer *tok;
  bert_tokenizer_options opts;
  bert_tokenizer_options_default(&opts); /* uncased, 100 characters: HuggingFace's settings */
  bert_error err = {0};
  if (bert_vocab_load(&vocab, vocab_path, &err) || bert_tokenizer_create(&tok, &vocab, &opts, &err)) {
    fprintf(stderr, "bench_tokenizer: %s\n", err.message);
    return 1;
  }
  corpus c;
  if (load_corpus(&c, corpus_path, mb)) return 1;
  printf("corpus: %s, %zu lines (%zu distinct), %.1f MB; vocab %s (uncased, max 100 chars/word)\n",
         corpus_path, c.lines, c.base_lines, (double)c.bytes / 1e6, vocab_path);
  if (dump && dump_ids(tok, &c, dump)) {
    fprintf(stderr, "bench_tokenizer: cannot write %s\n", dump);
    return 1;
  }
  measure("single-thread", tok, &c, 1, repeats);
  if (threads > 1) measure("all-cores", tok, &c, threads, repeats);
  bert_tokenizer_free(tok);
  bert_vocab_free(&vocab);
  free(c.text);
  free(c.start);
  return 0;
}
