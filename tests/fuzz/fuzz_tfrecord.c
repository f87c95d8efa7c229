/* TFRecord framing + CRC-32C and the .index format (data/tfrecord): the input is a data file,
 * optionally followed by "#IDX\n" and an index of it. Every record is read twice (CRCs checked,
 * and not: so the fuzzer gets past the checksums to the framing), the file is indexed by
 * scanning, and a given index is loaded and used for random access. */
#include <string.h>

#include "data/tfrecord.h"
#include "harness.h"

static const char kSeparator[] = "#IDX\n";

static void read_all(const char *path, int check_crc) {
  bert_tfrecord_reader r;
  bert_error err;
  if (bert_tfrecord_reader_open(&r, path, check_crc, &err)) return;
  const uint8_t *payload;
  size_t n;
  while (bert_tfrecord_read(&r, &payload, &n, &err) > 0) {
  }
  bert_tfrecord_reader_close(&r);
}

static void read_indexed(const char *data_path, const char *index_path) {
  bert_tfrecord_index idx;
  bert_tfrecord_reader r;
  bert_error err;
  if (bert_tfrecord_index_load(index_path, &idx, &err)) return;
  if (!bert_tfrecord_reader_open(&r, data_path, 0, &err)) {
    const uint8_t *payload;
    size_t n;
    for (int64_t i = 0; i < idx.count && i < 256; i++) bert_tfrecord_read_at(&r, &idx, i, &payload, &n, &err);
    bert_tfrecord_read_at(&r, &idx, idx.count, &payload, &n, &err); /* out of range */
    bert_tfrecord_reader_close(&r);
  }
  bert_tfrecord_index_free(&idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *sep = memmem(data, size, kSeparator, sizeof kSeparator - 1);
  size_t data_len = sep ? (size_t)(sep - data) : size;
  const char *path = fuzz_file(0, data, data_len);
  read_all(path, 1);
  read_all(path, 0);
  bert_tfrecord_index idx;
  bert_error err;
  if (!bert_tfrecord_index_build(path, 0, &idx, &err)) bert_tfrecord_index_free(&idx);
  if (sep) {
    size_t skip = data_len + sizeof kSeparator - 1;
    read_indexed(path, fuzz_file(1, data + skip, size - skip));
  }
  return 0;
}
