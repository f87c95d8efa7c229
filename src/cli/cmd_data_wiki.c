/* bert data wiki-extract | wiki-preprocess | wikipedia: the reference's Wikipedia pipeline
 * (WikiExtractor, wikipedia_preprocess.py, wikipedia_tokenize.py) without Python. */
#include "cli/cmd_data_wiki.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/cmd_data.h"
#include "data/wiki_extract.h"
#include "data/wiki_preprocess.h"
#include "data/wikipedia.h"

/* "100M", "500K", "1G" (powers of 1024, as WikiExtractor's -b) or a plain byte count. */
static int parse_size(const char *cmd, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  int shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, end++;
  else if (*end == 'M' || *end == 'm') shift = 20, end++;
  else if (*end == 'G' || *end == 'g') shift = 30, end++;
  if (end == s || *end || errno || v == 0 || v > (UINT64_MAX >> shift)) {
    fprintf(stderr, "bert data %s: --bytes expects a size such as 100M, 500K or 1G, got '%s'\n", cmd, s);
    return -1;
  }
  *out = (uint64_t)v << shift;
  return 0;
}

static int parse_threads(const char *cmd, const char *s, int *out) {
  int64_t v;
  if (data_parse_int64(cmd, "--threads", s, 1, 4096, &v)) return -1;
  *out = (int)v;
  return 0;
}

/* ---------------------------------------------------------------- wiki-extract */

static const char *extract_usage =
    "usage: bert data wiki-extract DUMP.xml[.bz2] OUTDIR [options]\n"
    "\n"
    "Extracts the articles of a MediaWiki XML dump (plain or bzip2, multistream included; read as\n"
    "a stream) as WikiExtractor does: plain text files OUTDIR/AA/wiki_00, AA/wiki_01, ... of at most\n"
    "--bytes each, holding documents\n"
    "  <doc id=\"ID\" url=\"URL?curid=ID\" title=\"TITLE\">\n"
    "  TITLE\n"
    "\n"
    "  paragraph, one per line ...\n"
    "\n"
    "  </doc>\n"
    "Templates, tables, references, lists and markup are removed, links become their text. Existing\n"
    "files of the same names are replaced; each file appears atomically when complete.\n"
    "\n"
    "options:\n"
    "  --bytes SIZE            largest output file, e.g. 100M, 500K (default 100M: the reference's -b 100M)\n"
    "  --skip-redirects        leave out redirect pages (WikiExtractor writes them as empty documents)\n"
    "  --threads N             threads (default: all cores); the output does not depend on it\n"
    "  --disable-progress-bar  no progress bar (it is shown only on a terminal anyway)\n"
    "  -h, --help              show this help and exit\n";

enum { OPT_BYTES = 256, OPT_SKIPREDIR, OPT_THREADS, OPT_NOBAR, OPT_SMALL, OPT_MAXLEN, OPT_IN, OPT_OUT, OPT_LEN,
       OPT_MASK, OPT_PACK, OPT_VOCAB, OPT_GROUP, OPT_SEED, OPT_SPP, OPT_PACKSEED };

