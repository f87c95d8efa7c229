#include "serve/stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/infer_request.h"

uint64_t bert_serve_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of bert_seconds, exact to the nanosecond */
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int bert_serve_stats_init(bert_serve_stats *s, int max_batch, bert_error *err) {
  memset(s, 0, sizeof *s);
  s->max_batch = max_batch > 0 ? max_batch : 1;
  if (!(s->by_batch = calloc((size_t)s->max_batch + 1, sizeof *s->by_batch)))
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  pthread_mutex_init(&s->lock, NULL);
  return BERT_OK;
}

void bert_serve_stats_free(bert_serve_stats *s) {
  if (!s->by_batch) return;
  pthread_mutex_destroy(&s->lock);
  free(s->by_batch);
  memset(s, 0, sizeof *s);
}

static void add(bert_serve_duration *d, uint64_t ns) { d->count++, d->ns += ns; }

void bert_serve_stats_request(bert_serve_stats *s, const bert_serve_request *r, int success, uint64_t total_ns) {
  pthread_mutex_lock(&s->lock);
  if (!success) {
    add(&s->fail, total_ns);
  } else {
    add(&s->success, total_ns);
    add(&s->queue, r->queue_ns);
    add(&s->compute_input, r->compute_input_ns);
    add(&s->compute_infer, r->compute_infer_ns);
    add(&s->compute_output, r->compute_output_ns);
    s->inference_count += (uint64_t)r->batch;
    s->last_inference_ms = epoch_ms();
  }
  pthread_mutex_unlock(&s->lock);
}

void bert_serve_stats_execution(bert_serve_stats *s, int batch_size, const bert_serve_exec_info *info) {
  pthread_mutex_lock(&s->lock);
  s->execution_count++;
  if (batch_size > s->max_batch) batch_size = s->max_batch;
  bert_serve_batch_stat *b = &s->by_batch[batch_size];
  add(&b->compute_input, info->compute_input_ns);
  add(&b->compute_infer, info->compute_infer_ns);
  add(&b->compute_output, info->compute_output_ns);
  s->tokens_real += (uint64_t)info->tokens_real;
  s->tokens_computed += (uint64_t)info->tokens_computed;
  pthread_mutex_unlock(&s->lock);
}

void bert_serve_stats_pending(bert_serve_stats *s, int delta) {
  pthread_mutex_lock(&s->lock);
  s->pending += delta;
  pthread_mutex_unlock(&s->lock);
}

int bert_serve_stats_copy(bert_serve_stats *dst, bert_serve_stats *src, bert_error *err) {
  size_t bytes = ((size_t)src->max_batch + 1) * sizeof *src->by_batch;
  bert_serve_batch_stat *by = malloc(bytes);
  if (!by) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  pthread_mutex_lock(&src->lock);
  *dst = *src;
  memcpy(by, src->by_batch, bytes);
  pthread_mutex_unlock(&src->lock);
  dst->by_batch = by;
  return BERT_OK;
}

void bert_serve_stats_free_copy(bert_serve_stats *copy) {
  free(copy->by_batch);
  copy->by_batch = NULL;
}

static void duration_json(bert_strbuf *out, const char *key, const bert_serve_duration *d, int comma) {
  bert_strbuf_printf(out, "%s\"%s\":{\"count\":%llu,\"ns\":%llu}", comma ? "," : "", key, (unsigned long long)d->count,
                     (unsigned long long)d->ns);
}

void bert_serve_stats_json(bert_strbuf *out, const char *name, const char *version, const bert_serve_stats *s) {
  static const bert_serve_duration zero = {0, 0};
  bert_strbuf_puts(out, "{\"name\":");
  bert_serve_json_string(out, name, strlen(name));
  bert_strbuf_puts(out, ",\"version\":");
  bert_serve_json_string(out, version, strlen(version));
  bert_strbuf_printf(out, ",\"last_inference\":%llu,\"inference_count\":%llu,\"execution_count\":%llu,\"inference_stats\":{",
                     (unsigned long long)s->last_inference_ms, (unsigned long long)s->inference_count,
                     (unsigned long long)s->execution_count);
  duration_json(out, "success", &s->success, 0);
  duration_json(out, "fail", &s->fail, 1);
  duration_json(out, "queue", &s->queue, 1);
  duration_json(out, "compute_input", &s->compute_input, 1);
  duration_json(out, "compute_infer", &s->compute_infer, 1);
  duration_json(out, "compute_output", &s->compute_output, 1);
  duration_json(out, "cache_hit", &zero, 1);
  duration_json(out, "cache_miss", &zero, 1);
  bert_strbuf_puts(out, "},\"batch_stats\":[");
  int first = 1;
  for (int b = 1; b <= s->max_batch; b++) {
    const bert_serve_batch_stat *st = &s->by_batch[b];
    if (!st->compute_infer.count) continue;
    bert_strbuf_printf(out, "%s{\"batch_size\":%d", first ? "" : ",", b);
    duration_json(out, "compute_input", &st->compute_input, 1);
    duration_json(out, "compute_infer", &st->compute_infer, 1);
    duration_json(out, "compute_output", &st->compute_output, 1);
    bert_strbuf_append(out, "}", 1);
    first = 0;
  }
  bert_strbuf_puts(out, "],\"memory_usage\":[]}");
}
