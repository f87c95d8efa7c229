#include "base/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bert_file_read(const char *path, char **data, size_t *size, bert_error *err) {
  *data = NULL;
  *size = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return bert_error_set(err, BERT_EIO, "%s: cannot seek: %s", path, strerror(errno));
  }
  long n = ftell(f);
  rewind(f);
  if (n < 0) {
    fclose(f);
    return bert_error_set(err, BERT_EIO, "%s: not a regular file", path);
  }
  char *buf = malloc((size_t)n + 1);
  if (!buf) {
    fclose(f);
    return bert_error_set(err, BERT_ENOMEM, "%s: cannot allocate %ld bytes", path, n);
  }
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return bert_error_set(err, BERT_EIO, "%s: read failed", path);
  }
  fclose(f);
  buf[n] = 0;
  *data = buf;
  *size = (size_t)n;
  return BERT_OK;
}

int bert_atomic_open(bert_atomic_file *af, const char *path, bert_error *err) {
  af->f = NULL;
  af->had_previous = 0;
  if (snprintf(af->final_path, sizeof af->final_path, "%s", path) >= (int)sizeof af->final_path ||
      snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld.XXXXXX", path, (long)getpid()) >=
          (int)sizeof af->tmp_path)
    return bert_error_set(err, BERT_EINVAL, "%s: path too long", path);
  int fd = mkstemp(af->tmp_path);
  if (fd < 0)
    return bert_error_set(err, BERT_EIO, "%s: cannot create temporary file: %s", path, strerror(errno));
  fchmod(fd, 0644);
  af->f = fdopen(fd, "wb");
  if (!af->f) {
    int e = errno;
    close(fd);
    unlink(af->tmp_path);
    return bert_error_set(err, BERT_EIO, "%s: cannot open temporary file: %s", path, strerror(e));
  }
  return BERT_OK;
}

void bert_atomic_abort(bert_atomic_file *af) {
  if (af->f) fclose(af->f);
  af->f = NULL;
  unlink(af->tmp_path);
}

int bert_atomic_write_failed(bert_atomic_file *af, bert_error *err) {
  int e = errno ? errno : EIO;
  bert_atomic_abort(af);
  return bert_error_set(err, BERT_EIO, "%s: write failed: %s", af->final_path, strerror(e));
}

static void fsync_parent(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd); /* the renames are done: a failure here can only cost durability, not consistency */
    close(dfd);
  }
}

int bert_atomic_finish(bert_atomic_file *af, bert_error *err) {
  const char *failed = NULL;
  int e = 0;
  if (fflush(af->f) != 0 || ferror(af->f)) failed = "write failed", e = errno;
  else if (fsync(fileno(af->f)) != 0) failed = "fsync failed", e = errno;
  if (fclose(af->f) != 0 && !failed) failed = "close failed", e = errno;
  af->f = NULL;
  if (!failed) return BERT_OK;
  unlink(af->tmp_path);
  return bert_error_set(err, BERT_EIO, "%s: %s: %s", af->final_path, failed, strerror(e ? e : EIO));
}

/* The replaced file's hard link while a publish is under way: beside the unique temporary name. */
static void backup_path(const bert_atomic_file *af, char *out, size_t cap) {
  snprintf(out, cap, "%s.prev", af->tmp_path);
}

/* 1: the file af replaces is kept as a hard link, 0: there is none, -1: it cannot be kept (a file
 * system without hard links), so a rollback will leave the new file. */
static int keep_previous(const bert_atomic_file *af) {
  char backup[4200];
  backup_path(af, backup, sizeof backup);
  if (link(af->final_path, backup) == 0) return 1;
  return errno == ENOENT ? 0 : -1;
}

