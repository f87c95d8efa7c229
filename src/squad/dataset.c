#include "squad/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "io/json.h"
#include "text/unicode.h"

/* Every string of a dataset lives in a few big blocks: 100k examples would otherwise be 300k
 * small allocations. */
typedef struct bert_squad_strings {
  char **blocks;
  size_t count, cap;
  size_t used, size; /* of the last block */
} strings;

enum { BLOCK_BYTES = 1 << 20 };

/* n bytes aligned to 8 (answer arrays live in the pool too). */
static void *pool_alloc(strings *p, size_t n) {
  size_t start = (p->used + 7) & ~(size_t)7;
  if (!p->count || start + n > p->size) {
    size_t size = n > BLOCK_BYTES ? n : BLOCK_BYTES;
    if (p->count == p->cap) {
      size_t cap = p->cap ? p->cap * 2 : 16;
      char **b = realloc(p->blocks, cap * sizeof *b);
      if (!b) return NULL;
      p->blocks = b, p->cap = cap;
    }
    if (!(p->blocks[p->count] = malloc(size))) return NULL;
    p->count++, p->size = size, start = 0;
  }
  p->used = start + n;
  return p->blocks[p->count - 1] + start;
}

static char *pool_copy(strings *p, const char *s, size_t n) {
  char *out = pool_alloc(p, n + 1);
  if (!out) return NULL;
  memcpy(out, s, n);
  out[n] = '\0';
  return out;
}

static void pool_free(strings *p) {
  if (!p) return;
  for (size_t i = 0; i < p->count; i++) free(p->blocks[i]);
  free(p->blocks);
  free(p);
}

typedef struct reader {
  bert_squad_dataset *ds;
  const char *file;
  char where[192];
  int64_t cap_examples, cap_contexts;
  bert_error *err;
} reader;

static int grow(void **items, int64_t *cap, int64_t need, size_t size) {
  if (need <= *cap) return 0;
  int64_t n = *cap ? *cap * 2 : 1024;
  void *p = realloc(*items, (size_t)n * size);
  if (!p) return -1;
  *items = p, *cap = n;
  return 0;
}

static int oom(reader *r) { return bert_error_set(r->err, BERT_ENOMEM, "%s: out of memory", r->file); }

static void warn_answer(reader *r, int64_t count, const char *what) {
  if (count <= 3) bert_warn("%s: %s: %s", r->file, r->where, what);
}

/* Byte span of the answer; flags answers outside the context and texts that differ from it. */
static void locate_answer(reader *r, bert_squad_answer *a, const bert_squad_context *c) {
  size_t text_len = strlen(a->text);
  int64_t cps = bert_utf8_code_points(a->text, text_len), total = bert_utf8_code_points(c->text, c->len);
  a->in_context = a->char_start >= 0 && a->char_start + cps <= total;
  if (!a->in_context) {
    r->ds->answers_outside++;
    warn_answer(r, r->ds->answers_outside, "answer_start + the answer's length lies outside the context (unusable for training)");
    return;
  }
  a->byte_start = bert_utf8_byte_offset(c->text, c->len, a->char_start);
  a->byte_end = a->byte_start + text_len;
  if (a->byte_end > c->len || memcmp(c->text + a->byte_start, a->text, text_len)) {
    a->byte_end = bert_utf8_byte_offset(c->text, c->len, a->char_start + cps);
    r->ds->answers_mismatched++;
    warn_answer(r, r->ds->answers_mismatched, "the answer's text differs from the context at answer_start (the offsets are used)");
  }
}

