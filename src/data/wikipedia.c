#include "data/wikipedia.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/glob.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "data/pack.h"
#include "data/pretraining.h"
#include "data/shuffle.h"
#include "data/tfrecord.h"
#include "data/wiki_extract.h"
#include "data/wiki_preprocess.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

void bert_wikipedia_options_default(bert_wikipedia_options *o) {
  *o = (bert_wikipedia_options){.sequence_length = 128, .mask_tokens = 20, .vocab = "data/vocab.txt",
                                .group_files = 50, .files_per_input = 5, .duplication_factor = 5, .seed = 1984,
                                .small_files = 0, .max_len = 100, .file_bytes = (uint64_t)100 << 20,
                                .skip_redirects = 0, .pack = 0, .max_sequences_per_pack = 3, .pack_seed = 12345,
                                .threads = 0, .progress = -1};
}

enum { ST_EXTRACT, ST_PREPROCESS, ST_CREATE, ST_INDEX, ST_PACK, ST_SHUFFLE, ST_COUNT };
static const char *const stage_names[ST_COUNT] = {"extract", "preprocess", "create", "index", "pack", "shuffle"};

typedef struct pipeline {
  const char *dump, *out;
  const bert_wikipedia_options *o;
  char dir[ST_COUNT][4096];  /* each stage's output folder */
  char done[ST_COUNT][4096]; /* its done-file */
  char key[ST_COUNT][4608];  /* its settings */
  char summary[512];         /* what the stage that just ran did */
  uint64_t bytes;            /* its input bytes */
} pipeline;

/* ---------------------------------------------------------------- done-files */

/* Whether the stage's done-file exists and records the same settings. */
static int stage_done(const pipeline *p, int s) {
  char *text;
  size_t n;
  /* the unshuffled packs are deleted once shuffled: pack stays done while shuffle is */
  int output = bert_path_exists(p->dir[s]) || (s == ST_PACK && stage_done(p, ST_SHUFFLE));
  if (!output || bert_file_read(p->done[s], &text, &n, NULL)) return 0;
  char want[4700];
  snprintf(want, sizeof want, "key: %s\n", p->key[s]);
  int same = !strncmp(text, want, strlen(want));
  free(text);
  return same;
}

static int mark_done(const pipeline *p, int s, double seconds, bert_error *err) {
  bert_strbuf b = {0};
  bert_strbuf_printf(&b, "key: %s\nstage: %s\noutput: %s\nsummary: %s\nseconds: %.1f\n", p->key[s], stage_names[s],
                     p->dir[s], p->summary, seconds);
  if (b.failed) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  int rc = bert_file_write_atomic(p->done[s], b.data, b.len, err);
  bert_strbuf_free(&b);
  return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  if (ftw->level == 0) return 0; /* the folder itself stays */
  return remove(path) ? -1 : 0;
}

/* Empties a stage's folder (it belongs to the pipeline) and creates it if missing. */
static int clear_dir(const char *dir, bert_error *err) {
  if (bert_path_exists(dir) && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS))
    return bert_error_set(err, BERT_EIO, "%s: cannot empty the folder: %s", dir, strerror(errno));
  return bert_mkdir_p(dir, err);
}

static int remove_dir(const char *dir, bert_error *err) {
  int rc = clear_dir(dir, err);
  if (!rc && rmdir(dir)) rc = bert_error_set(err, BERT_EIO, "%s: cannot remove: %s", dir, strerror(errno));
  return rc;
}

/* ---------------------------------------------------------------- stages */

static int run_extract(pipeline *p, bert_error *err) {
  bert_wiki_extract_options eo;
  bert_wiki_extract_options_default(&eo);
  eo.file_bytes = p->o->file_bytes;
  eo.threads = p->o->threads;
  eo.skip_redirects = p->o->skip_redirects;
  eo.progress = p->o->progress;
  bert_wiki_extract_stats st;
  int rc = bert_wiki_extract(p->dump, p->dir[ST_EXTRACT], &eo, &st, err);
  if (!rc && !st.documents) rc = bert_error_set(err, BERT_EFORMAT, "%s: no articles in the dump", p->dump);
  p->bytes = st.xml_bytes;
  snprintf(p->summary, sizeof p->summary,
           "%" PRIu64 " pages, %" PRIu64 " documents (%" PRIu64 " redirects), %zu files, %.1f MB of XML -> %.1f MB",
           st.pages, st.documents, st.redirects, st.files, (double)st.xml_bytes / 1e6, (double)st.output_bytes / 1e6);
  return rc;
}

