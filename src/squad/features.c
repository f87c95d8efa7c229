#include "squad/features.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "text/vocab.h"

void bert_squad_feature_config_default(bert_squad_feature_config *c) {
  c->max_seq_length = 384;
  c->doc_stride = 128;
}

/* A growable array of one element type. */
static int reserve(void **items, int64_t *cap, int64_t need, size_t size) {
  if (need <= *cap) return 0;
  int64_t n = *cap ? *cap : 4096;
  while (n < need) n *= 2;
  void *p = realloc(*items, (size_t)n * size);
  if (!p) return -1;
  *items = p, *cap = n;
  return 0;
}

typedef struct builder {
  bert_squad_features *f;
  const bert_tokenizer *tok;
  bert_squad_feature_config cfg;
  bert_tokens tokens;
  int64_t cap_items, cap_qids, cap_cids;
  bert_error *err;
} builder;

static int oom(builder *b) { return bert_error_set(b->err, BERT_ENOMEM, "SQuAD features: out of memory"); }

static int tokenize_contexts(builder *b) {
  bert_squad_features *f = b->f;
  const bert_squad_dataset *ds = f->ds;
  if (!(f->context_first = malloc((size_t)(ds->context_count + 1) * sizeof *f->context_first))) return oom(b);
  int64_t n = 0, cap_spans = 0;
  f->context_first[0] = 0;
  for (int64_t c = 0; c < ds->context_count; c++) {
    int rc = bert_tokenize(b->tok, ds->contexts[c].text, ds->contexts[c].len, &b->tokens, b->err);
    if (rc) return rc;
    int64_t need = n + (int64_t)b->tokens.count;
    if (reserve((void **)&f->context_ids, &b->cap_cids, need, sizeof *f->context_ids)) return oom(b);
    if (reserve((void **)&f->context_spans, &cap_spans, 2 * need, sizeof *f->context_spans)) return oom(b);
    for (size_t k = 0; k < b->tokens.count; k++, n++) {
      f->context_ids[n] = b->tokens.ids[k];
      f->context_spans[2 * n] = (uint32_t)b->tokens.starts[k];
      f->context_spans[2 * n + 1] = (uint32_t)b->tokens.ends[k];
    }
    f->context_first[c + 1] = n;
  }
  return BERT_OK;
}

/* The longest question that still lets a window advance when the context must be split. */
static int question_limit(const builder *b) { return b->cfg.max_seq_length - b->cfg.doc_stride - 4; }

static int tokenize_question(builder *b, int64_t e, int context_tokens) {
  bert_squad_features *f = b->f;
  const bert_squad_example *ex = &f->ds->examples[e];
  int rc = bert_tokenize(b->tok, ex->question, ex->question_len, &b->tokens, b->err);
  if (rc) return rc;
  int64_t q = (int64_t)b->tokens.count;
  if (q + context_tokens + 3 > b->cfg.max_seq_length && q > question_limit(b)) {
    if (++f->truncated_questions <= 3)
      bert_warn("question %s has %lld tokens: cut to %d so that its context windows can advance", ex->id,
                (long long)q, question_limit(b));
    q = question_limit(b);
  }
  int64_t at = f->question_first[e];
  if (reserve((void **)&f->question_ids, &b->cap_qids, at + q, sizeof *f->question_ids)) return oom(b);
  if (q) memcpy(f->question_ids + at, b->tokens.ids, (size_t)q * sizeof *f->question_ids);
  f->question_first[e + 1] = at + q;
  return BERT_OK;
}

/* Sequence positions of the answer span inside the window, HuggingFace's rule (see the header);
 * [CLS] when it is not entirely inside. */
static void label(const bert_squad_features *f, const bert_squad_example *ex, bert_squad_feature *ft) {
  ft->start_position = ft->end_position = 0;
  if (ex->impossible || ex->answer_count == 0) return;
  const bert_squad_answer *a = &ex->answers[0];
  if (!a->in_context) {
    ft->start_position = ft->end_position = -1;
    return;
  }
  if (ft->context_count == 0) return;
  const uint32_t *span = f->context_spans + 2 * (f->context_first[ex->context] + ft->context_first);
  int last = ft->context_count - 1;
  if (!(span[0] <= a->byte_start && span[2 * last + 1] >= a->byte_end)) return;
  int s = 0, e = last;
  while (s < last && span[2 * (s + 1)] <= a->byte_start) s++;
  while (e > 0 && span[2 * (e - 1) + 1] >= a->byte_end) e--;
  ft->start_position = ft->question_tokens + 2 + s;
  ft->end_position = ft->question_tokens + 2 + e;
}

static int add_feature(builder *b, int64_t e, int q, int first, int count) {
  bert_squad_features *f = b->f;
  if (reserve((void **)&f->items, &b->cap_items, f->count + 1, sizeof *f->items)) return oom(b);
  bert_squad_feature *ft = &f->items[f->count++];
  ft->example = (int32_t)e, ft->question_tokens = q, ft->context_first = first, ft->context_count = count;
  label(f, &f->ds->examples[e], ft);
  return BERT_OK;
}

/* The fast tokenizer's overflow: windows of `room` tokens starting every room - stride tokens,
 * the last one the first that reaches the end. */
static int cut_windows(builder *b, int64_t e) {
  bert_squad_features *f = b->f;
  int c = (int)(f->context_first[f->ds->examples[e].context + 1] - f->context_first[f->ds->examples[e].context]);
  int q = (int)(f->question_first[e + 1] - f->question_first[e]);
  int room = b->cfg.max_seq_length - q - 3, rc = BERT_OK;
  if (c <= room) return add_feature(b, e, q, 0, c);
  int step = room - b->cfg.doc_stride;
  for (int start = 0; !rc; start += step) {
    int stop = start + room < c ? start + room : c;
    rc = add_feature(b, e, q, start, stop - start);
    if (stop == c) break;
  }
  return rc;
}

