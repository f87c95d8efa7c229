#include "io/json.h"

int bert_json_parse(const char *text, size_t len, const char *name, cJSON **out, bert_error *err) {
  const char *end = NULL;
  *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (*out) return BERT_OK;
  if (len == 0) return bert_error_set(err, BERT_EFORMAT, "%s: empty file, expected a JSON object", name);
  size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off; i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return bert_error_set(err, BERT_EFORMAT, "%s: malformed JSON near line %zu, column %zu", name, line, col);
}

static int has_kind(const cJSON *v, bert_json_kind kind) {
  switch (kind) {
  case BERT_JSON_STRING: return cJSON_IsString(v);
  case BERT_JSON_ARRAY: return cJSON_IsArray(v);
  case BERT_JSON_NUMBER: return cJSON_IsNumber(v);
  case BERT_JSON_BOOL: return cJSON_IsBool(v);
  }
  return 0;
}

static const char *kind_name(bert_json_kind kind) {
  switch (kind) {
  case BERT_JSON_STRING: return "a string";
  case BERT_JSON_ARRAY: return "an array";
  case BERT_JSON_NUMBER: return "a number";
  case BERT_JSON_BOOL: return "a boolean";
  }
  return "a value";
}

const cJSON *bert_json_field(const cJSON *obj, const char *key, bert_json_kind kind, const char *file,
                             const char *where, bert_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v && has_kind(v, kind)) return v;
  bert_error_set(err, BERT_EFORMAT, "%s: %s: %s field \"%s\", expected %s", file, where,
                 v ? "wrong type of" : "missing", key, kind_name(kind));
  return NULL;
}
