/* data/tfrecord: TFRecord files as TensorFlow writes them. Each record is
 *   uint64 length (little endian) | uint32 masked CRC-32C of those 8 bytes |
 *   payload (length bytes)        | uint32 masked CRC-32C of the payload
 * A `.index` file (the `tfrecord` package's tfrecord2idx format) has one text line per record,
 * "<byte offset> <record size including the 16 framing bytes>", and gives random access.
 * Readers report a bad or truncated record by file, record number and byte offset. */
#ifndef BERT_DATA_TFRECORD_H
#define BERT_DATA_TFRECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/file.h"

/* Framing bytes around each payload: 8 length + 4 length CRC + 4 payload CRC. */
#define BERT_TFRECORD_OVERHEAD 16
/* The largest payload a reader accepts (and allocates): a corrupt length is refused before any
 * allocation; a declared length must also fit in what remains of the file. Pretraining records
 * are a few KB; TensorFlow's own protobuf limit is 2 GB. */
#define BERT_TFRECORD_MAX_PAYLOAD ((uint64_t)1 << 30)

/* Frames a payload into out (n + BERT_TFRECORD_OVERHEAD bytes); returns the framed size. */
size_t bert_tfrecord_frame(const void *payload, size_t n, uint8_t *out);
/* Frames a payload of n bytes already written at out + 12 (no copy). */
size_t bert_tfrecord_frame_in_place(uint8_t *out, size_t n);

/* ---- streaming reader ---- */
typedef struct bert_tfrecord_reader {
  FILE *f;
  char path[4096];
  uint64_t file_size; /* bounds declared lengths (UINT64_MAX for a pipe) */
  uint64_t offset;    /* byte offset of the next record */
  int64_t record;     /* number of the next record (0-based) */
  int check_crc;
  uint8_t *buf; /* payload of the last record read */
  size_t cap;
} bert_tfrecord_reader;

int bert_tfrecord_reader_open(bert_tfrecord_reader *r, const char *path, int check_crc, bert_error *err);
/* Reads the next record: returns 1 with *data and *size set (valid until the next call), 0 at a clean
 * end of file, or a negative code (truncated record, CRC mismatch, I/O error). */
int bert_tfrecord_read(bert_tfrecord_reader *r, const uint8_t **data, size_t *size, bert_error *err);
/* Positions the reader at a record boundary; `record` is its number, used in messages. */
int bert_tfrecord_reader_seek(bert_tfrecord_reader *r, uint64_t offset, int64_t record, bert_error *err);
void bert_tfrecord_reader_close(bert_tfrecord_reader *r);

/* ---- index ---- */
typedef struct bert_tfrecord_index {
  int64_t count;
  uint64_t *offsets; /* byte offset of record i */
  uint64_t *sizes;   /* framed size of record i (payload + 16) */
} bert_tfrecord_index;

/* The index path of a data file: a trailing ".tfrecord" becomes ".index", else ".index" is
 * appended (the reference replaces ".tfrecord" by ".index"). */
int bert_tfrecord_index_path(const char *tfrecord_path, char *out, size_t cap, bert_error *err);
/* Scans a TFRecord file (checking CRCs if asked) and lists its records. */
int bert_tfrecord_index_build(const char *tfrecord_path, int check_crc, bert_tfrecord_index *idx,
                              bert_error *err);
/* Parses a .index file; errors name the line. */
int bert_tfrecord_index_load(const char *index_path, bert_tfrecord_index *idx, bert_error *err);
/* Writes a .index file atomically. */
int bert_tfrecord_index_write(const char *index_path, const bert_tfrecord_index *idx, bert_error *err);
void bert_tfrecord_index_free(bert_tfrecord_index *idx);
/* Random access: reads record i of the file the reader has open, as listed in idx. */
int bert_tfrecord_read_at(bert_tfrecord_reader *r, const bert_tfrecord_index *idx, int64_t i,
                          const uint8_t **data, size_t *size, bert_error *err);

/* ---- writer (atomic: the file and its index appear under their names only on close) ---- */
typedef struct bert_tfrecord_writer {
  bert_atomic_file data;
  bert_atomic_file index;
  int with_index;
  uint64_t offset; /* bytes written so far */
  int64_t count;   /* records written so far */
  uint8_t *buf;    /* framing scratch */
  size_t cap;
} bert_tfrecord_writer;

/* Opens path for writing; with_index also writes path's .index file. */
int bert_tfrecord_writer_open(bert_tfrecord_writer *w, const char *path, int with_index, bert_error *err);
int bert_tfrecord_write(bert_tfrecord_writer *w, const void *payload, size_t n, bert_error *err);
/* Writes a record already framed by bert_tfrecord_frame (n includes the 16 framing bytes). */
int bert_tfrecord_write_framed(bert_tfrecord_writer *w, const void *framed, size_t n, bert_error *err);
/* Commits the data file and its index together (bert_atomic_publish: both or neither). */
int bert_tfrecord_writer_close(bert_tfrecord_writer *w, bert_error *err);
/* Flushes and fsyncs a writer's temporary files (removed on failure), which stay out of sight
 * until bert_tfrecord_writers_close; frees the writer's file handles meanwhile. */
int bert_tfrecord_writer_finish(bert_tfrecord_writer *w, bert_error *err);
/* Closes n writers (finished or not) together: every file and index appears, or none does and
 * the files they would have replaced are left as they were. */
int bert_tfrecord_writers_close(bert_tfrecord_writer *ws, size_t n, bert_error *err);
/* Drops everything written (temporary files removed). */
void bert_tfrecord_writer_abort(bert_tfrecord_writer *w);

#endif
