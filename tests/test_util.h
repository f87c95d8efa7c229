/* Minimal test harness: CHECK records a failure with file:line and carries on; the test's main
 * returns test_summary(), non-zero when anything failed. */
#ifndef BERT_TEST_UTIL_H
#define BERT_TEST_UTIL_H

#include <stddef.h>
#include <stdio.h>

extern int test_failures;
extern int test_checks;

#define CHECK(cond)                                                              \
  do {                                                                           \
    test_checks++;                                                               \
    if (!(cond)) {                                                               \
      test_failures++;                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
    }                                                                            \
  } while (0)

#define CHECK_MSG(cond, ...)                                                     \
  do {                                                                           \
    test_checks++;                                                               \
    if (!(cond)) {                                                               \
      test_failures++;                                                           \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
    }                                                                            \
  } while (0)

#define CHECK_NEAR(a, b, tol) \
  CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %g)", (double)(a), (double)(b), (double)(tol))

int test_summary(const char *name);
/* max(worst, e), but a NaN e wins (fmax would drop it, and a NaN result would pass as no error). */
double test_worse(double worst, double e);
/* max |a - b| / max |a|: how far b is from a, relative to a's largest value; NaN when any is NaN. */
double test_max_rel_diff(const float *a, const float *b, size_t n);
/* Writes n bytes to path without fsync (damage loops write thousands of files); silent on error,
 * the reading code under test then reports the missing file. */
void test_write_file(const char *path, const void *data, size_t n);
/* A fresh empty directory under the build tree for a test's files. */
const char *test_tmpdir(const char *name);

#endif
