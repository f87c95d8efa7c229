#include "squad/evaluate.h"

#include "io/json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/file.h"

/* ---- normalize_answer ------------------------------------------------------------------------ */

typedef struct cp_buf {
  int32_t *cp;
  size_t n, cap;
  int failed;
} cp_buf;

static void cp_push(cp_buf *b, int32_t c) {
  if (b->failed) return;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    int32_t *p = realloc(b->cp, cap * sizeof *p);
    if (!p) {
      b->failed = 1;
      return;
    }
    b->cp = p;
    b->cap = cap;
  }
  b->cp[b->n++] = c;
}

/* Invalid UTF-8 bytes are kept as "raw byte" code points: -1 - byte. */
#define RAW_BYTE(b) (-1 - (int32_t)(b))

static int is_cased(int32_t c) {
  if (c < 0) return 0;
  utf8proc_category_t cat = utf8proc_category(c);
  if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT) return 1;
  if (utf8proc_tolower(c) != c || utf8proc_toupper(c) != c) return 1;
  /* Other_Lowercase / Other_Uppercase without a case mapping (PropList.txt) */
  return c == 0xAA || c == 0xBA || (c >= 0x2B0 && c <= 0x2B8) || c == 0x2C0 || c == 0x2C1 ||
         (c >= 0x2E0 && c <= 0x2E4) || c == 0x345 || c == 0x37A || c == 0x10FC ||
         (c >= 0x1D2C && c <= 0x1D6A) || c == 0x1D78 || (c >= 0x1D9B && c <= 0x1DBF) || c == 0x2071 ||
         c == 0x207F || (c >= 0x2090 && c <= 0x209C) || (c >= 0x2160 && c <= 0x217F) ||
         (c >= 0x24B6 && c <= 0x24E9) || c == 0x2C7C || c == 0x2C7D || c == 0xA69C || c == 0xA69D ||
         c == 0xA770 || c == 0xA7F8 || c == 0xA7F9 || (c >= 0xAB5C && c <= 0xAB5F) || c == 0xAB69 ||
         (c >= 0x10780 && c <= 0x107BA && c != 0x10786 && c != 0x107B1) || (c >= 0x1F130 && c <= 0x1F149) ||
         (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

static int is_case_ignorable(int32_t c) {
  if (c < 0) return 0;
  switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return 1;
    default:
      break;
  }
  utf8proc_category_t cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK;
}

/* Python's str.isspace() (what str.split() splits on). */
static int is_py_space(int32_t c) {
  if (c < 0) return 0;
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680) return 1;
  if ((c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000)
    return 1;
  return 0;
}

/* Python re's Unicode \w: str.isalnum() or '_'. */
static int is_py_word(int32_t c) {
  if (c < 0) return 0;
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  utf8proc_category_t cat = utf8proc_category(c);
  switch (cat) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return 1;
    default:
      return 0;
  }
}

static int is_ascii_punct(int32_t c) {
  return c >= 0x21 && c <= 0x7E && !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
}

/* Python str.lower() of the whole text, final sigma included. */
static void py_lower(const cp_buf *in, cp_buf *out) {
  for (size_t i = 0; i < in->n; i++) {
    int32_t c = in->cp[i];
    if (c < 0) {
      cp_push(out, c);
    } else if (c == 0x130) {
      cp_push(out, 'i');
      cp_push(out, 0x307);
    } else if (c == 0x3A3) {
      size_t j = i;
      int32_t prev = 0;
      int found = 0;
      while (j > 0) {
        prev = in->cp[--j];
        if (!is_case_ignorable(prev)) {
          found = 1;
          break;
        }
      }
      int final_sigma = found && is_cased(prev);
      if (final_sigma && i + 1 < in->n) {
        size_t k = i + 1;
        while (k < in->n && is_case_ignorable(in->cp[k])) k++;
        final_sigma = k == in->n || !is_cased(in->cp[k]);
      }
      cp_push(out, final_sigma ? 0x3C2 : 0x3C3);
    } else {
      cp_push(out, utf8proc_tolower(c));
    }
  }
}

