#include "base/arena.h"

#include <stdlib.h>

size_t bert_align_up(size_t n) { return (n + BERT_ALIGN - 1) & ~(size_t)(BERT_ALIGN - 1); }

void *bert_aligned_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, BERT_ALIGN, bert_align_up(bytes ? bytes : 1)) != 0) return NULL;
  return p;
}

void bert_aligned_free(void *p) { free(p); }

int bert_arena_init(bert_arena *arena, size_t capacity, bert_error *err) {
  arena->used = 0;
  arena->capacity = bert_align_up(capacity);
  arena->base = bert_aligned_alloc(arena->capacity);
  if (!arena->base)
    return bert_error_set(err, BERT_ENOMEM, "cannot allocate a %zu-byte arena", arena->capacity);
  return BERT_OK;
}

void bert_arena_free(bert_arena *arena) {
  bert_aligned_free(arena->base);
  arena->base = NULL;
  arena->capacity = arena->used = 0;
}

void *bert_arena_alloc(bert_arena *arena, size_t bytes) {
  size_t size = bert_align_up(bytes);
  if (arena->used + size > arena->capacity) return NULL;
  void *p = arena->base + arena->used;
  arena->used += size;
  return p;
}

void bert_arena_reset(bert_arena *arena) { arena->used = 0; }
