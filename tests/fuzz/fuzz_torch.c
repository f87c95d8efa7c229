/* PyTorch checkpoints (io/zip + io/torch_pickle): every input is read twice —
 *  1. as a whole file (zip central directory, local headers, CRCs, then the pickle), and
 *  2. as archive/data.pkl inside a valid zip that the harness builds around it, with the storages
 *     archive/data/0 .. 7 of 16 x (key + 1) bytes, so the fuzzer works on the unpickler directly
 *     (without forging CRC-32s). tests/fuzz/corpus/torch/ has a torch.save file whose storages
 *     have exactly those sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/torch_pickle.h"

#define STORAGES 8

typedef struct zfile {
  char name[32];
  const uint8_t *data;
  size_t size;
} zfile;

typedef struct bytes {
  uint8_t *p;
  size_t n, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    if (!(b->p = realloc(b->p, b->cap))) abort();
  }
  if (n) memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void put_le(bytes *b, uint32_t v, int width) {
  uint8_t x[4];
  for (int i = 0; i < width; i++) x[i] = (uint8_t)(v >> (8 * i));
  put(b, x, (size_t)width);
}

static uint32_t crc32_plain(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
  }
  return ~c;
}

/* One entry header (local or central): the fields they share after the version(s). */
static void put_entry_fields(bytes *b, const zfile *f, uint32_t crc) {
  put_le(b, 0, 2), put_le(b, 0, 2);          /* flags, method STORED */
  put_le(b, 0, 2), put_le(b, 0x21, 2);       /* time, date */
  put_le(b, crc, 4);
  put_le(b, (uint32_t)f->size, 4), put_le(b, (uint32_t)f->size, 4);
  put_le(b, (uint32_t)strlen(f->name), 2), put_le(b, 0, 2); /* name, extra lengths */
}

static void write_zip(bytes *b, const zfile *files, int n) {
  uint32_t offsets[STORAGES + 3], crcs[STORAGES + 3];
  for (int i = 0; i < n; i++) {
    offsets[i] = (uint32_t)b->n, crcs[i] = crc32_plain(files[i].data, files[i].size);
    put_le(b, 0x04034b50u, 4), put_le(b, 20, 2);
    put_entry_fields(b, &files[i], crcs[i]);
    put(b, files[i].name, strlen(files[i].name));
    put(b, files[i].data, files[i].size);
  }
  uint32_t cd_start = (uint32_t)b->n;
  for (int i = 0; i < n; i++) {
    put_le(b, 0x02014b50u, 4), put_le(b, 20, 2), put_le(b, 20, 2);
    put_entry_fields(b, &files[i], crcs[i]);
    put_le(b, 0, 2), put_le(b, 0, 2), put_le(b, 0, 2), put_le(b, 0, 4); /* comment, disk, attributes */
    put_le(b, offsets[i], 4);
    put(b, files[i].name, strlen(files[i].name));
  }
  uint32_t cd_size = (uint32_t)b->n - cd_start;
  put_le(b, 0x06054b50u, 4), put_le(b, 0, 2), put_le(b, 0, 2);
  put_le(b, (uint32_t)n, 2), put_le(b, (uint32_t)n, 2);
  put_le(b, cd_size, 4), put_le(b, cd_start, 4), put_le(b, 0, 2);
}

static void open_and_read(const uint8_t *data, size_t size) {
  bert_torch_file tf;
  bert_error err;
  if (fuzz_check(bert_torch_open(&tf, fuzz_file(0, data, size), &err), &err)) return;
  volatile uint8_t sink = 0;
  for (int i = 0; i < tf.count; i++) {
    const bert_st_tensor *t = &tf.tensors[i];
    if (bert_torch_find(&tf, t->name) == NULL) abort();
    if (t->nbytes) sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
  }
  (void)sink;
  bert_torch_close(&tf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  open_and_read(data, size);
  static uint8_t storage[16 * STORAGES];
  for (size_t i = 0; i < sizeof storage; i++) storage[i] = (uint8_t)(i * 37 + 11);
  zfile files[STORAGES + 3] = {{"archive/data.pkl", data, size},
                               {"archive/byteorder", (const uint8_t *)"little", 6},
                               {"archive/version", (const uint8_t *)"3\n", 2}};
  for (int k = 0; k < STORAGES; k++) {
    snprintf(files[3 + k].name, sizeof files[3 + k].name, "archive/data/%d", k);
    files[3 + k].data = storage, files[3 + k].size = 16 * (size_t)(k + 1);
  }
  bytes zip = {0};
  write_zip(&zip, files, STORAGES + 3);
  open_and_read(zip.p, zip.n);
  free(zip.p);
  return 0;
}
