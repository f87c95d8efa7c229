/* base/error: negative error codes with a message that carries context (file, record, field).
 * Every fallible function takes a `bert_error *` (may be NULL) and returns 0 or a negative code. */
#ifndef BERT_BASE_ERROR_H
#define BERT_BASE_ERROR_H

enum {
  BERT_OK = 0,
  BERT_EINVAL = -1,      /* bad argument or option value */
  BERT_EIO = -2,         /* file could not be opened, read or written */
  BERT_EFORMAT = -3,     /* malformed input file */
  BERT_ENOMEM = -4,      /* allocation failed */
  BERT_EUNSUPPORTED = -5,/* valid input we do not handle */
  BERT_ERANGE = -6,      /* value outside what the model or vocabulary allows */
  BERT_EMISMATCH = -7,   /* shapes or names that disagree */
};

typedef struct bert_error {
  int code;
  char message[1024];
} bert_error;

/* Records `code` and a printf-style message in `err` (if not NULL); returns `code`. */
int bert_error_set(bert_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("file.json: ") to an existing message; returns err->code. */
int bert_error_prefix(bert_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *bert_error_name(int code);

#endif
