/* tests/fuzz/harness: what the libFuzzer targets share — the input as a file for the parsers that
 * only read paths, repository files for fixed inputs, and a fixed small model config. */
#ifndef BERT_FUZZ_HARNESS_H
#define BERT_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "serve/model_config.h"

/* A path ("/proc/self/fd/N") to an in-memory file holding exactly data[0, size); the same file is
 * rewritten by the next call (slot 0 or 1: two files at once). */
const char *fuzz_file(int slot, const uint8_t *data, size_t size);
/* Returns rc; when it is an error and FUZZ_VERBOSE is set, prints the message first (why a seed or
 * reproducer is refused). */
int fuzz_check(int rc, const bert_error *err);
/* A copy of data[0, size) with a NUL after it (malloc'ed: ASan sees any read past the end). */
char *fuzz_string(const uint8_t *data, size_t size);
/* Reads a file of the repository (path relative to its root) whole; aborts when it cannot. */
char *fuzz_repo_file(const char *rel, size_t *size);
/* Fixed models for the v2 codec (parsed once; abort on failure): FUZZ_MODEL_TYPES has ten inputs
 * of every element kind, batching, a variable dimension and optional inputs; FUZZ_MODEL_SINGLE
 * one input (what a raw binary request needs) and no batch dimension. */
enum { FUZZ_MODEL_TYPES, FUZZ_MODEL_SINGLE, FUZZ_MODELS };
const bert_serve_model_config *fuzz_serve_config(int which);

#endif
