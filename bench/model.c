/* bench/model: speed of the BERT model (issue 2, "Speed").
 *
 * For BERT-base (12 x 768, 12 heads, FFN 3072, vocab 30522) and demo_tiny_128 (3 x 64, 8 heads,
 * FFN 256, vocab 30522), sequence length 128, in fp32 and bf16:
 *   - inference sequences/s at batch 1 and 8 (encoder + pooler, BERT_TASK_BASE, dropout off);
 *   - training-step sequences/s at micro-batch 8 (zero grads + forward + backward of MLM at 20
 *     gathered positions + NSP, BERT_TASK_PRETRAINING, dropout on; no optimizer);
 *   - achieved GFLOP/s from an analytic count of the matrix products (2·m·n·k each, attention
 *     included; backward = 2 x forward) and its fraction of this machine's GEMM peak, measured in
 *     the same run with a big oneDNN product through bert_linear_forward;
 *   - the peak RSS of a BERT-base fp32 training step at micro-batch 8 followed by an AdamW update
 *     (train/optimizer: two moment buffers), measured in a forked child so nothing else counts.
 * Every oneDNN execution is timed by interposing dnnl_primitive_execute (defined below; the
 * library's gemm.c calls resolve to it, the real one is found with dlsym(RTLD_NEXT)), so each
 * workload also reports the share of its time spent inside oneDNN products; --profile adds the
 * products by shape and micro-benchmarks of the other kernels at the model's sizes.
 * Lines starting with "RESULT " are read by bench/model_report.py (bench/model.sh). */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>

#include "base/arena.h"
#include "base/rng.h"
#include "model/model.h"
#include "tensor/activation.h"
#include "tensor/cross_entropy.h"
#include "tensor/dropout.h"
#include "tensor/embedding.h"
#include "tensor/gemm.h"
#include "tensor/layernorm.h"
#include "tensor/quantize.h"
#include "tensor/softmax.h"
#include "train/optimizer.h"

#define SEQ_LEN 128
#define MASKED 20
#define MAX_BATCH 8

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------
 * oneDNN execution timer (interposes dnnl_primitive_execute). */

typedef struct gemm_key {
  int64_t batch, m, n, k;
  int dtype;
  char impl[32]; /* oneDNN's implementation name (copied: the primitive may go away) */
} gemm_key;

typedef struct gemm_stat {
  gemm_key key;
  long calls;
  double seconds, flops;
} gemm_stat;

#define MAX_STATS 512
static struct {
  int on;
  long calls;
  double seconds, flops;
  int nstats;
  gemm_stat stats[MAX_STATS];
} g_prof;

typedef dnnl_status_t (*exec_fn)(const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t *);

static void prof_reset(void) {
  g_prof.calls = 0;
  g_prof.seconds = g_prof.flops = 0;
  g_prof.nstats = 0;
}

static void prof_record(const_dnnl_primitive_t prim, double dt) {
  gemm_key key = {1, 0, 0, 0, 0, "?"};
  const_dnnl_primitive_desc_t pd = NULL;
  double flops = 0;
  if (dnnl_primitive_get_primitive_desc(prim, &pd) == dnnl_success && pd) {
    dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
    dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &kind);
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&impl) == dnnl_success && impl)
      snprintf(key.impl, sizeof key.impl, "%s", impl);
    const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (kind == dnnl_matmul && src && wei && src->ndims >= 2) {
      int nd = src->ndims;
      for (int i = 0; i < nd - 2; i++) key.batch *= src->dims[i];
      key.m = src->dims[nd - 2];
      key.k = src->dims[nd - 1];
      key.n = wei->dims[wei->ndims - 1];
      key.dtype = (int)src->data_type;
      flops = 2.0 * (double)key.batch * (double)key.m * (double)key.n * (double)key.k;
    }
  }
  g_prof.calls++;
  g_prof.seconds += dt;
  g_prof.flops += flops;
  for (int i = 0; i < g_prof.nstats; i++) {
    gemm_stat *s = &g_prof.stats[i];
    if (s->key.batch == key.batch && s->key.m == key.m && s->key.n == key.n && s->key.k == key.k &&
        s->key.dtype == key.dtype && strcmp(s->key.impl, key.impl) == 0) {
      s->calls++, s->seconds += dt, s->flops += flops;
      return;
    }
  }
  if (g_prof.nstats < MAX_STATS) g_prof.stats[g_prof.nstats++] = (gemm_stat){key, 1, dt, flops};
}

dnnl_status_t dnnl_primitive_execute(const_dnnl_primitive_t prim, dnnl_stream_t stream, int nargs,
                                     const dnnl_exec_arg_t *args) {
  static exec_fn real;
  if (!real) {
    void *sym = dlsym(RTLD_NEXT, "dnnl_primitive_execute");
    if (!sym) {
      fprintf(stderr, "bench_model: cannot find oneDNN's dnnl_primitive_execute\n");
      abort();
    }
    memcpy(&real, &sym, sizeof real);
  }
  if (!g_prof.on) return real(prim, stream, nargs, args);
  /* On the CPU engine with the OpenMP runtime, execution is synchronous. */
  double t0 = now_s();
  dnnl_status_t st = real(prim, stream, nargs, args);
  prof_record(prim, now_s() - t0);
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Options, machine. */

enum { MODEL_BASE = 1, MODEL_TINY = 2 };
enum { PREC_FP32 = 1, PREC_BF16 = 2, PREC_INT8 = 4, PREC_ALL = 7, NPREC = 3 };
static const bert_precision PREC_OF[NPREC] = {BERT_FP32, BERT_BF16, BERT_INT8}; /* index = bit of PREC_* */

typedef struct opts {
  int threads, quick, iters, models, precisions, memory, profile;
  double budget; /* seconds of timed iterations per workload, at least one iteration runs */
} opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_model [--threads N] [--quick] [--model base|tiny|all] [--precision fp32|bf16|int8|all]\n"
          "                   [--iters N] [--budget SECONDS] [--no-memory] [--profile]\n"
          "  --threads N     OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --quick         fewer iterations, smaller time budget\n"
          "  --iters N       timed iterations of every workload (after warm-up)\n"
          "  --budget S      stop timing a workload after S seconds (default 40, quick 12)\n"
          "  --no-memory     skip the BERT-base training peak-memory probe\n"
          "  --profile       oneDNN products by shape + micro-benchmarks of the other kernels\n");
}

