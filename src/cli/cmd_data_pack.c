/* bert data pack: unpacked pretraining TFRecords to packed ones (reference
 * data/packing/pack_pretraining_data.py, same options and printout), or, with --histogram, the
 * packing plan of a length histogram alone. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/glob.h"
#include "cli/cmd_data.h"
#include "data/pack.h"
#include "data/packing.h"

static const char *pack_usage =
    "usage: bert data pack --input-files GLOB --output-dir DIR [options]\n"
    "       bert data pack --histogram FILE [options]\n"
    "\n"
    "Packs unpacked pretraining data (input_ids, input_mask, ... as `bert data create` writes) into\n"
    "the packed format (packed_input_ids, packed_input_mask = sequence index, ...): several\n"
    "sequences per row of L tokens, their [CLS] tokens at the end. Two passes over the data, about\n"
    "10 bytes of memory per sequence. Writes wiki_000.tfrecord, wiki_001.tfrecord, ... with their\n"
    ".index files (500,000 packs each, atomically) and ends with\n"
    "\"Packing took: T seconds. P packs left to fill.\"\n"
    "\n"
    "options:\n"
    "  --input-files GLOB          comma-separated patterns of unpacked TFRecords; each must match\n"
    "  --output-dir DIR            folder for the packed files (created if missing)\n"
    "  --sequence-length N         L (default 128)\n"
    "  --mask-tokens N             M, masked slots per unpacked sequence (default 20); packs have\n"
    "                              M + S - 1\n"
    "  --max-sequences-per-pack N  S (default 3): 2 or 3 for nnlshp, 1 to 16 for spfhp/lpfhp\n"
    "  --algorithm A               nnlshp (default: the reference's non-negative least squares\n"
    "                              histogram packing), spfhp (shortest-pack-first) or lpfhp\n"
    "                              (longest-pack-first), arXiv 2107.02027\n"
    "  --drop-unpacked-remainder   nnlshp: drop the sequences rounding leaves over instead of\n"
    "                              packing them in pairs (a following True/False is accepted)\n"
    "  --random-seed N             seed of the shuffles (default 12345)\n"
    "  --histogram FILE            plan from a length histogram (JSON: {\"counts\": [...]}, counts[i]\n"
    "                              = sequences of length i+1) and print the statistics; no data\n"
    "  --plan-output FILE          also write the plan (strategies, repeats, padding) as JSON\n"
    "  --threads N                 threads (default: all cores); the output does not depend on it\n"
    "  --packs-per-file N          packs per output file (default 500000)\n"
    "  --no-crc-check              do not verify the input records' CRCs\n"
    "  --disable-progress-bar      no progress bar (it is shown only on a terminal anyway)\n"
    "  -h, --help                  show this help and exit\n"
    "The reference's --num-packing-workers is taken as --threads; --unpacked-dataset-duplication-factor,\n"
    "--load-batch-size and --chunks-per-packing-worker are accepted and ignored (unused there too).\n";

typedef struct pack_args {
  const char *inputs, *output_dir, *histogram;
  int length_given;
  bert_pack_options o;
} pack_args;

enum { OPT_IN = 256, OPT_OUT, OPT_LEN, OPT_MASK, OPT_MAXSEQ, OPT_ALGO, OPT_DROP, OPT_SEED, OPT_HIST, OPT_PLAN,
       OPT_THREADS, OPT_PER_FILE, OPT_NOCRC, OPT_NOBAR, OPT_WORKERS, OPT_IGNORED };

static const struct option pack_longopts[] = {
    {"input-files", required_argument, 0, OPT_IN},
    {"output-dir", required_argument, 0, OPT_OUT},
    {"sequence-length", required_argument, 0, OPT_LEN},
    {"mask-tokens", required_argument, 0, OPT_MASK},
    {"max-sequences-per-pack", required_argument, 0, OPT_MAXSEQ},
    {"algorithm", required_argument, 0, OPT_ALGO},
    {"drop-unpacked-remainder", no_argument, 0, OPT_DROP},
    {"random-seed", required_argument, 0, OPT_SEED},
    {"histogram", required_argument, 0, OPT_HIST},
    {"plan-output", required_argument, 0, OPT_PLAN},
    {"threads", required_argument, 0, OPT_THREADS},
    {"num-packing-workers", required_argument, 0, OPT_WORKERS},
    {"packs-per-file", required_argument, 0, OPT_PER_FILE},
    {"no-crc-check", no_argument, 0, OPT_NOCRC},
    {"disable-progress-bar", no_argument, 0, OPT_NOBAR},
    {"unpacked-dataset-duplication-factor", required_argument, 0, OPT_IGNORED},
    {"load-batch-size", required_argument, 0, OPT_IGNORED},
    {"chunks-per-packing-worker", required_argument, 0, OPT_IGNORED},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

static int parse_number(int c, const char *s, pack_args *a) {
  int64_t v;
  bert_pack_options *o = &a->o;
  switch (c) {
    case OPT_LEN: if (data_parse_int64("pack", "--sequence-length", s, 2, BERT_PACK_MAX_LENGTH, &v)) return -1;
      o->plan.sequence_length = (int)v, a->length_given = 1; return 0;
    case OPT_MASK: if (data_parse_int64("pack", "--mask-tokens", s, 1, BERT_PACK_MAX_LENGTH, &v)) return -1;
      o->mask_tokens = (int)v; return 0;
    case OPT_MAXSEQ: if (data_parse_int64("pack", "--max-sequences-per-pack", s, 1, BERT_PACK_MAX_SEQUENCES, &v)) return -1;
      o->plan.max_sequences_per_pack = (int)v; return 0;
    case OPT_SEED: if (data_parse_int64("pack", "--random-seed", s, 0, INT64_MAX, &v)) return -1;
      o->seed = (uint64_t)v; return 0;
    case OPT_THREADS: case OPT_WORKERS: if (data_parse_int64("pack", "--threads", s, 1, 4096, &v)) return -1;
      o->threads = (int)v; return 0;
    case OPT_PER_FILE: return data_parse_int64("pack", "--packs-per-file", s, 1, INT32_MAX, &o->packs_per_file);
    default: return -1;
  }
}

/* The reference's --drop-unpacked-remainder takes a Python literal: accept a following True/False. */
static void drop_flag(int argc, char **argv, pack_args *a) {
  a->o.plan.drop_unpacked_remainder = 1;
  if (optind < argc && (!strcasecmp(argv[optind], "true") || !strcasecmp(argv[optind], "false")))
    a->o.plan.drop_unpacked_remainder = !strcasecmp(argv[optind++], "true");
}