static int run_preprocess(pipeline *p, bert_error *err) {
  bert_wiki_preprocess_options po;
  bert_wiki_preprocess_options_default(&po);
  po.small_files = p->o->small_files;
  po.max_len = p->o->max_len;
  po.threads = p->o->threads;
  po.progress = p->o->progress;
  bert_wiki_preprocess_stats st;
  int rc = bert_wiki_preprocess(p->dir[ST_EXTRACT], p->dir[ST_PREPROCESS], &po, &st, NULL, err);
  p->bytes = st.bytes_in;
  snprintf(p->summary, sizeof p->summary, "%zu files, %" PRIu64 " documents, %" PRIu64 " sentences, %.1f MB -> %.1f MB",
           st.files, st.documents, st.sentences, (double)st.bytes_in / 1e6, (double)st.bytes_out / 1e6);
  return rc;
}

static int make_tokenizer(const char *path, bert_vocab *vocab, bert_tokenizer **tok, bert_error *err) {
  int rc = bert_vocab_load(vocab, path, err);
  if (rc) return rc;
  bert_tokenizer_options to;
  bert_tokenizer_options_default(&to);
  to.lower_case = 1;    /* the reference: --do-lower-case --model bert-base-uncased */
  to.never_split = NULL; /* literal "[SEP]" in text stays text, as `bert data create` */
  return bert_tokenizer_create(tok, vocab, &to, err);
}

static int digits(size_t n) {
  int d = 1;
  while (n >= 10) n /= 10, d++;
  return d;
}

/* One group: its inputs and its files_per_input outputs per input. */
static int create_group(pipeline *p, const bert_strlist *inputs, size_t first, size_t count, size_t g,
                        const bert_tokenizer *tok, bert_pretraining_stats *total, bert_error *err) {
  const bert_wikipedia_options *o = p->o;
  size_t per = (size_t)o->files_per_input, width = (size_t)digits(inputs->count * per);
  bert_strlist in = {0}, out = {0};
  int rc = 0;
  for (size_t i = 0; !rc && i < count; i++) rc = bert_strlist_push(&in, inputs->items[first + i], err);
  for (size_t i = first * per; !rc && i < (first + count) * per; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/wiki_%0*zu.tfrecord", p->dir[ST_CREATE], (int)width, i);
    rc = bert_strlist_push(&out, path, err);
  }
  bert_pretraining_options po;
  bert_pretraining_options_default(&po);
  po.sequence_length = o->sequence_length;
  po.mask_tokens = o->mask_tokens;
  po.duplication_factor = o->duplication_factor;
  po.seed = o->seed + g;
  po.group_files = (int)count;
  po.threads = o->threads;
  po.progress = o->progress;
  bert_pretraining_stats st;
  if (!rc) rc = bert_pretraining_create(&in, &out, tok, &po, &st, err);
  if (!rc) {
    bert_log("wikipedia: create: group %zu: %zu file(s), %.1f MB, %" PRIu64 " documents -> %" PRIu64
             " instances in %zu files", g + 1, count, (double)st.bytes / 1e6, st.documents, st.written, out.count);
    total->bytes += st.bytes;
    total->documents += st.documents;
    total->written += st.written;
    total->files += st.files;
  }
  bert_strlist_free(&in);
  bert_strlist_free(&out);
  return rc;
}

static int run_create(pipeline *p, bert_error *err) {
  char pattern[4200];
  snprintf(pattern, sizeof pattern, "%s/*/*_cleaned", p->dir[ST_PREPROCESS]);
  bert_strlist inputs = {0};
  bert_vocab vocab = {0};
  bert_tokenizer *tok = NULL;
  bert_pretraining_stats total = {0};
  int rc = bert_glob_expand(pattern, &inputs, err);
  if (!rc) rc = make_tokenizer(p->o->vocab, &vocab, &tok, err);
  size_t per = (size_t)p->o->group_files, groups = 0;
  for (size_t first = 0; !rc && first < inputs.count; first += per, groups++) {
    size_t count = inputs.count - first < per ? inputs.count - first : per;
    rc = create_group(p, &inputs, first, count, groups, tok, &total, err);
  }
  p->bytes = total.bytes;
  snprintf(p->summary, sizeof p->summary,
           "%zu files in %zu group(s), %" PRIu64 " documents -> %" PRIu64 " instances in %zu TFRecord files",
           inputs.count, groups, total.documents, total.written, inputs.count * (size_t)p->o->files_per_input);
  bert_tokenizer_free(tok);
  if (vocab.tokens) bert_vocab_free(&vocab);
  bert_strlist_free(&inputs);
  return rc;
}

/* Lists a folder's *.tfrecord files (sorted). */
static int list_records(const char *dir, bert_strlist *files, bert_error *err) {
  char pattern[4200];
  snprintf(pattern, sizeof pattern, "%s/*.tfrecord", dir);
  return bert_glob_expand(pattern, files, err);
}

