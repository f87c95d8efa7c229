#include "data/wiki_preprocess.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utf8proc.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/progress.h"
#include "data/sentence_split.h"

#define IO_BUFFER ((size_t)1 << 20)

void bert_wiki_preprocess_options_default(bert_wiki_preprocess_options *o) {
  *o = (bert_wiki_preprocess_options){.small_files = 0, .max_len = 100, .threads = 0, .progress = -1};
}

/* Python's str.strip() leaves something: a character that is not whitespace. */
static int has_text(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      if (!(c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F))) return 1;
      i++;
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (k <= 0) return 1;
    utf8proc_category_t cat = utf8proc_category(cp);
    if (!(cp == 0x85 || cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP))
      return 1;
    i += (size_t)k;
  }
  return 0;
}

static int write_sentences(const char *line, size_t n, FILE *out, bert_wiki_preprocess_stats *s) {
  bert_sentence_iter it;
  size_t a, b;
  bert_sentence_iter_init(&it, line, n);
  while (bert_sentence_next(&it, &a, &b)) {
    if (fwrite(line + a, 1, b - a, out) != b - a || putc('\n', out) == EOF) return -1;
    s->sentences++;
    s->bytes_out += b - a + 1;
  }
  return 0;
}

int bert_wiki_preprocess_stream(FILE *in, const char *in_name, FILE *out, const char *out_name,
                                const bert_wiki_preprocess_options *o, bert_wiki_preprocess_stats *s, bert_error *err) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int64_t index = 0; /* the script's enumerate() index, the skipped title lines included */
  int rc = 0;
  while ((n = getline(&line, &cap, in)) >= 0) {
    int64_t this_line = index++;
    s->lines++;
    s->bytes_in += (uint64_t)n;
    if (has_text(line, (size_t)n)) {
      if (memmem(line, (size_t)n, "<doc", 4)) {
        ssize_t t = getline(&line, &cap, in); /* the title */
        if (t >= 0) {
          index++;
          s->lines++;
          s->bytes_in += (uint64_t)t;
        }
      } else if (memmem(line, (size_t)n, "</doc", 5)) {
        s->documents++;
        s->bytes_out++;
        if (putc('\n', out) == EOF) rc = -1;
      } else {
        rc = write_sentences(line, (size_t)n, out, s);
      }
      if (rc) break;
    }
    if (o->small_files && this_line > o->max_len) break;
  }
  int read_error = ferror(in), write_errno = errno ? errno : EIO;
  free(line);
  if (read_error) return bert_error_set(err, BERT_EIO, "%s: read failed", in_name);
  if (rc) return bert_error_set(err, BERT_EIO, "%s: write failed: %s", out_name, strerror(write_errno));
  return 0;
}

static int preprocess_file(const char *in, const char *out, const bert_wiki_preprocess_options *o,
                           bert_wiki_preprocess_stats *s, bert_error *err) {
  FILE *f = fopen(in, "rb");
  if (!f) return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", in, strerror(errno));
  setvbuf(f, NULL, _IOFBF, IO_BUFFER);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  int rc = 0;
  if (slash && slash != dir) {
    *slash = 0;
    rc = bert_mkdir_p(dir, err);
  }
  bert_atomic_file af;
  if (!rc) rc = bert_atomic_open(&af, out, err);
  if (rc) {
    fclose(f);
    return rc;
  }
  setvbuf(af.f, NULL, _IOFBF, IO_BUFFER);
  rc = bert_wiki_preprocess_stream(f, in, af.f, out, o, s, err);
  fclose(f);
  if (rc) bert_atomic_abort(&af);
  else rc = bert_atomic_commit(&af, err);
  return rc;
}

/* ---------------------------------------------------------------- walking a directory */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every regular file under dir (sorted), skipping hidden files and left-over temporary files. */
static int walk(const char *dir, bert_strlist *files, int depth, bert_error *err) {
  if (depth > 32) return bert_error_set(err, BERT_EINVAL, "%s: directories nested too deeply", dir);
  DIR *d = opendir(dir);
  if (!d) return bert_error_set(err, BERT_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
  bert_strlist names = {0};
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d)))
    if (e->d_name[0] != '.' && !strstr(e->d_name, ".tmp.")) rc = bert_strlist_push(&names, e->d_name, err);
  closedir(d);
  if (names.count) qsort(names.items, names.count, sizeof *names.items, cmp_str);
  for (size_t i = 0; !rc && i < names.count; i++) {
    char path[4096];
    struct stat st;
    if (bert_path_join(path, sizeof path, dir, names.items[i])) rc = bert_error_set(err, BERT_EINVAL, "%s: path too long", dir);
    else if (stat(path, &st)) rc = bert_error_set(err, BERT_EIO, "%s: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) rc = walk(path, files, depth + 1, err);
    else if (S_ISREG(st.st_mode)) rc = bert_strlist_push(files, path, err);
  }
  bert_strlist_free(&names);
  return rc;
}