static int parse_one(int c, int argc, char **argv, pack_args *a) {
  bert_error err;
  switch (c) {
    case OPT_IN: a->inputs = optarg; return 0;
    case OPT_OUT: a->output_dir = optarg; return 0;
    case OPT_HIST: a->histogram = optarg; return 0;
    case OPT_PLAN: a->o.plan_output = optarg; return 0;
    case OPT_NOCRC: a->o.check_crc = 0; return 0;
    case OPT_NOBAR: a->o.progress = 0; return 0;
    case OPT_IGNORED: return 0;
    case OPT_DROP: drop_flag(argc, argv, a); return 0;
    case OPT_ALGO:
      if (!bert_pack_algorithm_parse(optarg, &a->o.plan.algorithm, &err)) return 0;
      fprintf(stderr, "bert data pack: %s\n", err.message);
      return -1;
    case 'h': fputs(pack_usage, stdout); return 1;
    default:
      if (c >= OPT_IN && !parse_number(c, optarg, a)) return 0;
      if (c < OPT_IN) fprintf(stderr, "bert data pack: unknown or incomplete option '%s'\n%s", argv[optind - 1], pack_usage);
      return -1;
  }
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_pack(int argc, char **argv, pack_args *a) {
  memset(a, 0, sizeof *a);
  bert_pack_options_default(&a->o);
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", pack_longopts, NULL)) != -1) {
    int rc = parse_one(c, argc, argv, a);
    if (rc) return rc < 0 ? 2 : 1;
  }
  if (optind < argc) return fprintf(stderr, "bert data pack: unexpected argument '%s'\n", argv[optind]), 2;
  if (!a->histogram && (!a->inputs || !a->output_dir)) {
    fprintf(stderr, "bert data pack: --input-files and --output-dir are required (or --histogram)\n%s", pack_usage);
    return 2;
  }
  return 0;
}

static int plan_histogram(const pack_args *a) {
  bert_error err;
  int64_t *counts = NULL;
  int L = 0, rc = bert_pack_histogram_load(a->histogram, &counts, &L, &err);
  if (!rc && a->length_given && L != a->o.plan.sequence_length)
    rc = bert_error_set(&err, BERT_EINVAL, "%s has %d lengths but --sequence-length is %d", a->histogram, L,
                        a->o.plan.sequence_length);
  bert_pack_plan_options po = a->o.plan;
  po.sequence_length = L;
  bert_pack_plan plan;
  if (!rc) rc = bert_pack_plan_make(counts, &po, &plan, &err);
  if (!rc) {
    bert_pack_plan_print(&plan, stdout);
    printf("Planning took: %.4f seconds (%s, L = %d, at most %d sequences per pack).\n", plan.plan_seconds,
           bert_pack_algorithm_name(po.algorithm), L, po.max_sequences_per_pack);
    if (a->o.plan_output) rc = bert_pack_plan_write_json(&plan, a->o.plan_output, &err);
    bert_pack_plan_free(&plan);
  }
  free(counts);
  if (rc) fprintf(stderr, "bert data pack: %s\n", err.message);
  return rc ? 1 : 0;
}

int cmd_data_pack(int argc, char **argv) {
  pack_args a;
  int rc = parse_pack(argc, argv, &a);
  if (rc) return rc == 1 ? 0 : rc;
  if (a.histogram) return plan_histogram(&a);
  bert_error err;
  bert_strlist inputs = {0};
  bert_pack_report rep;
  rc = bert_glob_expand(a.inputs, &inputs, &err);
  if (!rc) rc = bert_pack_dataset(&inputs, a.output_dir, &a.o, stdout, &rep, &err);
  fflush(stdout);
  if (rc) fprintf(stderr, "bert data pack: %s\n", err.message);
  bert_strlist_free(&inputs);
  return rc ? 1 : 0;
}
