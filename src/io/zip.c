#include "io/zip.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EOCD_SIZE 22
#define LOCATOR_SIZE 20
#define EOCD64_SIZE 56
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Slicing-by-8 tables: checking every storage of a large checkpoint stays fast. */
static void crc_init(bert_zip *z) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    z->crc_table[0][i] = c;
  }
  for (int t = 1; t < 8; t++)
    for (int i = 0; i < 256; i++)
      z->crc_table[t][i] = (z->crc_table[t - 1][i] >> 8) ^ z->crc_table[0][z->crc_table[t - 1][i] & 0xff];
}

uint32_t bert_zip_crc32(const bert_zip *z, uint32_t crc, const unsigned char *p, size_t n) {
  const uint32_t(*t)[256] = z->crc_table;
  crc = ~crc;
  while (n >= 8) {
    uint32_t a = rd32(p) ^ crc, b = rd32(p + 4);
    crc = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^ t[4][a >> 24] ^ t[3][b & 0xff] ^
          t[2][(b >> 8) & 0xff] ^ t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

typedef struct cd_info {
  uint64_t count, offset, size;
} cd_info;

/* The end-of-central-directory record is the last 22 bytes unless a comment follows it. */
static int find_eocd(const bert_zip *z, size_t *pos) {
  if (z->size < EOCD_SIZE) return 0;
  size_t lowest = z->size > EOCD_SIZE + 65535 ? z->size - EOCD_SIZE - 65535 : 0;
  for (size_t p = z->size - EOCD_SIZE + 1; p-- > lowest;) {
    if (rd32(z->buf + p) == SIG_EOCD && p + EOCD_SIZE + rd16(z->buf + p + 20) <= z->size) {
      *pos = p;
      return 1;
    }
  }
  return 0;
}

static int read_eocd64(const bert_zip *z, size_t eocd, cd_info *cd, bert_error *err) {
  uint64_t off = rd64(z->buf + eocd - LOCATOR_SIZE + 8);
  if (rd32(z->buf + eocd - LOCATOR_SIZE + 16) > 1)
    return bert_error_set(err, BERT_EUNSUPPORTED, "%s: multi-disk zip archives are not supported", z->path);
  if (z->size < EOCD64_SIZE || off > z->size - EOCD64_SIZE || rd32(z->buf + off) != SIG_EOCD64)
    return bert_error_set(err, BERT_EFORMAT, "%s: corrupt zip: bad zip64 end-of-central-directory record", z->path);
  const unsigned char *p = z->buf + off;
  if (rd32(p + 16) != 0 || rd32(p + 20) != 0)
    return bert_error_set(err, BERT_EUNSUPPORTED, "%s: multi-disk zip archives are not supported", z->path);
  cd->count = rd64(p + 32);
  cd->size = rd64(p + 40);
  cd->offset = rd64(p + 48);
  return BERT_OK;
}

static int read_directory_location(const bert_zip *z, cd_info *cd, bert_error *err) {
  size_t eocd;
  if (!find_eocd(z, &eocd))
    return bert_error_set(err, BERT_EFORMAT, "%s: truncated or corrupt zip: no end-of-central-directory record", z->path);
  const unsigned char *p = z->buf + eocd;
  if (eocd >= LOCATOR_SIZE && rd32(p - LOCATOR_SIZE) == SIG_LOCATOR64) return read_eocd64(z, eocd, cd, err);
  if (rd16(p + 4) != 0 || rd16(p + 6) != 0)
    return bert_error_set(err, BERT_EUNSUPPORTED, "%s: multi-disk zip archives are not supported", z->path);
  cd->count = rd16(p + 10);
  cd->size = rd32(p + 12);
  cd->offset = rd32(p + 16);
  return BERT_OK;
}

/* The zip64 extra field (id 1) holds, in order, the 64-bit values of whichever of uncompressed
 * size, compressed size and local header offset are 0xFFFFFFFF in the fixed record. */
static int apply_zip64_extra(bert_zip_entry *e, const unsigned char *extra, size_t len) {
  int need_u = e->uncompressed == 0xffffffffu, need_c = e->size == 0xffffffffu, need_o = e->header_offset == 0xffffffffu;
  while (len >= 4) {
    uint16_t id = rd16(extra), n = rd16(extra + 2);
    if ((size_t)n + 4 > len) return 0;
    if (id == 1) {
      const unsigned char *q = extra + 4, *end = q + n;
      if (need_u) { if (q + 8 > end) return 0; e->uncompressed = rd64(q); q += 8; }
      if (need_c) { if (q + 8 > end) return 0; e->size = rd64(q); q += 8; }
      if (need_o) { if (q + 8 > end) return 0; e->header_offset = rd64(q); }
      return 1;
    }
    extra += 4 + n;
    len -= 4 + (size_t)n;
  }
  return !(need_u || need_c || need_o);
}

static int read_central_entry(bert_zip *z, const unsigned char *p, size_t avail, bert_zip_entry *e, size_t *used,
                              bert_error *err) {
  if (avail < CENTRAL_SIZE || rd32(p) != SIG_CENTRAL)
    return bert_error_set(err, BERT_EFORMAT, "%s: corrupt zip: bad central directory entry", z->path);
  size_t nlen = rd16(p + 28), xlen = rd16(p + 30), clen = rd16(p + 32);
  if (CENTRAL_SIZE + nlen + xlen + clen > avail)
    return bert_error_set(err, BERT_EFORMAT, "%s: corrupt zip: central directory entry overruns the directory", z->path);
  e->flags = rd16(p + 8);
  e->method = rd16(p + 10);
  e->crc = rd32(p + 16);
  e->size = rd32(p + 20);
  e->uncompressed = rd32(p + 24);
  e->header_offset = rd32(p + 42);
  if (memchr(p + CENTRAL_SIZE, 0, nlen) || !(e->name = strndup((const char *)p + CENTRAL_SIZE, nlen)))
    return bert_error_set(err, BERT_EFORMAT, "%s: corrupt zip: bad entry name", z->path);
  if (!apply_zip64_extra(e, p + CENTRAL_SIZE + nlen, xlen))
    return bert_error_set(err, BERT_EFORMAT, "%s: corrupt zip: entry '%s' has a bad zip64 extra field", z->path, e->name);
  *used = CENTRAL_SIZE + nlen + xlen + clen;
  return BERT_OK;
}

int bert_zip_open(bert_zip *z, const unsigned char *buf, size_t size, const char *path, bert_error *err) {
  memset(z, 0, sizeof *z);
  z->path = path;
  z->buf = buf;
  z->size = size;
  crc_init(z);
  cd_info cd = {0, 0, 0};
  int rc = read_directory_location(z, &cd, err);
  if (rc) return rc;
  if (cd.offset > size || cd.size > size - cd.offset || cd.count > cd.size / CENTRAL_SIZE)
    return bert_error_set(err, BERT_EFORMAT, "%s: truncated or corrupt zip: the central directory lies outside the file", path);
  z->entries = calloc(cd.count ? cd.count : 1, sizeof *z->entries);
  if (!z->entries) return bert_error_set(err, BERT_ENOMEM, "%s: out of memory", path);
  size_t pos = (size_t)cd.offset, end = (size_t)(cd.offset + cd.size);
  for (uint64_t i = 0; i < cd.count; i++) {
    size_t used = 0;
    rc = read_central_entry(z, buf + pos, end - pos, &z->entries[z->count], &used, err);
    if (z->entries[z->count].name) z->count++;
    if (rc) {
      bert_zip_close(z);
      return rc;
    }
    pos += used;
  }
  return BERT_OK;
}

void bert_zip_close(bert_zip *z) {
  for (int i = 0; i < z->count; i++) free(z->entries[i].name);
  free(z->entries);
  z->entries = NULL;
  z->count = 0;
}

bert_zip_entry *bert_zip_find(bert_zip *z, const char *name) {
  for (int i = 0; i < z->count; i++)
    if (!strcmp(z->entries[i].name, name)) return &z->entries[i];
  return NULL;
}

/* Locates the data after the local header and checks it lies in the file and matches the CRC. */
static int locate(bert_zip *z, bert_zip_entry *e, bert_error *err) {
  if (e->flags & 1) return bert_error_set(err, BERT_EUNSUPPORTED, "%s: entry '%s' is encrypted", z->path, e->name);
  if (e->method != 0)
    return bert_error_set(err, BERT_EUNSUPPORTED, "%s: entry '%s' is compressed (method %d); only stored entries are read",
                          z->path, e->name, e->method);
  if (e->size != e->uncompressed)
    return bert_error_set(err, BERT_EFORMAT, "%s: corrupt zip: stored entry '%s' has differing sizes", z->path, e->name);
  uint64_t h = e->header_offset;
  if (h > z->size || z->size - h < LOCAL_SIZE || rd32(z->buf + h) != SIG_LOCAL)
    return bert_error_set(err, BERT_EFORMAT, "%s: truncated or corrupt zip: bad local header for '%s'", z->path, e->name);
  uint64_t start = h + LOCAL_SIZE + rd16(z->buf + h + 26) + rd16(z->buf + h + 28);
  if (start > z->size || e->size > z->size - start)
    return bert_error_set(err, BERT_EFORMAT, "%s: truncated zip: entry '%s' extends beyond the end of the file", z->path,
                          e->name);
  e->data = z->buf + start;
  if (bert_zip_crc32(z, 0, e->data, (size_t)e->size) != e->crc)
    return bert_error_set(err, BERT_EFORMAT, "%s: corrupt zip: CRC mismatch in entry '%s'", z->path, e->name);
  e->verified = 1;
  return BERT_OK;
}

int bert_zip_data(bert_zip *z, bert_zip_entry *e, const unsigned char **data, size_t *size, bert_error *err) {
  if (!e->verified) {
    int rc = locate(z, e, err);
    if (rc) return rc;
  }
  *data = e->data;
  *size = (size_t)e->size;
  return BERT_OK;
}
