/* TFRecord framing, CRC-32C, index, tf.train.Example codec, and the reference's sample files. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "data/crc32c.h"
#include "data/example.h"
#include "data/tfrecord.h"
#include "test_util.h"

static void test_crc32c(void) {
  /* RFC 3720 (iSCSI) appendix B.4 vectors and the usual check value. */
  uint8_t zeros[32] = {0}, ones[32], inc[32], dec[32];
  for (int i = 0; i < 32; i++) ones[i] = 0xff, inc[i] = (uint8_t)i, dec[i] = (uint8_t)(31 - i);
  CHECK(bert_crc32c("123456789", 9) == 0xE3069283u);
  CHECK(bert_crc32c("", 0) == 0);
  CHECK(bert_crc32c(zeros, 32) == 0x8A9136AAu);
  CHECK(bert_crc32c(ones, 32) == 0x62A8AB43u);
  CHECK(bert_crc32c(inc, 32) == 0x46DD794Eu);
  CHECK(bert_crc32c(dec, 32) == 0x113FDB5Cu);
  CHECK(bert_crc32c_portable(0, "123456789", 9) == 0xE3069283u);
  CHECK(bert_crc32c_portable(0, inc, 32) == 0x46DD794Eu);
  /* Both paths agree at every length and alignment, and extending equals one pass. */
  uint8_t buf[300];
  for (int i = 0; i < 300; i++) buf[i] = (uint8_t)(i * 37 + 11);
  int agree = 1;
  for (size_t start = 0; start < 9; start++)
    for (size_t n = 0; n + start <= 300; n += 7)
      agree &= bert_crc32c(buf + start, n) == bert_crc32c_portable(0, buf + start, n);
  CHECK(agree);
  CHECK(bert_crc32c_extend(bert_crc32c(buf, 100), buf + 100, 200) == bert_crc32c(buf, 300));
  for (uint32_t x = 1; x < 4000000000u; x += 123456789u) {
    CHECK(bert_crc32c_unmask(bert_crc32c_mask(x)) == x);
    CHECK(bert_crc32c_mask(x) != x);
  }
  CHECK(bert_crc32c_mask(0) == 0xa282ead8u);
}

/* ---------------------------------------------------------------- round trip */

static const int64_t kInts[] = {0, 1, -1, 127, 128, -128, 300, 1ll << 40, -(1ll << 40), INT64_MAX, INT64_MIN, 30521};
static const float kFloats[] = {0.0f, 1.0f, -1.5f, 3.4028235e38f, 1e-45f, -0.0f, 0.15f};

static size_t encode_record(int r, uint8_t *out, size_t cap) {
  int64_t ints[12];
  for (int i = 0; i < 12; i++) ints[i] = kInts[i] + (i < 9 ? r : 0);
  const uint8_t *strings[3] = {(const uint8_t *)"hello", (const uint8_t *)"", (const uint8_t *)"a\0b"};
  size_t lengths[3] = {5, 0, 3};
  bert_example_builder b;
  bert_example_builder_init(&b);
  bert_error err;
  CHECK(bert_example_add_int64(&b, "ints", ints, 12, &err) == 0);
  CHECK(bert_example_add_float(&b, "floats", kFloats, 7, &err) == 0);
  CHECK(bert_example_add_bytes(&b, "strings", strings, lengths, 3, &err) == 0);
  CHECK(bert_example_add_int64(&b, "empty", NULL, 0, &err) == 0);
  size_t n = 0;
  CHECK(bert_example_encode(&b, out, cap, &n, &err) == 0);
  CHECK(n == bert_example_encoded_size(&b));
  return n;
}

static void check_record(int r, const uint8_t *data, size_t size) {
  bert_example ex;
  bert_error err;
  CHECK_MSG(bert_example_decode(&ex, data, size, &err) == 0, "%s", err.message);
  CHECK(bert_example_feature_count(&ex) == 4);
  CHECK(!strcmp(bert_example_feature_name(&ex, 0), "ints"));
  int64_t ints[12];
  CHECK_MSG(bert_example_get_int64(&ex, "ints", ints, 12, &err) == 0, "%s", err.message);
  for (int i = 0; i < 12; i++) CHECK(ints[i] == kInts[i] + (i < 9 ? r : 0));
  float floats[7];
  CHECK(bert_example_get_float(&ex, "floats", floats, 7, &err) == 0);
  CHECK(memcmp(floats, kFloats, sizeof floats) == 0);
  int s = bert_example_find(&ex, "strings");
  CHECK(s == 2 && bert_example_feature_kind(&ex, 2) == BERT_FEATURE_BYTES);
  CHECK(bert_example_feature_length(&ex, 2) == 3);
  size_t len = 99;
  const uint8_t *p = bert_example_bytes(&ex, 2, 2, &len);
  CHECK(p && len == 3 && !memcmp(p, "a\0b", 3));
  CHECK(bert_example_bytes(&ex, 2, 1, &len) && len == 0);
  /* Errors name the feature and say what is wrong. */
  CHECK(bert_example_get_int64(&ex, "input_ids", ints, 12, &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "'input_ids'") && strstr(err.message, "missing"));
  CHECK(bert_example_get_int64(&ex, "ints", ints, 11, &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "'ints'") && strstr(err.message, "12 values, expected 11"));
  CHECK(bert_example_get_int64(&ex, "floats", ints, 7, &err) == BERT_EFORMAT);
  CHECK(strstr(err.message, "'floats'") && strstr(err.message, "float_list"));
  bert_example_free(&ex);
}

