#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int test_failures = 0;
int test_checks = 0;

int test_summary(const char *name) {
  if (test_checks == 0) {
    fprintf(stderr, "%s: no checks ran\n", name);
    return 1;
  }
  fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
  return test_failures ? 1 : 0;
}

const char *test_tmpdir(const char *name) {
  static char path[4096];
  const char *base = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/bertc-test-%s-%d", base ? base : "/tmp", name, (int)getpid());
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
  if (system(cmd) != 0) return NULL;
  return path;
}

void test_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  if (n) fwrite(data, 1, n, f);
  fclose(f);
}

double test_max_rel_diff(const float *a, const float *b, size_t n) {
  double worst = 0, scale = 1e-6;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(a[i]));
  for (size_t i = 0; i < n; i++) worst = test_worse(worst, fabs((double)a[i] - b[i]) / scale);
  return worst;
}

double test_worse(double worst, double e) { return e > worst || e != e ? e : worst; }