static int is_article(const int32_t *w, size_t n) {
  if (n == 1) return w[0] == 'a';
  if (n == 2) return w[0] == 'a' && w[1] == 'n';
  if (n == 3) return w[0] == 't' && w[1] == 'h' && w[2] == 'e';
  return 0;
}

char *bert_squad_normalize(const char *text, size_t len) {
  cp_buf raw = {0}, low = {0}, nopunct = {0}, noart = {0};
  char *result = NULL;
  /* decode */
  for (size_t i = 0; i < len;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
    if (n <= 0) {
      cp_push(&raw, RAW_BYTE((unsigned char)text[i]));
      i++;
    } else {
      cp_push(&raw, c);
      i += (size_t)n;
    }
  }
  py_lower(&raw, &low);
  for (size_t i = 0; i < low.n; i++)
    if (!is_ascii_punct(low.cp[i])) cp_push(&nopunct, low.cp[i]);
  /* \b(a|an|the)\b -> ' ': a maximal run of word characters equal to an article */
  for (size_t i = 0; i < nopunct.n;) {
    if (!is_py_word(nopunct.cp[i])) {
      cp_push(&noart, nopunct.cp[i++]);
      continue;
    }
    size_t j = i;
    while (j < nopunct.n && is_py_word(nopunct.cp[j])) j++;
    if (is_article(nopunct.cp + i, j - i)) {
      cp_push(&noart, ' ');
    } else {
      for (size_t k = i; k < j; k++) cp_push(&noart, nopunct.cp[k]);
    }
    i = j;
  }
  if (raw.failed || low.failed || nopunct.failed || noart.failed) goto done;
  /* ' '.join(s.split()), encoded back to UTF-8 */
  result = malloc(noart.n * 4 + 1);
  if (!result) goto done;
  size_t o = 0;
  int need_space = 0;
  for (size_t i = 0; i < noart.n; i++) {
    int32_t c = noart.cp[i];
    if (is_py_space(c)) {
      if (o > 0) need_space = 1;
      continue;
    }
    if (need_space) {
      result[o++] = ' ';
      need_space = 0;
    }
    if (c < 0)
      result[o++] = (char)(unsigned char)(-1 - c);
    else
      o += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)result + o);
  }
  result[o] = '\0';
done:
  free(raw.cp);
  free(low.cp);
  free(nopunct.cp);
  free(noart.cp);
  return result;
}

/* ---- metrics ---------------------------------------------------------------------------------- */

int bert_squad_exact(const char *prediction, const char *ground_truth) {
  char *a = bert_squad_normalize(prediction, strlen(prediction));
  char *b = bert_squad_normalize(ground_truth, strlen(ground_truth));
  int same = a && b && !strcmp(a, b);
  free(a);
  free(b);
  return same;
}

