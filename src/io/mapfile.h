/* io/mapfile: a whole file mapped read-only into memory, so that multi-gigabyte checkpoints are
 * read without a private copy (the page cache holds the bytes once). An empty file maps to
 * (NULL, 0). Readers never write through the mapping. */
#ifndef BERT_IO_MAPFILE_H
#define BERT_IO_MAPFILE_H

#include <stddef.h>

#include "base/error.h"

int bert_map_file(const char *path, const unsigned char **data, size_t *size, bert_error *err);
void bert_unmap_file(const unsigned char *data, size_t size);

#endif
