#include "data/tfrecord.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/crc32c.h"

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t bert_tfrecord_frame_in_place(uint8_t *out, size_t n) {
  put_le64(out, (uint64_t)n);
  put_le32(out + 8, bert_crc32c_mask(bert_crc32c(out, 8)));
  put_le32(out + 12 + n, bert_crc32c_mask(bert_crc32c(out + 12, n)));
  return n + BERT_TFRECORD_OVERHEAD;
}

size_t bert_tfrecord_frame(const void *payload, size_t n, uint8_t *out) {
  memmove(out + 12, payload, n);
  return bert_tfrecord_frame_in_place(out, n);
}

/* ---------------------------------------------------------------- reader */

int bert_tfrecord_reader_open(bert_tfrecord_reader *r, const char *path, int check_crc, bert_error *err) {
  memset(r, 0, sizeof *r);
  if (snprintf(r->path, sizeof r->path, "%s", path) >= (int)sizeof r->path)
    return bert_error_set(err, BERT_EINVAL, "%s: path too long", path);
  r->f = fopen(path, "rb");
  if (!r->f) return bert_error_set(err, BERT_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  /* Pipes have no size: declared lengths are bounded by BERT_TFRECORD_MAX_PAYLOAD alone there. */
  r->file_size = (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode)) ? (uint64_t)st.st_size : UINT64_MAX;
  r->check_crc = check_crc;
  setvbuf(r->f, NULL, _IOFBF, 1 << 16);
  return BERT_OK;
}

void bert_tfrecord_reader_close(bert_tfrecord_reader *r) {
  if (r->f) fclose(r->f);
  free(r->buf);
  r->f = NULL;
  r->buf = NULL;
  r->cap = 0;
}

static int record_error(const bert_tfrecord_reader *r, int code, bert_error *err, const char *what) {
  return bert_error_set(err, code, "%s: record %" PRId64 " at byte offset %" PRIu64 ": %s", r->path, r->record,
                        r->offset, what);
}

static int check_length(bert_tfrecord_reader *r, uint64_t len, bert_error *err) {
  char what[256];
  uint64_t avail = r->file_size > r->offset + 12 ? r->file_size - r->offset - 12 : 0;
  if (len > avail || avail - len < 4) {
    snprintf(what, sizeof what, "truncated record: declares %" PRIu64 " payload bytes but only %" PRIu64
             " bytes (payload + 4-byte CRC) remain in the file", len, avail);
    return record_error(r, BERT_EFORMAT, err, what);
  }
  if (len <= BERT_TFRECORD_MAX_PAYLOAD) return BERT_OK;
  snprintf(what, sizeof what, "declares %" PRIu64 " payload bytes, over the limit of %llu bytes per record", len,
           (unsigned long long)BERT_TFRECORD_MAX_PAYLOAD);
  return record_error(r, BERT_EFORMAT, err, what);
}

static int grow(uint8_t **buf, size_t *cap, size_t need, bert_error *err) {
  if (need <= *cap) return BERT_OK;
  size_t n = *cap ? *cap : 4096;
  while (n < need) n *= 2;
  uint8_t *p = realloc(*buf, n);
  if (!p) return bert_error_set(err, BERT_ENOMEM, "cannot allocate %zu bytes for a record", n);
  *buf = p;
  *cap = n;
  return BERT_OK;
}

static int read_header(bert_tfrecord_reader *r, uint64_t *len, bert_error *err) {
  uint8_t header[12];
  size_t got = fread(header, 1, sizeof header, r->f);
  if (got == 0 && !ferror(r->f)) return 0;
  if (got < sizeof header) {
    if (ferror(r->f)) return record_error(r, BERT_EIO, err, "read error");
    char what[128];
    snprintf(what, sizeof what, "truncated record: the file ends after %zu of the 12 header bytes", got);
    return record_error(r, BERT_EFORMAT, err, what);
  }
  *len = get_le64(header);
  if (r->check_crc) {
    uint32_t stored = get_le32(header + 8), computed = bert_crc32c_mask(bert_crc32c(header, 8));
    if (stored != computed) {
      char what[160];
      snprintf(what, sizeof what, "length CRC mismatch (stored 0x%08x, computed 0x%08x)", stored, computed);
      return record_error(r, BERT_EFORMAT, err, what);
    }
  }
  return 1;
}