static void test_round_trip(const char *dir) {
  char path[4096], index_path[4096];
  bert_error err;
  snprintf(path, sizeof path, "%s/rt.tfrecord", dir);
  snprintf(index_path, sizeof index_path, "%s/rt.index", dir);
  bert_tfrecord_writer w;
  CHECK(bert_tfrecord_writer_open(&w, path, 1, &err) == 0);
  CHECK(!bert_path_exists(path)); /* atomic: nothing under the final name until close */
  uint8_t buf[1024];
  for (int r = 0; r < 5; r++) {
    size_t n = encode_record(r, buf, sizeof buf);
    CHECK(bert_tfrecord_write(&w, buf, n, &err) == 0);
  }
  CHECK(bert_tfrecord_write(&w, "", 0, &err) == 0); /* empty payloads are legal records */
  CHECK(bert_tfrecord_writer_close(&w, &err) == 0);
  CHECK(bert_path_exists(path) && bert_path_exists(index_path));

  bert_tfrecord_reader rd;
  CHECK(bert_tfrecord_reader_open(&rd, path, 1, &err) == 0);
  const uint8_t *data;
  size_t size;
  int count = 0, rc;
  while ((rc = bert_tfrecord_read(&rd, &data, &size, &err)) == 1) {
    if (count < 5) check_record(count, data, size);
    else CHECK(size == 0);
    count++;
  }
  CHECK_MSG(rc == 0, "%s", err.message);
  CHECK(count == 6);
  bert_tfrecord_reader_close(&rd);

  bert_tfrecord_index built, loaded;
  CHECK(bert_tfrecord_index_build(path, 1, &built, &err) == 0);
  CHECK(bert_tfrecord_index_load(index_path, &loaded, &err) == 0);
  CHECK(built.count == 6 && loaded.count == 6);
  for (int64_t i = 0; i < built.count && loaded.count == 6; i++)
    CHECK(built.offsets[i] == loaded.offsets[i] && built.sizes[i] == loaded.sizes[i]);
  CHECK(built.sizes[5] == BERT_TFRECORD_OVERHEAD);
  /* Random access, backwards. */
  CHECK(bert_tfrecord_reader_open(&rd, path, 1, &err) == 0);
  for (int i = 4; i >= 0; i--) {
    CHECK(bert_tfrecord_read_at(&rd, &loaded, i, &data, &size, &err) == 0);
    check_record(i, data, size);
  }
  CHECK(bert_tfrecord_read_at(&rd, &loaded, 6, &data, &size, &err) == BERT_ERANGE);
  bert_tfrecord_reader_close(&rd);
  bert_tfrecord_index_free(&built);
  bert_tfrecord_index_free(&loaded);
}

/* ---------------------------------------------------------------- corruption */

static int read_all(const char *path, int check_crc, int64_t *records, bert_error *err) {
  bert_tfrecord_reader rd;
  int rc = bert_tfrecord_reader_open(&rd, path, check_crc, err);
  if (rc) return rc;
  const uint8_t *data;
  size_t size;
  *records = 0;
  while ((rc = bert_tfrecord_read(&rd, &data, &size, err)) == 1) (*records)++;
  bert_tfrecord_reader_close(&rd);
  return rc;
}

static void write_copy(const char *path, const char *bytes, size_t n) {
  bert_error err;
  CHECK(bert_file_write_atomic(path, bytes, n, &err) == 0);
}

