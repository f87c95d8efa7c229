/* bert data: TFRecord tools. `index` writes .index files, `inspect` prints records feature by
 * feature (token text when given a vocabulary), `create` makes pretraining data from text. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_data.h"
#include "cli/cmd_data_wiki.h"
#include "cli/commands.h"
#include "data/example.h"
#include "data/tfrecord.h"
#include "text/vocab.h"

static const char *data_usage =
    "usage: bert data <index|inspect|create|pack|shuffle|wiki-extract|wiki-preprocess|wikipedia> [options]\n"
    "\n"
    "  index FILE...            write FILE's .index (offset and size of every record)\n"
    "  inspect FILE             print the records of a TFRecord file feature by feature\n"
    "  create --input-file ...  pretraining data (TFRecord + .index) from text files\n"
    "  pack --input-files ...   pack pretraining data (several sequences per row), or plan from a\n"
    "                           length histogram (--histogram)\n"
    "  shuffle --input-files ...  shuffle (packed) TFRecords across files\n"
    "  wiki-extract DUMP OUTDIR  WikiExtractor-style text from a MediaWiki XML dump (.xml, .bz2)\n"
    "  wiki-preprocess IN OUT   one sentence per line (the reference's wikipedia_preprocess.py)\n"
    "  wikipedia DUMP OUTDIR    the whole pipeline: dump to (packed) TFRecords, resumable\n"
    "\n"
    "`bert data <sub> --help` describes a subcommand's options.\n";

int data_parse_int64(const char *cmd, const char *name, const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s == '\0' || *end != '\0' || errno || v < lo || v > hi) {
    fprintf(stderr, "bert data %s: %s expects an integer in [%" PRId64 ", %" PRId64 "], got '%s'\n", cmd, name, lo,
            hi, s);
    return -1;
  }
  *out = v;
  return 0;
}

int data_parse_double(const char *cmd, const char *name, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*s == '\0' || *end != '\0' || errno || !(v >= lo && v <= hi)) {
    fprintf(stderr, "bert data %s: %s expects a number in [%g, %g], got '%s'\n", cmd, name, lo, hi, s);
    return -1;
  }
  *out = v;
  return 0;
}

/* ---------------------------------------------------------------- index */

static const char *index_usage =
    "usage: bert data index FILE... [--no-crc-check]\n"
    "\n"
    "Writes FILE's index next to it (FILE with .tfrecord replaced by .index; atomically): one line\n"
    "\"<byte offset> <record size including the 16 framing bytes>\" per record, the format of the\n"
    "tfrecord package's tfrecord2idx, which the pretraining loader reads.\n"
    "\n"
    "options:\n"
    "  --no-crc-check   do not verify the records' CRCs while scanning\n"
    "  -h, --help       show this help and exit\n";

static int index_one(const char *path, int check_crc) {
  bert_error err;
  bert_tfrecord_index idx;
  char index_path[4096];
  int rc = bert_tfrecord_index_path(path, index_path, sizeof index_path, &err);
  if (!rc) rc = bert_tfrecord_index_build(path, check_crc, &idx, &err);
  if (!rc) {
    rc = bert_tfrecord_index_write(index_path, &idx, &err);
    if (!rc) printf("%s: %" PRId64 " records -> %s\n", path, idx.count, index_path);
    bert_tfrecord_index_free(&idx);
  }
  if (rc) fprintf(stderr, "bert data index: %s\n", err.message);
  return rc;
}

int cmd_data_index(int argc, char **argv) {
  int check_crc = 1, files = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return fputs(index_usage, stdout), 0;
    if (!strcmp(argv[i], "--no-crc-check")) check_crc = 0;
    else if (argv[i][0] == '-' && argv[i][1] == '-') {
      fprintf(stderr, "bert data index: unknown option '%s'\n%s", argv[i], index_usage);
      return 2;
    }
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--no-crc-check")) continue;
    files++;
    failed |= index_one(argv[i], check_crc) != 0;
  }
  if (!files) {
    fprintf(stderr, "bert data index: no input file\n%s", index_usage);
    return 2;
  }
  return failed ? 1 : 0;
}

/* ---------------------------------------------------------------- inspect */