int bert_tfrecord_read(bert_tfrecord_reader *r, const uint8_t **data, size_t *size, bert_error *err) {
  uint64_t len = 0;
  int rc = read_header(r, &len, err);
  if (rc <= 0) return rc;
  if ((rc = check_length(r, len, err))) return rc;
  if ((rc = grow(&r->buf, &r->cap, (size_t)len + 4, err))) return rc;
  size_t got = fread(r->buf, 1, (size_t)len + 4, r->f);
  if (got < len + 4) {
    char what[160];
    snprintf(what, sizeof what, "truncated record: the file ends after %zu of %" PRIu64 " payload + CRC bytes",
             got, len + 4);
    return record_error(r, ferror(r->f) ? BERT_EIO : BERT_EFORMAT, err, what);
  }
  if (r->check_crc) {
    uint32_t stored = get_le32(r->buf + len), computed = bert_crc32c_mask(bert_crc32c(r->buf, (size_t)len));
    if (stored != computed) {
      char what[160];
      snprintf(what, sizeof what, "payload CRC mismatch (stored 0x%08x, computed 0x%08x)", stored, computed);
      return record_error(r, BERT_EFORMAT, err, what);
    }
  }
  *data = r->buf;
  *size = (size_t)len;
  r->offset += len + BERT_TFRECORD_OVERHEAD;
  r->record++;
  return 1;
}

int bert_tfrecord_reader_seek(bert_tfrecord_reader *r, uint64_t offset, int64_t record, bert_error *err) {
  if (offset > r->file_size || fseeko(r->f, (off_t)offset, SEEK_SET) != 0)
    return bert_error_set(err, BERT_EIO, "%s: cannot seek to byte offset %" PRIu64 " (record %" PRId64 ")",
                          r->path, offset, record);
  r->offset = offset;
  r->record = record;
  return BERT_OK;
}

/* ---------------------------------------------------------------- index */

int bert_tfrecord_index_path(const char *tfrecord_path, char *out, size_t cap, bert_error *err) {
  static const char suffix[] = ".tfrecord";
  size_t n = strlen(tfrecord_path), s = sizeof suffix - 1;
  if (n >= s && !strcmp(tfrecord_path + n - s, suffix)) n -= s;
  if (n + 7 > cap) return bert_error_set(err, BERT_EINVAL, "%s: path too long", tfrecord_path);
  memcpy(out, tfrecord_path, n);
  memcpy(out + n, ".index", 7);
  return BERT_OK;
}

void bert_tfrecord_index_free(bert_tfrecord_index *idx) {
  free(idx->offsets);
  free(idx->sizes);
  memset(idx, 0, sizeof *idx);
}

static int index_push(bert_tfrecord_index *idx, int64_t *cap, uint64_t offset, uint64_t size, bert_error *err) {
  if (idx->count == *cap) {
    int64_t n = *cap ? *cap * 2 : 1024;
    uint64_t *o = realloc(idx->offsets, (size_t)n * sizeof *o);
    if (o) idx->offsets = o;
    uint64_t *s = o ? realloc(idx->sizes, (size_t)n * sizeof *s) : NULL;
    if (!s) return bert_error_set(err, BERT_ENOMEM, "out of memory growing an index to %" PRId64 " records", n);
    idx->sizes = s;
    *cap = n;
  }
  idx->offsets[idx->count] = offset;
  idx->sizes[idx->count] = size;
  idx->count++;
  return BERT_OK;
}

int bert_tfrecord_index_build(const char *tfrecord_path, int check_crc, bert_tfrecord_index *idx,
                              bert_error *err) {
  memset(idx, 0, sizeof *idx);
  bert_tfrecord_reader r;
  int rc = bert_tfrecord_reader_open(&r, tfrecord_path, check_crc, err);
  if (rc) return rc;
  int64_t cap = 0;
  for (;;) {
    uint64_t offset = r.offset;
    const uint8_t *data;
    size_t size;
    rc = bert_tfrecord_read(&r, &data, &size, err);
    if (rc <= 0) break;
    if ((rc = index_push(idx, &cap, offset, size + BERT_TFRECORD_OVERHEAD, err))) break;
  }
  bert_tfrecord_reader_close(&r);
  if (rc) bert_tfrecord_index_free(idx);
  return rc;
}

