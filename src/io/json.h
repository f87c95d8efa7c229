/* io/json: parsing a JSON document with cJSON, with errors a user can act on (the file name and
 * the line and column where parsing stopped), and the field lookups the SQuAD readers share. */
#ifndef BERT_IO_JSON_H
#define BERT_IO_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/error.h"

/* Parses text[0, len) into *out (free with cJSON_Delete). `name` (the file) prefixes messages. */
int bert_json_parse(const char *text, size_t len, const char *name, cJSON **out, bert_error *err);

typedef enum bert_json_kind { BERT_JSON_STRING, BERT_JSON_ARRAY, BERT_JSON_NUMBER, BERT_JSON_BOOL } bert_json_kind;

/* obj[key] when it exists and has the wanted kind; otherwise NULL and an error
 * "FILE: WHERE: missing field "key", expected a string". */
const cJSON *bert_json_field(const cJSON *obj, const char *key, bert_json_kind kind, const char *file,
                             const char *where, bert_error *err);

#endif
