/* bert data shuffle: the reference's data/packing/shuffle_packed_data.py — a buffered shuffle of
 * (packed) TFRecords across files, into numbered files of 500,000 records with their indexes. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/glob.h"
#include "cli/cmd_data.h"
#include "data/shuffle.h"

static const char *shuffle_usage =
    "usage: bert data shuffle --input-files GLOB --output-dir DIR [options]\n"
    "\n"
    "Shuffles TFRecord files (typically `bert data pack` output) across files: records are taken in\n"
    "input order into a buffer of 2,500,000, each full buffer is shuffled and written as files of\n"
    "500,000 records, wiki_000.tfrecord, wiki_001.tfrecord, ... with their .index files (atomically).\n"
    "The buffer holds 8 bytes per record (file and offset, from the .index files or a scan), not\n"
    "the records. Deterministic: the same inputs and seed give the same files.\n"
    "\n"
    "options:\n"
    "  --input-files GLOB      comma-separated patterns; each must match\n"
    "  --output-dir DIR        folder for the shuffled files (created if missing)\n"
    "  --random-seed N         seed of the shuffle (default 12345)\n"
    "  --buffer-size N         records shuffled together (default 2500000; 0 = all of them)\n"
    "  --records-per-file N    records per output file (default 500000)\n"
    "  --threads N             reader threads (default: all cores); the output does not depend on it\n"
    "  --no-crc-check          do not verify the records' CRCs\n"
    "  --disable-progress-bar  no progress bar (it is shown only on a terminal anyway)\n"
    "  -h, --help              show this help and exit\n"
    "The reference's --num-workers is taken as --threads; --chunks-per-worker is accepted and ignored.\n";

typedef struct shuffle_args {
  const char *inputs, *output_dir;
  bert_shuffle_options o;
} shuffle_args;

enum { OPT_IN = 256, OPT_OUT, OPT_SEED, OPT_BUFFER, OPT_PER_FILE, OPT_THREADS, OPT_NOCRC, OPT_NOBAR, OPT_IGNORED };

static const struct option shuffle_longopts[] = {
    {"input-files", required_argument, 0, OPT_IN},       {"output-dir", required_argument, 0, OPT_OUT},
    {"random-seed", required_argument, 0, OPT_SEED},     {"buffer-size", required_argument, 0, OPT_BUFFER},
    {"records-per-file", required_argument, 0, OPT_PER_FILE}, {"threads", required_argument, 0, OPT_THREADS},
    {"num-workers", required_argument, 0, OPT_THREADS},  {"chunks-per-worker", required_argument, 0, OPT_IGNORED},
    {"no-crc-check", no_argument, 0, OPT_NOCRC},         {"disable-progress-bar", no_argument, 0, OPT_NOBAR},
    {"help", no_argument, 0, 'h'},                       {0, 0, 0, 0}};

static int parse_value(int c, const char *s, shuffle_args *a) {
  int64_t v;
  switch (c) {
    case OPT_IN: a->inputs = s; return 0;
    case OPT_OUT: a->output_dir = s; return 0;
    case OPT_IGNORED: return 0;
    case OPT_SEED: if (data_parse_int64("shuffle", "--random-seed", s, 0, INT64_MAX, &v)) return -1;
      a->o.seed = (uint64_t)v; return 0;
    case OPT_BUFFER: return data_parse_int64("shuffle", "--buffer-size", s, 0, INT64_MAX / 16, &a->o.buffer_size);
    case OPT_PER_FILE: return data_parse_int64("shuffle", "--records-per-file", s, 1, INT32_MAX, &a->o.records_per_file);
    case OPT_THREADS: if (data_parse_int64("shuffle", "--threads", s, 1, 4096, &v)) return -1;
      a->o.threads = (int)v; return 0;
    default: return -1;
  }
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_shuffle(int argc, char **argv, shuffle_args *a) {
  memset(a, 0, sizeof *a);
  bert_shuffle_options_default(&a->o);
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", shuffle_longopts, NULL)) != -1) {
    if (c == 'h') return fputs(shuffle_usage, stdout), 1;
    if (c == OPT_NOCRC) a->o.check_crc = 0;
    else if (c == OPT_NOBAR) a->o.progress = 0;
    else if (c < OPT_IN || parse_value(c, optarg, a)) {
      if (c < OPT_IN)
        fprintf(stderr, "bert data shuffle: unknown or incomplete option '%s'\n%s", argv[optind - 1], shuffle_usage);
      return 2;
    }
  }
  if (optind < argc) return fprintf(stderr, "bert data shuffle: unexpected argument '%s'\n", argv[optind]), 2;
  if (!a->inputs || !a->output_dir) {
    fprintf(stderr, "bert data shuffle: --input-files and --output-dir are required\n%s", shuffle_usage);
    return 2;
  }
  return 0;
}

int cmd_data_shuffle(int argc, char **argv) {
  shuffle_args a;
  int rc = parse_shuffle(argc, argv, &a);
  if (rc) return rc == 1 ? 0 : rc;
  bert_error err;
  bert_strlist inputs = {0};
  bert_shuffle_report rep;
  rc = bert_glob_expand(a.inputs, &inputs, &err);
  if (!rc) rc = bert_shuffle_dataset(&inputs, a.output_dir, &a.o, stdout, &rep, &err);
  fflush(stdout);
  if (rc) fprintf(stderr, "bert data shuffle: %s\n", err.message);
  bert_strlist_free(&inputs);
  return rc ? 1 : 0;
}