int cmd_data_wiki_extract(int argc, char **argv) {
  static const struct option longopts[] = {{"bytes", required_argument, 0, OPT_BYTES},
                                           {"skip-redirects", no_argument, 0, OPT_SKIPREDIR},
                                           {"threads", required_argument, 0, OPT_THREADS},
                                           {"disable-progress-bar", no_argument, 0, OPT_NOBAR},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  bert_wiki_extract_options o;
  bert_wiki_extract_options_default(&o);
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (c == 'h') return fputs(extract_usage, stdout), 0;
    else if (c == OPT_BYTES) {
      if (parse_size("wiki-extract", optarg, &o.file_bytes)) return 2;
    } else if (c == OPT_THREADS) {
      if (parse_threads("wiki-extract", optarg, &o.threads)) return 2;
    } else if (c == OPT_SKIPREDIR) o.skip_redirects = 1;
    else if (c == OPT_NOBAR) o.progress = 0;
    else return fprintf(stderr, "bert data wiki-extract: unknown or incomplete option '%s'\n%s", argv[optind - 1], extract_usage), 2;
  }
  if (argc - optind != 2) return fprintf(stderr, "bert data wiki-extract: expected DUMP and OUTDIR\n%s", extract_usage), 2;
  bert_error err;
  bert_wiki_extract_stats st;
  int rc = bert_wiki_extract(argv[optind], argv[optind + 1], &o, &st, &err);
  if (rc) return fprintf(stderr, "bert data wiki-extract: %s\n", err.message), 1;
  bert_log("Extracted %" PRIu64 " documents (%" PRIu64 " redirects) of %" PRIu64 " pages into %zu file(s): %.2f MB of "
           "XML -> %.2f MB in %.2f s (%.1f MB/s of XML)",
           st.documents, st.redirects, st.pages, st.files, (double)st.xml_bytes / 1e6, (double)st.output_bytes / 1e6,
           st.seconds, st.seconds > 0 ? (double)st.xml_bytes / 1e6 / st.seconds : 0.0);
  return 0;
}

/* ---------------------------------------------------------------- wiki-preprocess */

static const char *preprocess_usage =
    "usage: bert data wiki-preprocess IN OUT [--small-files] [--max-len N]\n"
    "   or: bert data wiki-preprocess --input-file-path IN --output-file-path OUT ...\n"
    "\n"
    "The reference's data/wikipedia_preprocess.py: WikiExtractor output to one sentence per line,\n"
    "an empty line after each document. Blank lines are skipped, each <doc ...> line is skipped with\n"
    "the title line after it, </doc> becomes the empty line, other lines are split into sentences.\n"
    "IN is a file (written to OUT) or a folder: each file F in folder D under it is written to\n"
    "OUT/D/F_cleaned (so text/AA/wiki_00 -> OUT/AA/wiki_00_cleaned).\n"
    "\n"
    "options:\n"
    "  --small-files           only the first lines of each file (for tests), see --max-len\n"
    "  --max-len N             with --small-files: stop after line N+1 of each file (default 100)\n"
    "  --threads N             files processed in parallel (default: all cores)\n"
    "  --disable-progress-bar  no progress bar (it is shown only on a terminal anyway)\n"
    "  -h, --help              show this help and exit\n";

int cmd_data_wiki_preprocess(int argc, char **argv) {
  static const struct option longopts[] = {{"small-files", no_argument, 0, OPT_SMALL},
                                           {"max-len", required_argument, 0, OPT_MAXLEN},
                                           {"input-file-path", required_argument, 0, OPT_IN},
                                           {"output-file-path", required_argument, 0, OPT_OUT},
                                           {"threads", required_argument, 0, OPT_THREADS},
                                           {"disable-progress-bar", no_argument, 0, OPT_NOBAR},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  bert_wiki_preprocess_options o;
  bert_wiki_preprocess_options_default(&o);
  const char *in = NULL, *out = NULL;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (c == 'h') return fputs(preprocess_usage, stdout), 0;
    else if (c == OPT_SMALL) o.small_files = 1;
    else if (c == OPT_MAXLEN) {
      if (data_parse_int64("wiki-preprocess", "--max-len", optarg, 0, INT64_MAX, &o.max_len)) return 2;
    } else if (c == OPT_IN) in = optarg;
    else if (c == OPT_OUT) out = optarg;
    else if (c == OPT_THREADS) {
      if (parse_threads("wiki-preprocess", optarg, &o.threads)) return 2;
    } else if (c == OPT_NOBAR) o.progress = 0;
    else return fprintf(stderr, "bert data wiki-preprocess: unknown or incomplete option '%s'\n%s", argv[optind - 1], preprocess_usage), 2;
  }
  if (!in && optind < argc) in = argv[optind++];
  if (!out && optind < argc) out = argv[optind++];
  if (!in || !out || optind < argc)
    return fprintf(stderr, "bert data wiki-preprocess: expected IN and OUT\n%s", preprocess_usage), 2;
  bert_error err;
  bert_wiki_preprocess_stats st;
  if (bert_wiki_preprocess(in, out, &o, &st, NULL, &err))
    return fprintf(stderr, "bert data wiki-preprocess: %s\n", err.message), 1;
  bert_log("Preprocessed %zu file(s): %" PRIu64 " lines, %" PRIu64 " documents -> %" PRIu64
           " sentences; %.2f MB -> %.2f MB in %.2f s (%.1f MB/s)",
           st.files, st.lines, st.documents, st.sentences, (double)st.bytes_in / 1e6, (double)st.bytes_out / 1e6,
           st.seconds, st.seconds > 0 ? (double)st.bytes_in / 1e6 / st.seconds : 0.0);
  return 0;
}

