#include "data/wiki_extract.h"

#include <errno.h>
#include <inttypes.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/strbuf.h"
#include "data/wiki_clean.h"
#include "data/wiki_dump.h"

/* A batch is cleaned in parallel while the next one is read. */
#define BATCH_PAGES 1024
#define BATCH_BYTES ((size_t)8 << 20)

void bert_wiki_extract_options_default(bert_wiki_extract_options *o) {
  *o = (bert_wiki_extract_options){.file_bytes = (uint64_t)100 << 20, .threads = 0, .skip_redirects = 0,
                                   .progress = -1};
}

int bert_wiki_extract_path(const char *outdir, size_t index, char *out, size_t cap, bert_error *err) {
  size_t dir = index / 100;
  if (dir >= 26 * 26) return bert_error_set(err, BERT_ERANGE, "%s: more than %d output files", outdir, 26 * 26 * 100);
  int n = snprintf(out, cap, "%s/%c%c/wiki_%02zu", outdir, (char)('A' + dir / 26), (char)('A' + dir % 26), index % 100);
  if (n < 0 || (size_t)n >= cap) return bert_error_set(err, BERT_EINVAL, "%s: output path too long", outdir);
  return 0;
}

typedef struct batch {
  bert_wiki_page pages[BATCH_PAGES];
  bert_strbuf docs[BATCH_PAGES];
  size_t n;
  int rc;
  bert_error err;
} batch;

typedef struct writer {
  const char *outdir;
  uint64_t max_bytes, size;
  size_t index; /* number of the next file */
  int open;
  bert_atomic_file file;
} writer;

typedef struct run {
  const bert_wiki_extract_options *o;
  bert_wiki_extract_stats *stats;
  bert_wiki_dump *dump;
  bert_wiki_namespaces ns;
  int ns_ready, done;
  writer w;
  bert_progress progress;
} run;

/* WikiExtractor's article test: namespace 0, or for dumps without <ns> a title without a
 * namespace prefix (w:, wikt:, wiktionary: excepted). */
static int is_article(const bert_wiki_page *p) {
  if (p->ns != -1000) return p->ns == 0;
  const char *colon = strchr(p->title, ':');
  if (!colon) return 1;
  size_t k = (size_t)(colon - p->title);
  return !p->redirect && ((k == 1 && p->title[0] == 'w') || (k == 4 && !strncmp(p->title, "wikt", 4)) ||
                          (k == 10 && !strncmp(p->title, "wiktionary", 10)));
}

/* Reads the next batch of articles (b->n == 0 at the end of the dump). */
static void read_batch(run *r, batch *b) {
  size_t bytes = 0;
  b->n = 0;
  b->rc = 0;
  while (!r->done && b->n < BATCH_PAGES && bytes < BATCH_BYTES) {
    bert_wiki_page *p = &b->pages[b->n];
    int rc = bert_wiki_dump_next(r->dump, p, &b->err);
    if (rc <= 0) {
      b->rc = rc;
      r->done = 1;
      break;
    }
    r->stats->pages++;
    if (!is_article(p) || (p->redirect && r->o->skip_redirects)) {
      r->stats->redirects += p->redirect && is_article(p);
      continue;
    }
    r->stats->redirects += p->redirect;
    bytes += p->text_len;
    b->n++;
  }
}

/* One document in WikiExtractor's layout. */
static void format_doc(const run *r, const bert_wiki_page *p, bert_strbuf *out) {
  out->len = 0;
  out->failed = 0;
  bert_strbuf_printf(out, "<doc id=\"%s\" url=\"%s?curid=%s\" title=\"", p->id, bert_wiki_dump_urlbase(r->dump), p->id);
  bert_wiki_escape(out, p->title, p->title_len, 1);
  bert_strbuf_append(out, "\">\n", 3);
  bert_wiki_escape(out, p->title, p->title_len, 1);
  bert_strbuf_append(out, "\n\n", 2);
  long lines = bert_wiki_clean(p->text, p->text_len, &r->ns, out);
  if (lines == 0) bert_strbuf_append(out, "\n", 1);
  bert_strbuf_append(out, "\n</doc>\n", 8);
}

static void clean_batch(const run *r, batch *b) {
#pragma omp taskloop grainsize(4)
  for (size_t i = 0; i < b->n; i++) format_doc(r, &b->pages[i], &b->docs[i]);
}

/* ---------------------------------------------------------------- output files */

static int writer_next(writer *w, bert_error *err) {
  char path[4096], dir[4096];
  int rc = bert_wiki_extract_path(w->outdir, w->index, path, sizeof path, err);
  if (rc) return rc;
  snprintf(dir, sizeof dir, "%s", path);
  *strrchr(dir, '/') = 0;
  if ((rc = bert_mkdir_p(dir, err)) || (rc = bert_atomic_open(&w->file, path, err))) return rc;
  w->open = 1;
  w->size = 0;
  w->index++;
  return 0;
}

