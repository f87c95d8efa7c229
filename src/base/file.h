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
  int had_previous; /* bert_atomic_publish's: is the file it replaces kept for a rollback */
} bert_atomic_file;

int bert_atomic_open(bert_atomic_file *af, const char *path, bert_error *err);
/* Flushes, fsyncs and renames into place; on failure the temporary file is removed. */
int bert_atomic_commit(bert_atomic_file *af, bert_error *err);
/* The two halves of a commit, for files that must appear together (a TFRecord and its index, the
 * shards of a dataset). finish: flush, fsync and close; the file stays under its temporary name
 * (removed on failure). publish: renames n finished files into place, all or none — each file it
 * replaces is kept (a hard link, where the file system has them) until all are in place and put
 * back if a rename fails; on failure every temporary file is removed. */
int bert_atomic_finish(bert_atomic_file *af, bert_error *err);
int bert_atomic_publish(bert_atomic_file *const *afs, size_t n, bert_error *err);
/* Drops an open or finished file (its temporary file is removed). */
void bert_atomic_abort(bert_atomic_file *af);
/* After a failed write to af->f: drops the file and returns BERT_EIO with "PATH: write failed:
 * <errno text>" (errno read before the clean-up can change it). */
int bert_atomic_write_failed(bert_atomic_file *af, bert_error *err);
/* Convenience: one buffer written atomically. */
int bert_file_write_atomic(const char *path, const void *data, size_t size, bert_error *err);

int bert_mkdir_p(const char *path, bert_error *err);
/* An output folder made ready for a run: created when missing and cleared of what killed runs left
 * there (bert_remove_stale_temporaries; a kept previous version is named on stderr). */
int bert_output_dir_prepare(const char *dir, bert_error *err);
/* Folders written as a whole (a checkpoint): they are filled under bert_partial_path's name
 * (".NAME.partial-PID" beside NAME, which no reader looks at) and put in place by
 * bert_dir_publish: a rename, or when final_dir exists an atomic exchange with it
 * (renameat2 RENAME_EXCHANGE), after which the previous folder is removed. */
int bert_partial_path(char *out, size_t cap, const char *final_dir);
int bert_dir_publish(const char *tmp_dir, const char *final_dir, bert_error *err);
/* Removes from `folder` what runs killed before they could clean up left there: temporary files
 * (NAME.tmp.PID.XXXXXX) and partial folders (.NAME.partial-PID) of processes no longer running.
 * A previous version kept by an interrupted publish (NAME.tmp.PID.XXXXXX.prev) may be the only
 * copy of that version, so it is named on `log` (when not NULL), not removed. Returns the number
 * of entries removed (0 when the folder does not exist). */
int bert_remove_stale_temporaries(const char *folder, FILE *log);
/* The same in the folder that holds `path` (an output file or folder about to be written, maybe
 * in a folder of the user's own files), for the temporaries of `path` and of files named like it
 * up to its extension (s.tfrecord: s.tfrecord.tmp.*, s.index.tmp.*) only. */
int bert_remove_stale_beside(const char *path, FILE *log);
/* Removes a folder and the files in it (one level, as checkpoint folders are). */
int bert_remove_tree(const char *dir);
/* Finds a file shipped with bertc (configs/pretraining.yml, data/vocab.txt): `relative` in the
 * working directory first, then beside the executable and up to two levels above it (build/bert,
 * build/tests/tool_*). Returns 0 with the path in out, or BERT_EIO when it is nowhere. */
int bert_find_project_file(const char *relative, char *out, size_t size);
int bert_path_exists(const char *path);
/* dir + "/" + name into out (size cap). Returns BERT_EINVAL when it does not fit. */
int bert_path_join(char *out, size_t cap, const char *dir, const char *name);

#endif