/* Puts back what publish replaced among afs[0..n) (or removes the new files that replaced nothing). */
static void unpublish(bert_atomic_file *const *afs, size_t n) {
  char backup[4200];
  for (size_t i = 0; i < n; i++) {
    backup_path(afs[i], backup, sizeof backup);
    if (!afs[i]->had_previous) unlink(afs[i]->final_path);
    else if (afs[i]->had_previous == 1 && rename(backup, afs[i]->final_path) != 0)
      fprintf(stderr, "%s: could not be restored; its previous version is %s\n", afs[i]->final_path, backup);
  }
}

static void drop_backups(bert_atomic_file *const *afs, size_t n) {
  char backup[4200];
  for (size_t i = 0; i < n; i++) {
    backup_path(afs[i], backup, sizeof backup);
    if (afs[i]->had_previous == 1) unlink(backup);
    afs[i]->had_previous = 0;
  }
}

static int same_folder(const char *a, const char *b) {
  const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
  size_t na = sa ? (size_t)(sa - a) : 0, nb = sb ? (size_t)(sb - b) : 0;
  return na == nb && !strncmp(a, b, na);
}

int bert_atomic_publish(bert_atomic_file *const *afs, size_t n, bert_error *err) {
  size_t i = 0;
  int rc = BERT_OK;
  for (; i < n && !rc; i++) {
    afs[i]->had_previous = n > 1 ? keep_previous(afs[i]) : 0; /* one file needs no rollback */
    if (rename(afs[i]->tmp_path, afs[i]->final_path) != 0)
      rc = bert_error_set(err, BERT_EIO, "%s: rename failed: %s", afs[i]->final_path, strerror(errno));
  }
  if (rc) {
    unpublish(afs, i - 1); /* afs[i-1] failed before its rename */
    drop_backups(afs, i);
    for (size_t j = i - 1; j < n; j++) unlink(afs[j]->tmp_path);
    return rc;
  }
  drop_backups(afs, n);
  for (size_t j = 0; j < n; j++) /* each folder once when the files share one (the usual case) */
    if (!j || !same_folder(afs[j - 1]->final_path, afs[j]->final_path)) fsync_parent(afs[j]->final_path);
  return BERT_OK;
}

int bert_atomic_commit(bert_atomic_file *af, bert_error *err) {
  int rc = bert_atomic_finish(af, err);
  return rc ? rc : bert_atomic_publish(&af, 1, err);
}

int bert_file_write_atomic(const char *path, const void *data, size_t size, bert_error *err) {
  bert_atomic_file af;
  int rc = bert_atomic_open(&af, path, err);
  if (rc) return rc;
  if (size && fwrite(data, 1, size, af.f) != size) return bert_atomic_write_failed(&af, err);
  return bert_atomic_commit(&af, err);
}

int bert_partial_path(char *out, size_t cap, const char *final_dir) {
  char dir[4096], base[4096];
  snprintf(dir, sizeof dir, "%s", final_dir);
  snprintf(base, sizeof base, "%s", final_dir);
  int n = snprintf(out, cap, "%s/.%s.partial-%ld", dirname(dir), basename(base), (long)getpid());
  return n < 0 || (size_t)n >= cap ? BERT_EINVAL : BERT_OK;
}

int bert_dir_publish(const char *tmp_dir, const char *final_dir, bert_error *err) {
  int exists = bert_path_exists(final_dir);
  int r = exists ? renameat2(AT_FDCWD, tmp_dir, AT_FDCWD, final_dir, RENAME_EXCHANGE) : rename(tmp_dir, final_dir);
  if (r != 0) return bert_error_set(err, BERT_EIO, "%s: cannot rename into place: %s", final_dir, strerror(errno));
  if (exists) bert_remove_tree(tmp_dir); /* the previous folder, swapped out */
  fsync_parent(final_dir);
  return BERT_OK;
}

typedef enum { NOT_TEMPORARY, TEMPORARY_FILE, KEPT_PREVIOUS, PARTIAL_FOLDER } temporary_kind;