static int writer_close(writer *w, bert_error *err) {
  if (!w->open) return 0;
  w->open = 0;
  return bert_atomic_commit(&w->file, err);
}

/* Starts a new file when this document would take the current one past the size limit. */
static int writer_put(writer *w, const char *doc, size_t n, bert_error *err) {
  int rc = 0;
  if (w->open && w->size > 0 && w->size + n > w->max_bytes) rc = writer_close(w, err);
  if (!rc && !w->open) rc = writer_next(w, err);
  if (rc) return rc;
  if (fwrite(doc, 1, n, w->file.f) != n)
    return bert_error_set(err, BERT_EIO, "%s: write failed: %s", w->file.final_path, strerror(errno ? errno : EIO));
  w->size += n;
  return 0;
}

static int write_batch(run *r, batch *b, bert_error *err) {
  for (size_t i = 0; i < b->n; i++) {
    bert_strbuf *d = &b->docs[i];
    if (d->failed) return bert_error_set(err, BERT_ENOMEM, "out of memory cleaning page %s (line %" PRIu64 ")",
                                         b->pages[i].id, b->pages[i].line);
    int rc = writer_put(&r->w, d->data, d->len, err);
    if (rc) return rc;
    r->stats->documents++;
    r->stats->output_bytes += d->len;
    if (d->cap > ((size_t)4 << 20)) bert_strbuf_free(d); /* keep memory bounded after huge pages */
  }
  return 0;
}

/* ---------------------------------------------------------------- driver */

static void namespaces_ready(run *r) {
  if (r->ns_ready) return;
  r->ns.count = bert_wiki_dump_namespace_count(r->dump);
  r->ns.names = NULL;
  if (r->ns.count) {
    const char **names = malloc(r->ns.count * sizeof *names);
    if (!names) r->ns.count = 0;
    for (size_t i = 0; names && i < r->ns.count; i++) names[i] = bert_wiki_dump_namespace(r->dump, i);
    r->ns.names = names;
  }
  r->ns_ready = 1;
}

static int extract_loop(run *r, batch *b[2], bert_error *err) {
  int threads = r->o->threads > 0 ? r->o->threads : omp_get_max_threads();
  /* in a team, so that multistream bzip2 input is decoded in parallel from the start */
#pragma omp parallel num_threads(threads)
#pragma omp single
  read_batch(r, b[0]);
  for (int cur = 0;; cur ^= 1) {
    batch *now_b = b[cur], *next_b = b[cur ^ 1];
    if (now_b->rc < 0) {
      if (err) *err = now_b->err;
      return now_b->rc;
    }
    if (!now_b->n) return 0;
    namespaces_ready(r); /* siteinfo precedes the first page */
    next_b->n = 0;
    next_b->rc = 0;
#pragma omp parallel num_threads(threads)
#pragma omp single
    {
#pragma omp task
      read_batch(r, next_b);
      clean_batch(r, now_b);
    }
    int rc = write_batch(r, now_b, err);
    if (rc) return rc;
    bert_progress_set(&r->progress, bert_wiki_dump_file_bytes(r->dump));
  }
}

int bert_wiki_extract(const char *dump, const char *outdir, const bert_wiki_extract_options *o,
                      bert_wiki_extract_stats *stats, bert_error *err) {
  double t0 = bert_seconds();
  memset(stats, 0, sizeof *stats);
  if (o->file_bytes < 1) return bert_error_set(err, BERT_EINVAL, "the output file size must be positive");
  run r = {.o = o, .stats = stats, .w = {.outdir = outdir, .max_bytes = o->file_bytes}};
  int rc = bert_mkdir_p(outdir, err);
  if (rc || (rc = bert_wiki_dump_open(&r.dump, dump, err))) return rc;
  struct stat st;
  bert_progress_init(&r.progress, "extract", stat(dump, &st) ? 0 : (uint64_t)st.st_size, "MB", 1e6, o->progress);
  batch *b[2] = {calloc(1, sizeof(batch)), calloc(1, sizeof(batch))};
  if (!b[0] || !b[1]) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
  if (!rc) rc = extract_loop(&r, b, err);
  if (!rc) rc = writer_close(&r.w, err);
  if (rc && r.w.open) bert_atomic_abort(&r.w.file);
  bert_progress_finish(&r.progress);
  stats->file_bytes = bert_wiki_dump_file_bytes(r.dump);
  stats->xml_bytes = bert_wiki_dump_xml_bytes(r.dump);
  stats->files = r.w.index;
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; b[k] && i < BATCH_PAGES; i++) {
      bert_wiki_page_free(&b[k]->pages[i]);
      bert_strbuf_free(&b[k]->docs[i]);
    }
  free(b[0]);
  free(b[1]);
  free((void *)r.ns.names);
  bert_wiki_dump_close(r.dump);
  stats->seconds = bert_seconds() - t0;
  return rc;
}
