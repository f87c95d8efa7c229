#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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
  if (snprintf(af->final_path, sizeof af->final_path, "%s", path) >= (int)sizeof af->final_path ||
      snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.XXXXXX", path) >= (int)sizeof af->tmp_path)
    return bert_error_set(err, BERT_EINVAL, "%s: path too long", path);
  int fd = mkstemp(af->tmp_path);
  if (fd < 0)
    return bert_error_set(err, BERT_EIO, "%s: cannot create temporary file: %s", path, strerror(errno));
  fchmod(fd, 0644);
  af->f = fdopen(fd, "wb");
  if (!af->f) {
    close(fd);
    unlink(af->tmp_path);
    return bert_error_set(err, BERT_EIO, "%s: fdopen failed", path);
  }
  return BERT_OK;
}

void bert_atomic_abort(bert_atomic_file *af) {
  if (af->f) fclose(af->f);
  af->f = NULL;
  unlink(af->tmp_path);
}

static void fsync_parent(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

int bert_atomic_commit(bert_atomic_file *af, bert_error *err) {
  int ok = fflush(af->f) == 0 && !ferror(af->f) && fsync(fileno(af->f)) == 0;
  ok = (fclose(af->f) == 0) && ok;
  af->f = NULL;
  if (!ok) {
    int e = errno;
    unlink(af->tmp_path);
    return bert_error_set(err, BERT_EIO, "%s: write failed: %s", af->final_path, strerror(e));
  }
  if (rename(af->tmp_path, af->final_path) != 0) {
    int e = errno;
    unlink(af->tmp_path);
    return bert_error_set(err, BERT_EIO, "%s: rename failed: %s", af->final_path, strerror(e));
  }
  fsync_parent(af->final_path);
  return BERT_OK;
}

int bert_file_write_atomic(const char *path, const void *data, size_t size, bert_error *err) {
  bert_atomic_file af;
  int rc = bert_atomic_open(&af, path, err);
  if (rc) return rc;
  if (size && fwrite(data, 1, size, af.f) != size) {
    bert_atomic_abort(&af);
    return bert_error_set(err, BERT_EIO, "%s: write failed", path);
  }
  return bert_atomic_commit(&af, err);
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
