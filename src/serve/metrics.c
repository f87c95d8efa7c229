#include "serve/metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the aggregate "cpu" line of /proc/stat: busy and total jiffies. */
static int read_cpu(uint64_t *busy, uint64_t *total) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 4) return 0;
  *total = 0;
  for (int i = 0; i < 8; i++) *total += v[i];
  *busy = *total - v[3] - v[4]; /* minus idle and iowait */
  return 1;
}

/* A "Key: N kB" line of a /proc file, in bytes; 0 when absent. */
static uint64_t proc_kb(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  size_t k = strlen(key);
  uint64_t v = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, k) && line[k] == ':') {
      v = (uint64_t)strtoull(line + k + 1, NULL, 10) * 1024u;
      break;
    }
  fclose(f);
  return v;
}

void bert_serve_cpu_sampler_init(bert_serve_cpu_sampler *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
  read_cpu(&s->busy, &s->total);
}

void bert_serve_cpu_sampler_free(bert_serve_cpu_sampler *s) { pthread_mutex_destroy(&s->lock); }

static double cpu_utilization(bert_serve_cpu_sampler *s) {
  uint64_t busy, total;
  if (!read_cpu(&busy, &total)) return 0.0;
  pthread_mutex_lock(&s->lock);
  double u = total > s->total ? (double)(busy - s->busy) / (double)(total - s->total) : 0.0;
  s->busy = busy, s->total = total;
  pthread_mutex_unlock(&s->lock);
  return u;
}

