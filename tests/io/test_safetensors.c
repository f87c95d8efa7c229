/* safetensors: round trips (F32, I64, metadata), F16/BF16/F64 conversion, the writer's layout
 * (sorted names, 8-byte padding) and hand-made broken files that must fail with a clear error. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "io/safetensors.h"
#include "test_util.h"

static char dir[4096];

static const char *tmp_path(const char *name) {
  static char path[4096 + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static int bits_equal(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

static void test_round_trip(void) {
  const float w[6] = {1.5f, -2.25f, 3.0f, 0.0f, -0.0f, 1e-30f};
  const float v[3] = {7.0f, 8.0f, 9.0f};
  const float scalar = 42.0f;
  const int64_t ids[4] = {0, 1, -5, INT64_MAX};
  bert_st_entry e[4] = {
      {.name = "z.weight", .dtype = BERT_ST_F32, .ndim = 2, .shape = {2, 3}, .data = w},
      {.name = "a.bias", .dtype = BERT_ST_F32, .ndim = 1, .shape = {3}, .data = v},
      {.name = "m.position_ids", .dtype = BERT_ST_I64, .ndim = 2, .shape = {1, 4}, .data = ids},
      {.name = "s", .dtype = BERT_ST_F32, .ndim = 0, .data = &scalar},
  };
  const char *meta[] = {"format", "pt", "note", "quote\" and \\ backslash"};
  bert_error err = {0};
  const char *path = tmp_path("rt.safetensors");
  CHECK_MSG(bert_safetensors_write(path, e, 4, meta, 2, &err) == 0, "%s", err.message);

  bert_safetensors st;
  CHECK_MSG(bert_safetensors_open(&st, path, &err) == 0, "%s", err.message);
  CHECK(st.count == 4);
  /* tensors come in offset order, and the writer orders data by name */
  CHECK(!strcmp(st.tensors[0].name, "a.bias") && !strcmp(st.tensors[1].name, "m.position_ids"));
  CHECK(!strcmp(st.tensors[2].name, "s") && !strcmp(st.tensors[3].name, "z.weight"));
  const bert_st_tensor *t = bert_safetensors_find(&st, "z.weight");
  CHECK(t && t->dtype == BERT_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
  float out[6];
  CHECK(t && bert_st_to_f32(t, out, &err) == 0 && bits_equal(out, w, 6));
  t = bert_safetensors_find(&st, "s");
  CHECK(t && t->ndim == 0 && t->numel == 1 && bert_st_to_f32(t, out, &err) == 0 && out[0] == 42.0f);
  t = bert_safetensors_find(&st, "m.position_ids");
  CHECK(t && t->dtype == BERT_ST_I64 && !strcmp(t->dtype_name, "I64") && t->nbytes == 32);
  CHECK(t && !memcmp(t->data, ids, sizeof ids));
  CHECK(t && !bert_st_is_float(t->dtype));
  CHECK(t && bert_st_to_f32(t, out, &err) == BERT_EUNSUPPORTED && strstr(err.message, "m.position_ids"));
  CHECK(bert_safetensors_find(&st, "missing") == NULL);
  /* metadata survives, escapes included */
  cJSON *meta_json = st.metadata_json ? cJSON_Parse(st.metadata_json) : NULL;
  CHECK(meta_json != NULL);
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta_json, "format");
  const cJSON *note = cJSON_GetObjectItemCaseSensitive(meta_json, "note");
  CHECK(cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "pt"));
  CHECK(cJSON_IsString(note) && !strcmp(note->valuestring, "quote\" and \\ backslash"));
  cJSON_Delete(meta_json);

  /* layout: header length a multiple of 8, space padding, "__metadata__" first, keys sorted */
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | st.buf[i];
  CHECK(n % 8 == 0);
  const char *h = (const char *)st.buf + 8;
  const char *close = h + n - 1;
  while (close > h && *close == ' ') close--;
  CHECK(*close == '}');
  CHECK(!strncmp(h, "{\"__metadata__\":", 16));
  const char *pa = strstr(h, "\"a.bias\""), *pm = strstr(h, "\"m.position_ids\""), *pz = strstr(h, "\"z.weight\"");
  CHECK(pa && pm && pz && pa < pm && pm < pz);
  CHECK(st.size == 8 + n + 3 * 4 + 4 * 8 + 4 + 6 * 4);
  bert_safetensors_close(&st);

  /* no metadata: no "__metadata__" key */
  CHECK(bert_safetensors_write(path, e, 1, NULL, 0, &err) == 0);
  CHECK(bert_safetensors_open(&st, path, &err) == 0);
  CHECK(st.metadata_json == NULL && st.count == 1);
  bert_safetensors_close(&st);
}

