/* text/casing: bert_casing_resolve (declared in text/tokenizer.h), the one place that decides
 * whether a vocabulary is used lower-cased. A wrong guess silently costs several F1 points on SQuAD
 * (cased/uncased mix-ups are a known trap), so every step says what it decided and why. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/file.h"
#include "base/log.h"
#include "text/tokenizer.h"

/* Reads do_lower_case from tokenizer_config.json beside the vocabulary. Returns 1 when found (and
 * sets *lower_case), 0 when there is no file or no such key, or a negative error. */
static int casing_from_config(const char *vocab_path, int *lower_case, bert_error *err) {
  char path[4096];
  const char *slash = strrchr(vocab_path, '/');
  int dir_len = slash ? (int)(slash - vocab_path) : 1;
  const char *dir = slash ? vocab_path : ".";
  if (snprintf(path, sizeof path, "%.*s/tokenizer_config.json", dir_len, dir) >= (int)sizeof path)
    return bert_error_set(err, BERT_EINVAL, "%s: path too long", vocab_path);
  if (!bert_path_exists(path)) return 0;
  char *data;
  size_t size;
  int rc = bert_file_read(path, &data, &size, err);
  if (rc) return rc;
  const char *stop = NULL;
  cJSON *json = cJSON_ParseWithLengthOpts(data, size, &stop, 0);
  if (!json || !cJSON_IsObject(json)) {
    size_t at = json ? 0 : (size_t)(stop - data);
    cJSON_Delete(json);
    free(data);
    return bert_error_set(err, BERT_EFORMAT, "%s: not a JSON object (error near byte %zu)", path, at);
  }
  free(data);
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "do_lower_case");
  rc = 0;
  if (item && !cJSON_IsBool(item))
    rc = bert_error_set(err, BERT_EFORMAT, "%s: do_lower_case must be true or false", path);
  else if (item) {
    *lower_case = cJSON_IsTrue(item);
    bert_log("casing: do_lower_case=%s from %s", *lower_case ? "true" : "false", path);
    rc = 1;
  }
  cJSON_Delete(json);
  return rc;
}

static int has_upper(const char *s) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
  utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
  while (left > 0) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) n = 1, cp = -1;
    if (cp >= 0) {
      utf8proc_category_t cat = utf8proc_category(cp);
      if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT) return 1;
    }
    p += n;
    left -= n;
  }
  return 0;
}

/* An uncased vocabulary was built from lower-cased text, so its ordinary tokens (special ones look
 * like "[CLS]") have no capitals; bert-base-cased has them in 29 % of its tokens. More than 1 %
 * leaves room for a few stray symbols. */
static int casing_from_vocab(const bert_vocab *vocab) {
  int ordinary = 0, upper = 0;
  for (int id = 0; id < vocab->size; id++) {
    const char *t = vocab->tokens[id];
    size_t len = strlen(t);
    if (len >= 2 && t[0] == '[' && t[len - 1] == ']') continue;
    ordinary++;
    upper += has_upper(t);
  }
  int lower_case = (double)upper <= 0.01 * ordinary;
  bert_log("casing: %s, inferred from the vocabulary (%d of %d ordinary tokens have capitals); "
           "give --do-lower-case or --cased to choose",
           lower_case ? "lower-case (uncased)" : "cased", upper, ordinary);
  return lower_case;
}

int bert_casing_resolve(const char *vocab_path, const bert_vocab *vocab, int flag, int *lower_case,
                        bert_error *err) {
  if (flag == 0 || flag == 1) {
    *lower_case = flag;
    return BERT_OK;
  }
  if (vocab_path) {
    int rc = casing_from_config(vocab_path, lower_case, err);
    if (rc < 0) return rc;
    if (rc == 1) return BERT_OK;
  }
  if (!vocab)
    return bert_error_set(err, BERT_EINVAL, "casing: no flag, no tokenizer_config.json, no vocabulary");
  *lower_case = casing_from_vocab(vocab);
  return BERT_OK;
}