static void test_corruption(const char *dir) {
  char src[4096], path[4096], expect[256];
  bert_error err;
  int64_t records;
  snprintf(src, sizeof src, "%s/rt.tfrecord", dir);
  snprintf(path, sizeof path, "%s/bad.tfrecord", dir);
  char *bytes;
  size_t n;
  CHECK(bert_file_read(src, &bytes, &n, &err) == 0);
  bert_tfrecord_index idx;
  CHECK(bert_tfrecord_index_build(src, 1, &idx, &err) == 0);

  /* A flipped payload byte in record 2: found with CRC checks, invisible without. */
  bytes[idx.offsets[2] + 20] ^= 0x40;
  write_copy(path, bytes, n);
  CHECK(read_all(path, 1, &records, &err) == BERT_EFORMAT);
  snprintf(expect, sizeof expect, "record 2 at byte offset %" PRIu64 ": payload CRC mismatch", idx.offsets[2]);
  CHECK_MSG(strstr(err.message, path) && strstr(err.message, expect), "%s", err.message);
  CHECK(records == 2);
  CHECK(read_all(path, 0, &records, &err) == 0 && records == 6);
  bytes[idx.offsets[2] + 20] ^= 0x40;

  /* A flipped length byte: the length CRC catches it. */
  bytes[idx.offsets[3] + 1] ^= 0x01;
  write_copy(path, bytes, n);
  CHECK(read_all(path, 1, &records, &err) == BERT_EFORMAT);
  snprintf(expect, sizeof expect, "record 3 at byte offset %" PRIu64 ": length CRC mismatch", idx.offsets[3]);
  CHECK_MSG(strstr(err.message, expect), "%s", err.message);
  /* Without CRC checks the absurd length is still refused, not allocated. */
  bytes[idx.offsets[3] + 7] ^= 0x10;
  write_copy(path, bytes, n);
  CHECK(read_all(path, 0, &records, &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, "truncated record") && strstr(err.message, "record 3"), "%s", err.message);
  bytes[idx.offsets[3] + 7] ^= 0x10;
  bytes[idx.offsets[3] + 1] ^= 0x01;

  /* Truncated inside the last real record's payload, then inside a header. */
  write_copy(path, bytes, idx.offsets[4] + 30);
  CHECK(read_all(path, 1, &records, &err) == BERT_EFORMAT);
  snprintf(expect, sizeof expect, "record 4 at byte offset %" PRIu64 ": truncated record", idx.offsets[4]);
  CHECK_MSG(strstr(err.message, expect), "%s", err.message);
  CHECK(records == 4);
  write_copy(path, bytes, idx.offsets[1] + 5);
  CHECK(read_all(path, 0, &records, &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, "record 1") && strstr(err.message, "5 of the 12 header bytes"), "%s", err.message);

  /* A payload that is not an Example. */
  uint8_t junk[4] = {0xff, 0xff, 0xff, 0xff};
  bert_example ex;
  CHECK(bert_example_decode(&ex, junk, 4, &err) == BERT_EFORMAT);

  /* A malformed index names its line. */
  snprintf(path, sizeof path, "%s/bad.index", dir);
  write_copy(path, "0 841\n841 x88\n", 14);
  bert_tfrecord_index bad;
  CHECK(bert_tfrecord_index_load(path, &bad, &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, "line 2"), "%s", err.message);
  free(bytes);
  bert_tfrecord_index_free(&idx);
}

/* ---------------------------------------------------------------- reference samples */