/* Parses "<offset> <size>" with nothing else on the line but blanks. */
static int parse_index_line(const char *line, uint64_t *offset, uint64_t *size) {
  char *end;
  if (*line < '0' || *line > '9') return -1;
  errno = 0;
  *offset = strtoull(line, &end, 10);
  if (errno || (*end != ' ' && *end != '\t')) return -1;
  while (*end == ' ' || *end == '\t') end++;
  if (*end < '0' || *end > '9') return -1;
  *size = strtoull(end, &end, 10);
  if (errno) return -1;
  while (*end == ' ' || *end == '\t' || *end == '\r') end++;
  return *end ? -1 : 0;
}

int bert_tfrecord_index_load(const char *index_path, bert_tfrecord_index *idx, bert_error *err) {
  memset(idx, 0, sizeof *idx);
  char *text;
  size_t n;
  int rc = bert_file_read(index_path, &text, &n, err);
  if (rc) return rc;
  int64_t cap = 0, line_no = 0;
  for (char *line = text; rc == 0 && line < text + n;) {
    char *nl = memchr(line, '\n', (size_t)(text + n - line));
    char *next = nl ? nl + 1 : text + n;
    if (nl) *nl = 0;
    line_no++;
    uint64_t offset, size;
    if (parse_index_line(line, &offset, &size))
      rc = bert_error_set(err, BERT_EFORMAT, "%s: line %" PRId64 " (byte offset %zu): expected \"<offset> <size>\"",
                          index_path, line_no, (size_t)(line - text));
    else if (size < BERT_TFRECORD_OVERHEAD)
      rc = bert_error_set(err, BERT_EFORMAT, "%s: line %" PRId64 ": record size %" PRIu64 " is below 16 bytes",
                          index_path, line_no, size);
    else
      rc = index_push(idx, &cap, offset, size, err);
    line = next;
  }
  free(text);
  if (rc) bert_tfrecord_index_free(idx);
  return rc;
}

int bert_tfrecord_index_write(const char *index_path, const bert_tfrecord_index *idx, bert_error *err) {
  bert_atomic_file af;
  int rc = bert_atomic_open(&af, index_path, err);
  if (rc) return rc;
  for (int64_t i = 0; i < idx->count; i++)
    if (fprintf(af.f, "%" PRIu64 " %" PRIu64 "\n", idx->offsets[i], idx->sizes[i]) < 0)
      return bert_atomic_write_failed(&af, err);
  return bert_atomic_commit(&af, err);
}

int bert_tfrecord_read_at(bert_tfrecord_reader *r, const bert_tfrecord_index *idx, int64_t i,
                          const uint8_t **data, size_t *size, bert_error *err) {
  if (i < 0 || i >= idx->count)
    return bert_error_set(err, BERT_ERANGE, "%s: record %" PRId64 " out of range (%" PRId64 " records)", r->path,
                          i, idx->count);
  int rc = bert_tfrecord_reader_seek(r, idx->offsets[i], i, err);
  if (rc) return rc;
  rc = bert_tfrecord_read(r, data, size, err);
  if (rc == 0) return record_error(r, BERT_EFORMAT, err, "the index points past the end of the file");
  if (rc < 0) return rc;
  if (*size + BERT_TFRECORD_OVERHEAD != idx->sizes[i]) {
    char what[160];
    snprintf(what, sizeof what, "the index says %" PRIu64 " bytes but the record has %zu", idx->sizes[i],
             *size + BERT_TFRECORD_OVERHEAD);
    r->record = i;
    r->offset = idx->offsets[i];
    return record_error(r, BERT_EMISMATCH, err, what);
  }
  return BERT_OK;
}

/* ---------------------------------------------------------------- writer */