static int check_config(const bert_squad_feature_config *cfg, const bert_tokenizer *tok, bert_squad_features *f,
                        bert_error *err) {
  if (cfg->max_seq_length < 8 || cfg->max_seq_length > 512)
    return bert_error_set(err, BERT_EINVAL, "max_seq_length %d: expected 8 to 512", cfg->max_seq_length);
  if (cfg->doc_stride < 0 || question_limit(&(builder){.cfg = *cfg}) < 1)
    return bert_error_set(err, BERT_EINVAL, "doc_stride %d: expected 0 to max_seq_length - 5 (%d)", cfg->doc_stride,
                          cfg->max_seq_length - 5);
  const bert_vocab *v = bert_tokenizer_vocab(tok);
  f->cls_id = bert_vocab_find(v, "[CLS]", 5);
  f->sep_id = bert_vocab_find(v, "[SEP]", 5);
  if (f->cls_id < 0 || f->sep_id < 0) return bert_error_set(err, BERT_EFORMAT, "the vocabulary has no [CLS] or [SEP]");
  return BERT_OK;
}

int bert_squad_features_build(bert_squad_features *f, const bert_squad_dataset *ds, const bert_tokenizer *tok,
                              const bert_squad_feature_config *cfg, bert_error *err) {
  memset(f, 0, sizeof *f);
  f->ds = ds;
  f->seq_len = cfg->max_seq_length;
  builder b = {.f = f, .tok = tok, .cfg = *cfg, .err = err};
  bert_tokens_init(&b.tokens);
  int rc = check_config(cfg, tok, f, err);
  if (!rc) rc = tokenize_contexts(&b);
  if (!rc && (!(f->question_first = malloc((size_t)(ds->count + 1) * sizeof *f->question_first)) ||
              !(f->example_first = malloc((size_t)(ds->count + 1) * sizeof *f->example_first))))
    rc = oom(&b);
  if (!rc) f->question_first[0] = f->example_first[0] = 0;
  for (int64_t e = 0; !rc && e < ds->count; e++) {
    const bert_squad_example *ex = &ds->examples[e];
    int c = (int)(f->context_first[ex->context + 1] - f->context_first[ex->context]);
    rc = tokenize_question(&b, e, c);
    if (!rc) rc = cut_windows(&b, e);
    if (!rc) f->example_first[e + 1] = f->count;
  }
  bert_tokens_free(&b.tokens);
  if (rc) bert_squad_features_free(f);
  return rc;
}

void bert_squad_features_free(bert_squad_features *f) {
  free(f->items);
  free(f->example_first);
  free(f->question_ids);
  free(f->question_first);
  free(f->context_ids);
  free(f->context_spans);
  free(f->context_first);
  memset(f, 0, sizeof *f);
}

int bert_squad_feature_length(const bert_squad_features *f, int64_t i) {
  return f->items[i].question_tokens + f->items[i].context_count + 3;
}

static void fill_row(const bert_squad_features *f, int64_t i, int len, int32_t *ids, int32_t *types, int32_t *mask) {
  const bert_squad_feature *ft = &f->items[i];
  int q = ft->question_tokens, c = ft->context_count, real = q + c + 3;
  if (ids) {
    const int32_t *ctx = c ? f->context_ids + f->context_first[f->ds->examples[ft->example].context] + ft->context_first : NULL;
    ids[0] = f->cls_id;
    if (q) memcpy(ids + 1, f->question_ids + f->question_first[ft->example], (size_t)q * sizeof *ids);
    ids[q + 1] = f->sep_id;
    if (c) memcpy(ids + q + 2, ctx, (size_t)c * sizeof *ids); /* no context token at all: ctx may be NULL */
    ids[real - 1] = f->sep_id;
    memset(ids + real, 0, (size_t)(len - real) * sizeof *ids);
  }
  for (int p = 0; types && p < len; p++) types[p] = p >= q + 2 && p < real;
  for (int p = 0; mask && p < len; p++) mask[p] = p < real;
}

static int32_t label_or_ignored(int32_t label, int len) { return label < 0 ? len : label; }

void bert_squad_features_fill(const bert_squad_features *f, const int64_t *index, int n, int len, int32_t *ids,
                              int32_t *types, int32_t *mask, int32_t *start_labels, int32_t *end_labels) {
  for (int r = 0; r < n; r++) {
    size_t at = (size_t)r * (size_t)len;
    if (index[r] < 0) {
      if (ids) memset(ids + at, 0, (size_t)len * sizeof *ids);
      if (types) memset(types + at, 0, (size_t)len * sizeof *types);
      if (mask) memset(mask + at, 0, (size_t)len * sizeof *mask);
      if (start_labels) start_labels[r] = end_labels[r] = len;
      continue;
    }
    fill_row(f, index[r], len, ids ? ids + at : NULL, types ? types + at : NULL, mask ? mask + at : NULL);
    if (start_labels) {
      start_labels[r] = label_or_ignored(f->items[index[r]].start_position, len);
      end_labels[r] = label_or_ignored(f->items[index[r]].end_position, len);
    }
  }
}

int bert_squad_feature_span(const bert_squad_features *f, int64_t i, int pos, uint32_t *start, uint32_t *end) {
  const bert_squad_feature *ft = &f->items[i];
  int k = pos - ft->question_tokens - 2;
  if (k < 0 || k >= ft->context_count) return 0;
  const uint32_t *span = f->context_spans + 2 * (f->context_first[f->ds->examples[ft->example].context] + ft->context_first + k);
  *start = span[0];
  *end = span[1];
  return 1;
}
