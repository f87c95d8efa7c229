/* base/file: whole-file reads and atomic writes (temporary file in the same folder, fsync, rename),
 * so a crash never leaves a half-written checkpoint or dataset under the final name. */
#ifndef BERT_BASE_FILE_H
#define BERT_BASE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* Reads a whole file into a malloc'ed buffer (NUL-terminated for convenience). */
int bert_file_read(const char *path, char **data, size_t *size, bert_error *err);

typedef struct bert_atomic_file {
  FILE *f;
  char final_path[4096];
  char tmp_path[4096];
} bert_atomic_file;

int bert_atomic_open(bert_atomic_file *af, const char *path, bert_error *err);
/* Flushes, fsyncs and renames into place; on failure the temporary file is removed. */
int bert_atomic_commit(bert_atomic_file *af, bert_error *err);
void bert_atomic_abort(bert_atomic_file *af);
/* Convenience: one buffer written atomically. */
int bert_file_write_atomic(const char *path, const void *data, size_t size, bert_error *err);

int bert_mkdir_p(const char *path, bert_error *err);
/* Finds a file shipped with bertc (configs/pretraining.yml, data/vocab.txt): `relative` in the
 * working directory first, then beside the executable and up to two levels above it (build/bert,
 * build/tests/tool_*). Returns 0 with the path in out, or BERT_EIO when it is nowhere. */
int bert_find_project_file(const char *relative, char *out, size_t size);
int bert_path_exists(const char *path);
/* dir + "/" + name into out (size cap). Returns BERT_EINVAL when it does not fit. */
int bert_path_join(char *out, size_t cap, const char *dir, const char *name);

#endif