int bert_tfrecord_writer_open(bert_tfrecord_writer *w, const char *path, int with_index, bert_error *err) {
  memset(w, 0, sizeof *w);
  int rc = bert_atomic_open(&w->data, path, err);
  if (rc) return rc;
  w->with_index = with_index;
  if (with_index) {
    char index_path[4096];
    rc = bert_tfrecord_index_path(path, index_path, sizeof index_path, err);
    if (!rc) rc = bert_atomic_open(&w->index, index_path, err);
    if (rc) {
      bert_atomic_abort(&w->data);
      return rc;
    }
  }
  setvbuf(w->data.f, NULL, _IOFBF, 1 << 20);
  return BERT_OK;
}

int bert_tfrecord_write_framed(bert_tfrecord_writer *w, const void *framed, size_t n, bert_error *err) {
  if (n < BERT_TFRECORD_OVERHEAD || get_le64(framed) + BERT_TFRECORD_OVERHEAD != n)
    return bert_error_set(err, BERT_EINVAL, "%s: record %" PRId64 ": framed size %zu disagrees with its header",
                          w->data.final_path, w->count, n);
  if (fwrite(framed, 1, n, w->data.f) != n)
    return bert_error_set(err, BERT_EIO, "%s: write failed at byte offset %" PRIu64 ": %s", w->data.final_path,
                          w->offset, strerror(errno));
  if (w->with_index && fprintf(w->index.f, "%" PRIu64 " %zu\n", w->offset, n) < 0)
    return bert_error_set(err, BERT_EIO, "%s: write failed: %s", w->index.final_path, strerror(errno));
  w->offset += n;
  w->count++;
  return BERT_OK;
}

int bert_tfrecord_write(bert_tfrecord_writer *w, const void *payload, size_t n, bert_error *err) {
  int rc = grow(&w->buf, &w->cap, n + BERT_TFRECORD_OVERHEAD, err);
  if (rc) return rc;
  size_t framed = bert_tfrecord_frame(payload, n, w->buf);
  return bert_tfrecord_write_framed(w, w->buf, framed, err);
}

int bert_tfrecord_writer_finish(bert_tfrecord_writer *w, bert_error *err) {
  free(w->buf);
  w->buf = NULL;
  int rc = bert_atomic_finish(&w->data, err);
  if (rc) {
    if (w->with_index) bert_atomic_abort(&w->index);
    return rc;
  }
  if (w->with_index && (rc = bert_atomic_finish(&w->index, err))) bert_atomic_abort(&w->data);
  return rc;
}

static size_t writer_files(bert_tfrecord_writer *w, bert_atomic_file **out) {
  out[0] = &w->data;
  if (w->with_index) out[1] = &w->index;
  return w->with_index ? 2 : 1;
}

int bert_tfrecord_writers_close(bert_tfrecord_writer *ws, size_t n, bert_error *err) {
  int rc = BERT_OK;
  for (size_t i = 0; i < n && !rc; i++)
    if (ws[i].data.f) rc = bert_tfrecord_writer_finish(&ws[i], err);
  bert_atomic_file *few[16] = {0}, **files = rc || 2 * n <= 16 ? few : malloc(2 * n * sizeof *files);
  if (!rc && !files) rc = bert_error_set(err, BERT_ENOMEM, "%s: out of memory", ws[0].data.final_path);
  if (rc) {
    for (size_t i = 0; i < n; i++) bert_tfrecord_writer_abort(&ws[i]);
    return rc;
  }
  size_t m = 0;
  for (size_t i = 0; i < n; i++) m += writer_files(&ws[i], files + m);
  rc = bert_atomic_publish(files, m, err);
  if (files != few) free(files);
  return rc;
}

int bert_tfrecord_writer_close(bert_tfrecord_writer *w, bert_error *err) {
  return bert_tfrecord_writers_close(w, 1, err);
}

void bert_tfrecord_writer_abort(bert_tfrecord_writer *w) {
  free(w->buf);
  w->buf = NULL;
  bert_atomic_abort(&w->data);
  if (w->with_index) bert_atomic_abort(&w->index);
}