static const char *inspect_usage =
    "usage: bert data inspect FILE [--vocab VOCAB.txt] [--records N] [--no-crc-check]\n"
    "\n"
    "Prints the records of a TFRecord file of tf.train.Example, feature by feature (any features:\n"
    "the unpacked and the packed pretraining formats alike). With a vocabulary, token-id features\n"
    "(*input_ids, *masked_lm_ids) are also shown as text, and masked positions with their labels.\n"
    "\n"
    "options:\n"
    "  --vocab FILE     vocabulary (vocab.txt) to decode token ids\n"
    "  --records N      print at most N records (default: all)\n"
    "  --no-crc-check   do not verify CRCs\n"
    "  -h, --help       show this help and exit\n";

typedef struct inspect_options {
  const char *file, *vocab;
  int64_t records;
  int check_crc;
} inspect_options;

static int parse_inspect(int argc, char **argv, inspect_options *o) {
  static const struct option longopts[] = {{"vocab", required_argument, 0, 'v'},
                                           {"records", required_argument, 0, 'n'},
                                           {"no-crc-check", no_argument, 0, 'c'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  *o = (inspect_options){NULL, NULL, -1, 1};
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'v': o->vocab = optarg; break;
      case 'n': if (data_parse_int64("inspect", "--records", optarg, 0, INT64_MAX, &o->records)) return 2; break;
      case 'c': o->check_crc = 0; break;
      case 'h': fputs(inspect_usage, stdout); return 1;
      default:
        fprintf(stderr, "bert data inspect: unknown or incomplete option '%s'\n%s", argv[optind - 1], inspect_usage);
        return 2;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "bert data inspect: expected one FILE\n%s", inspect_usage);
    return 2;
  }
  o->file = argv[optind];
  return 0;
}

/* 1 for *input_ids, 2 for *masked_lm_ids, else 0. */
static int token_feature(const char *name) {
  size_t n = strlen(name);
  if (n >= 9 && !strcmp(name + n - 9, "input_ids")) return 1;
  return n >= 13 && !strcmp(name + n - 13, "masked_lm_ids") ? 2 : 0;
}

/* Token text without padding ([PAD] = id 0 is counted instead). Word pieces are glued ("##")
 * for input ids, kept apart for label lists, whose tokens are not neighbours. */
static void print_text(const bert_vocab *vocab, const int64_t *ids, size_t n, int glue) {
  size_t pads = 0;
  fputs("    text:", stdout);
  for (size_t i = 0; i < n; i++) {
    const char *t = ids[i] >= 0 && ids[i] < vocab->size ? bert_vocab_token(vocab, (int)ids[i]) : NULL;
    if (ids[i] == 0) pads++;
    else if (!t) printf(" <%" PRId64 "?>", ids[i]);
    else if (glue && !strncmp(t, "##", 2) && i > 0) fputs(t + 2, stdout);
    else printf(" %s", t);
  }
  if (pads) printf("  (+%zu padding)", pads);
  putchar('\n');
}

static void print_bytes(const uint8_t *p, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '"' || p[i] == '\\') printf("\\%c", p[i]);
    else if (p[i] >= 32 && p[i] < 127) putchar(p[i]);
    else printf("\\x%02x", p[i]);
  }
  putchar('"');
}

static void print_feature(const bert_example *ex, size_t i, const bert_vocab *vocab) {
  const char *name = bert_example_feature_name(ex, i);
  bert_feature_kind kind = bert_example_feature_kind(ex, i);
  size_t n = bert_example_feature_length(ex, i);
  printf("  %s (%s, %zu):", name, bert_feature_kind_name(kind), n);
  for (size_t j = 0; j < n; j++) {
    if (kind == BERT_FEATURE_INT64) printf(" %" PRId64, bert_example_int64s(ex, i)[j]);
    else if (kind == BERT_FEATURE_FLOAT) printf(" %g", (double)bert_example_floats(ex, i)[j]);
    else {
      size_t len;
      const uint8_t *p = bert_example_bytes(ex, i, j, &len);
      putchar(' ');
      print_bytes(p, len);
    }
  }
  putchar('\n');
  if (vocab && kind == BERT_FEATURE_INT64 && token_feature(name))
    print_text(vocab, bert_example_int64s(ex, i), n, token_feature(name) == 1);
}