static void test_half_conversion(void) {
  const uint16_t f16[] = {0x3c00, 0xc000, 0x3555, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x0000, 0x3800};
  const float f16_want[] = {1.0f, -2.0f, 0.333251953125f, 0x1p-24f, 1023 * 0x1p-24f, 65504.0f,
                            INFINITY, -INFINITY, -0.0f, 0.0f, 0.5f};
  const uint16_t bf16[] = {0x3f80, 0xc040, 0x4049, 0x0001, 0x7f80, 0x8000, 0x3f00};
  const float bf16_want[] = {1.0f, -3.0f, 3.140625f, 0x1p-133f, INFINITY, -0.0f, 0.5f};
  const double f64[] = {1.5, -0.1, 1e300};
  const float f64_want[] = {1.5f, (float)-0.1, INFINITY};
  const uint16_t nan16 = 0x7e00;
  bert_st_entry e[] = {
      {.name = "h", .dtype = BERT_ST_F16, .ndim = 1, .shape = {11}, .data = f16},
      {.name = "b", .dtype = BERT_ST_BF16, .ndim = 2, .shape = {7, 1}, .data = bf16},
      {.name = "d", .dtype = BERT_ST_F64, .ndim = 1, .shape = {3}, .data = f64},
      {.name = "nan", .dtype = BERT_ST_F16, .ndim = 1, .shape = {1}, .data = &nan16},
  };
  bert_error err = {0};
  const char *path = tmp_path("half.safetensors");
  CHECK_MSG(bert_safetensors_write(path, e, 4, NULL, 0, &err) == 0, "%s", err.message);
  bert_safetensors st;
  CHECK_MSG(bert_safetensors_open(&st, path, &err) == 0, "%s", err.message);
  float out[16];
  const bert_st_tensor *t = bert_safetensors_find(&st, "h");
  CHECK(t && t->dtype == BERT_ST_F16 && t->nbytes == 22 && bert_st_is_float(t->dtype));
  CHECK(t && bert_st_to_f32(t, out, &err) == 0 && bits_equal(out, f16_want, 11));
  t = bert_safetensors_find(&st, "b");
  CHECK(t && t->dtype == BERT_ST_BF16 && !strcmp(t->dtype_name, "BF16"));
  CHECK(t && bert_st_to_f32(t, out, &err) == 0 && bits_equal(out, bf16_want, 7));
  t = bert_safetensors_find(&st, "d");
  CHECK(t && t->dtype == BERT_ST_F64 && bert_st_to_f32(t, out, &err) == 0 && bits_equal(out, f64_want, 3));
  t = bert_safetensors_find(&st, "nan");
  CHECK(t && bert_st_to_f32(t, out, &err) == 0 && isnan(out[0]));
  bert_safetensors_close(&st);
}

/* Writes an 8-byte length (`len`, or the header's own length when len < 0), the header and
 * `data_bytes` zero bytes. */
static void write_raw(const char *path, const char *header, long long len, size_t data_bytes) {
  size_t hn = strlen(header);
  uint64_t n = len < 0 ? hn : (uint64_t)len;
  size_t total = 8 + hn + data_bytes;
  unsigned char *buf = calloc(1, total);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
  memcpy(buf + 8, header, hn);
  test_write_file(path, buf, total);
  free(buf);
}

typedef struct bad_case {
  const char *what;
  const char *header;
  long long len;
  size_t data_bytes;
  const char *message; /* a substring the error must contain */
} bad_case;