/* `bert data create` writes every index; this stage builds any that is missing. */
static int run_index(pipeline *p, bert_error *err) {
  bert_strlist files = {0};
  int rc = list_records(p->dir[ST_CREATE], &files, err);
  size_t built = 0;
  p->bytes = 0;
  for (size_t i = 0; !rc && i < files.count; i++) {
    char index[4096];
    rc = bert_tfrecord_index_path(files.items[i], index, sizeof index, err);
    if (rc || bert_path_exists(index)) continue;
    struct stat st;
    if (!stat(files.items[i], &st)) p->bytes += (uint64_t)st.st_size;
    bert_tfrecord_index idx;
    if (!(rc = bert_tfrecord_index_build(files.items[i], 1, &idx, err))) {
      rc = bert_tfrecord_index_write(index, &idx, err);
      bert_tfrecord_index_free(&idx);
      built++;
    }
  }
  snprintf(p->summary, sizeof p->summary, "%zu TFRecord files, %zu index file(s) built", files.count, built);
  bert_strlist_free(&files);
  return rc;
}

static int run_pack(pipeline *p, bert_error *err) {
  bert_strlist files = {0};
  int rc = list_records(p->dir[ST_CREATE], &files, err);
  bert_pack_options po;
  bert_pack_options_default(&po);
  po.plan.sequence_length = p->o->sequence_length;
  po.plan.max_sequences_per_pack = p->o->max_sequences_per_pack;
  po.mask_tokens = p->o->mask_tokens;
  po.seed = p->o->pack_seed;
  po.threads = p->o->threads;
  po.progress = p->o->progress;
  bert_pack_report rep = {0};
  if (!rc) rc = bert_pack_dataset(&files, p->dir[ST_PACK], &po, stderr, &rep, err);
  p->bytes = 0;
  for (size_t i = 0; i < files.count; i++) {
    struct stat st;
    if (!stat(files.items[i], &st)) p->bytes += (uint64_t)st.st_size;
  }
  snprintf(p->summary, sizeof p->summary, "%" PRIu64 " sequences -> %" PRIu64 " packs in %" PRIu64 " files",
           rep.sequences, rep.packs_written, rep.files);
  bert_strlist_free(&files);
  return rc;
}

static int run_shuffle(pipeline *p, bert_error *err) {
  bert_strlist files = {0};
  int rc = list_records(p->dir[ST_PACK], &files, err);
  bert_shuffle_options so;
  bert_shuffle_options_default(&so);
  so.seed = p->o->pack_seed;
  so.threads = p->o->threads;
  so.progress = p->o->progress;
  bert_shuffle_report rep = {0};
  if (!rc) rc = bert_shuffle_dataset(&files, p->dir[ST_SHUFFLE], &so, stderr, &rep, err);
  p->bytes = 0;
  for (size_t i = 0; i < files.count; i++) {
    struct stat st;
    if (!stat(files.items[i], &st)) p->bytes += (uint64_t)st.st_size;
  }
  snprintf(p->summary, sizeof p->summary, "%" PRIu64 " packs in %" PRIu64 " buffer(s) -> %" PRIu64 " files",
           rep.records, rep.buffers, rep.files);
  bert_strlist_free(&files);
  return rc;
}

typedef int (*stage_fn)(pipeline *, bert_error *);
static const stage_fn stage_fns[ST_COUNT] = {run_extract, run_preprocess, run_create, run_index, run_pack, run_shuffle};

/* ---------------------------------------------------------------- settings */

static int set_paths(pipeline *p, bert_error *err) {
  const bert_wikipedia_options *o = p->o;
  char sub[ST_COUNT][64];
  snprintf(sub[ST_EXTRACT], 64, "text");
  snprintf(sub[ST_PREPROCESS], 64, "sentences");
  snprintf(sub[ST_CREATE], 64, "%d", o->sequence_length);
  snprintf(sub[ST_INDEX], 64, "%d", o->sequence_length);
  snprintf(sub[ST_PACK], 64, "packed_unshuffled_%d", o->sequence_length);
  snprintf(sub[ST_SHUFFLE], 64, "packed_%d", o->sequence_length);
  for (int s = 0; s < ST_COUNT; s++) {
    int n1 = snprintf(p->dir[s], sizeof p->dir[s], "%s/%s", p->out, sub[s]);
    int n2 = snprintf(p->done[s], sizeof p->done[s], "%s/.stages/%s-%s.done", p->out, stage_names[s], sub[s]);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof p->dir[s] || (size_t)n2 >= sizeof p->done[s])
      return bert_error_set(err, BERT_EINVAL, "%s: output path too long", p->out);
  }
  return 0;
}