/* ---------------------------------------------------------------- wikipedia */

static const char *wikipedia_usage =
    "usage: bert data wikipedia DUMP.xml[.bz2] OUTDIR --sequence-length L --mask-tokens M [options]\n"
    "\n"
    "The reference's Wikipedia pipeline in one resumable command:\n"
    "  extract     DUMP -> OUTDIR/text/AA/wiki_00 ...              (bert data wiki-extract)\n"
    "  preprocess  -> OUTDIR/sentences/AA/wiki_00_cleaned ...      (bert data wiki-preprocess)\n"
    "  create      -> OUTDIR/<L>/wiki_NNN.tfrecord + .index        (bert data create: groups of\n"
    "              --group-files inputs, 5 outputs per input, duplication factor 5, lower case)\n"
    "  index       any missing .index is built\n"
    "  with --pack: pack -> OUTDIR/packed_unshuffled_<L>, shuffle -> OUTDIR/packed_<L>\n"
    "A stage that completed before (OUTDIR/.stages/<stage>.done, written last, with the same\n"
    "settings) is skipped; a stage that must run empties its folder and reruns every stage after it.\n"
    "\n"
    "options:\n"
    "  --sequence-length L     tokens per instance (required; the reference uses 128 and 512)\n"
    "  --mask-tokens M         masked positions per instance (required; 20 for 128, 76 for 512)\n"
    "  --vocab FILE            WordPiece vocabulary (default data/vocab.txt: bert-base-uncased)\n"
    "  --group-files N         sentence files per `create` group (default 50); memory holds a group\n"
    "  --seed N                random seed of `create` (default 1984; group g uses seed + g)\n"
    "  --small-files           preprocess only the first --max-len lines of each file (for tests)\n"
    "  --max-len N             see --small-files (default 100)\n"
    "  --bytes SIZE            extraction file size (default 100M)\n"
    "  --skip-redirects        leave redirect pages out of the extraction\n"
    "  --pack                  also pack (bert data pack) and shuffle (bert data shuffle)\n"
    "  --max-sequences-per-pack N  with --pack (default 3)\n"
    "  --pack-seed N           random seed of packing and shuffling (default 12345)\n"
    "  --threads N             threads (default: all cores); the output does not depend on it\n"
    "  --disable-progress-bar  no progress bars (they are shown only on a terminal anyway)\n"
    "  -h, --help              show this help and exit\n";

static int wikipedia_int(int c, const char *s, bert_wikipedia_options *o) {
  int64_t v;
  const char *cmd = "wikipedia";
  switch (c) {
    case OPT_LEN: if (data_parse_int64(cmd, "--sequence-length", s, 5, 65535, &v)) return -1; o->sequence_length = (int)v; return 0;
    case OPT_MASK: if (data_parse_int64(cmd, "--mask-tokens", s, 1, 65535, &v)) return -1; o->mask_tokens = (int)v; return 0;
    case OPT_GROUP: if (data_parse_int64(cmd, "--group-files", s, 1, 1 << 20, &v)) return -1; o->group_files = (int)v; return 0;
    case OPT_SEED: if (data_parse_int64(cmd, "--seed", s, 0, INT64_MAX, &v)) return -1; o->seed = (uint64_t)v; return 0;
    case OPT_PACKSEED: if (data_parse_int64(cmd, "--pack-seed", s, 0, INT64_MAX, &v)) return -1; o->pack_seed = (uint64_t)v; return 0;
    case OPT_SPP: if (data_parse_int64(cmd, "--max-sequences-per-pack", s, 1, 16, &v)) return -1; o->max_sequences_per_pack = (int)v; return 0;
    case OPT_MAXLEN: return data_parse_int64(cmd, "--max-len", s, 0, INT64_MAX, &o->max_len);
    case OPT_THREADS: return parse_threads(cmd, s, &o->threads);
    case OPT_BYTES: return parse_size(cmd, s, &o->file_bytes);
    default: return -1;
  }
}