static void test_bad_files(void) {
  const bad_case cases[] = {
      {"header length beyond file", "{}", 1000, 0, "beyond the file size"},
      {"invalid JSON", "{\"a\": {\"dtype\": ", -1, 0, "not valid JSON"},
      {"not an object", "[1, 2, 3]", -1, 0, "not a JSON object"},
      {"trailing garbage", "{} x", -1, 0, "after the header"},
      {"entry not an object", "{\"a\": 3}", -1, 0, "'a': entry is not a JSON object"},
      {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, "'a': missing \"dtype\""},
      {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, "not a string"},
      {"unknown dtype", "{\"a\":{\"dtype\":\"F13\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, "unknown dtype \"F13\""},
      {"shape not ints", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", -1, 4, "not an integer"},
      {"shape strings", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", -1, 8, "not an integer"},
      {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", -1, 4, "negative dimension"},
      {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", -1, 4, "\"shape\""},
      {"offsets not ints", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", -1, 4, "\"data_offsets\""},
      {"offsets reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", -1, 4, "end before begin"},
      {"offsets out of range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 4, "out of bounds"},
      {"size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8, "need 12"},
      {"overlapping offsets",
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
       -1, 12, "overlap"},
      {"gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
       -1, 12, "not covered"},
      {"data not covered", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 8, "cover only 4"},
      {"duplicate keys",
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
       -1, 8, "duplicate"},
      {"metadata not strings", "{\"__metadata__\":{\"format\":1}}", -1, 0, "not a string"},
      {"metadata not an object", "{\"__metadata__\":[]}", -1, 0, "\"__metadata__\" is not a JSON object"},
      {"too many dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", -1, 4, "dimensions"},
      {"shape overflow",
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", -1, 4, "overflow"},
  };
  const char *path = tmp_path("bad.safetensors");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_raw(path, cases[i].header, cases[i].len, cases[i].data_bytes);
    bert_safetensors st;
    bert_error err = {0};
    int rc = bert_safetensors_open(&st, path, &err);
    CHECK_MSG(rc == BERT_EFORMAT, "%s: rc %d", cases[i].what, rc);
    CHECK_MSG(strstr(err.message, cases[i].message) != NULL, "%s: message \"%s\"", cases[i].what, err.message);
    CHECK_MSG(strstr(err.message, "bad.safetensors") != NULL, "%s: message lacks the path: %s", cases[i].what, err.message);
  }

  /* truncated: shorter than the length field */
  test_write_file(path, "\x10\x00\x00", 3);
  bert_safetensors st;
  bert_error err = {0};
  CHECK(bert_safetensors_open(&st, path, &err) == BERT_EFORMAT && strstr(err.message, "truncated"));
  CHECK(bert_safetensors_open(&st, tmp_path("absent.safetensors"), &err) == BERT_EIO && strstr(err.message, "absent"));
}

/* Every prefix of a valid file and every single-byte change of its header must be handled
 * without a crash (sanitizer builds catch out-of-bounds reads). */
static void test_damage(void) {
  const float w[4] = {1, 2, 3, 4};
  bert_st_entry e[2] = {{.name = "w", .dtype = BERT_ST_F32, .ndim = 2, .shape = {2, 2}, .data = w},
                        {.name = "v", .dtype = BERT_ST_F32, .ndim = 1, .shape = {2}, .data = w}};
  const char *good = tmp_path("good.safetensors"), *bad = tmp_path("damaged.safetensors");
  bert_error err = {0};
  CHECK(bert_safetensors_write(good, e, 2, NULL, 0, &err) == 0);
  char *data;
  size_t size;
  CHECK(bert_file_read(good, &data, &size, &err) == 0);
  int failures = 0, opened = 0;
  for (size_t cut = 0; cut < size; cut++) {
    test_write_file(bad, data, cut);
    bert_safetensors st;
    if (bert_safetensors_open(&st, bad, &err) == 0) {
      bert_safetensors_close(&st);
      failures++;
    }
  }
  CHECK_MSG(failures == 0, "%d truncated files were accepted", failures);
  for (size_t at = 0; at < size - 24; at++) {
    unsigned char saved = (unsigned char)data[at];
    data[at] = (char)(saved ^ 0x5a);
    test_write_file(bad, data, size);
    data[at] = (char)saved;
    bert_safetensors st;
    if (bert_safetensors_open(&st, bad, &err) == 0) {
      float out[4];
      for (int i = 0; i < st.count; i++)
        if (bert_st_is_float(st.tensors[i].dtype) && st.tensors[i].numel <= 4) bert_st_to_f32(&st.tensors[i], out, &err);
      bert_safetensors_close(&st);
      opened++;
    }
  }
  CHECK(opened < (int)size); /* most changes break the header */
  free(data);
}

static void test_writer_errors(void) {
  const float w[2] = {1, 2};
  bert_error err = {0};
  bert_st_entry dup[2] = {{.name = "x", .ndim = 1, .shape = {2}, .data = w}, {.name = "x", .ndim = 1, .shape = {2}, .data = w}};
  CHECK(bert_safetensors_write(tmp_path("dup.safetensors"), dup, 2, NULL, 0, &err) == BERT_EINVAL);
  CHECK(strstr(err.message, "'x'") != NULL);
  CHECK(!bert_path_exists(tmp_path("dup.safetensors")));
  bert_st_entry other = {.name = "o", .dtype = BERT_ST_OTHER, .ndim = 1, .shape = {2}, .data = w};
  CHECK(bert_safetensors_write(tmp_path("o.safetensors"), &other, 1, NULL, 0, &err) == BERT_EINVAL);
  bert_st_entry meta = {.name = "__metadata__", .ndim = 1, .shape = {2}, .data = w};
  CHECK(bert_safetensors_write(tmp_path("m.safetensors"), &meta, 1, NULL, 0, &err) == BERT_EINVAL);
  bert_st_entry neg = {.name = "n", .ndim = 1, .shape = {-2}, .data = w};
  CHECK(bert_safetensors_write(tmp_path("n.safetensors"), &neg, 1, NULL, 0, &err) == BERT_EINVAL);
  CHECK(bert_safetensors_write("/nonexistent-dir/x.safetensors", &dup[0], 1, NULL, 0, &err) == BERT_EIO);
}

int main(void) {
  const char *d = test_tmpdir("safetensors");
  if (!d) return 1;
  snprintf(dir, sizeof dir, "%s", d);
  test_round_trip();
  test_half_conversion();
  test_bad_files();
  test_damage();
  test_writer_errors();
  return test_summary("safetensors");
}