static int set_keys(pipeline *p, bert_error *err) {
  const bert_wikipedia_options *o = p->o;
  struct stat dump, vocab;
  if (stat(p->dump, &dump)) return bert_error_set(err, BERT_EIO, "%s: %s", p->dump, strerror(errno));
  if (stat(o->vocab, &vocab))
    return bert_error_set(err, BERT_EIO, "%s: vocabulary not found (give --vocab): %s", o->vocab, strerror(errno));
  char real[4096];
  snprintf(p->key[ST_EXTRACT], sizeof p->key[0], "dump=%s size=%lld mtime=%lld file_bytes=%" PRIu64 " redirects=%d",
           realpath(p->dump, real) ? real : p->dump, (long long)dump.st_size, (long long)dump.st_mtime, o->file_bytes, !o->skip_redirects);
  snprintf(p->key[ST_PREPROCESS], sizeof p->key[0], "small_files=%d max_len=%" PRId64, o->small_files,
           o->small_files ? o->max_len : 0);
  snprintf(p->key[ST_CREATE], sizeof p->key[0],
           "L=%d M=%d vocab=%s vocab_size=%lld group_files=%d files_per_input=%d duplication=%d seed=%" PRIu64,
           o->sequence_length, o->mask_tokens, o->vocab, (long long)vocab.st_size, o->group_files,
           o->files_per_input, o->duplication_factor, o->seed);
  snprintf(p->key[ST_INDEX], sizeof p->key[0], "L=%d", o->sequence_length);
  snprintf(p->key[ST_PACK], sizeof p->key[0], "L=%d M=%d S=%d seed=%" PRIu64, o->sequence_length, o->mask_tokens,
           o->max_sequences_per_pack, o->pack_seed);
  snprintf(p->key[ST_SHUFFLE], sizeof p->key[0], "seed=%" PRIu64, o->pack_seed);
  return 0;
}

static int check_options(const bert_wikipedia_options *o, bert_error *err) {
  if (o->sequence_length < 5 || o->mask_tokens < 1 || o->mask_tokens > o->sequence_length)
    return bert_error_set(err, BERT_EINVAL, "bad sizes: --sequence-length %d, --mask-tokens %d", o->sequence_length,
                          o->mask_tokens);
  if (o->group_files < 1 || o->files_per_input < 1 || o->duplication_factor < 1)
    return bert_error_set(err, BERT_EINVAL, "--group-files, files per input and duplication must be at least 1");
  return 0;
}

/* ---------------------------------------------------------------- driver */

int bert_wikipedia_run(const char *dump, const char *outdir, const bert_wikipedia_options *o,
                       bert_wikipedia_report *report, bert_error *err) {
  pipeline *p = calloc(1, sizeof *p);
  if (!p) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  *p = (pipeline){.dump = dump, .out = outdir, .o = o};
  memset(report, 0, sizeof *report);
  char stages_dir[4200];
  snprintf(stages_dir, sizeof stages_dir, "%s/.stages", outdir);
  int rc = check_options(o, err);
  if (!rc) rc = set_paths(p, err);
  if (!rc) rc = set_keys(p, err);
  if (!rc) rc = bert_mkdir_p(stages_dir, err);
  int last = o->pack ? ST_SHUFFLE : ST_INDEX, rerun = 0;
  for (int s = 0; !rc && s <= last; s++) {
    report->stage[s] = stage_names[s];
    report->stages = s + 1;
    if (!rerun && stage_done(p, s)) {
      bert_log("wikipedia: %s: already done (%s), skipped", stage_names[s], p->done[s]);
      continue;
    }
    rerun = 1; /* this stage and every later one run again */
    for (int t = s; t < ST_COUNT; t++) unlink(p->done[t]);
    if (s != ST_INDEX && (rc = clear_dir(p->dir[s], err))) break;
    bert_log("wikipedia: %s -> %s", stage_names[s], p->dir[s]);
    double t0 = bert_seconds();
    p->summary[0] = 0;
    p->bytes = 0;
    rc = stage_fns[s](p, err);
    double secs = bert_seconds() - t0;
    report->ran[s] = 1;
    report->seconds[s] = secs;
    report->bytes[s] = p->bytes;
    if (rc) break;
    bert_log("wikipedia: %s: %s (%.1f s, %.1f MB/s)", stage_names[s], p->summary, secs,
             secs > 0 ? (double)p->bytes / 1e6 / secs : 0.0);
    rc = mark_done(p, s, secs, err);
    if (!rc && s == ST_SHUFFLE) rc = remove_dir(p->dir[ST_PACK], err); /* as the reference's pack_<L>.sh */
  }
  if (rc && report->stages) bert_error_prefix(err, "%s stage: ", stage_names[report->stages - 1]);
  free(p);
  return rc;
}
