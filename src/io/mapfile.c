#include "io/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int bert_map_file(const char *path, const unsigned char **data, size_t *size, bert_error *err) {
  *data = NULL;
  *size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return bert_error_set(err, BERT_EIO, "%s: not a regular file", path);
  }
  if (sb.st_size == 0) {
    close(fd);
    return BERT_OK;
  }
#ifdef BERT_FUZZ
  /* Fuzz builds (CMake BERT_FUZZ) read into a heap block of exactly the file's size instead:
   * AddressSanitizer sees a read past the end there, not in the rest of a mapped page. */
  void *p = malloc((size_t)sb.st_size);
  if (p && pread(fd, p, (size_t)sb.st_size, 0) != sb.st_size) free(p), p = MAP_FAILED;
  if (!p) p = MAP_FAILED;
#else
  void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
#endif
  int saved = errno;
  close(fd); /* the mapping stays valid without the descriptor */
  if (p == MAP_FAILED) return bert_error_set(err, BERT_EIO, "%s: cannot map: %s", path, strerror(saved));
  *data = p;
  *size = (size_t)sb.st_size;
  return BERT_OK;
}

void bert_unmap_file(const unsigned char *data, size_t size) {
#ifdef BERT_FUZZ
  (void)size;
  free((void *)data);
#else
  if (data && size) munmap((void *)data, size);
#endif
}