/* OUT/<last component of the file's folder>/<file name>_cleaned, as the reference names it. */
static int output_name(const char *file, const char *out, char *buf, size_t cap, bert_error *err) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", file);
  char *slash = strrchr(copy, '/');
  *slash = 0;
  const char *name = slash + 1;
  char *parent = strrchr(copy, '/');
  const char *folder = parent ? parent + 1 : copy;
  int n = snprintf(buf, cap, "%s/%s/%s_cleaned", out, folder, name);
  if (n < 0 || (size_t)n >= cap) return bert_error_set(err, BERT_EINVAL, "%s: output path too long", file);
  return 0;
}

static void add_stats(bert_wiki_preprocess_stats *to, const bert_wiki_preprocess_stats *s) {
  to->files += s->files;
  to->bytes_in += s->bytes_in;
  to->bytes_out += s->bytes_out;
  to->lines += s->lines;
  to->documents += s->documents;
  to->sentences += s->sentences;
}

/* Files in parallel; the first failing file (in input order) is reported. */
static int run_files(const bert_strlist *in, const bert_strlist *out, const bert_wiki_preprocess_options *o,
                     bert_wiki_preprocess_stats *stats, bert_error *err) {
  size_t n = in->count;
  int *rcs = calloc(n, sizeof *rcs);
  bert_error *errs = calloc(n, sizeof *errs);
  if (!rcs || !errs) {
    free(rcs);
    free(errs);
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (!stat(in->items[i], &st)) total += (uint64_t)st.st_size;
  }
  bert_progress progress;
  bert_progress_init(&progress, "preprocess", total, "MB", 1e6, o->progress);
  int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t i = 0; i < n; i++) {
    bert_wiki_preprocess_stats s = {.files = 1};
    rcs[i] = preprocess_file(in->items[i], out->items[i], o, &s, &errs[i]);
#pragma omp critical(bert_wiki_preprocess)
    {
      add_stats(stats, &s);
      bert_progress_add(&progress, s.bytes_in);
    }
  }
  bert_progress_finish(&progress);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    if ((rc = rcs[i]) && err) *err = errs[i];
  free(rcs);
  free(errs);
  return rc;
}

int bert_wiki_preprocess(const char *in, const char *out, const bert_wiki_preprocess_options *o,
                         bert_wiki_preprocess_stats *stats, bert_strlist *outputs, bert_error *err) {
  double t0 = bert_seconds();
  memset(stats, 0, sizeof *stats);
  if (o->small_files && o->max_len < 0) return bert_error_set(err, BERT_EINVAL, "--max-len must not be negative");
  struct stat st;
  if (stat(in, &st)) return bert_error_set(err, BERT_EIO, "%s: %s", in, strerror(errno));
  bert_strlist inputs = {0}, outs = {0};
  int rc = 0;
  if (S_ISDIR(st.st_mode)) {
    rc = walk(in, &inputs, 0, err);
    if (!rc && !inputs.count) rc = bert_error_set(err, BERT_EIO, "%s: no files in the directory", in);
    for (size_t i = 0; !rc && i < inputs.count; i++) {
      char path[4096];
      rc = output_name(inputs.items[i], out, path, sizeof path, err);
      if (!rc) rc = bert_strlist_push(&outs, path, err);
    }
  } else {
    rc = bert_strlist_push(&inputs, in, err);
    if (!rc) rc = bert_strlist_push(&outs, out, err);
  }
  if (!rc) rc = run_files(&inputs, &outs, o, stats, err);
  if (!rc && outputs) {
    *outputs = outs;
    outs = (bert_strlist){0};
  }
  bert_strlist_free(&inputs);
  bert_strlist_free(&outs);
  stats->seconds = bert_seconds() - t0;
  return rc;
}