static void check_sample_record(const bert_example *ex, int64_t record) {
  static const char *ints[] = {"input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                               "next_sentence_labels"};
  static const size_t lens[] = {128, 128, 128, 20, 20, 1};
  int64_t v[128];
  bert_error err;
  for (int f = 0; f < 6; f++)
    CHECK_MSG(bert_example_get_int64(ex, ints[f], v, lens[f], &err) == 0, "record %" PRId64 ": %s", record,
              err.message);
  float w[20];
  CHECK(bert_example_get_float(ex, "masked_lm_weights", w, 20, &err) == 0);
  CHECK(bert_example_get_int64(ex, "input_ids", v, 128, &err) == 0 && v[0] == 101);
  CHECK(bert_example_feature_count(ex) == 7);
}

static void check_packed_record(const bert_example *ex, int64_t record) {
  static const char *ints[] = {"packed_input_ids", "packed_input_mask", "packed_segment_ids",
                               "packed_position_ids", "packed_masked_lm_positions", "packed_masked_lm_ids",
                               "packed_next_sentence_labels"};
  static const size_t lens[] = {128, 128, 128, 128, 22, 22, 3};
  int64_t v[128];
  float f[22];
  bert_error err;
  for (int i = 0; i < 7; i++)
    CHECK_MSG(bert_example_get_int64(ex, ints[i], v, lens[i], &err) == 0, "pack %" PRId64 ": %s", record,
              err.message);
  CHECK(bert_example_get_float(ex, "packed_masked_lm_mask", f, 22, &err) == 0);
  CHECK(bert_example_get_float(ex, "packed_next_sentence_mask", f, 3, &err) == 0);
  CHECK(f[2] == 1.0f); /* slot S-1 holds sequence 1, always present */
  CHECK(bert_example_get_int64(ex, "packed_input_ids", v, 128, &err) == 0 && v[127] == 101);
}

/* Reads a sample file: counts records, checks every one, and compares offsets with its index. */
static void check_sample(const char *path, const char *index_path, int64_t expected, int packed) {
  bert_error err;
  bert_tfrecord_index idx;
  CHECK_MSG(bert_tfrecord_index_load(index_path, &idx, &err) == 0, "%s", err.message);
  CHECK(idx.count == expected);
  bert_tfrecord_reader rd;
  CHECK_MSG(bert_tfrecord_reader_open(&rd, path, 1, &err) == 0, "%s", err.message);
  const uint8_t *data;
  size_t size;
  int64_t n = 0;
  int rc;
  uint64_t offset = rd.offset;
  while ((rc = bert_tfrecord_read(&rd, &data, &size, &err)) == 1) {
    CHECK(n < idx.count && idx.offsets[n] == offset && idx.sizes[n] == size + BERT_TFRECORD_OVERHEAD);
    bert_example ex;
    CHECK(bert_example_decode(&ex, data, size, &err) == 0);
    if (packed) check_packed_record(&ex, n);
    else check_sample_record(&ex, n);
    bert_example_free(&ex);
    offset = rd.offset;
    n++;
  }
  CHECK_MSG(rc == 0, "%s", err.message);
  CHECK(n == expected);
  bert_tfrecord_reader_close(&rd);
  bert_tfrecord_index_free(&idx);
}

/* Our index of the sample is byte-identical to the reference's tfrecord2idx output. */
static void test_index_bytes(const char *dir) {
  bert_error err;
  bert_tfrecord_index idx;
  char out[4096];
  snprintf(out, sizeof out, "%s/sample.index", dir);
  CHECK(bert_tfrecord_index_build("data/sample_text.tfrecord", 1, &idx, &err) == 0);
  CHECK(bert_tfrecord_index_write(out, &idx, &err) == 0);
  char *a, *b;
  size_t na, nb;
  CHECK(bert_file_read(out, &a, &na, &err) == 0);
  CHECK(bert_file_read("data/sample_text.index", &b, &nb, &err) == 0);
  CHECK(na == nb && !memcmp(a, b, na));
  free(a);
  free(b);
  bert_tfrecord_index_free(&idx);
  char path[16];
  CHECK(bert_tfrecord_index_path("a/b.tfrecord", path, sizeof path, &err) == 0 && !strcmp(path, "a/b.index"));
  CHECK(bert_tfrecord_index_path("a/b.rec", path, sizeof path, &err) == 0 && !strcmp(path, "a/b.rec.index"));
}

/* Re-encoding a decoded reference record gives TensorFlow's bytes back (same field order). */
static void test_reencode(void) {
  bert_error err;
  bert_tfrecord_reader rd;
  CHECK(bert_tfrecord_reader_open(&rd, "data/sample_text.tfrecord", 1, &err) == 0);
  const uint8_t *data;
  size_t size;
  CHECK(bert_tfrecord_read(&rd, &data, &size, &err) == 1);
  bert_example ex;
  CHECK(bert_example_decode(&ex, data, size, &err) == 0);
  bert_example_builder b;
  bert_example_builder_init(&b);
  for (size_t i = 0; i < bert_example_feature_count(&ex); i++) {
    const char *name = bert_example_feature_name(&ex, i);
    size_t n = bert_example_feature_length(&ex, i);
    if (bert_example_feature_kind(&ex, i) == BERT_FEATURE_INT64)
      bert_example_add_int64(&b, name, bert_example_int64s(&ex, i), n, &err);
    else
      bert_example_add_float(&b, name, bert_example_floats(&ex, i), n, &err);
  }
  uint8_t out[2048];
  size_t written = 0;
  CHECK(bert_example_encode(&b, out, sizeof out, &written, &err) == 0);
  CHECK(written == size && !memcmp(out, data, size));
  CHECK(bert_example_encode(&b, out, 10, &written, &err) == BERT_ERANGE);
  bert_example_free(&ex);
  bert_tfrecord_reader_close(&rd);
}

int main(void) {
  const char *dir = test_tmpdir("tfrecord");
  CHECK(dir != NULL);
  test_crc32c();
  test_round_trip(dir);
  test_corruption(dir);
  check_sample("data/sample_text.tfrecord", "data/sample_text.index", 45, 0);
  check_sample("data/packing/sample_text_packed.tfrecord", "data/packing/sample_text_packed.index", 44, 1);
  test_index_bytes(dir);
  test_reencode();
  return test_summary("tfrecord");
}
