#include "base/progress.h"

#include "base/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void bert_progress_init(bert_progress *p, const char *label, uint64_t total, const char *unit, double scale,
                        int enabled) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
  p->scale = scale > 0 ? scale : 1.0;
  p->total = total;
  p->enabled = enabled < 0 ? isatty(STDERR_FILENO) : enabled;
  p->start = bert_seconds();
}

static void draw(const bert_progress *p, double now) {
  double elapsed = now - p->start, done = (double)p->done / p->scale;
  double rate = elapsed > 0 ? done / elapsed : 0;
  if (p->total) {
    double frac = (double)p->done / (double)p->total;
    if (frac > 1) frac = 1;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    double eta = rate > 0 ? ((double)p->total / p->scale - done) / rate : 0;
    fprintf(stderr, "\r%s [%s] %5.1f%% %.1f/%.1f %s, %.1f %s/s, ETA %.0fs ", p->label, bar, 100 * frac, done,
            (double)p->total / p->scale, p->unit, rate, p->unit, eta);
  } else {
    fprintf(stderr, "\r%s %.1f %s, %.1f %s/s ", p->label, done, p->unit, rate, p->unit);
  }
  fflush(stderr);
}

void bert_progress_set(bert_progress *p, uint64_t done) {
  p->done = done;
  if (!p->enabled) return;
  double now = bert_seconds();
  if (now - p->last_draw < 0.1) return;
  p->last_draw = now;
  draw(p, now);
}

void bert_progress_add(bert_progress *p, uint64_t delta) { bert_progress_set(p, p->done + delta); }

void bert_progress_finish(bert_progress *p) {
  if (!p->enabled) return;
  draw(p, bert_seconds());
  fputc('\n', stderr);
}
