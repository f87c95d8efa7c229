#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *fuzz_file(int slot, const uint8_t *data, size_t size) {
  static int fds[2] = {-1, -1};
  static char paths[2][64];
  if (fds[slot] < 0) {
    /* memfd: a regular file without a disk, so a run writes nothing and needs no clean-up */
    fds[slot] = memfd_create("fuzz-input", 0);
    if (fds[slot] < 0) perror("memfd_create"), abort();
    snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
  }
  if (ftruncate(fds[slot], 0) != 0) perror("ftruncate"), abort();
  for (size_t done = 0; done < size;) {
    ssize_t n = pwrite(fds[slot], data + done, size - done, (off_t)done);
    if (n <= 0) perror("pwrite"), abort();
    done += (size_t)n;
  }
  return paths[slot];
}

int fuzz_check(int rc, const bert_error *err) {
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") != NULL;
  if (rc && verbose) fprintf(stderr, "refused (%d): %s\n", rc, err->message);
  return rc;
}

char *fuzz_string(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  if (size) memcpy(s, data, size);
  s[size] = 0;
  return s;
}

char *fuzz_repo_file(const char *rel, size_t *size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", BERT_SOURCE_DIR, rel);
  FILE *f = fopen(path, "rb");
  if (!f) fprintf(stderr, "fuzz: cannot open %s\n", path), abort();
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
  fclose(f);
  buf[n] = 0;
  if (size) *size = (size_t)n;
  return buf;
}

/* Inputs of each kind of element, one variable dimension, optional inputs; outputs of both
 * kinds. Names and types only matter to the codec: no backend runs. */
static const char kTypesConfig[] =
    "name: \"fuzz\"\n"
    "backend: \"bertc\"\n"
    "max_batch_size: 4\n"
    "input [\n"
    "  { name: \"input_ids\" data_type: TYPE_INT32 dims: [ 8 ] },\n"
    "  { name: \"mask\" data_type: TYPE_INT64 dims: [ -1 ] optional: true },\n"
    "  { name: \"text\" data_type: TYPE_STRING dims: [ 1 ] optional: true },\n"
    "  { name: \"scale\" data_type: TYPE_FP16 dims: [ 2 ] optional: true },\n"
    "  { name: \"flags\" data_type: TYPE_BOOL dims: [ 2, 2 ] optional: true },\n"
    "  { name: \"weights\" data_type: TYPE_FP32 dims: [ 3 ] optional: true },\n"
    "  { name: \"small\" data_type: TYPE_UINT8 dims: [ 2 ] optional: true },\n"
    "  { name: \"wide\" data_type: TYPE_FP64 dims: [ 1 ] optional: true },\n"
    "  { name: \"big\" data_type: TYPE_UINT64 dims: [ 1 ] optional: true },\n"
    "  { name: \"half\" data_type: TYPE_BF16 dims: [ 1 ] optional: true }\n"
    "]\n"
    "output [\n"
    "  { name: \"logits\" data_type: TYPE_FP32 dims: [ 8 ] },\n"
    "  { name: \"answer\" data_type: TYPE_STRING dims: [ 1 ] }\n"
    "]\n";

static const char kSingleConfig[] =
    "name: \"fuzz\"\n"
    "backend: \"bertc\"\n"
    "input [ { name: \"input_ids\" data_type: TYPE_INT32 dims: [ -1, 4 ] } ]\n"
    "output [ { name: \"logits\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n";

const bert_serve_model_config *fuzz_serve_config(int which) {
  static bert_serve_model_config cfg[FUZZ_MODELS];
  static int ready[FUZZ_MODELS];
  const char *text = which == FUZZ_MODEL_TYPES ? kTypesConfig : kSingleConfig;
  if (!ready[which]) {
    bert_error err = {0};
    if (bert_serve_model_config_parse(&cfg[which], text, strlen(text), "fuzz/config.pbtxt", "fuzz", &err))
      fprintf(stderr, "fuzz: %s\n", err.message), abort();
    ready[which] = 1;
  }
  return &cfg[which];
}
