/* tests/fault: LD_PRELOAD fault injector for `bert` (docs/reliability.md#fault-injection).
 *
 * BERT_FAULT=OP:K makes the K-th call of class OP fail (once); BERT_FAULT=count fails nothing.
 * Either way BERT_FAULT_REPORT=FILE receives the per-class call counts at exit (and the injected
 * call), so a test learns the range of K from one counting run. Classes:
 *   write   fwrite/fputs/fputc/putc/fprintf/vfprintf/fflush/write/pwrite on a regular file
 *   fsync   fsync/fdatasync          rename  rename/renameat/renameat2
 *   close   fclose/close of a regular file
 *   alloc   malloc/calloc/realloc/strdup/strndup/aligned_alloc/posix_memalign called from the
 *           bert executable itself (libbert is linked in statically), not from shared libraries
 *           (oneDNN, OpenMP, cJSON), whose own failure handling is not bertc's to prove.
 * Writes to stdin/stdout/stderr and to pipes are not counted: a lost log line is not a lost file.
 * The stdio functions are interposed (not only write(2)) because glibc's stdio calls its internal
 * __write, which no preloaded library can reach; a failed stdio call sets the stream's error flag
 * as a failed write(2) underneath would. Built only for the tests: nothing here is linked into
 * the product, and the counters are process-global on purpose (one process, one experiment). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);

enum { OP_WRITE, OP_FSYNC, OP_RENAME, OP_CLOSE, OP_ALLOC, OP_N };
static const char *const op_names[OP_N] = {"write", "fsync", "rename", "close", "alloc"};

static long long counts[OP_N];
static int target_op = -1;
static long long target_k;
static int counting;
static char injected[600];
static uintptr_t exe_lo[8], exe_hi[8]; /* executable segments of the bert program */
static int exe_n;

/* The real functions, looked up lazily: other libraries' constructors may write before ours runs. */
#define REAL(ret, name, ...)                                  \
  static ret (*real_##name)(__VA_ARGS__);                     \
  if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static int main_program_segments(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size, (void)data;
  for (int i = 0; i < info->dlpi_phnum && exe_n < 8; i++) {
    const ElfW(Phdr) *p = &info->dlpi_phdr[i];
    if (p->p_type != PT_LOAD || !(p->p_flags & PF_X)) continue;
    exe_lo[exe_n] = info->dlpi_addr + p->p_vaddr;
    exe_hi[exe_n++] = info->dlpi_addr + p->p_vaddr + p->p_memsz;
  }
  return 1; /* the first object listed is the program itself */
}

__attribute__((constructor)) static void fault_init(void) {
  dl_iterate_phdr(main_program_segments, NULL);
  const char *spec = getenv("BERT_FAULT");
  if (!spec || !*spec) return;
  counting = 1;
  for (int op = 0; op < OP_N; op++) {
    size_t n = strlen(op_names[op]);
    if (!strncmp(spec, op_names[op], n) && spec[n] == ':') target_op = op, target_k = atoll(spec + n + 1);
  }
}

__attribute__((destructor)) static void fault_report(void) {
  const char *path = getenv("BERT_FAULT_REPORT");
  if (!counting || !path) return;
  counting = 0; /* the report's own close is not one of the program's */
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  for (int op = 0; op < OP_N; op++)
    dprintf(fd, "%s %lld\n", op_names[op], __atomic_load_n(&counts[op], __ATOMIC_SEQ_CST));
  if (injected[0]) dprintf(fd, "injected %s\n", injected);
  close(fd);
}

/* Counts a call of class op; 1 when it is the one to fail (errno is then set to EIO). */
static int hit(int op, const char *call, int fd, const char *path) {
  if (!counting) return 0;
  long long n = __atomic_add_fetch(&counts[op], 1, __ATOMIC_SEQ_CST);
  if (op != target_op || n != target_k) return 0;
  char link[64], target[400] = "";
  if (!path && fd >= 0) {
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    target[len > 0 ? len : 0] = '\0';
    path = target;
  }
  snprintf(injected, sizeof injected, "%s #%lld %s %s", op_names[op], n, call, path ? path : "");
  errno = EIO;
  return 1;
}

static int regular_fd(int fd) {
  struct stat st;
  return counting && fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static int regular_stream(FILE *f) { return f && regular_fd(fileno(f)); }

/* A failed stdio write: the stream's error flag is set, as glibc does when write(2) fails. */
static int stream_fails(FILE *f, const char *call) {
  if (!regular_stream(f) || !hit(OP_WRITE, call, fileno(f), NULL)) return 0;
  f->_flags |= _IO_ERR_SEEN;
  return 1;
}

static int from_program(const void *caller) {
  uintptr_t a = (uintptr_t)caller;
  for (int i = 0; i < exe_n; i++)
    if (a >= exe_lo[i] && a < exe_hi[i]) return 1;
  return 0;
}

static int alloc_fails(const void *caller, const char *call) {
  if (!counting || !from_program(caller) || !hit(OP_ALLOC, call, -1, "")) return 0;
  errno = ENOMEM;
  return 1;
}

/* ---------------------------------------------------------------- writes */

size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
  REAL(size_t, fwrite, const void *, size_t, size_t, FILE *);
  return stream_fails(f, "fwrite") ? 0 : real_fwrite(p, size, n, f);
}

int fputs(const char *s, FILE *f) {
  REAL(int, fputs, const char *, FILE *);
  return stream_fails(f, "fputs") ? EOF : real_fputs(s, f);
}

int fputc(int c, FILE *f) {
  REAL(int, fputc, int, FILE *);
  return stream_fails(f, "fputc") ? EOF : real_fputc(c, f);
}

int putc(int c, FILE *f) {
  REAL(int, putc, int, FILE *);
  return stream_fails(f, "putc") ? EOF : real_putc(c, f);
}

int vfprintf(FILE *f, const char *fmt, va_list ap) {
  REAL(int, vfprintf, FILE *, const char *, va_list);
  return stream_fails(f, "fprintf") ? -1 : real_vfprintf(f, fmt, ap);
}

int fprintf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}