static int read_answers(reader *r, const cJSON *qa, bert_squad_example *ex, const bert_squad_context *c) {
  const cJSON *answers = bert_json_field(qa, "answers", BERT_JSON_ARRAY, r->file, r->where, r->err);
  if (!answers) return BERT_EFORMAT;
  int n = cJSON_GetArraySize(answers);
  ex->answer_count = 0;
  ex->answers = n ? pool_alloc(r->ds->strings, (size_t)n * sizeof *ex->answers) : NULL;
  if (n && !ex->answers) return oom(r);
  size_t base = strlen(r->where);
  int k = 0;
  for (const cJSON *a = answers->child; a; a = a->next, k++) {
    snprintf(r->where + base, sizeof r->where - base, ".answers[%d]", k);
    if (!cJSON_IsObject(a)) return bert_error_set(r->err, BERT_EFORMAT, "%s: %s: expected a JSON object", r->file, r->where);
    const cJSON *text = bert_json_field(a, "text", BERT_JSON_STRING, r->file, r->where, r->err);
    const cJSON *start = text ? bert_json_field(a, "answer_start", BERT_JSON_NUMBER, r->file, r->where, r->err) : NULL;
    if (!start) return BERT_EFORMAT;
    bert_squad_answer *ans = &ex->answers[ex->answer_count++];
    memset(ans, 0, sizeof *ans);
    if (!(ans->text = pool_copy(r->ds->strings, text->valuestring, strlen(text->valuestring)))) return oom(r);
    double v = start->valuedouble; /* a code-point offset: beyond 2^53 not even an exact integer */
    if (!(v >= -9007199254740992.0 && v <= 9007199254740992.0) || v != floor(v))
      return bert_error_set(r->err, BERT_EFORMAT, "%s: %s: \"answer_start\" is not an integer offset", r->file,
                            r->where);
    ans->char_start = (int64_t)v;
    locate_answer(r, ans, c);
  }
  r->where[base] = '\0';
  return BERT_OK;
}

static int read_question(reader *r, const cJSON *qa, int32_t context) {
  bert_squad_dataset *ds = r->ds;
  if (!cJSON_IsObject(qa)) return bert_error_set(r->err, BERT_EFORMAT, "%s: %s: expected a JSON object", r->file, r->where);
  const cJSON *id = bert_json_field(qa, "id", BERT_JSON_STRING, r->file, r->where, r->err);
  const cJSON *q = id ? bert_json_field(qa, "question", BERT_JSON_STRING, r->file, r->where, r->err) : NULL;
  if (!q) return BERT_EFORMAT;
  if (grow((void **)&ds->examples, &r->cap_examples, ds->count + 1, sizeof *ds->examples)) return oom(r);
  bert_squad_example *ex = &ds->examples[ds->count];
  memset(ex, 0, sizeof *ex);
  ex->context = context;
  ex->question_len = strlen(q->valuestring);
  if (!(ex->id = pool_copy(ds->strings, id->valuestring, strlen(id->valuestring))) ||
      !(ex->question = pool_copy(ds->strings, q->valuestring, ex->question_len)))
    return oom(r);
  const cJSON *imp = cJSON_GetObjectItemCaseSensitive(qa, "is_impossible");
  if (imp && !cJSON_IsBool(imp))
    return bert_error_set(r->err, BERT_EFORMAT, "%s: %s: \"is_impossible\" must be true or false", r->file, r->where);
  ex->impossible = imp && cJSON_IsTrue(imp);
  ds->impossible_count += ex->impossible;
  int rc = read_answers(r, qa, ex, &ds->contexts[context]);
  if (!rc) ds->count++;
  return rc;
}

static int read_paragraph(reader *r, const cJSON *para) {
  bert_squad_dataset *ds = r->ds;
  if (!cJSON_IsObject(para)) return bert_error_set(r->err, BERT_EFORMAT, "%s: %s: expected a JSON object", r->file, r->where);
  const cJSON *ctx = bert_json_field(para, "context", BERT_JSON_STRING, r->file, r->where, r->err);
  const cJSON *qas = ctx ? bert_json_field(para, "qas", BERT_JSON_ARRAY, r->file, r->where, r->err) : NULL;
  if (!qas) return BERT_EFORMAT;
  if (grow((void **)&ds->contexts, &r->cap_contexts, ds->context_count + 1, sizeof *ds->contexts)) return oom(r);
  bert_squad_context *c = &ds->contexts[ds->context_count];
  c->len = strlen(ctx->valuestring);
  if (!(c->text = pool_copy(ds->strings, ctx->valuestring, c->len))) return oom(r);
  if (c->len == 0 && ++ds->empty_contexts <= 3) bert_warn("%s: %s: empty context", r->file, r->where);
  int32_t context = (int32_t)ds->context_count++;
  size_t base = strlen(r->where);
  int k = 0, rc = BERT_OK;
  for (const cJSON *qa = qas->child; qa && !rc; qa = qa->next, k++) {
    snprintf(r->where + base, sizeof r->where - base, ".qas[%d]", k);
    rc = read_question(r, qa, context);
  }
  r->where[base] = '\0';
  return rc;
}