/* The masked-LM features of either format; `real` (weights or pack mask) tells slots from padding. */
static int find_masks(const bert_example *ex, const int64_t **pos, const int64_t **lab, const float **real,
                      size_t *n) {
  static const char *names[2][3] = {{"masked_lm_positions", "masked_lm_ids", "masked_lm_weights"},
                                    {"packed_masked_lm_positions", "packed_masked_lm_ids", "packed_masked_lm_mask"}};
  for (int f = 0; f < 2; f++) {
    int p = bert_example_find(ex, names[f][0]), l = bert_example_find(ex, names[f][1]);
    int w = bert_example_find(ex, names[f][2]);
    if (p < 0 || l < 0) continue;
    *pos = bert_example_int64s(ex, (size_t)p);
    *lab = bert_example_int64s(ex, (size_t)l);
    *n = bert_example_feature_length(ex, (size_t)p);
    *real = w >= 0 && bert_example_feature_length(ex, (size_t)w) == *n ? bert_example_floats(ex, (size_t)w) : NULL;
    return *pos && *lab && bert_example_feature_length(ex, (size_t)l) == *n;
  }
  return 0;
}

/* "masked: position=label ..." for the real masked slots. */
static void print_masks(const bert_example *ex, const bert_vocab *vocab) {
  const int64_t *pos, *lab;
  const float *real;
  size_t n;
  if (!find_masks(ex, &pos, &lab, &real, &n)) return;
  fputs("  masked:", stdout);
  for (size_t i = 0; i < n; i++) {
    if (real ? real[i] <= 0 : pos[i] == 0) continue; /* padding slot */
    const char *t = lab[i] >= 0 && lab[i] < vocab->size ? bert_vocab_token(vocab, (int)lab[i]) : "?";
    printf(" %" PRId64 "=%s", pos[i], t);
  }
  putchar('\n');
}

static int inspect_file(const inspect_options *o, const bert_vocab *vocab, bert_error *err) {
  bert_tfrecord_reader r;
  int rc = bert_tfrecord_reader_open(&r, o->file, o->check_crc, err);
  if (rc) return rc;
  const uint8_t *data;
  size_t size;
  while ((o->records < 0 || r.record < o->records)) {
    uint64_t offset = r.offset;
    int64_t record = r.record;
    if ((rc = bert_tfrecord_read(&r, &data, &size, err)) <= 0) break;
    bert_example ex;
    if ((rc = bert_example_decode(&ex, data, size, err))) {
      bert_error_prefix(err, "%s: record %" PRId64 " at byte offset %" PRIu64 ": ", o->file, record, offset);
      break;
    }
    printf("record %" PRId64 " (byte offset %" PRIu64 ", %zu bytes)\n", record, offset, size + BERT_TFRECORD_OVERHEAD);
    for (size_t i = 0; i < bert_example_feature_count(&ex); i++) print_feature(&ex, i, vocab);
    if (vocab) print_masks(&ex, vocab);
    bert_example_free(&ex);
  }
  bert_tfrecord_reader_close(&r);
  return rc < 0 ? rc : 0;
}

int cmd_data_inspect(int argc, char **argv) {
  inspect_options o;
  int rc = parse_inspect(argc, argv, &o);
  if (rc) return rc == 1 ? 0 : rc;
  bert_error err;
  bert_vocab vocab;
  if (o.vocab && bert_vocab_load(&vocab, o.vocab, &err)) {
    fprintf(stderr, "bert data inspect: %s\n", err.message);
    return 1;
  }
  rc = inspect_file(&o, o.vocab ? &vocab : NULL, &err);
  fflush(stdout);
  if (rc) fprintf(stderr, "bert data inspect: %s\n", err.message);
  if (o.vocab) bert_vocab_free(&vocab);
  return rc ? 1 : 0;
}

/* ---------------------------------------------------------------- dispatch */

int cmd_data(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*run)(int, char **);
  } subs[] = {{"index", cmd_data_index}, {"inspect", cmd_data_inspect}, {"create", cmd_data_create},
                 {"pack", cmd_data_pack},   {"shuffle", cmd_data_shuffle},
                 {"wiki-extract", cmd_data_wiki_extract}, {"wiki-preprocess", cmd_data_wiki_preprocess},
                 {"wikipedia", cmd_data_wikipedia}};
  if (argc < 2) {
    fputs(data_usage, stderr);
    return 2;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(data_usage, stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
  fprintf(stderr, "bert data: unknown subcommand '%s'\n%s", argv[1], data_usage);
  return 2;
}