static int parse_opts(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  o->models = MODEL_BASE | MODEL_TINY;
  o->precisions = PREC_ALL;
  o->memory = 1;
  o->budget = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--threads") && v) o->threads = atoi(v), i++;
    else if (!strcmp(a, "--iters") && v) o->iters = atoi(v), i++;
    else if (!strcmp(a, "--budget") && v) o->budget = atof(v), i++;
    else if (!strcmp(a, "--quick")) o->quick = 1;
    else if (!strcmp(a, "--no-memory")) o->memory = 0;
    else if (!strcmp(a, "--profile")) o->profile = 1;
    else if (!strcmp(a, "--model") && v) {
      o->models = !strcmp(v, "base") ? MODEL_BASE : !strcmp(v, "tiny") ? MODEL_TINY : !strcmp(v, "all") ? 3 : 0;
      if (!o->models) return fprintf(stderr, "bench_model: unknown model '%s'\n", v), -1;
      i++;
    } else if (!strcmp(a, "--precision") && v) {
      o->precisions = !strcmp(v, "fp32")   ? PREC_FP32
                      : !strcmp(v, "bf16") ? PREC_BF16
                      : !strcmp(v, "int8") ? PREC_INT8
                      : !strcmp(v, "all")  ? PREC_ALL
                                           : 0;
      if (!o->precisions) return fprintf(stderr, "bench_model: unknown precision '%s'\n", v), -1;
      i++;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    } else {
      fprintf(stderr, "bench_model: unknown or incomplete option '%s'\n", a);
      usage(stderr);
      return -1;
    }
  }
  if (o->threads < 0 || o->iters < 0) return fprintf(stderr, "bench_model: negative count\n"), -1;
  if (o->budget < 0) o->budget = o->quick ? 12.0 : 40.0;
  return 0;
}

typedef struct machine {
  char cpu[128];
  double mhz;
  int cores, flops_per_cycle;
} machine;

static void read_machine(machine *mc) {
  memset(mc, 0, sizeof *mc);
  snprintf(mc->cpu, sizeof mc->cpu, "unknown CPU");
  mc->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  mc->flops_per_cycle = 32; /* 2 x 256-bit FMA units x 8 floats x 2 */
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[4096];
  int have_name = 0, have_mhz = 0, have_flags = 0;
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    char *val = colon + 1;
    while (*val == ' ' || *val == '\t') val++;
    val[strcspn(val, "\n")] = 0;
    if (!have_name && !strncmp(line, "model name", 10)) snprintf(mc->cpu, sizeof mc->cpu, "%s", val), have_name = 1;
    else if (!have_mhz && !strncmp(line, "cpu MHz", 7)) mc->mhz = atof(val), have_mhz = 1;
    else if (!have_flags && !strncmp(line, "flags", 5)) {
      have_flags = 1;
      if (strstr(val, " avx512f")) mc->flops_per_cycle = 64;
      else if (!strstr(val, " fma")) mc->flops_per_cycle = 16;
    }
  }
  fclose(f);
}

static double peak_theoretical(const machine *mc, int threads) {
  int c = threads < mc->cores ? threads : mc->cores;
  return mc->mhz > 0 ? c * mc->mhz * 1e-3 * mc->flops_per_cycle : 0;
}

static long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, n) && line[n] == ':') {
      kb = atol(line + n + 1);
      break;
    }
  fclose(f);
  return kb;
}

/* How busy the machine was with other work while we measured: the CPU time of every process
 * (/proc/stat, steal included) minus ours (getrusage), over the machine's CPU time. */
typedef struct cpu_snap {
  double busy, total, self;
} cpu_snap;

static void cpu_snap_take(cpu_snap *s) {
  memset(s, 0, sizeof *s);
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (f) {
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
               &v[7]) != 8)
      memset(v, 0, sizeof v);
    fclose(f);
  }
  double hz = (double)sysconf(_SC_CLK_TCK);
  unsigned long long total = 0;
  for (int i = 0; i < 8; i++) total += v[i];
  s->total = total / hz;
  s->busy = (total - v[3] - v[4]) / hz; /* minus idle and iowait */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  s->self = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Fraction of the machine's CPU time used by others between two snapshots (0 when unknown). */
static double cpu_others(const cpu_snap *a, const cpu_snap *b) {
  double total = b->total - a->total;
  if (total <= 0) return 0;
  double others = (b->busy - a->busy) - (b->self - a->self);
  others /= total;
  return others < 0 ? 0 : others > 1 ? 1 : others;
}

/* ---------------------------------------------------------------------------------------------
 * Models, inputs, FLOP counts. */

static void config_for(int model, bert_config *c) {
  bert_config_defaults(c); /* BERT-base; dropout 0.1 */
  if (model == MODEL_TINY) {
    c->num_hidden_layers = 3;
    c->hidden_size = 64;
    c->num_attention_heads = 8;
    c->intermediate_size = 256;
  }
}

static const char *model_name(int model) { return model == MODEL_BASE ? "base" : "tiny"; }
static const char *model_title(int model) { return model == MODEL_BASE ? "BERT-base" : "demo_tiny_128"; }
static const char *prec_name(bert_precision p) { return bert_precision_name(p); }

/* Analytic count of one sequence's matrix products in the forward pass (2·m·n·k each):
 * per layer QKV 2·L·H·3H, attention output 2·L·H·H, FFN 2·(2·L·H·I), scores Q·Kᵀ 2·L·L·H and
 * context P·V 2·L·L·H; pooler 2·H·H; pretraining adds NSP 2·H·2 and the MLM head on M gathered
 * positions M·(2·H·H + 2·H·V) (decoder tied to the word embeddings). Embedding lookups,
 * LayerNorm, softmax, GELU, dropout are not counted. Training = 3 x forward. */
static double forward_flops(const bert_config *c, int L, int pretraining, int M) {
  double H = c->hidden_size, I = c->intermediate_size, V = c->vocab_size, l = L;
  double layer = 2 * l * H * 3 * H + 2 * l * H * H + 2 * 2 * l * H * I + 2 * 2 * l * l * H;
  double total = c->num_hidden_layers * layer + 2 * H * H;
  if (pretraining) total += 2 * H * 2 + M * (2 * H * H + 2 * H * V);
  return total;
}

typedef struct inputs {
  int32_t ids[MAX_BATCH * SEQ_LEN], types[MAX_BATCH * SEQ_LEN];
  int32_t mpos[MAX_BATCH * MASKED], mlab[MAX_BATCH * MASKED], nsp[MAX_BATCH];
} inputs;

static void make_inputs(inputs *in, int vocab) {
  bert_rng r = bert_rng_make(1234, BERT_RNG_DATA, 0, 0);
  uint64_t k = 0;
  for (int b = 0; b < MAX_BATCH; b++) {
    for (int t = 0; t < SEQ_LEN; t++) {
      int i = b * SEQ_LEN + t;
      in->ids[i] = t == 0 ? 101 : t == SEQ_LEN - 1 ? 102 : 1000 + (int)(bert_rng_uniform(r, k++) * (vocab - 1000));
      in->types[i] = t >= SEQ_LEN / 2;
    }
    /* MASKED distinct positions in [1, L-1), spread over the sequence */
    int stride = (SEQ_LEN - 2) / MASKED;
    for (int j = 0; j < MASKED; j++) {
      in->mpos[b * MASKED + j] = 1 + j * stride + (int)(bert_rng_uniform(r, k++) * stride);
      in->mlab[b * MASKED + j] = 1000 + (int)(bert_rng_uniform(r, k++) * (vocab - 1000));
    }
    in->nsp[b] = bert_rng_uniform(r, k++) < 0.5f;
  }
}

