/* base/arena: one block sized once, handed out in 64-byte aligned pieces and reused every step
 * (reset, not freed), so the hot loop never allocates. */
#ifndef BERT_BASE_ARENA_H
#define BERT_BASE_ARENA_H

#include <stddef.h>

#include "base/error.h"

typedef struct bert_arena {
  char *base;
  size_t capacity;
  size_t used;
} bert_arena;

#define BERT_ALIGN 64

/* Rounds n up to the arena alignment: use it to size an arena from a list of pieces. */
size_t bert_align_up(size_t n);

int bert_arena_init(bert_arena *arena, size_t capacity, bert_error *err);
void bert_arena_free(bert_arena *arena);
/* Returns an aligned, uninitialised piece, or NULL when the arena is full (a sizing bug). */
void *bert_arena_alloc(bert_arena *arena, size_t bytes);
void bert_arena_reset(bert_arena *arena);

/* Aligned heap allocation for the big long-lived buffers (parameters, gradients, moments). */
void *bert_aligned_alloc(size_t bytes);
void bert_aligned_free(void *p);

#endif