static void family(bert_strbuf *out, const char *name, const char *type, const char *help) {
  bert_strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with Prometheus' escapes (backslash, quote, newline). */
static void label_value(bert_strbuf *out, const char *v) {
  for (; *v; v++) {
    if (*v == '\\' || *v == '"') bert_strbuf_append(out, "\\", 1);
    if (*v == '\n') bert_strbuf_append(out, "\\n", 2);
    else bert_strbuf_append(out, v, 1);
  }
}

/* name{model="m",version="v"[,le="x"]} */
static void series(bert_strbuf *out, const char *name, const bert_serve_metrics_model *m, const char *le) {
  bert_strbuf_printf(out, "%s{model=\"", name);
  label_value(out, m->name);
  bert_strbuf_puts(out, "\",version=\"");
  label_value(out, m->version);
  if (le) bert_strbuf_printf(out, "\",le=\"%s", le);
  bert_strbuf_puts(out, "\"}");
}

static void sample(bert_strbuf *out, const char *name, const bert_serve_metrics_model *m, uint64_t v) {
  series(out, name, m, NULL);
  bert_strbuf_printf(out, " %" PRIu64 "\n", v);
}

typedef struct counter_def {
  const char *name, *type, *help;
  size_t offset;       /* of a uint64_t in bert_serve_stats, or of a duration's ns */
  int is_duration;     /* value in ns, reported in us */
} counter_def;

static const counter_def counters[] = {
    {"nv_inference_request_success", "counter", "Number of successful inference requests, all batch sizes",
     offsetof(bert_serve_stats, success.count), 0},
    {"nv_inference_request_failure", "counter", "Number of failed inference requests, all batch sizes",
     offsetof(bert_serve_stats, fail.count), 0},
    {"nv_inference_count", "counter", "Number of inferences performed (a request of batch n counts n)",
     offsetof(bert_serve_stats, inference_count), 0},
    {"nv_inference_exec_count", "counter", "Number of model executions performed (batches)",
     offsetof(bert_serve_stats, execution_count), 0},
    {"nv_inference_queue_duration_us", "counter", "Cumulative inference queuing duration in microseconds",
     offsetof(bert_serve_stats, queue.ns), 1},
    {"nv_inference_compute_input_duration_us", "counter", "Cumulative compute input duration in microseconds",
     offsetof(bert_serve_stats, compute_input.ns), 1},
    {"nv_inference_compute_infer_duration_us", "counter", "Cumulative compute inference duration in microseconds",
     offsetof(bert_serve_stats, compute_infer.ns), 1},
    {"nv_inference_compute_output_duration_us", "counter", "Cumulative inference compute output duration in microseconds",
     offsetof(bert_serve_stats, compute_output.ns), 1},
    {"bertc_tokens_real_total", "counter", "Tokens the executed requests carried (attention mask 1)",
     offsetof(bert_serve_stats, tokens_real), 0},
    {"bertc_tokens_computed_total", "counter", "Token positions the model computed, padding included",
     offsetof(bert_serve_stats, tokens_computed), 0},
};

static uint64_t field(const bert_serve_stats *s, size_t offset) {
  uint64_t v;
  memcpy(&v, (const char *)s + offset, sizeof v);
  return v;
}

/* Executions by batch size as a cumulative histogram over powers of two. */
static void batch_histogram(bert_strbuf *out, const bert_serve_metrics_model *m, const bert_serve_stats *s) {
  uint64_t below = 0, sum = 0;
  int next = 1;
  for (int b = 1; b <= s->max_batch; b++) {
    uint64_t c = s->by_batch[b].compute_infer.count;
    below += c, sum += c * (uint64_t)b;
    if (b == next || b == s->max_batch) {
      char le[24];
      snprintf(le, sizeof le, "%d", b);
      series(out, "bertc_batch_size_bucket", m, le);
      bert_strbuf_printf(out, " %" PRIu64 "\n", below);
      while (next <= b) next *= 2;
    }
  }
  series(out, "bertc_batch_size_bucket", m, "+Inf");
  bert_strbuf_printf(out, " %" PRIu64 "\n", below);
  sample(out, "bertc_batch_size_sum", m, sum);
  sample(out, "bertc_batch_size_count", m, below);
}

static void model_metrics(bert_strbuf *out, const bert_serve_metrics_model *models, const bert_serve_stats *copies, int n) {
  for (size_t k = 0; k < sizeof counters / sizeof counters[0]; k++) {
    family(out, counters[k].name, counters[k].type, counters[k].help);
    for (int i = 0; i < n; i++) {
      uint64_t v = field(&copies[i], counters[k].offset);
      sample(out, counters[k].name, &models[i], counters[k].is_duration ? v / 1000u : v);
    }
  }
  family(out, "nv_inference_request_duration_us", "counter", "Cumulative inference request duration in microseconds");
  for (int i = 0; i < n; i++) sample(out, "nv_inference_request_duration_us", &models[i], (copies[i].success.ns + copies[i].fail.ns) / 1000u);
  family(out, "nv_inference_pending_request_count", "gauge", "Instantaneous number of pending requests awaiting execution");
  for (int i = 0; i < n; i++) sample(out, "nv_inference_pending_request_count", &models[i], (uint64_t)(copies[i].pending > 0 ? copies[i].pending : 0));
  family(out, "bertc_batch_size", "histogram", "Rows per model execution");
  for (int i = 0; i < n; i++) batch_histogram(out, &models[i], &copies[i]);
}

static void machine_metrics(bert_strbuf *out, bert_serve_cpu_sampler *cpu) {
  uint64_t total = proc_kb("/proc/meminfo", "MemTotal"), avail = proc_kb("/proc/meminfo", "MemAvailable");
  family(out, "nv_cpu_utilization", "gauge", "CPU utilization rate [0.0 - 1.0]");
  bert_strbuf_printf(out, "nv_cpu_utilization %.6f\n", cpu_utilization(cpu));
  family(out, "nv_cpu_memory_total_bytes", "gauge", "CPU total memory (RAM), in bytes");
  bert_strbuf_printf(out, "nv_cpu_memory_total_bytes %" PRIu64 "\n", total);
  family(out, "nv_cpu_memory_used_bytes", "gauge", "CPU used memory (RAM), in bytes");
  bert_strbuf_printf(out, "nv_cpu_memory_used_bytes %" PRIu64 "\n", total > avail ? total - avail : 0);
  family(out, "process_resident_memory_bytes", "gauge", "Resident memory size of the server process in bytes");
  bert_strbuf_printf(out, "process_resident_memory_bytes %" PRIu64 "\n", proc_kb("/proc/self/status", "VmRSS"));
}

void bert_serve_metrics_render(bert_strbuf *out, const bert_serve_metrics_model *models, int n,
                               bert_serve_cpu_sampler *cpu) {
  bert_serve_stats *copies = calloc((size_t)(n > 0 ? n : 1), sizeof *copies);
  int ok = 0;
  for (; copies && ok < n; ok++)
    if (bert_serve_stats_copy(&copies[ok], models[ok].stats, NULL)) break;
  if (copies) model_metrics(out, models, copies, ok);
  machine_metrics(out, cpu);
  for (int i = 0; i < ok; i++) bert_serve_stats_free_copy(&copies[i]);
  free(copies);
}
