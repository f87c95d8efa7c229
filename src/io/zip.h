/* io/zip: a read-only view of a zip archive held in memory, enough for PyTorch's checkpoint
 * format (torch.save since 1.6): the central directory (zip64 end records and extra fields
 * included) is parsed and checked against the buffer; entry data is returned in place, only for
 * STORED (uncompressed, unencrypted) entries, after its CRC-32 is verified. */
#ifndef BERT_IO_ZIP_H
#define BERT_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct bert_zip_entry {
  char *name;
  uint64_t header_offset;  /* local file header */
  uint64_t size;           /* compressed size (= size for STORED) */
  uint64_t uncompressed;
  uint32_t crc;
  int method;              /* 0 = STORED */
  int flags;
  int verified;            /* data location and CRC checked once */
  const unsigned char *data;
} bert_zip_entry;

typedef struct bert_zip {
  const char *path;        /* for messages; not owned */
  const unsigned char *buf;
  size_t size;
  bert_zip_entry *entries;
  int count;
  uint32_t crc_table[8][256];
} bert_zip;

/* Parses the central directory of `buf` (not copied; it must outlive the zip). */
int bert_zip_open(bert_zip *z, const unsigned char *buf, size_t size, const char *path, bert_error *err);
void bert_zip_close(bert_zip *z);
bert_zip_entry *bert_zip_find(bert_zip *z, const char *name);
/* The entry's bytes in place (STORED only, CRC checked on first use). */
int bert_zip_data(bert_zip *z, bert_zip_entry *e, const unsigned char **data, size_t *size, bert_error *err);
/* CRC-32 (zip / IEEE polynomial) using z's tables; `crc` is 0 for a fresh checksum. */
uint32_t bert_zip_crc32(const bert_zip *z, uint32_t crc, const unsigned char *p, size_t n);

#endif
