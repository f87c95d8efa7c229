/* torch_pickle: the real camphr pytorch_model.bin against its safetensors conversion (bit for
 * bit), the same storages repacked as a zip64 archive, hand-built pickles (strided and offset
 * views, forbidden globals, malformed opcodes) and damaged files. The zip writer and CRC here are
 * the test's own, independent of src/io/zip.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"
#include "io/zip.h"
#include "test_util.h"

#define CAMPHR "tests/data/camphr_ner_bert/"

static char dir[4096];

static const char *tmp_path(const char *name) {
  static char path[4096 + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* ------------------------------------------------------------ a growable byte buffer */

typedef struct bytes {
  unsigned char *p;
  size_t n, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  if (n) memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void put_le(bytes *b, uint64_t v, int width) {
  for (int i = 0; i < width; i++) {
    unsigned char c = (unsigned char)(v >> (8 * i));
    put(b, &c, 1);
  }
}

static void put_byte(bytes *b, int c) {
  unsigned char ch = (unsigned char)c;
  put(b, &ch, 1);
}

/* ------------------------------------------------------------ a minimal zip writer */

static uint32_t crc32_plain(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}

typedef struct zfile {
  const char *name;
  const unsigned char *data;
  size_t size;
} zfile;

/* STORED entries; zip64 puts 0xFFFFFFFF in the fixed fields, the real values in zip64 extra
 * fields and a zip64 end record + locator, as writers do for archives beyond 4 GB. */
static void write_zip(const char *path, const zfile *files, int n, int zip64, int method) {
  bytes b = {0};
  uint64_t *offsets = calloc((size_t)n, sizeof *offsets);
  for (int i = 0; i < n; i++) {
    offsets[i] = b.n;
    size_t nl = strlen(files[i].name);
    put_le(&b, 0x04034b50u, 4);
    put_le(&b, 20, 2);
    put_le(&b, 0, 2);
    put_le(&b, (uint64_t)method, 2);
    put_le(&b, 0, 4);
    put_le(&b, crc32_plain(files[i].data, files[i].size), 4);
    put_le(&b, files[i].size, 4);
    put_le(&b, files[i].size, 4);
    put_le(&b, nl, 2);
    put_le(&b, 3, 2); /* odd extra padding: the reader must use the local header's lengths */
    put(&b, files[i].name, nl);
    put(&b, "\xfe\xca\x00", 3);
    put(&b, files[i].data, files[i].size);
  }
  uint64_t cd_start = b.n;
  for (int i = 0; i < n; i++) {
    size_t nl = strlen(files[i].name);
    put_le(&b, 0x02014b50u, 4);
    put_le(&b, 45, 2);
    put_le(&b, 45, 2);
    put_le(&b, 0, 2);
    put_le(&b, (uint64_t)method, 2);
    put_le(&b, 0, 4);
    put_le(&b, crc32_plain(files[i].data, files[i].size), 4);
    put_le(&b, zip64 ? 0xffffffffu : files[i].size, 4);
    put_le(&b, zip64 ? 0xffffffffu : files[i].size, 4);
    put_le(&b, nl, 2);
    put_le(&b, zip64 ? 28 : 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 2);
    put_le(&b, 0, 4);
    put_le(&b, zip64 ? 0xffffffffu : offsets[i], 4);
    put(&b, files[i].name, nl);
    if (zip64) {
      put_le(&b, 1, 2);
      put_le(&b, 24, 2);
      put_le(&b, files[i].size, 8);
      put_le(&b, files[i].size, 8);
      put_le(&b, offsets[i], 8);
    }
  }
  uint64_t cd_size = b.n - cd_start;
  if (zip64) {
    uint64_t eocd64 = b.n;
    put_le(&b, 0x06064b50u, 4);
    put_le(&b, 44, 8);
    put_le(&b, 45, 2);
    put_le(&b, 45, 2);
    put_le(&b, 0, 4);
    put_le(&b, 0, 4);
    put_le(&b, (uint64_t)n, 8);
    put_le(&b, (uint64_t)n, 8);
    put_le(&b, cd_size, 8);
    put_le(&b, cd_start, 8);
    put_le(&b, 0x07064b50u, 4);
    put_le(&b, 0, 4);
    put_le(&b, eocd64, 8);
    put_le(&b, 1, 4);
  }
  put_le(&b, 0x06054b50u, 4);
  put_le(&b, 0, 2);
  put_le(&b, 0, 2);
  put_le(&b, zip64 ? 0xffff : (uint64_t)n, 2);
  put_le(&b, zip64 ? 0xffff : (uint64_t)n, 2);
  put_le(&b, zip64 ? 0xffffffffu : cd_size, 4);
  put_le(&b, zip64 ? 0xffffffffu : cd_start, 4);
  put_le(&b, 0, 2);
  test_write_file(path, b.p, b.n);
  free(offsets);
  free(b.p);
}

/* ------------------------------------------------------------ the real checkpoint */

/* Every tensor of `tf` is in `st` with the same dtype, shape and bytes, and vice versa. */
static void compare_with_safetensors(const bert_torch_file *tf, const char *what) {
  bert_safetensors st;
  bert_error err = {0};
  CHECK_MSG(bert_safetensors_open(&st, CAMPHR "model.safetensors", &err) == 0, "%s", err.message);
  CHECK_MSG(tf->count == 24 && st.count == 24, "%s: %d vs %d tensors", what, tf->count, st.count);
  int identical = 0;
  for (int i = 0; i < st.count; i++) {
    const bert_st_tensor *a = &st.tensors[i], *b = bert_torch_find(tf, a->name);
    CHECK_MSG(b != NULL, "%s: %s missing", what, a->name);
    if (!b) continue;
    int same = a->dtype == b->dtype && a->ndim == b->ndim && a->numel == b->numel && a->nbytes == b->nbytes &&
               !memcmp(a->shape, b->shape, sizeof a->shape) && !memcmp(a->data, b->data, a->nbytes);
    CHECK_MSG(same, "%s: %s differs", what, a->name);
    identical += same;
  }
  CHECK(identical == 24);
  const bert_st_tensor *pos = bert_torch_find(tf, "bert.embeddings.position_ids");
  CHECK(pos && pos->dtype == BERT_ST_I64 && pos->ndim == 2 && pos->shape[1] == 16 && !bert_st_is_float(pos->dtype));
  const bert_st_tensor *emb = bert_torch_find(tf, "bert.embeddings.word_embeddings.weight");
  CHECK(emb && emb->dtype == BERT_ST_F32 && emb->shape[0] == 402 && emb->shape[1] == 16);
  CHECK(tf->count > 0 && !strcmp(tf->tensors[0].name, "bert.embeddings.position_ids")); /* state dict order */
  bert_safetensors_close(&st);
}

static void test_camphr(void) {
  bert_torch_file tf;
  bert_error err = {0};
  CHECK_MSG(bert_torch_open(&tf, CAMPHR "pytorch_model.bin", &err) == 0, "%s", err.message);
  compare_with_safetensors(&tf, "pytorch_model.bin");
  CHECK(tf.copy_count == 0); /* all contiguous: nothing copied */
  bert_torch_close(&tf);
}

/* The camphr entries under another archive name, in a zip64 archive written by the test. */
static void test_zip64_repack(void) {
  char *data;
  size_t size;
  bert_error err = {0};
  CHECK(bert_file_read(CAMPHR "pytorch_model.bin", &data, &size, &err) == 0);
  bert_zip *z = malloc(sizeof *z);
  CHECK(bert_zip_open(z, (const unsigned char *)data, size, "camphr", &err) == 0);
  zfile *files = calloc((size_t)z->count, sizeof *files);
  char (*names)[128] = calloc((size_t)z->count, sizeof *names);
  for (int i = 0; i < z->count; i++) {
    const unsigned char *p;
    size_t n;
    CHECK(bert_zip_data(z, &z->entries[i], &p, &n, &err) == 0);
    CHECK(!strncmp(z->entries[i].name, "archive/", 8));
    snprintf(names[i], sizeof names[i], "pytorch_model/%s", z->entries[i].name + 8);
    files[i] = (zfile){names[i], p, n};
  }
  const char *path = tmp_path("zip64.bin");
  write_zip(path, files, z->count, 1, 0);
  bert_torch_file tf;
  CHECK_MSG(bert_torch_open(&tf, path, &err) == 0, "%s", err.message);
  compare_with_safetensors(&tf, "zip64 repack");
  bert_torch_close(&tf);

  /* the same without zip64, but entries compressed (method 8): refused, not misread */
  write_zip(path, files, z->count, 0, 8);
  CHECK(bert_torch_open(&tf, path, &err) == BERT_EUNSUPPORTED && strstr(err.message, "compressed"));
  bert_zip_close(z);
  free(z);
  free(files);
  free(names);
  free(data);
}

/* ------------------------------------------------------------ hand-built pickles */

static void pk_str(bytes *b, const char *s) {
  put_byte(b, 'X');
  put_le(b, strlen(s), 4);
  put(b, s, strlen(s));
}

static void pk_int(bytes *b, int64_t v) {
  if (v >= 0 && v < 256) {
    put_byte(b, 'K');
    put_byte(b, (int)v);
  } else {
    put_byte(b, 0x8a); /* LONG1 */
    put_byte(b, 8);
    put_le(b, (uint64_t)v, 8);
  }
}

static void pk_global(bytes *b, const char *module, const char *name) {
  put_byte(b, 'c');
  put(b, module, strlen(module));
  put_byte(b, '\n');
  put(b, name, strlen(name));
  put_byte(b, '\n');
}

static void pk_int_tuple(bytes *b, int n, const int64_t *v) {
  put_byte(b, '(');
  for (int i = 0; i < n; i++) pk_int(b, v[i]);
  put_byte(b, 't');
}

/* name: _rebuild_tensor_v2(storage `key` of `numel` Float, offset, shape, stride, False, OrderedDict()) */
static void pk_tensor(bytes *b, const char *name, const char *key, int64_t numel, int64_t offset, int ndim,
                      const int64_t *shape, const int64_t *stride) {
  pk_str(b, name);
  pk_global(b, "torch._utils", "_rebuild_tensor_v2");
  put_byte(b, '(');
  put_byte(b, '(');
  pk_str(b, "storage");
  pk_global(b, "torch", "FloatStorage");
  pk_str(b, key);
  pk_str(b, "cpu");
  pk_int(b, numel);
  put_byte(b, 't');
  put_byte(b, 'Q');
  pk_int(b, offset);
  pk_int_tuple(b, ndim, shape);
  pk_int_tuple(b, ndim, stride);
  put_byte(b, 0x89);
  pk_global(b, "collections", "OrderedDict");
  put_byte(b, ')');
  put_byte(b, 'R');
  put_byte(b, 't');
  put_byte(b, 'R');
}

static void pk_begin_dict(bytes *b) {
  put(b, "\x80\x02", 2);
  pk_global(b, "collections", "OrderedDict");
  put(b, "q\x00)R(", 5); /* memoised, called, MARK */
}

static void pk_end_dict(bytes *b) { put(b, "u.", 2); }

/* A torch-style zip holding `pickle` as archive/data.pkl and a 12-float storage "0". */
static const char *zip_with_pickle(const char *file, const bytes *pickle, int with_pkl) {
  static float storage[12];
  for (int i = 0; i < 12; i++) storage[i] = (float)(i + 1) * 0.5f;
  zfile files[3] = {{"archive/data.pkl", pickle->p, pickle->n},
                    {"archive/data/0", (const unsigned char *)storage, sizeof storage},
                    {"archive/version", (const unsigned char *)"3\n", 2}};
  const char *path = tmp_path(file);
  write_zip(path, with_pkl ? files : files + 1, with_pkl ? 3 : 2, 0, 0);
  return path;
}

static void test_views(void) {
  bytes b = {0};
  pk_begin_dict(&b);
  const int64_t s34[] = {3, 4}, st_row[] = {4, 1}, st_t[] = {1, 3}, s2[] = {2}, st2[] = {3}, s3[] = {3}, st1[] = {1};
  pk_tensor(&b, "matrix", "0", 12, 0, 2, s34, st_row);       /* contiguous */
  pk_tensor(&b, "transposed", "0", 12, 0, 2, s34, st_t);     /* the transpose of the [4,3] matrix */
  pk_tensor(&b, "strided", "0", 12, 1, 1, s2, st2);          /* elements 1 and 4 */
  pk_tensor(&b, "slice", "0", 12, 5, 1, s3, st1);            /* elements 5..7: contiguous with an offset */
  pk_tensor(&b, "scalar", "0", 12, 11, 0, NULL, NULL);       /* 0-dim */
  pk_end_dict(&b);
  const char *path = zip_with_pickle("views.bin", &b, 1);
  bert_torch_file tf;
  bert_error err = {0};
  CHECK_MSG(bert_torch_open(&tf, path, &err) == 0, "%s", err.message);
  CHECK(tf.count == 5);
  float out[12];
  const bert_st_tensor *t = bert_torch_find(&tf, "matrix");
  CHECK(t && t->numel == 12 && bert_st_to_f32(t, out, &err) == 0 && out[0] == 0.5f && out[11] == 6.0f);
  t = bert_torch_find(&tf, "transposed");
  CHECK(t && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 4 && bert_st_to_f32(t, out, &err) == 0);
  int ok = 1; /* out[i][j] = storage[i + 3 j] = (i + 3 j + 1) / 2 */
  for (int i = 0; t && i < 3; i++)
    for (int j = 0; j < 4; j++) ok &= out[i * 4 + j] == (float)(i + 3 * j + 1) * 0.5f;
  CHECK(ok);
  t = bert_torch_find(&tf, "strided");
  CHECK(t && t->numel == 2 && bert_st_to_f32(t, out, &err) == 0 && out[0] == 1.0f && out[1] == 2.5f);
  t = bert_torch_find(&tf, "slice");
  CHECK(t && t->numel == 3 && bert_st_to_f32(t, out, &err) == 0 && out[0] == 3.0f && out[2] == 4.0f);
  t = bert_torch_find(&tf, "scalar");
  CHECK(t && t->ndim == 0 && t->numel == 1 && bert_st_to_f32(t, out, &err) == 0 && out[0] == 6.0f);
  CHECK(tf.copy_count == 2); /* transposed and strided */
  bert_torch_close(&tf);
  free(b.p);
}

typedef struct bad_pickle {
  const char *what;
  const char *bytes;
  size_t n;
  int code;
  const char *message;
} bad_pickle;

#define PK(s) s, sizeof(s) - 1

static void test_bad_pickles(void) {
  const bad_pickle cases[] = {
      {"forbidden global", PK("\x80\x02\x63os\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."), BERT_EUNSUPPORTED,
       "forbidden global 'os.system'"},
      {"forbidden builtin", PK("\x80\x02\x63__builtin__\neval\n."), BERT_EUNSUPPORTED, "forbidden global '__builtin__.eval'"},
      {"stack global", PK("\x80\x04\x8c\x08" "builtins\x8c\x04" "exec\x93."), BERT_EUNSUPPORTED, "forbidden global 'builtins.exec'"},
      {"torch non-storage", PK("\x80\x02\x63torch\nload\n."), BERT_EUNSUPPORTED, "forbidden global 'torch.load'"},
      {"not a dict", PK("\x80\x02K\x01."), BERT_EUNSUPPORTED, "not a state dict"},
      {"value not a tensor", PK("\x80\x02}X\x01\x00\x00\x00" "aK\x01s."), BERT_EUNSUPPORTED, "'a' is a int, not a tensor"},
      {"unknown opcode", PK("\x80\x02(i__main__\nX\n."), BERT_EUNSUPPORTED, "unsupported pickle opcode 0x69"},
      {"stack underflow", PK("\x80\x02R."), BERT_EFORMAT, "stack underflow"},
      {"no STOP", PK("\x80\x02}"), BERT_EFORMAT, "no STOP"},
      {"truncated string", PK("\x80\x02X\xff\x00\x00\x00" "ab"), BERT_EFORMAT, "truncated pickle"},
      {"memo miss", PK("\x80\x02h\x05."), BERT_EFORMAT, "never set"},
      {"setitem on list", PK("\x80\x02]K\x01K\x02s."), BERT_EFORMAT, "SETITEM on a list"},
      {"bad persistent id", PK("\x80\x02X\x01\x00\x00\x00xQ."), BERT_EUNSUPPORTED, "persistent id"},
      {"call a storage class", PK("\x80\x02\x63torch\nFloatStorage\n)R."), BERT_EUNSUPPORTED, "storage class"},
      {"protocol 6", PK("\x80\x06}."), BERT_EUNSUPPORTED, "protocol 6"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bytes b = {0};
    put(&b, cases[i].bytes, cases[i].n);
    const char *path = zip_with_pickle("bad_pickle.bin", &b, 1);
    bert_torch_file tf;
    bert_error err = {0};
    int rc = bert_torch_open(&tf, path, &err);
    CHECK_MSG(rc == cases[i].code, "%s: rc %d (%s)", cases[i].what, rc, err.message);
    CHECK_MSG(strstr(err.message, cases[i].message) != NULL, "%s: message \"%s\"", cases[i].what, err.message);
    CHECK_MSG(strstr(err.message, "bad_pickle.bin") != NULL, "%s: no file name in \"%s\"", cases[i].what, err.message);
    free(b.p);
  }
}

static void expect_tensor_error(const char *what, const char *name, int64_t numel, int64_t offset, int ndim,
                                const int64_t *shape, const int64_t *stride, const char *message) {
  bytes b = {0};
  pk_begin_dict(&b);
  pk_tensor(&b, name, "0", numel, offset, ndim, shape, stride);
  pk_end_dict(&b);
  const char *path = zip_with_pickle("bad_tensor.bin", &b, 1);
  bert_torch_file tf;
  bert_error err = {0};
  CHECK_MSG(bert_torch_open(&tf, path, &err) == BERT_EFORMAT, "%s: %s", what, err.message);
  CHECK_MSG(strstr(err.message, message) != NULL, "%s: message \"%s\"", what, err.message);
  free(b.p);
}

static void test_bad_tensors(void) {
  const int64_t s13[] = {13}, s7[] = {7}, st1[] = {1}, st2[] = {2}, s2[] = {2};
  expect_tensor_error("view beyond storage", "big", 12, 0, 1, s13, st1, "'big' reaches beyond its storage");
  expect_tensor_error("strided beyond storage", "far", 12, 1, 1, s7, st2, "'far' reaches beyond its storage");
  expect_tensor_error("storage size", "x", 13, 0, 1, s2, st1, "expected 13 x 4");
  bytes b = {0};
  pk_begin_dict(&b);
  pk_tensor(&b, "x", "7", 12, 0, 1, s2, st1);
  pk_end_dict(&b);
  bert_torch_file tf;
  bert_error err = {0};
  CHECK(bert_torch_open(&tf, zip_with_pickle("nokey.bin", &b, 1), &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "archive/data/7") != NULL);
  /* the same name twice */
  b.n = 0;
  pk_begin_dict(&b);
  pk_tensor(&b, "x", "0", 12, 0, 1, s2, st1);
  pk_tensor(&b, "x", "0", 12, 0, 1, s2, st1);
  pk_end_dict(&b);
  CHECK(bert_torch_open(&tf, zip_with_pickle("twice.bin", &b, 1), &err) == BERT_EFORMAT && strstr(err.message, "twice"));
  free(b.p);
}

/* ------------------------------------------------------------ damaged files */

static void test_bad_files(void) {
  bert_torch_file tf;
  bert_error err = {0};
  /* a zip without data.pkl */
  bytes empty = {0};
  const char *path = zip_with_pickle("nopkl.bin", &empty, 0);
  CHECK(bert_torch_open(&tf, path, &err) == BERT_EFORMAT && strstr(err.message, "data.pkl") && strstr(err.message, "nopkl.bin"));

  /* the legacy format */
  static const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a,
                                         0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e};
  path = tmp_path("legacy.bin");
  test_write_file(path, legacy, sizeof legacy);
  CHECK(bert_torch_open(&tf, path, &err) == BERT_EUNSUPPORTED);
  CHECK(strstr(err.message, "legacy torch.save format") && strstr(err.message, "torch>=1.6") &&
        strstr(err.message, "safetensors") && strstr(err.message, "legacy.bin"));

  /* other things that are not checkpoints */
  path = tmp_path("text.bin");
  test_write_file(path, "hello", 5);
  CHECK(bert_torch_open(&tf, path, &err) == BERT_EFORMAT && strstr(err.message, "not a PyTorch checkpoint"));
  test_write_file(path, "", 0);
  CHECK(bert_torch_open(&tf, path, &err) == BERT_EFORMAT && strstr(err.message, "empty"));
  CHECK(bert_torch_open(&tf, tmp_path("absent.bin"), &err) == BERT_EIO && strstr(err.message, "absent.bin"));

  /* truncations and a flipped storage byte */
  char *data;
  size_t size;
  CHECK(bert_file_read(CAMPHR "pytorch_model.bin", &data, &size, &err) == 0);
  path = tmp_path("cut.bin");
  test_write_file(path, data, size / 2);
  CHECK(bert_torch_open(&tf, path, &err) == BERT_EFORMAT && strstr(err.message, "truncated") && strstr(err.message, "cut.bin"));
  int accepted = 0;
  for (size_t cut = 0; cut < size; cut += 61) {
    test_write_file(path, data, cut);
    if (bert_torch_open(&tf, path, &err) == 0) {
      accepted++;
      bert_torch_close(&tf);
    }
  }
  CHECK_MSG(accepted == 0, "%d truncated files accepted", accepted);
  data[size / 2] ^= 0x10; /* inside a storage */
  test_write_file(path, data, size);
  CHECK(bert_torch_open(&tf, path, &err) == BERT_EFORMAT && strstr(err.message, "CRC mismatch"));
  data[size / 2] ^= 0x10;
  /* damage anywhere must never crash (the sanitizer build checks the reads) */
  for (size_t at = 0; at < size; at += 97) {
    data[at] ^= 0x41;
    test_write_file(path, data, size);
    data[at] ^= 0x41;
    if (bert_torch_open(&tf, path, &err) == 0) bert_torch_close(&tf);
  }
  free(data);
}

/* data.pkl itself damaged (with valid CRCs, so the unpickler sees it): every truncation must
 * fail, and no byte change may crash or leak (the sanitizer build checks). */
static void test_fuzz_pickle(void) {
  char *data;
  size_t size;
  bert_error err = {0};
  CHECK(bert_file_read(CAMPHR "pytorch_model.bin", &data, &size, &err) == 0);
  bert_zip *z = malloc(sizeof *z);
  CHECK(bert_zip_open(z, (const unsigned char *)data, size, "camphr", &err) == 0);
  zfile *files = calloc((size_t)z->count, sizeof *files);
  int pkl = -1;
  for (int i = 0; i < z->count; i++) {
    const unsigned char *p;
    size_t n;
    CHECK(bert_zip_data(z, &z->entries[i], &p, &n, &err) == 0);
    files[i] = (zfile){z->entries[i].name, p, n};
    if (!strcmp(z->entries[i].name, "archive/data.pkl")) pkl = i;
  }
  CHECK(pkl >= 0);
  if (pkl < 0) return;
  size_t n = files[pkl].size;
  unsigned char *pickle = malloc(n);
  memcpy(pickle, files[pkl].data, n);
  files[pkl].data = pickle;
  const char *path = tmp_path("fuzz.bin");
  bert_torch_file tf;
  int accepted = 0, opened = 0;
  for (size_t cut = 0; cut < n; cut += 7) {
    files[pkl].size = cut;
    write_zip(path, files, z->count, 0, 0);
    if (bert_torch_open(&tf, path, &err) == 0) {
      accepted++;
      bert_torch_close(&tf);
    }
  }
  CHECK_MSG(accepted == 0, "%d truncated pickles accepted", accepted);
  files[pkl].size = n;
  static const unsigned char flips[] = {0x01, 0x80, 0xff};
  for (size_t at = 0; at < n; at += 3) {
    unsigned char saved = pickle[at];
    pickle[at] ^= flips[at % 3];
    write_zip(path, files, z->count, 0, 0);
    pickle[at] = saved;
    if (bert_torch_open(&tf, path, &err) == 0) {
      opened++;
      bert_torch_close(&tf);
    } else {
      CHECK_MSG(err.code < 0 && strstr(err.message, "fuzz.bin"), "byte %zu: %s", at, err.message);
    }
  }
  /* many changes only alter a name or a number, but the structural ones must be refused */
  CHECK_MSG(opened < (int)(n / 3) - 300, "%d of %zu changed pickles accepted", opened, n / 3);
  free(pickle);
  bert_zip_close(z);
  free(z);
  free(files);
  free(data);
}

int main(void) {
  const char *d = test_tmpdir("torch_pickle");
  if (!d) return 1;
  snprintf(dir, sizeof dir, "%s", d);
  test_camphr();
  test_zip64_repack();
  test_views();
  test_bad_pickles();
  test_bad_tensors();
  test_bad_files();
  test_fuzz_pickle();
  return test_summary("torch_pickle");
}
