/* data/crc32c: CRC-32C (Castagnoli), the checksum of TFRecord framing, and TensorFlow's mask
 * that keeps a CRC of data containing CRCs from being degenerate. Uses the SSE4.2 crc32
 * instruction when the build targets it, a table otherwise. */
#ifndef BERT_DATA_CRC32C_H
#define BERT_DATA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes (initial value and final xor 0xffffffff, as everyone uses it). */
uint32_t bert_crc32c(const void *data, size_t n);
/* Continues a CRC returned by bert_crc32c over more bytes. */
uint32_t bert_crc32c_extend(uint32_t crc, const void *data, size_t n);
/* The table implementation, always available (the tests compare both paths). */
uint32_t bert_crc32c_portable(uint32_t crc, const void *data, size_t n);

/* TensorFlow's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
uint32_t bert_crc32c_mask(uint32_t crc);
uint32_t bert_crc32c_unmask(uint32_t masked);

#endif
