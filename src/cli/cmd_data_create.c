/* bert data create: pretraining TFRecords from text, as the reference's
 * third_party/create_pretraining_data.py (same options and defaults; --vocab replaces --model),
 * streaming over groups of input files and using every core. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/glob.h"
#include "base/log.h"
#include "cli/cmd_data.h"
#include "data/pretraining.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

static const char *create_usage =
    "usage: bert data create --input-file GLOBS --output-file FILES --vocab VOCAB.txt [options]\n"
    "\n"
    "Creates BERT pretraining data (masked LM + next sentence prediction) from text files with one\n"
    "sentence per line and blank lines between documents. Writes TFRecords of tf.train.Example in\n"
    "the unpacked format (input_ids, input_mask, segment_ids, masked_lm_positions, masked_lm_ids,\n"
    "masked_lm_weights, next_sentence_labels), each with its .index, atomically.\n"
    "\n"
    "options:\n"
    "  --input-file GLOBS        comma-separated file patterns; each must match (required)\n"
    "  --output-file FILES       comma-separated outputs, filled round-robin (required)\n"
    "  --vocab FILE              WordPiece vocabulary, vocab.txt (required)\n"
    "  --do-lower-case           lower-case and strip accents (uncased vocabularies)\n"
    "  --cased                   keep case; without either flag the casing comes from\n"
    "                            tokenizer_config.json beside the vocabulary, else from the vocabulary\n"
    "  --sequence-length N       L, tokens per instance (default 128)\n"
    "  --mask-tokens N           M, most masked positions per instance (default 20)\n"
    "  --seed N                  random seed (default 1984)\n"
    "  --duplication-factor N    passes over the documents, each with new masks (default 6)\n"
    "  --mlm-prob P              fraction of tokens masked (default 0.15)\n"
    "  --short-seq-prob P        probability of a shorter target length (default 0.1)\n"
    "  --max-samples N           write at most N instances, -1 = all (default -1)\n"
    "  --ignore-index-value N    padding of masked_lm_ids (default 0; PyTorch uses -100)\n"
    "  --whole-word-masking      mask all pieces of a word together\n"
    "  --group-files N           input files per group: documents are shuffled and paired within a\n"
    "                            group, and memory holds one group (default 50)\n"
    "  --threads N               threads (default: all cores); the output does not depend on it\n"
    "  --disable-progress-bar    no progress bar (it is shown only on a terminal anyway)\n"
    "  -h, --help                show this help and exit\n";

typedef struct create_args {
  const char *inputs, *outputs, *vocab;
  int lower_case; /* -1 not given */
  bert_pretraining_options o;
} create_args;

enum { OPT_IN = 256, OPT_OUT, OPT_VOCAB, OPT_LOWER, OPT_CASED, OPT_LEN, OPT_MASK, OPT_SEED, OPT_DUP, OPT_MLM,
       OPT_SHORT, OPT_MAX, OPT_IGNORE, OPT_WWM, OPT_GROUP, OPT_THREADS, OPT_NOBAR };