/* What `name` is among the names bertc writes under while a run lasts (NAME.tmp.PID.XXXXXX, with
 * .prev when it keeps a previous version; .NAME.partial-PID), and the process id in it. */
static temporary_kind temporary_owner(const char *name, long *pid) {
  const char *p = strstr(name, ".partial-");
  char *end;
  if (name[0] == '.' && p) {
    *pid = strtol(p + 9, &end, 10);
    return end != p + 9 && !*end ? PARTIAL_FOLDER : NOT_TEMPORARY;
  }
  for (p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) {
    *pid = strtol(p + 5, &end, 10);
    if (end == p + 5 || *end != '.' || strlen(end + 1) < 6) continue;
    if (!end[7]) return TEMPORARY_FILE;
    if (!strcmp(end + 7, ".prev")) return KEPT_PREVIOUS;
  }
  return NOT_TEMPORARY;
}

static int process_runs(long pid) {
  return pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Removes the stale temporaries in `folder` whose names start with `prefix` (all when NULL); a
 * partial folder's name starts with ".", then the prefix. */
static int remove_stale(const char *folder, const char *prefix, FILE *log) {
  DIR *d = opendir(folder);
  if (!d) return 0;
  int removed = 0;
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d))) {
    long pid = 0;
    temporary_kind kind = temporary_owner(e->d_name, &pid);
    const char *name = kind == PARTIAL_FOLDER ? e->d_name + 1 : e->d_name;
    if (prefix && strncmp(name, prefix, strlen(prefix))) continue;
    if (kind == NOT_TEMPORARY || pid <= 0 || process_runs(pid) || bert_path_join(path, sizeof path, folder, e->d_name))
      continue;
    if (kind == KEPT_PREVIOUS) {
      if (log) fprintf(log, "%s: a previous version kept by an interrupted run (process %ld); remove it once the "
                            "files beside it are as wanted\n", path, pid);
    } else if (kind == PARTIAL_FOLDER ? bert_remove_tree(path) == 0 : unlink(path) == 0) {
      removed++;
    }
  }
  closedir(d);
  return removed;
}

int bert_remove_stale_temporaries(const char *folder, FILE *log) { return remove_stale(folder, NULL, log); }

int bert_remove_stale_beside(const char *path, FILE *log) {
  char folder[4096], stem[4096];
  snprintf(folder, sizeof folder, "%s", path);
  snprintf(stem, sizeof stem, "%s", path);
  char *name = basename(stem), *dot = strrchr(name, '.');
  if (dot && dot != name) dot[1] = 0; /* "s." of s.tfrecord: its index is s.index */
  return remove_stale(dirname(folder), name, log);
}

int bert_output_dir_prepare(const char *dir, bert_error *err) {
  int rc = bert_mkdir_p(dir, err);
  if (!rc) bert_remove_stale_temporaries(dir, stderr);
  return rc;
}

int bert_remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !bert_path_join(path, sizeof path, dir, e->d_name))
      unlink(path);
  closedir(d);
  return rmdir(dir);
}

int bert_mkdir_p(const char *path, bert_error *err) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return bert_error_set(err, BERT_EINVAL, "%s: path too long", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return bert_error_set(err, BERT_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST)
    return bert_error_set(err, BERT_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
  return BERT_OK;
}

int bert_path_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int bert_path_join(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  return (n < 0 || (size_t)n >= cap) ? BERT_EINVAL : BERT_OK;
}

int bert_find_project_file(const char *relative, char *out, size_t size) {
  snprintf(out, size, "%s", relative);
  if (access(out, R_OK) == 0) return BERT_OK;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return BERT_EIO;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0';
  static const char *const ups[] = {"", "/..", "/../.."};
  for (int i = 0; i < 3; i++) {
    snprintf(out, size, "%s%s/%s", exe, ups[i], relative);
    if (access(out, R_OK) == 0) return BERT_OK;
  }
  snprintf(out, size, "%s", relative);
  return BERT_EIO;
}
