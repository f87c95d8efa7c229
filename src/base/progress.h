/* base/progress: a one-line progress bar on stderr, drawn only when stderr is a terminal, redrawn
 * at most ten times a second so it costs nothing in hot loops. Not thread-safe: update it from
 * one thread. */
#ifndef BERT_BASE_PROGRESS_H
#define BERT_BASE_PROGRESS_H

#include <stdint.h>

typedef struct bert_progress {
  char label[64];
  char unit[16];   /* e.g. "MB"; values are divided by `scale` for display */
  double scale;
  uint64_t total;  /* 0 = unknown: show the count and rate only */
  uint64_t done;
  int enabled;
  double start;     /* seconds, monotonic */
  double last_draw;
} bert_progress;

/* enabled: 1 on, 0 off, -1 on when stderr is a terminal. */
void bert_progress_init(bert_progress *p, const char *label, uint64_t total, const char *unit, double scale,
                        int enabled);
void bert_progress_set(bert_progress *p, uint64_t done);
void bert_progress_add(bert_progress *p, uint64_t delta);
/* Draws the final state and ends the line. */
void bert_progress_finish(bert_progress *p);

#endif