static bert_batch make_batch(const inputs *in, int batch) {
  bert_batch b;
  memset(&b, 0, sizeof b);
  b.batch = batch;
  b.len = SEQ_LEN;
  b.input_ids = in->ids;
  b.token_type_ids = in->types;
  b.masked = MASKED;
  b.masked_positions = in->mpos;
  b.masked_labels = in->mlab;
  b.slots = 1;
  b.nsp_labels = in->nsp;
  return b;
}

static int model_build(int model, bert_model *m, bert_error *err) {
  bert_config cfg;
  config_for(model, &cfg);
  int rc = bert_model_create(m, &cfg, BERT_PARTS_PRETRAINING, err);
  bert_config_free(&cfg);
  if (rc) return rc;
  bert_layout_init(&m->layout, &m->config, 42, BERT_PART_ALL, m->params);
  return BERT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Timing. */

typedef struct step_ctx {
  bert_model *m;
  bert_workspace *ws;
  bert_batch batch;
  int train;
  uint64_t step;
} step_ctx;

static int run_step(step_ctx *s, bert_error *err) {
  bert_rng drop = bert_rng_make(7, BERT_RNG_DROPOUT, s->step++, 0);
  if (!s->train) return bert_model_forward(s->m, s->ws, &s->batch, 0, drop, err);
  bert_model_zero_grads(s->m);
  int rc = bert_model_forward(s->m, s->ws, &s->batch, 1, drop, err);
  if (!rc) rc = bert_model_backward(s->m, s->ws, &s->batch, 1.0f, err);
  if (!rc && !isfinite(s->ws->out.loss))
    rc = bert_error_set(err, BERT_ERANGE, "training step: loss is %g", (double)s->ws->out.loss);
  return rc;
}

typedef struct timing {
  double median, mean, min;
  int iters;
  double gemm_seconds, gemm_flops; /* per iteration, measured inside oneDNN */
  long gemm_calls;
  double others; /* fraction of the machine's CPU time other processes used meanwhile */
} timing;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median_of(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Warm-up (primitive creation, first touch) then up to `iters` timed steps within `budget`
 * seconds (at least one); oneDNN time is accumulated over the timed steps only. */
static int time_steps(step_ctx *s, int warmup, int iters, double budget, timing *t, bert_error *err) {
  int rc;
  for (int i = 0; i < warmup; i++)
    if ((rc = run_step(s, err))) return rc;
  double *v = calloc((size_t)iters, sizeof *v);
  if (!v) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  prof_reset();
  g_prof.on = 1;
  cpu_snap c0, c1;
  cpu_snap_take(&c0);
  double start = now_s(), sum = 0;
  int n = 0;
  while (n < iters) {
    double t0 = now_s();
    if ((rc = run_step(s, err))) break;
    v[n] = now_s() - t0;
    sum += v[n++];
    if (now_s() - start > budget) break;
  }
  g_prof.on = 0;
  cpu_snap_take(&c1);
  if (!rc) {
    t->others = cpu_others(&c0, &c1);
    t->iters = n;
    t->mean = sum / n;
    t->gemm_seconds = g_prof.seconds / n;
    t->gemm_flops = g_prof.flops / n;
    t->gemm_calls = g_prof.calls / n;
    t->median = median_of(v, n);
    t->min = v[0];
  }
  free(v);
  return rc;
}

/* ---------------------------------------------------------------------------------------------
 * GEMM peak. */

typedef struct peak {
  int ok;
  double gflops;     /* best of the shapes */
  int emulated;      /* bf16 products widened to f32 (no native bf16 kernel on this CPU) */
  int int8_max;      /* int8: the largest u8 activation (255, or 127 where products saturate) */
  char impl[64];
  char error[256];
} peak;

static int linear(bert_gemm_ctx *ctx, bert_precision p, int64_t rows, int64_t in, int64_t out, const void *x,
                  const void *w, const bert_int8_input *xq, const int8_t *wq, const float *wscale, const float *bias,
                  float *y, bert_error *err) {
  if (p == BERT_INT8) return bert_linear_forward_int8(ctx, rows, in, out, xq, wq, wscale, bias, BERT_POST_NONE, NULL, y, err);
  return bert_linear_forward(ctx, p, rows, in, out, x, w, bias, y, err);
}

static void measure_gemm_peak(bert_precision p, int iters, peak *out) {
  memset(out, 0, sizeof *out);
  bert_error err = {0};
  bert_gemm_ctx *ctx = NULL;
  /* BERT-base FFN shapes at micro-batch 8 x 128 tokens: [1024 x 768] · [768 x 3072] and back. */
  static const int64_t shapes[2][3] = {{1024, 768, 3072}, {1024, 3072, 768}}; /* rows, in, out */
  int64_t maxn = 1024 * 3072;
  float *x = malloc(sizeof(float) * maxn), *w = malloc(sizeof(float) * 3072 * 768);
  float *y = malloc(sizeof(float) * maxn), *bias = calloc(3072, sizeof(float));
  uint16_t *xb = malloc(sizeof(uint16_t) * maxn), *wb = malloc(sizeof(uint16_t) * 3072 * 768);
  uint8_t *xq = malloc((size_t)maxn);
  int8_t *wq = malloc(3072 * 768);
  float *wscale = malloc(sizeof(float) * 3072);
  if (!x || !w || !y || !bias || !xb || !wb || !xq || !wq || !wscale) {
    snprintf(out->error, sizeof out->error, "out of memory");
    goto done;
  }
  for (int64_t i = 0; i < maxn; i++) x[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (int64_t i = 0; i < 3072 * 768; i++) w[i] = (float)((i * 104729) % 1000) * 1e-5f - 0.005f;
  bert_to_bf16(x, xb, maxn);
  bert_to_bf16(w, wb, 3072 * 768);
  if (bert_gemm_ctx_create(&ctx, &err)) {
    snprintf(out->error, sizeof out->error, "%.250s", err.message);
    goto done;
  }
  const void *xa = p == BERT_BF16 ? (const void *)xb : x, *wa = p == BERT_BF16 ? (const void *)wb : w;
  for (int s = 0; s < 2; s++) {
    int64_t rows = shapes[s][0], in = shapes[s][1], o = shapes[s][2];
    bert_int8_input xin;
    if (p == BERT_INT8) {
      bert_quantize_activations(x, rows * in, bert_gemm_int8_activation_max(ctx), xq, &xin);
      bert_quantize_weights(w, o, in, wq, wscale);
    }
    double flops = 2.0 * rows * in * o, times[64];
    int n = iters < 64 ? iters : 64;
    for (int i = 0; i < 3; i++)
      if (linear(ctx, p, rows, in, o, xa, wa, &xin, wq, wscale, bias, y, &err)) {
        snprintf(out->error, sizeof out->error, "%.250s", err.message);
        goto done;
      }
    prof_reset();
    g_prof.on = 1;
    cpu_snap c0, c1;
    cpu_snap_take(&c0);
    for (int i = 0; i < n; i++) {
      double t0 = now_s();
      linear(ctx, p, rows, in, o, xa, wa, &xin, wq, wscale, bias, y, &err);
      times[i] = now_s() - t0;
    }
    g_prof.on = 0;
    cpu_snap_take(&c1);
    double g = flops / median_of(times, n) * 1e-9;
    printf("  oneDNN %s GEMM %lld x %lld x %lld (m x n x k, bias): %7.1f GFLOP/s  [impl %s; others %.0f%%]\n",
           prec_name(p), (long long)rows, (long long)o, (long long)in, g,
           g_prof.nstats ? g_prof.stats[0].key.impl : "?", 100 * cpu_others(&c0, &c1));
    if (g > out->gflops) {
      out->gflops = g;
      snprintf(out->impl, sizeof out->impl, "%s", g_prof.nstats ? g_prof.stats[0].key.impl : "?");
    }
  }
  out->ok = 1;
  out->emulated = p == BERT_BF16 && !bert_gemm_bf16_native(ctx);
  if (out->emulated)
    printf("  bf16: no native bf16 kernel on this CPU: operands are widened to f32 and multiplied in f32 (emulated)\n");
  if (p == BERT_INT8) out->int8_max = bert_gemm_int8_activation_max(ctx);
  if (p == BERT_INT8)
    printf("  int8: u8 activations up to %d (%s)\n", bert_gemm_int8_activation_max(ctx),
           bert_gemm_int8_activation_max(ctx) == 255 ? "exact 8-bit products: VNNI or AMX"
                                                     : "7 bits: this CPU's u8 x s8 multiply-add saturates 16-bit pairs");
done:
  bert_gemm_ctx_destroy(ctx);
  free(x), free(w), free(y), free(bias), free(xb), free(wb), free(xq), free(wq), free(wscale);
}

/* ---------------------------------------------------------------------------------------------
 * Peak memory of a BERT-base fp32 training step (forked child). */

typedef struct mem_result {
  int ok;
  long base_kb, hwm_kb, rss_kb;
  double params_mb, grads_mb, moments_mb, arena_mb, step_s, opt_s;
  char error[256];
} mem_result;

static void memory_child(mem_result *r) {
  bert_error err = {0};
  bert_model m;
  bert_workspace ws;
  bert_optimizer opt;
  bert_optimizer_config oc;
  r->base_kb = status_kb("VmRSS");
  if (model_build(MODEL_BASE, &m, &err)) goto fail;
  if (bert_model_enable_grads(&m, &err)) goto fail;
  bert_optimizer_config_defaults(&oc); /* AdamW, fp32 moments */
  if (bert_optimizer_create(&opt, &m.layout, &oc, &err)) goto fail;
  if (bert_workspace_create(&ws, &m, BERT_TASK_PRETRAINING, MAX_BATCH, SEQ_LEN, MASKED, 1, 1, &err)) goto fail;
  inputs *in = malloc(sizeof *in);
  make_inputs(in, m.config.vocab_size);
  step_ctx s = {&m, &ws, make_batch(in, MAX_BATCH), 1, 0};
  for (int t = 1; t <= 2; t++) {
    double t0 = now_s();
    if (run_step(&s, &err)) goto fail;
    double t1 = now_s();
    bert_optimizer_step(&opt, m.params, m.grads, 1.0f, 1e-4f);
    r->step_s = t1 - t0;
    r->opt_s = now_s() - t1;
  }
  r->hwm_kb = status_kb("VmHWM");
  r->rss_kb = status_kb("VmRSS");
  r->params_mb = r->grads_mb = m.layout.total * 4.0 / 1048576;
  r->moments_mb = opt.state_bytes / 1048576.0;
  r->arena_mb = ws.arena.capacity / 1048576.0;
  r->ok = 1;
  return;
fail:
  snprintf(r->error, sizeof r->error, "%.250s", err.message);
}

static void measure_memory(int threads, mem_result *r) {
  memset(r, 0, sizeof *r);
  int fd[2];
  if (pipe(fd)) {
    snprintf(r->error, sizeof r->error, "pipe: %s", strerror(errno));
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(r->error, sizeof r->error, "fork: %s", strerror(errno));
    close(fd[0]), close(fd[1]);
    return;
  }
  if (pid == 0) {
    close(fd[0]);
    omp_set_num_threads(threads);
    mem_result c;
    memset(&c, 0, sizeof c);
    memory_child(&c);
    ssize_t w = write(fd[1], &c, sizeof c);
    _exit(w == (ssize_t)sizeof c ? 0 : 1);
  }
  close(fd[1]);
  ssize_t got = 0;
  while (got < (ssize_t)sizeof *r) {
    ssize_t k = read(fd[0], (char *)r + got, sizeof *r - (size_t)got);
    if (k <= 0) break;
    got += k;
  }
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != (ssize_t)sizeof *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->error, sizeof r->error, "the measuring child died (status %d)", status);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Profile: oneDNN products by shape, micro-benchmarks of the other kernels. */

static void print_gemm_table(double per, const char *what) {
  /* sort stats by time, descending */
  for (int i = 0; i < g_prof.nstats; i++)
    for (int j = i + 1; j < g_prof.nstats; j++)
      if (g_prof.stats[j].seconds > g_prof.stats[i].seconds) {
        gemm_stat t = g_prof.stats[i];
        g_prof.stats[i] = g_prof.stats[j];
        g_prof.stats[j] = t;
      }
  printf("    oneDNN products of one %s, by shape (batch x m x n x k), slowest first:\n", what);
  printf("      %-26s %-5s %6s %9s %8s  %s\n", "shape", "type", "calls", "ms", "GFLOP/s", "impl");
  for (int i = 0; i < g_prof.nstats && i < 14; i++) {
    gemm_stat *s = &g_prof.stats[i];
    char shape[64];
    snprintf(shape, sizeof shape, "%lld x %lld x %lld x %lld", (long long)s->key.batch, (long long)s->key.m,
             (long long)s->key.n, (long long)s->key.k);
    printf("      %-26s %-5s %6.0f %9.2f %8.1f  %s\n", shape,
           s->key.dtype == dnnl_bf16 ? "bf16" : s->key.dtype == dnnl_f32 ? "f32" : s->key.dtype == dnnl_u8 ? "u8s8" : "?",
           s->calls / per,
           s->seconds / per * 1e3, s->seconds > 0 ? s->flops / s->seconds * 1e-9 : 0, s->key.impl);
  }
}

typedef struct kbufs {
  float *x, *y, *z, *g, *b;
  int32_t *ids, *labels;
} kbufs;

/* Median seconds of one call of kernel `which` (5 runs after one warm-up). */
enum { K_LN_F, K_LN_B, K_GELU_FS, K_GELU_BS, K_SOFT_F, K_SOFT_B, K_DROP_KEEP, K_DROP_APPLY, K_BIAS_B, K_BF16, K_EMB_F, K_EMB_B, K_CE_F, K_CE_B, K_QUANT };
static double kernel_seconds(int which, int64_t a, int64_t b, int64_t c, kbufs *k, bert_gelu_kind gk) {
  double v[5];
  bert_rng site = bert_rng_make(3, BERT_RNG_DROPOUT, 0, 0);
  bert_attention_mask mask = {NULL, NULL};
  for (int i = -1; i < 5; i++) {
    double t0 = now_s();
    switch (which) {
      case K_LN_F: bert_layernorm_forward(a, b, k->x, k->g, k->b, 1e-12f, k->y, k->z, k->z + a); break;
      case K_LN_B: bert_layernorm_backward(a, b, k->x, k->y, k->z, k->z + a, k->g, k->x + a * b, k->g + b, k->b + b); break;
      case K_GELU_FS: bert_gelu_forward_slope(gk, a, k->z, k->y); break;
      case K_GELU_BS: bert_gelu_backward_slope(a, k->x, k->y, k->z); break;
      case K_SOFT_F: bert_attention_softmax_forward(a, b, c, 0.125f, &mask, k->y); break;
      case K_SOFT_B: bert_attention_softmax_backward(a, b, c, 0.125f, k->x, k->y); break;
      case K_DROP_KEEP: bert_dropout_forward_keep(site, 0.1f, a, k->x, k->y, (uint8_t *)k->z); break;
      case K_DROP_APPLY: bert_dropout_apply(0.1f, a, (const uint8_t *)k->z, k->x, k->y); break;
      case K_BIAS_B: bert_bias_backward(a, b, k->x, k->g); break;
      case K_BF16: bert_to_bf16(k->x, (uint16_t *)k->y, a); break;
      case K_EMB_F: bert_embedding_forward(a, b, k->ids, k->x, k->y, 1); break;
      case K_EMB_B: bert_embedding_backward(a, b, k->ids, k->x, k->y); break;
      case K_CE_F: bert_cross_entropy_forward(a, b, k->x, k->labels, 0, k->z, (int32_t *)(k->z + a)); break;
      case K_CE_B: bert_cross_entropy_backward(a, b, k->x, k->labels, 0, k->g, k->y); break;
      case K_QUANT: {
        bert_int8_input q;
        bert_quantize_activations(k->x, a, 127, (uint8_t *)k->y, &q);
        break;
      }
    }
    if (i >= 0) v[i] = now_s() - t0;
    if (which == K_SOFT_F) memcpy(k->y, k->x, sizeof(float) * (size_t)(a * b * c * c)); /* fresh scores */
  }
  return median_of(v, 5);
}

typedef struct krow {
  const char *name;
  int which;
  int64_t a, b, c;
  double calls;
} krow;

/* Estimated time of the non-GEMM kernels of one forward (train = 0) or training step. */
static void profile_kernels(const bert_model *m, int batch, int train, double measured_other) {
  const bert_config *c = &m->config;
  int64_t B = batch, L = SEQ_LEN, N = B * L, H = c->hidden_size, I = c->intermediate_size, nh = c->num_attention_heads;
  int64_t P = B * nh * L * L, BM = B * MASKED, V = c->vocab_size, nl = c->num_hidden_layers;
  int bf16 = m->precision == BERT_BF16;
  krow rows[32];
  int n = 0;
  double t = train ? 1 : 0;
#define ROW(nm, w, A, Bv, Cv, calls) rows[n++] = (krow){nm, w, A, Bv, Cv, (double)(calls)}
  ROW("embedding lookups (N x H)", K_EMB_F, N, H, 0, 3);
  ROW("layernorm fwd (N x H)", K_LN_F, N, H, 0, 1 + 2 * nl);
  ROW("gelu fwd + slope (N x I)", K_GELU_FS, N * I, 0, 0, train ? nl : 0); /* fused into the product in inference */
  ROW("softmax fwd (B x heads x L x L)", K_SOFT_F, B, nh, L, nl);
  ROW("dropout fwd, mask kept (N x H)", K_DROP_KEEP, N * H, 0, 0, t * (1 + 2 * nl));
  ROW("dropout fwd, mask kept (probs)", K_DROP_KEEP, P, 0, 0, t * nl);
  if (bf16) {
    ROW("to_bf16 fwd (N x H)", K_BF16, N * H, 0, 0, 3 * nl);
    ROW("to_bf16 fwd (N x I | N x 3H)", K_BF16, N * I, 0, 0, 2 * nl); /* ffn_act, qkv (~3/4 of it) */
    ROW("to_bf16 fwd (probs)", K_BF16, P, 0, 0, nl);
  }
  if (m->precision == BERT_INT8) {
    ROW("quantize u8 (N x H)", K_QUANT, N * H, 0, 0, 3 * nl); /* inputs of QKV, attention output, FFN in */
    ROW("quantize u8 (N x I)", K_QUANT, N * I, 0, 0, nl);     /* input of FFN out */
  }
  if (train) {
    ROW("mlm cross-entropy fwd (BM x V)", K_CE_F, BM, V, 0, 1);
    ROW("mlm cross-entropy bwd (BM x V)", K_CE_B, BM, V, 0, 1);
    ROW("layernorm bwd (N x H)", K_LN_B, N, H, 0, 1 + 2 * nl);
    ROW("gelu bwd from the slope (N x I)", K_GELU_BS, N * I, 0, 0, nl);
    ROW("softmax bwd", K_SOFT_B, B, nh, L, nl);
    ROW("dropout bwd, kept mask (N x H)", K_DROP_APPLY, N * H, 0, 0, 1 + 2 * nl);
    ROW("dropout bwd, kept mask (probs)", K_DROP_APPLY, P, 0, 0, 2 * nl); /* dropped probs and their gradient */
    ROW("bias grads (N x I)", K_BIAS_B, N, I, 0, nl);
    ROW("bias grads (N x 3H)", K_BIAS_B, N, 3 * H, 0, nl);
    ROW("bias grads (N x H)", K_BIAS_B, N, H, 0, 2 * nl);
    ROW("embedding grads (N x H)", K_EMB_B, N, H, 0, 3);
    if (bf16) {
      ROW("to_bf16 bwd (N x H: dy, x)", K_BF16, N * H, 0, 0, 6 * nl);
      ROW("to_bf16 bwd (N x I | 3H)", K_BF16, N * I, 0, 0, 4 * nl);
      ROW("to_bf16 bwd (probs)", K_BF16, P, 0, 0, 2 * nl);
    }
  }
#undef ROW
  int64_t big = N * I;
  if (P > big) big = P;
  if (BM * V > big) big = BM * V;
  if (N * 3 * H > big) big = N * 3 * H;
  big += 2 * N * H + 64;
  kbufs k = {malloc(sizeof(float) * big), malloc(sizeof(float) * big), malloc(sizeof(float) * big),
             malloc(sizeof(float) * 4 * (I + V)), malloc(sizeof(float) * 4 * (I + V)),
             malloc(sizeof(int32_t) * N), malloc(sizeof(int32_t) * BM)};
  if (!k.x || !k.y || !k.z || !k.g || !k.b || !k.ids || !k.labels) {
    printf("    (kernel profile skipped: out of memory)\n");
    goto done;
  }
  for (int64_t i = 0; i < big; i++) k.x[i] = k.y[i] = k.z[i] = (float)((i * 37) % 101) * 0.01f;
  for (int64_t i = 0; i < 4 * (I + V); i++) k.g[i] = 1.0f, k.b[i] = 0.0f;
  for (int64_t i = 0; i < N; i++) k.ids[i] = (int32_t)(i % 512);
  for (int64_t i = 0; i < BM; i++) k.labels[i] = (int32_t)(1000 + i);
  double total = 0;
  printf("    other kernels, micro-benchmarked alone at these sizes (x calls per %s):\n", train ? "step" : "forward");
  printf("      %-34s %6s %9s %9s\n", "kernel", "calls", "ms/call", "ms");
  for (int i = 0; i < n; i++) {
    if (rows[i].calls <= 0) continue;
    double s = kernel_seconds(rows[i].which, rows[i].a, rows[i].b, rows[i].c, &k, c->hidden_act);
    total += s * rows[i].calls;
    printf("      %-34s %6.0f %9.3f %9.2f\n", rows[i].name, rows[i].calls, s * 1e3, s * rows[i].calls * 1e3);
  }
  if (train) {
    double t0 = now_s();
    bert_model_zero_grads((bert_model *)m);
    double s = now_s() - t0;
    total += s;
    printf("      %-34s %6d %9.3f %9.2f\n", "zero_grads (memset)", 1, s * 1e3, s * 1e3);
  }
  printf("      %-34s %6s %9s %9.2f   (measured non-oneDNN time: %.2f ms; the rest is copies, residual adds,\n"
         "      %-34s %6s %9s %9s    gathers, oneDNN call overhead)\n",
         "sum", "", "", total * 1e3, measured_other * 1e3, "", "", "", "");
done:
  free(k.x), free(k.y), free(k.z), free(k.g), free(k.b), free(k.ids), free(k.labels);
}

/* ---------------------------------------------------------------------------------------------
 * One model in one precision. */

enum { W_INFER1, W_INFER8, W_TRAIN8, W_COUNT };
static const char *const WL_KEY[W_COUNT] = {"infer_b1", "infer_b8", "train_mb8"};
static const char *const WL_LABEL[W_COUNT] = {"inference b1", "inference b8", "training mb8"};

typedef struct workload_result {
  int ok, failed, skipped, iters;
  double seq_s, gflops, gemm_share, others;
} workload_result;

typedef struct model_results {
  int ran, unsupported;
  workload_result w[W_COUNT];
} model_results;

static void report(int wl, int seqs, double flops_seq, const timing *t, const peak *pk, workload_result *wr) {
  double seq_s = seqs / t->median, gflops = flops_seq * seq_s * 1e-9;
  double frac = pk && pk->ok && pk->gflops > 0 ? gflops / pk->gflops : 0;
  double share = t->gemm_seconds / t->mean;
  printf("  %-14s %8.2f seq/s  %9.1f ms/batch (median of %d)  %6.1f GFLOP/s", WL_LABEL[wl], seq_s, t->median * 1e3,
         t->iters, gflops);
  if (frac > 0) printf(" = %3.0f%% of the GEMM peak so far", 100 * frac);
  printf("\n  %-14s oneDNN: %.0f%% of the time, %d calls, %.1f GFLOP/s inside; other %.1f ms\n", "", 100 * share,
         (int)t->gemm_calls, t->gemm_seconds > 0 ? t->gemm_flops / t->gemm_seconds * 1e-9 : 0,
         (t->mean - t->gemm_seconds) * 1e3);
  if (t->others >= 0.10)
    printf("  %-14s NOISY: other processes used %.0f%% of the machine's CPU time meanwhile\n", "", 100 * t->others);
  wr->ok = 1, wr->seq_s = seq_s, wr->gflops = gflops, wr->gemm_share = share, wr->iters = t->iters;
  wr->others = t->others;
}

/* Runs the three workloads of `m` (already in precision p); the model keeps its gradients. */
static int bench_model(bert_model *m, int model, const opts *o, const peak *pk, model_results *res) {
  bert_error err = {0};
  bert_workspace ws;
  bert_precision p = m->precision;
  const bert_config *c = &m->config;
  double f_inf = forward_flops(c, SEQ_LEN, 0, 0), f_pre = forward_flops(c, SEQ_LEN, 1, MASKED);
  res->ran = 1;
  printf("\n[%s %s%s] %s: %d layers x %d, %d heads, FFN %d, vocab %d, sequence %d\n", model_name(model), prec_name(p),
         pk && pk->emulated ? ", emulated" : "", model_title(model), c->num_hidden_layers, c->hidden_size,
         c->num_attention_heads, c->intermediate_size, c->vocab_size, SEQ_LEN);
  printf("  FLOPs counted per sequence: inference %.3f GFLOP (encoder + pooler); training %.3f GFLOP\n"
         "  (3 x the pretraining forward of %.3f GFLOP, MLM at %d positions + NSP)\n",
         f_inf * 1e-9, 3 * f_pre * 1e-9, f_pre * 1e-9, MASKED);
  inputs *in = malloc(sizeof *in);
  if (!in) return bert_error_set(&err, BERT_ENOMEM, "out of memory");
  make_inputs(in, c->vocab_size);
  int big = model == MODEL_BASE;
  int iters[W_COUNT] = {o->iters ? o->iters : o->quick ? (big ? 3 : 10) : (big ? 10 : 50),
                        o->iters ? o->iters : o->quick ? (big ? 2 : 5) : (big ? 5 : 20),
                        o->iters ? o->iters : o->quick ? (big ? 1 : 3) : (big ? 3 : 10)};
  int wu = big ? 1 : 3;
  int rc;
  timing t;

  if ((rc = bert_workspace_create(&ws, m, BERT_TASK_BASE, MAX_BATCH, SEQ_LEN, 0, 1, 0, &err))) goto fail;
  /* inference packs the encoder's weights in oneDNN's preferred layout, as bert infer / serve do */
  if ((rc = bert_model_pack_weights(m, (int64_t)MAX_BATCH * SEQ_LEN, 0, &err))) {
    bert_workspace_free(&ws);
    goto fail;
  }
  int packed = 0;
  for (int i = 0; i < m->packing.count; i++) packed += m->packing.weights[i].layout != NULL;
  int64_t packed_calls = bert_gemm_packed_calls(m->gemm);
  printf("  encoder weights packed in oneDNN's preferred layout for this CPU: %d of %d%s\n", packed, m->packing.count,
         packed ? "" : " (its kernels read the plain layout)");
  for (int wl = W_INFER1; wl <= W_INFER8; wl++) {
    int bs = wl == W_INFER1 ? 1 : 8;
    step_ctx s = {m, &ws, make_batch(in, bs), 0, 0};
    memset(&t, 0, sizeof t);
    if ((rc = time_steps(&s, wu + (bs == 1), iters[wl], o->budget, &t, &err))) {
      bert_workspace_free(&ws);
      goto fail;
    }
    report(wl, bs, f_inf, &t, pk, &res->w[wl]);
    if (o->profile && bs == 8) {
      print_gemm_table(t.iters, "forward");
      profile_kernels(m, bs, 0, t.mean - t.gemm_seconds);
    }
  }
  bert_workspace_free(&ws);
  if (packed)
    printf("  %-14s %lld products read packed weights\n", "", (long long)(bert_gemm_packed_calls(m->gemm) - packed_calls));
  if (p == BERT_INT8) { /* inference only */
    printf("  %-14s n/a (int8 is for inference)\n", WL_LABEL[W_TRAIN8]);
    res->w[W_TRAIN8].skipped = 1;
    free(in);
    return BERT_OK;
  }

  /* training changes the weights at every step: no packing (set_precision drops it) */
  if ((rc = bert_model_set_precision(m, p, &err))) goto fail;
  if ((rc = bert_model_enable_grads(m, &err))) goto fail;
  if ((rc = bert_workspace_create(&ws, m, BERT_TASK_PRETRAINING, MAX_BATCH, SEQ_LEN, MASKED, 1, 1, &err))) goto fail;
  step_ctx s = {m, &ws, make_batch(in, MAX_BATCH), 1, 0};
  memset(&t, 0, sizeof t);
  rc = time_steps(&s, wu, iters[W_TRAIN8], o->budget, &t, &err);
  if (!rc) {
    report(W_TRAIN8, MAX_BATCH, 3 * f_pre, &t, pk, &res->w[W_TRAIN8]);
    printf("  %-14s last loss %.3f (MLM %.3f, NSP %.3f)\n", "", (double)ws.out.loss, (double)ws.out.mlm_loss,
           (double)ws.out.nsp_loss);
    if (o->profile) {
      print_gemm_table(t.iters, "training step");
      profile_kernels(m, MAX_BATCH, 1, t.mean - t.gemm_seconds);
    }
  }
  bert_workspace_free(&ws);
  if (rc) goto fail;
  free(in);
  return BERT_OK;
fail:
  free(in);
  for (int wl = 0; wl < W_COUNT; wl++) res->w[wl].failed = !res->w[wl].ok;
  if (p != BERT_FP32) {
    res->unsupported = 1;
    printf("  %s: unsupported on this CPU (%s)\n", prec_name(p), err.message);
  } else {
    printf("  failed: %s\n", err.message);
  }
  return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Main. */

static const char *verdict(int ok) { return ok ? "MET" : "NOT MET"; }

int main(int argc, char **argv) {
  opts o;
  if (parse_opts(argc, argv, &o)) return 2;
  if (o.threads > 0) omp_set_num_threads(o.threads);
  int threads = omp_get_max_threads();
  machine mc;
  read_machine(&mc);
  setvbuf(stdout, NULL, _IOLBF, 0);
  double start = now_s();

  printf("bertc model benchmark: %d thread(s), %d core(s) online, %s\n", threads, mc.cores, mc.cpu);
  double theo = peak_theoretical(&mc, threads);
  if (theo > 0)
    printf("theoretical FMA peak fp32: %d core(s) x %.3f GHz (nominal clock from /proc/cpuinfo) x %d flop/cycle"
           " = %.1f GFLOP/s\n", threads < mc.cores ? threads : mc.cores, mc.mhz * 1e-3, mc.flops_per_cycle, theo);

  /* 1. peak memory first, in a child forked before any OpenMP thread exists */
  mem_result mem;
  int want_mem = o.memory && (o.models & MODEL_BASE) && (o.precisions & PREC_FP32);
  if (want_mem) {
    printf("\npeak memory, BERT-base fp32 training step, micro-batch 8 x 128, with the AdamW optimizer (forked child):\n");
    measure_memory(threads, &mem);
    if (mem.ok) {
      double hwm = mem.hwm_kb / 1024.0;
      printf("  peak RSS (VmHWM) %.0f MiB = %.2f GB; process before the model %.0f MiB\n", hwm,
             mem.hwm_kb * 1024.0 / 1e9, mem.base_kb / 1024.0);
      printf("  parameters %.0f MiB + gradients %.0f MiB + AdamW moments %.0f MiB + activation arena %.0f MiB;"
             " other (oneDNN scratch, libraries, inputs) %.0f MiB\n", mem.params_mb, mem.grads_mb, mem.moments_mb,
             mem.arena_mb, hwm - mem.params_mb - mem.grads_mb - mem.moments_mb - mem.arena_mb);
      printf("  (one training step %.2f s + one AdamW update (bert_optimizer_step) %.3f s)\n", mem.step_s, mem.opt_s);
    } else {
      printf("  failed: %s\n", mem.error);
    }
  }

  /* 2. GEMM peak per precision, measured before the models and again after them (the higher is
   * kept: on a shared machine one measurement may land in a noisy moment) */
  peak pk[NPREC];
  memset(pk, 0, sizeof pk);
  int piters = o.quick ? 5 : 15;
  printf("\nGEMM peak (oneDNN through bert_linear_forward, median of %d):\n", piters);
  for (int pi = 0; pi < NPREC; pi++) {
    if (!(o.precisions & (1 << pi))) continue;
    bert_precision p = PREC_OF[pi];
    measure_gemm_peak(p, piters, &pk[pi]);
    if (!pk[pi].ok) printf("  %s: unsupported on this CPU (%s)\n", prec_name(p), pk[pi].error);
  }

  /* 3. models: one model per size, fp32 first, then switched to bf16, then to int8 */
  model_results res[2][NPREC];
  memset(res, 0, sizeof res);
  for (int mi = 0; mi < 2; mi++) {
    int model = mi ? MODEL_TINY : MODEL_BASE;
    if (!(o.models & model)) continue;
    bert_model m;
    bert_error err = {0};
    double t0 = now_s();
    if (model_build(model, &m, &err)) {
      printf("\n[%s] cannot build the model: %s\n", model_name(model), err.message);
      for (int pi = 0; pi < NPREC; pi++) res[mi][pi].ran = 1, res[mi][pi].unsupported = 0;
      continue;
    }
    printf("\n%s: model built and initialised in %.1f s\n", model_title(model), now_s() - t0);
    for (int pi = 0; pi < NPREC; pi++) {
      if (!(o.precisions & (1 << pi))) continue;
      bert_precision p = PREC_OF[pi];
      if (!pk[pi].ok && p != BERT_FP32) {
        printf("\n[%s %s] %s: unsupported on this CPU (%s)\n", model_name(model), prec_name(p), prec_name(p),
               pk[pi].error);
        res[mi][pi].ran = res[mi][pi].unsupported = 1;
        continue;
      }
      if (bert_model_set_precision(&m, p, &err)) {
        printf("\n[%s %s] %s\n", model_name(model), prec_name(p), err.message);
        res[mi][pi].ran = 1, res[mi][pi].unsupported = p != BERT_FP32;
        continue;
      }
      bench_model(&m, model, &o, &pk[pi], &res[mi][pi]);
    }
    bert_model_free(&m);
  }

  int remeasure = 0;
  for (int pi = 0; pi < NPREC; pi++)
    if (pk[pi].ok) {
      if (!remeasure) printf("\nGEMM peak re-measured after the models:\n"), remeasure = 1;
      peak again;
      measure_gemm_peak(PREC_OF[pi], piters, &again);
      if (again.ok && again.gflops > pk[pi].gflops) pk[pi].gflops = again.gflops;
    }

  /* 4. summary (what bench/model.sh reads) */
  printf("\nsummary (GEMM peak = the higher of the two measurements; oneDNN = share of the time in oneDNN products;\n"
         "others = share of the machine's CPU time other processes used during the measurement: above 10%%, noisy):\n");
  if (theo > 0) printf("RESULT impl=bertc model=- precision=fp32 workload=fma_peak gflops=%.2f\n", theo);
  for (int pi = 0; pi < NPREC; pi++) {
    if (!(o.precisions & (1 << pi))) continue;
    const char *pn = prec_name(PREC_OF[pi]);
    if (pk[pi].ok) {
      printf("  GEMM peak %s: %.1f GFLOP/s%s", pn, pk[pi].gflops, pk[pi].emulated ? " (emulated bf16)" : "");
      if (theo > 0) printf(" = %.0f%% of the theoretical FMA peak", 100 * pk[pi].gflops / theo);
      printf("\nRESULT impl=bertc model=- precision=%s workload=gemm_peak gflops=%.2f emulated=%d", pn,
             pk[pi].gflops, pk[pi].emulated);
      if (PREC_OF[pi] == BERT_INT8) printf(" act_max=%d", pk[pi].int8_max);
      printf("\n");
    } else {
      printf("  GEMM peak %s: unsupported\nRESULT impl=bertc model=- precision=%s workload=gemm_peak status=unsupported\n",
             pn, pn);
    }
  }
  printf("  %-5s %-4s %-13s %9s %8s %6s %7s %7s\n", "model", "prec", "workload", "seq/s", "GFLOP/s", "%peak", "oneDNN",
         "others");
  for (int mi = 0; mi < 2; mi++)
    for (int pi = 0; pi < NPREC; pi++) {
      model_results *r = &res[mi][pi];
      const char *mn = model_name(mi ? MODEL_TINY : MODEL_BASE), *pn = prec_name(PREC_OF[pi]);
      if (!r->ran) continue;
      for (int wl = 0; wl < W_COUNT; wl++) {
        workload_result *w = &r->w[wl];
        if (w->skipped) continue;
        if (!w->ok) {
          const char *st = r->unsupported ? "unsupported" : "error";
          printf("  %-5s %-4s %-13s %9s\nRESULT impl=bertc model=%s precision=%s workload=%s status=%s\n", mn, pn,
                 WL_LABEL[wl], st, mn, pn, WL_KEY[wl], st);
          continue;
        }
        double frac = pk[pi].ok && pk[pi].gflops > 0 ? w->gflops / pk[pi].gflops : 0;
        printf("  %-5s %-4s %-13s %9.2f %8.1f %5.0f%% %6.0f%% %6.0f%%\n", mn, pn, WL_LABEL[wl], w->seq_s, w->gflops,
               100 * frac, 100 * w->gemm_share, 100 * w->others);
        printf("RESULT impl=bertc model=%s precision=%s workload=%s seq_s=%.4f gflops=%.2f peak_frac=%.4f "
               "gemm_share=%.4f iters=%d others_cpu=%.3f\n", mn, pn, WL_KEY[wl], w->seq_s, w->gflops, frac,
               w->gemm_share, w->iters, w->others);
      }
    }
  if (want_mem) {
    if (mem.ok)
      printf("  peak RSS, BERT-base fp32 training mb8 + AdamW: %.0f MiB\n"
             "RESULT impl=bertc model=base precision=fp32 workload=train_peak_rss mib=%.1f\n",
             mem.hwm_kb / 1024.0, mem.hwm_kb / 1024.0);
    else
      printf("RESULT impl=bertc model=base precision=fp32 workload=train_peak_rss status=error\n");
  }

  /* 5. targets this program can judge alone (the peer ratios are in bench/model.sh's table) */
  if ((o.models & MODEL_BASE) && (o.precisions & PREC_FP32) && pk[0].ok) {
    workload_result *w = res[0][0].w;
    double g = pk[0].gflops;
    printf("\ntargets (BERT-base fp32; those against PyTorch / ONNX Runtime are in bench/model.sh's table):\n");
    static const char *const what[W_COUNT] = {"inference b1 >= 75%", "inference b8 >= 85%", "training mb8 >= 80%"};
    static const double need[W_COUNT] = {0.75, 0.85, 0.80};
    for (int wl = 0; wl < W_COUNT; wl++)
      if (w[wl].ok)
        printf("  %s of the GEMM peak: %3.0f%%  %s%s\n", what[wl], 100 * w[wl].gflops / g,
               verdict(w[wl].gflops >= need[wl] * g), w[wl].others >= 0.10 ? " (noisy)" : "");
  }
  if (want_mem && mem.ok)
    printf("  training peak memory <= 3 GB:         %.2f GB  %s\n", mem.hwm_kb * 1024.0 / 1e9,
           verdict(mem.hwm_kb * 1024.0 <= 3e9));
  printf("\nbench_model: done in %.0f s\n", now_s() - start);
  return 0;
}