/* Splits a normalised string (single spaces, no leading or trailing space) in place. */
static size_t split_tokens(char *s, char ***toks) {
  size_t n = 0;
  if (!*s) {
    *toks = NULL;
    return 0;
  }
  for (char *p = s; *p; p++)
    if (*p == ' ') n++;
  n++;
  *toks = malloc(n * sizeof **toks);
  if (!*toks) return (size_t)-1;
  size_t k = 0;
  (*toks)[k++] = s;
  for (char *p = s; *p; p++)
    if (*p == ' ') {
      *p = '\0';
      (*toks)[k++] = p + 1;
    }
  return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

double bert_squad_f1(const char *prediction, const char *ground_truth, int v2) {
  char *p = bert_squad_normalize(prediction, strlen(prediction));
  char *g = bert_squad_normalize(ground_truth, strlen(ground_truth));
  char **pt = NULL, **gt = NULL;
  double f1 = -1.0;
  if (!p || !g) goto done;
  size_t np = split_tokens(p, &pt), ng = split_tokens(g, &gt);
  if (np == (size_t)-1 || ng == (size_t)-1) goto done;
  if (v2 && (np == 0 || ng == 0)) {
    f1 = (np == 0 && ng == 0) ? 1.0 : 0.0;
    goto done;
  }
  /* sum((Counter(p) & Counter(g)).values()) by merging the sorted lists */
  if (np) qsort(pt, np, sizeof *pt, cmp_str);
  if (ng) qsort(gt, ng, sizeof *gt, cmp_str);
  size_t i = 0, j = 0, same = 0;
  while (i < np && j < ng) {
    int c = strcmp(pt[i], gt[j]);
    if (c == 0) {
      same++;
      i++;
      j++;
    } else if (c < 0) {
      i++;
    } else {
      j++;
    }
  }
  if (same == 0) {
    f1 = 0.0;
    goto done;
  }
  double precision = 1.0 * (double)same / (double)np;
  double recall = 1.0 * (double)same / (double)ng;
  f1 = (2 * precision * recall) / (precision + recall);
done:
  free(pt);
  free(gt);
  free(p);
  free(g);
  return f1;
}

/* ---- id table: Python dict semantics (last value wins, first insertion order) ----------------- */

typedef struct id_table {
  const char **keys;
  long *vals;
  size_t cap, n;
} id_table;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int table_init(id_table *t, size_t expected) {
  t->cap = 16;
  while (t->cap < expected * 2 + 2) t->cap *= 2;
  t->n = 0;
  t->keys = calloc(t->cap, sizeof *t->keys);
  t->vals = calloc(t->cap, sizeof *t->vals);
  return t->keys && t->vals ? 0 : -1;
}

static void table_free(id_table *t) {
  free(t->keys);
  free(t->vals);
}

/* Slot of key (existing or the empty slot where it belongs). Capacity is fixed and at least twice
 * the number of keys ever inserted. */
static size_t table_slot(const id_table *t, const char *key) {
  size_t i = (size_t)hash_str(key) & (t->cap - 1);
  while (t->keys[i] && strcmp(t->keys[i], key)) i = (i + 1) & (t->cap - 1);
  return i;
}

static long table_get(const id_table *t, const char *key) {
  size_t i = table_slot(t, key);
  return t->keys[i] ? t->vals[i] : -1;
}

/* ---- evaluation ------------------------------------------------------------------------------ */

typedef struct question {
  const char *id;
  const cJSON *answers;
  const char *prediction; /* NULL: unanswered */
} question;

static int parse_json(const char *text, size_t len, const char *name, cJSON **out, bert_error *err) {
  return bert_json_parse(text, len, name, out, err);
}

static const cJSON *field(const cJSON *obj, const char *key, int want_array, const char *file, const char *where,
                          bert_error *err) {
  return bert_json_field(obj, key, want_array ? BERT_JSON_ARRAY : BERT_JSON_STRING, file, where, err);
}

/* An answer object's "text" (checked by collect_questions). */
static const char *answer_text(const cJSON *a) { return cJSON_GetObjectItemCaseSensitive(a, "text")->valuestring; }

/* Collects the questions in file order. */
static int collect_questions(const cJSON *root, const char *file, question **qs, size_t *nq, bert_error *err) {
  char where[160];
  if (!cJSON_IsObject(root)) return bert_error_set(err, BERT_EFORMAT, "%s: expected a JSON object at the top", file);
  const cJSON *data = field(root, "data", 1, file, "top level", err);
  if (!data) return BERT_EFORMAT;
  size_t cap = 0, n = 0;
  question *q = NULL;
  int ai = 0;
  for (const cJSON *art = data->child; art; art = art->next, ai++) {
    snprintf(where, sizeof where, "data[%d]", ai);
    if (!cJSON_IsObject(art)) goto not_object;
    const cJSON *paras = field(art, "paragraphs", 1, file, where, err);
    if (!paras) goto fail;
    int pi = 0;
    for (const cJSON *para = paras->child; para; para = para->next, pi++) {
      snprintf(where, sizeof where, "data[%d].paragraphs[%d]", ai, pi);
      if (!cJSON_IsObject(para)) goto not_object;
      const cJSON *qas = field(para, "qas", 1, file, where, err);
      if (!qas) goto fail;
      int qi = 0;
      for (const cJSON *qa = qas->child; qa; qa = qa->next, qi++) {
        snprintf(where, sizeof where, "data[%d].paragraphs[%d].qas[%d]", ai, pi, qi);
        if (!cJSON_IsObject(qa)) goto not_object;
        const cJSON *id = field(qa, "id", 0, file, where, err);
        if (!id) goto fail;
        const cJSON *answers = field(qa, "answers", 1, file, where, err);
        if (!answers) goto fail;
        int ki = 0;
        for (const cJSON *a = answers->child; a; a = a->next, ki++) {
          snprintf(where, sizeof where, "data[%d].paragraphs[%d].qas[%d].answers[%d]", ai, pi, qi, ki);
          if (!cJSON_IsObject(a)) goto not_object;
          if (!field(a, "text", 0, file, where, err)) goto fail;
        }
        if (n == cap) {
          cap = cap ? cap * 2 : 1024;
          question *p = realloc(q, cap * sizeof *p);
          if (!p) {
            bert_error_set(err, BERT_ENOMEM, "%s: out of memory", file);
            goto fail;
          }
          q = p;
        }
        q[n++] = (question){id->valuestring, answers, NULL};
      }
    }
  }
  *qs = q;
  *nq = n;
  return 0;
not_object:
  bert_error_set(err, BERT_EFORMAT, "%s: %s: expected a JSON object", file, where);
fail:
  free(q);
  return err ? err->code : BERT_EFORMAT;
}

int bert_squad_evaluate_text(const char *data_json, size_t data_len, const char *data_name, const char *pred_json,
                             size_t pred_len, const char *pred_name, int v2, bert_squad_scores *out, FILE *warn,
                             bert_error *err) {
  cJSON *data = NULL, *preds = NULL;
  question *qs = NULL;
  size_t nq = 0;
  id_table pt = {0}, qt = {0};
  int *has_ans = NULL;
  double *ex = NULL, *f1s = NULL;
  int rc = parse_json(data_json, data_len, data_name, &data, err);
  if (rc) goto done;
  rc = parse_json(pred_json, pred_len, pred_name, &preds, err);
  if (rc) goto done;
  if (!cJSON_IsObject(preds)) {
    rc = bert_error_set(err, BERT_EFORMAT, "%s: expected a JSON object {\"question id\": \"answer text\", ...}",
                        pred_name);
    goto done;
  }
  rc = collect_questions(data, data_name, &qs, &nq, err);
  if (rc) goto done;
  if (!v2 && warn) {
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(data, "version");
    const char *v = cJSON_IsString(ver) ? ver->valuestring : "(none)";
    if (strcmp(v, "1.1")) fprintf(warn, "Evaluation expects v-1.1, but got dataset with v-%s\n", v);
  }
  /* predictions: a dict, last duplicate wins */
  size_t npred = 0;
  for (const cJSON *p = preds->child; p; p = p->next) npred++;
  if (table_init(&pt, npred) || table_init(&qt, nq)) {
    rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
    goto done;
  }
  long pi = 0;
  for (const cJSON *p = preds->child; p; p = p->next, pi++) {
    if (!cJSON_IsString(p)) {
      rc = bert_error_set(err, BERT_EFORMAT, "%s: the prediction for \"%s\" is not a string", pred_name,
                          p->string ? p->string : "?");
      goto done;
    }
    size_t s = table_slot(&pt, p->string);
    if (!pt.keys[s]) pt.n++;
    pt.keys[s] = p->string;
    pt.vals[s] = pi;
  }
  /* index predictions by position for lookup */
  const cJSON **pv = malloc((npred ? npred : 1) * sizeof *pv);
  if (!pv) {
    rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
    goto done;
  }
  pi = 0;
  for (const cJSON *p = preds->child; p; p = p->next) pv[pi++] = p;
  *out = (bert_squad_scores){.v2 = v2};
  /* data ids, for the unknown-id count (and v2's dict of questions) */
  for (size_t i = 0; i < nq; i++) {
    size_t s = table_slot(&qt, qs[i].id);
    if (!qt.keys[s]) {
      qt.keys[s] = qs[i].id;
      qt.vals[s] = (long)i;
      qt.n++;
    }
    long k = table_get(&pt, qs[i].id);
    if (k >= 0) qs[i].prediction = pv[k]->valuestring;
  }
  for (size_t s = 0; s < pt.cap; s++)
    if (pt.keys[s] && table_get(&qt, pt.keys[s]) < 0) out->unknown++;
  free(pv);

  if (!v2) {
    long exact = 0;
    double f1 = 0;
    if (nq == 0) {
      rc = bert_error_set(err, BERT_EFORMAT, "%s: no questions (the official script divides by zero)", data_name);
      goto done;
    }
    for (size_t i = 0; i < nq; i++) {
      if (!qs[i].prediction) {
        out->unanswered++;
        if (warn) fprintf(warn, "Unanswered question %s will receive score 0.\n", qs[i].id);
        continue;
      }
      int best_e = 0;
      double best_f = 0;
      int first = 1;
      for (const cJSON *a = qs[i].answers->child; a; a = a->next) {
        int e = bert_squad_exact(qs[i].prediction, answer_text(a));
        double f = bert_squad_f1(qs[i].prediction, answer_text(a), 0);
        if (f < 0) {
          rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
          goto done;
        }
        if (first || e > best_e) best_e = e;
        if (first || f > best_f) best_f = f;
        first = 0;
      }
      if (first) {
        rc = bert_error_set(err, BERT_EFORMAT, "%s: question \"%s\" has no answers (the v1.1 script fails on it)",
                            data_name, qs[i].id);
        goto done;
      }
      exact += best_e;
      f1 += best_f;
    }
    out->total = (long)nq;
    out->exact = 100.0 * (double)exact / (double)nq;
    out->f1 = 100.0 * f1 / (double)nq;
    goto done;
  }

  /* v2.0: per unique id (dict order of first insertion, values of the last occurrence) */
  has_ans = calloc(nq ? nq : 1, sizeof *has_ans);
  ex = calloc(nq ? nq : 1, sizeof *ex);
  f1s = calloc(nq ? nq : 1, sizeof *f1s);
  if (!has_ans || !ex || !f1s) {
    rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < nq; i++) {
    long u = table_get(&qt, qs[i].id);
    has_ans[u] = cJSON_GetArraySize(qs[i].answers) > 0;
    if (!qs[i].prediction) {
      out->unanswered++;
      if (warn) fprintf(warn, "Missing prediction for %s\n", qs[i].id);
      continue;
    }
    int any_gold = 0, first = 1;
    double be = 0, bf = 0;
    for (const cJSON *a = qs[i].answers->child; a; a = a->next) {
      char *norm = bert_squad_normalize(answer_text(a), strlen(answer_text(a)));
      if (!norm) {
        rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
        goto done;
      }
      int keep = norm[0] != '\0';
      free(norm);
      if (!keep) continue;
      any_gold = 1;
      double e = bert_squad_exact(qs[i].prediction, answer_text(a));
      double f = bert_squad_f1(qs[i].prediction, answer_text(a), 1);
      if (f < 0) {
        rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
        goto done;
      }
      if (first || e > be) be = e;
      if (first || f > bf) bf = f;
      first = 0;
    }
    if (!any_gold) {
      be = bert_squad_exact(qs[i].prediction, "");
      bf = bert_squad_f1(qs[i].prediction, "", 1);
    }
    ex[u] = be;
    f1s[u] = bf;
  }
  if (out->unanswered) {
    rc = bert_error_set(err, BERT_EFORMAT,
                        "%s: %ld question(s) of %s have no prediction (the official v2.0 script fails on them)",
                        pred_name, out->unanswered, data_name);
    goto done;
  }
  if (qt.n == 0) {
    rc = bert_error_set(err, BERT_EFORMAT, "%s: no questions (the official script divides by zero)", data_name);
    goto done;
  }
  /* unique ids in first-insertion order are the question indices that own their slot */
  double se = 0, sf = 0, he = 0, hf = 0, ne = 0, nf = 0;
  long ht = 0, nt = 0;
  for (size_t i = 0; i < nq; i++) {
    if (table_get(&qt, qs[i].id) != (long)i) continue;
    se += ex[i];
    sf += f1s[i];
    if (has_ans[i]) {
      he += ex[i];
      hf += f1s[i];
      ht++;
    } else {
      ne += ex[i];
      nf += f1s[i];
      nt++;
    }
  }
  out->total = (long)qt.n;
  out->exact = 100.0 * se / (double)qt.n;
  out->f1 = 100.0 * sf / (double)qt.n;
  out->has_ans_total = ht;
  out->no_ans_total = nt;
  if (ht) {
    out->has_ans_exact = 100.0 * he / (double)ht;
    out->has_ans_f1 = 100.0 * hf / (double)ht;
  }
  if (nt) {
    out->no_ans_exact = 100.0 * ne / (double)nt;
    out->no_ans_f1 = 100.0 * nf / (double)nt;
  }
done:
  free(has_ans);
  free(ex);
  free(f1s);
  table_free(&pt);
  table_free(&qt);
  free(qs);
  cJSON_Delete(data);
  cJSON_Delete(preds);
  return rc;
}

int bert_squad_evaluate_files(const char *data_path, const char *pred_path, int v2, bert_squad_scores *out,
                              FILE *warn, bert_error *err) {
  char *d = NULL, *p = NULL;
  size_t dn = 0, pn = 0;
  int rc = bert_file_read(data_path, &d, &dn, err);
  if (!rc) rc = bert_file_read(pred_path, &p, &pn, err);
  if (!rc) rc = bert_squad_evaluate_text(d, dn, data_path, p, pn, pred_path, v2, out, warn, err);
  free(d);
  free(p);
  return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

void bert_squad_format_double(double v, char *buf, size_t cap) {
  if (isnan(v)) {
    snprintf(buf, cap, "NaN");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, cap, v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char tmp[64];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    if (strtod(tmp, NULL) == v) break;
  }
  /* tmp: [-]d[.ddd]e[+-]XX */
  const char *s = tmp;
  int neg = 0;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  char digits[32];
  int nd = 0;
  for (; *s && *s != 'e'; s++)
    if (*s != '.') digits[nd++] = *s;
  int exp10 = atoi(s + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = '\0';
  int decpt = exp10 + 1;
  char res[64];
  int o = 0;
  if (neg) res[o++] = '-';
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      res[o++] = '0';
      res[o++] = '.';
      for (int i = 0; i < -decpt; i++) res[o++] = '0';
      for (int i = 0; i < nd; i++) res[o++] = digits[i];
    } else {
      for (int i = 0; i < decpt; i++) res[o++] = i < nd ? digits[i] : '0';
      res[o++] = '.';
      if (nd > decpt)
        for (int i = decpt; i < nd; i++) res[o++] = digits[i];
      else
        res[o++] = '0';
    }
    res[o] = '\0';
  } else {
    res[o++] = digits[0];
    if (nd > 1) {
      res[o++] = '.';
      for (int i = 1; i < nd; i++) res[o++] = digits[i];
    }
    snprintf(res + o, sizeof res - (size_t)o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
  }
  snprintf(buf, cap, "%s", res);
}

void bert_squad_scores_json(const bert_squad_scores *s, bert_strbuf *out) {
  char a[64], b[64];
  if (!s->v2) {
    bert_squad_format_double(s->exact, a, sizeof a);
    bert_squad_format_double(s->f1, b, sizeof b);
    bert_strbuf_printf(out, "{\"exact_match\": %s, \"f1\": %s}\n", a, b);
    return;
  }
  bert_squad_format_double(s->exact, a, sizeof a);
  bert_squad_format_double(s->f1, b, sizeof b);
  bert_strbuf_printf(out, "{\n  \"exact\": %s,\n  \"f1\": %s,\n  \"total\": %ld", a, b, s->total);
  if (s->has_ans_total) {
    bert_squad_format_double(s->has_ans_exact, a, sizeof a);
    bert_squad_format_double(s->has_ans_f1, b, sizeof b);
    bert_strbuf_printf(out, ",\n  \"HasAns_exact\": %s,\n  \"HasAns_f1\": %s,\n  \"HasAns_total\": %ld", a, b,
                       s->has_ans_total);
  }
  if (s->no_ans_total) {
    bert_squad_format_double(s->no_ans_exact, a, sizeof a);
    bert_squad_format_double(s->no_ans_f1, b, sizeof b);
    bert_strbuf_printf(out, ",\n  \"NoAns_exact\": %s,\n  \"NoAns_f1\": %s,\n  \"NoAns_total\": %ld", a, b,
                       s->no_ans_total);
  }
  bert_strbuf_puts(out, "\n}\n");
}