static void wikipedia_report(const bert_wikipedia_report *r) {
  for (int s = 0; s < r->stages; s++)
    if (r->ran[s])
      bert_log("  %-10s %8.2f s  %8.2f MB in  %7.1f MB/s", r->stage[s], r->seconds[s], (double)r->bytes[s] / 1e6,
               r->seconds[s] > 0 ? (double)r->bytes[s] / 1e6 / r->seconds[s] : 0.0);
    else
      bert_log("  %-10s skipped (done earlier)", r->stage[s]);
}

int cmd_data_wikipedia(int argc, char **argv) {
  static const struct option longopts[] = {
      {"sequence-length", required_argument, 0, OPT_LEN}, {"mask-tokens", required_argument, 0, OPT_MASK},
      {"vocab", required_argument, 0, OPT_VOCAB},          {"group-files", required_argument, 0, OPT_GROUP},
      {"seed", required_argument, 0, OPT_SEED},            {"small-files", no_argument, 0, OPT_SMALL},
      {"max-len", required_argument, 0, OPT_MAXLEN},       {"bytes", required_argument, 0, OPT_BYTES},
      {"skip-redirects", no_argument, 0, OPT_SKIPREDIR},   {"pack", no_argument, 0, OPT_PACK},
      {"max-sequences-per-pack", required_argument, 0, OPT_SPP}, {"pack-seed", required_argument, 0, OPT_PACKSEED},
      {"threads", required_argument, 0, OPT_THREADS},      {"disable-progress-bar", no_argument, 0, OPT_NOBAR},
      {"help", no_argument, 0, 'h'},                       {0, 0, 0, 0}};
  bert_wikipedia_options o;
  bert_wikipedia_options_default(&o);
  int have_len = 0, have_mask = 0;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (c == 'h') return fputs(wikipedia_usage, stdout), 0;
    else if (c == OPT_VOCAB) o.vocab = optarg;
    else if (c == OPT_SMALL) o.small_files = 1;
    else if (c == OPT_SKIPREDIR) o.skip_redirects = 1;
    else if (c == OPT_PACK) o.pack = 1;
    else if (c == OPT_NOBAR) o.progress = 0;
    else if (c < OPT_BYTES || wikipedia_int(c, optarg, &o)) {
      if (c < OPT_BYTES)
        fprintf(stderr, "bert data wikipedia: unknown or incomplete option '%s'\n%s", argv[optind - 1], wikipedia_usage);
      return 2;
    }
    have_len |= c == OPT_LEN;
    have_mask |= c == OPT_MASK;
  }
  if (argc - optind != 2) return fprintf(stderr, "bert data wikipedia: expected DUMP and OUTDIR\n%s", wikipedia_usage), 2;
  if (!have_len || !have_mask)
    return fprintf(stderr, "bert data wikipedia: --sequence-length and --mask-tokens are required\n%s", wikipedia_usage), 2;
  bert_error err;
  bert_wikipedia_report report;
  int rc = bert_wikipedia_run(argv[optind], argv[optind + 1], &o, &report, &err);
  if (rc) return fprintf(stderr, "bert data wikipedia: %s\n", err.message), 1;
  bert_log("wikipedia: done: %s/%d holds the TFRecords%s", argv[optind + 1], o.sequence_length,
           o.pack ? " (packed ones in packed_<L>)" : "");
  wikipedia_report(&report);
  return 0;
}