static const struct option create_longopts[] = {
    {"input-file", required_argument, 0, OPT_IN},        {"output-file", required_argument, 0, OPT_OUT},
    {"vocab", required_argument, 0, OPT_VOCAB},          {"do-lower-case", no_argument, 0, OPT_LOWER},
    {"cased", no_argument, 0, OPT_CASED},                {"sequence-length", required_argument, 0, OPT_LEN},
    {"mask-tokens", required_argument, 0, OPT_MASK},     {"seed", required_argument, 0, OPT_SEED},
    {"duplication-factor", required_argument, 0, OPT_DUP}, {"mlm-prob", required_argument, 0, OPT_MLM},
    {"short-seq-prob", required_argument, 0, OPT_SHORT}, {"max-samples", required_argument, 0, OPT_MAX},
    {"ignore-index-value", required_argument, 0, OPT_IGNORE}, {"whole-word-masking", no_argument, 0, OPT_WWM},
    {"group-files", required_argument, 0, OPT_GROUP},    {"threads", required_argument, 0, OPT_THREADS},
    {"disable-progress-bar", no_argument, 0, OPT_NOBAR}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

static int parse_int_opt(int c, const char *s, bert_pretraining_options *o) {
  int64_t v;
  switch (c) {
    case OPT_LEN: if (data_parse_int64("create", "--sequence-length", s, 5, 65535, &v)) return -1; o->sequence_length = (int)v; return 0;
    case OPT_MASK: if (data_parse_int64("create", "--mask-tokens", s, 1, 65535, &v)) return -1; o->mask_tokens = (int)v; return 0;
    case OPT_SEED: if (data_parse_int64("create", "--seed", s, 0, INT64_MAX, &v)) return -1; o->seed = (uint64_t)v; return 0;
    case OPT_DUP: if (data_parse_int64("create", "--duplication-factor", s, 1, 1000, &v)) return -1; o->duplication_factor = (int)v; return 0;
    case OPT_MAX: return data_parse_int64("create", "--max-samples", s, -1, INT64_MAX, &o->max_samples);
    case OPT_IGNORE: return data_parse_int64("create", "--ignore-index-value", s, INT64_MIN, INT64_MAX, &o->ignore_index_value);
    case OPT_GROUP: if (data_parse_int64("create", "--group-files", s, 1, 1 << 30, &v)) return -1; o->group_files = (int)v; return 0;
    case OPT_THREADS: if (data_parse_int64("create", "--threads", s, 1, 4096, &v)) return -1; o->threads = (int)v; return 0;
    case OPT_MLM: return data_parse_double("create", "--mlm-prob", s, 0, 1, &o->mlm_prob);
    case OPT_SHORT: return data_parse_double("create", "--short-seq-prob", s, 0, 1, &o->short_seq_prob);
    default: return -1;
  }
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_create(int argc, char **argv, create_args *a) {
  memset(a, 0, sizeof *a);
  a->lower_case = -1;
  bert_pretraining_options_default(&a->o);
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", create_longopts, NULL)) != -1) {
    if (c == OPT_IN) a->inputs = optarg;
    else if (c == OPT_OUT) a->outputs = optarg;
    else if (c == OPT_VOCAB) a->vocab = optarg;
    else if (c == OPT_LOWER) a->lower_case = 1;
    else if (c == OPT_CASED) a->lower_case = 0;
    else if (c == OPT_WWM) a->o.whole_word_masking = 1;
    else if (c == OPT_NOBAR) a->o.progress = 0;
    else if (c == 'h') return fputs(create_usage, stdout), 1;
    else if (c < OPT_IN || parse_int_opt(c, optarg, &a->o)) {
      if (c < OPT_IN) fprintf(stderr, "bert data create: unknown or incomplete option '%s'\n%s", argv[optind - 1], create_usage);
      return 2;
    }
  }
  if (optind < argc) return fprintf(stderr, "bert data create: unexpected argument '%s'\n", argv[optind]), 2;
  if (!a->inputs || !a->outputs || !a->vocab) {
    fprintf(stderr, "bert data create: --input-file, --output-file and --vocab are required\n%s", create_usage);
    return 2;
  }
  if (a->o.mask_tokens > a->o.sequence_length) {
    fprintf(stderr, "bert data create: --mask-tokens %d exceeds --sequence-length %d\n", a->o.mask_tokens,
            a->o.sequence_length);
    return 2;
  }
  return 0;
}

static int make_tokenizer(const create_args *a, bert_vocab *vocab, bert_tokenizer **tok, bert_error *err) {
  int rc = bert_vocab_load(vocab, a->vocab, err), lower = 1;
  if (rc) return rc;
  if ((rc = bert_casing_resolve(a->vocab, vocab, a->lower_case, &lower, err))) return rc;
  bert_tokenizer_options topts;
  bert_tokenizer_options_default(&topts);
  topts.lower_case = lower;
  /* Literal "[SEP]" etc. in text stay plain text, so every instance has exactly one [CLS] and
   * two [SEP]s (the reference's HF tokenizer would turn them into special tokens). */
  topts.never_split = NULL;
  return bert_tokenizer_create(tok, vocab, &topts, err);
}

static void report(const bert_pretraining_stats *s) {
  bert_log("Read %zu file(s) (%.2f MB, %" PRIu64 " lines) in %zu group(s): %" PRIu64 " documents, %" PRIu64
           " sentences, %" PRIu64 " tokens", s->files, (double)s->bytes / 1e6, s->lines, s->groups, s->documents,
           s->sentences, s->tokens);
  bert_log("Created %" PRIu64 " instances (seconds: tokenize %.2f, create %.2f, shuffle + write %.2f)",
           s->instances, s->seconds_tokenize, s->seconds_create, s->seconds_write);
  bert_log("Wrote %" PRIu64 " total instances", s->written);
}

int cmd_data_create(int argc, char **argv) {
  create_args a;
  int rc = parse_create(argc, argv, &a);
  if (rc) return rc == 1 ? 0 : rc;
  bert_error err;
  bert_strlist inputs = {0}, outputs = {0};
  bert_vocab vocab = {0};
  bert_tokenizer *tok = NULL;
  rc = bert_glob_expand(a.inputs, &inputs, &err);
  if (!rc) rc = bert_split_commas(a.outputs, &outputs, &err);
  if (!rc) rc = make_tokenizer(&a, &vocab, &tok, &err);
  bert_pretraining_stats stats;
  if (!rc) rc = bert_pretraining_create(&inputs, &outputs, tok, &a.o, &stats, &err);
  if (!rc) report(&stats);
  else fprintf(stderr, "bert data create: %s\n", err.message);
  bert_tokenizer_free(tok);
  if (vocab.tokens) bert_vocab_free(&vocab);
  bert_strlist_free(&inputs);
  bert_strlist_free(&outputs);
  return rc ? 1 : 0;
}