int fflush(FILE *f) {
  REAL(int, fflush, FILE *);
  return stream_fails(f, "fflush") ? EOF : real_fflush(f);
}

ssize_t write(int fd, const void *p, size_t n) {
  REAL(ssize_t, write, int, const void *, size_t);
  return regular_fd(fd) && hit(OP_WRITE, "write", fd, NULL) ? -1 : real_write(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t at) {
  REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
  return regular_fd(fd) && hit(OP_WRITE, "pwrite", fd, NULL) ? -1 : real_pwrite(fd, p, n, at);
}

/* ---------------------------------------------------------------- fsync, rename, close */

int fsync(int fd) {
  REAL(int, fsync, int);
  return hit(OP_FSYNC, "fsync", fd, NULL) ? -1 : real_fsync(fd);
}

int fdatasync(int fd) {
  REAL(int, fdatasync, int);
  return hit(OP_FSYNC, "fdatasync", fd, NULL) ? -1 : real_fdatasync(fd);
}

int rename(const char *from, const char *to) {
  REAL(int, rename, const char *, const char *);
  return hit(OP_RENAME, "rename", -1, to) ? -1 : real_rename(from, to);
}

int renameat(int dfrom, const char *from, int dto, const char *to) {
  REAL(int, renameat, int, const char *, int, const char *);
  return hit(OP_RENAME, "renameat", -1, to) ? -1 : real_renameat(dfrom, from, dto, to);
}

int renameat2(int dfrom, const char *from, int dto, const char *to, unsigned flags) {
  REAL(int, renameat2, int, const char *, int, const char *, unsigned);
  return hit(OP_RENAME, "renameat2", -1, to) ? -1 : real_renameat2(dfrom, from, dto, to, flags);
}

/* A failed close still releases the descriptor (as close(2) does on EIO). */
int fclose(FILE *f) {
  REAL(int, fclose, FILE *);
  int fails = regular_stream(f) && hit(OP_CLOSE, "fclose", fileno(f), NULL);
  int r = real_fclose(f);
  if (!fails) return r;
  errno = EIO;
  return EOF;
}

int close(int fd) {
  REAL(int, close, int);
  int fails = regular_fd(fd) && hit(OP_CLOSE, "close", fd, NULL);
  int r = real_close(fd);
  if (!fails) return r;
  errno = EIO;
  return -1;
}

/* ---------------------------------------------------------------- allocations */

void *malloc(size_t n) {
  return alloc_fails(__builtin_return_address(0), "malloc") ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
  return alloc_fails(__builtin_return_address(0), "calloc") ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
  return alloc_fails(__builtin_return_address(0), "realloc") ? NULL : __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n) {
  return alloc_fails(__builtin_return_address(0), "aligned_alloc") ? NULL : __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n) {
  if (alloc_fails(__builtin_return_address(0), "posix_memalign")) return ENOMEM;
  *out = __libc_memalign(align, n);
  return *out ? 0 : ENOMEM;
}

char *strndup(const char *s, size_t max) {
  if (alloc_fails(__builtin_return_address(0), "strndup")) return NULL;
  size_t n = strnlen(s, max);
  char *d = __libc_malloc(n + 1);
  if (d) memcpy(d, s, n), d[n] = '\0';
  return d;
}

char *strdup(const char *s) {
  if (alloc_fails(__builtin_return_address(0), "strdup")) return NULL;
  size_t n = strlen(s) + 1;
  char *d = __libc_malloc(n);
  return d ? memcpy(d, s, n) : NULL;
}