static int read_data(reader *r, const cJSON *root) {
  if (!cJSON_IsObject(root)) return bert_error_set(r->err, BERT_EFORMAT, "%s: expected a JSON object at the top", r->file);
  const cJSON *data = bert_json_field(root, "data", BERT_JSON_ARRAY, r->file, "top level", r->err);
  if (!data) return BERT_EFORMAT;
  int ai = 0, rc = BERT_OK;
  for (const cJSON *art = data->child; art && !rc; art = art->next, ai++) {
    snprintf(r->where, sizeof r->where, "data[%d]", ai);
    if (!cJSON_IsObject(art)) return bert_error_set(r->err, BERT_EFORMAT, "%s: %s: expected a JSON object", r->file, r->where);
    const cJSON *paras = bert_json_field(art, "paragraphs", BERT_JSON_ARRAY, r->file, r->where, r->err);
    if (!paras) return BERT_EFORMAT;
    int pi = 0;
    for (const cJSON *p = paras->child; p && !rc; p = p->next, pi++) {
      snprintf(r->where, sizeof r->where, "data[%d].paragraphs[%d]", ai, pi);
      rc = read_paragraph(r, p);
    }
  }
  return rc;
}

int bert_squad_dataset_parse(bert_squad_dataset *ds, const char *json, size_t len, const char *name,
                             bert_error *err) {
  memset(ds, 0, sizeof *ds);
  if (!(ds->strings = calloc(1, sizeof *ds->strings))) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  cJSON *root = NULL;
  int rc = bert_json_parse(json, len, name, &root, err);
  reader r = {.ds = ds, .file = name, .err = err};
  if (!rc) rc = read_data(&r, root);
  cJSON_Delete(root);
  if (!rc && ds->count == 0) rc = bert_error_set(err, BERT_EFORMAT, "%s: no questions in the file", name);
  if (rc) bert_squad_dataset_free(ds);
  return rc;
}

int bert_squad_dataset_load(bert_squad_dataset *ds, const char *path, bert_error *err) {
  char *text = NULL;
  size_t len = 0;
  memset(ds, 0, sizeof *ds);
  int rc = bert_file_read(path, &text, &len, err);
  if (rc) return rc;
  rc = bert_squad_dataset_parse(ds, text, len, path, err);
  free(text);
  return rc;
}

void bert_squad_dataset_free(bert_squad_dataset *ds) {
  free(ds->examples);
  free(ds->contexts);
  pool_free(ds->strings);
  memset(ds, 0, sizeof *ds);
}

void bert_squad_dataset_truncate(bert_squad_dataset *ds, int64_t n) {
  if (n < 0 || n >= ds->count) return;
  ds->count = n;
  ds->context_count = n ? ds->examples[n - 1].context + 1 : 0;
}

static cJSON *question_json(const bert_squad_example *ex) {
  cJSON *qa = cJSON_CreateObject(), *answers = cJSON_CreateArray();
  cJSON_AddStringToObject(qa, "id", ex->id);
  cJSON_AddStringToObject(qa, "question", ex->question);
  if (ex->impossible) cJSON_AddBoolToObject(qa, "is_impossible", 1);
  for (int k = 0; k < ex->answer_count; k++) {
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "text", ex->answers[k].text);
    cJSON_AddNumberToObject(a, "answer_start", (double)ex->answers[k].char_start);
    cJSON_AddItemToArray(answers, a);
  }
  cJSON_AddItemToObject(qa, "answers", answers);
  return qa;
}

char *bert_squad_dataset_json(const bert_squad_dataset *ds) {
  cJSON *root = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(root, "data"), *qas = NULL;
  int32_t context = -1;
  for (int64_t e = 0; e < ds->count; e++) {
    const bert_squad_example *ex = &ds->examples[e];
    if (ex->context != context) {
      cJSON *art = cJSON_CreateObject(), *paras = cJSON_AddArrayToObject(art, "paragraphs"), *p = cJSON_CreateObject();
      cJSON_AddStringToObject(p, "context", ds->contexts[ex->context].text);
      qas = cJSON_AddArrayToObject(p, "qas");
      cJSON_AddItemToArray(paras, p);
      cJSON_AddItemToArray(data, art);
      context = ex->context;
    }
    cJSON_AddItemToArray(qas, question_json(ex));
  }
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

void bert_squad_dataset_report(const bert_squad_dataset *ds, const char *name) {
  if (ds->answers_outside)
    bert_warn("%s: %lld answers lie outside their context and are not used for training", name,
              (long long)ds->answers_outside);
  if (ds->answers_mismatched)
    bert_warn("%s: %lld answer texts differ from their context at answer_start", name,
              (long long)ds->answers_mismatched);
  if (ds->empty_contexts) bert_warn("%s: %lld empty contexts", name, (long long)ds->empty_contexts);
}
