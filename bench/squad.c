/* bench/squad: SQuAD speed of BERT-base (issue 6).
 *
 * BertForQuestionAnswering (BERT-base encoder, no pooler, `qa_outputs` start/end head; random
 * initialisation by bert_layout_init) on features of 384 tokens — [CLS] question [SEP] context
 * [SEP], full windows by default so the peers do identical work; --padded gives feature f an
 * attention mask over its first 150 + (97 f mod 235) tokens (the peers take the same option) —
 * in fp32 and bf16 (emulated on CPUs without native bf16: fp32 products on widened operands):
 *   - inference features/s at batch 1 and 16 (BERT_TASK_QA, start/end logits, dropout off);
 *   - fine-tuning samples/s at micro-batch N (default 4): zero gradients + forward + backward of
 *     HF's QA loss with start/end labels (dropout 0.1) + an AdamW step (train/optimizer: lr 3e-5,
 *     eps 1e-6, no weight decay) + in bf16 the refresh of the bf16 parameter copy.
 * Micro-batch 4: a fine-tuning step then takes ~8 s here (3 x 70.6 GFLOP per sample), so a few
 * timed steps fit the budget, and 4 x 384 = 1536 tokens per product keeps oneDNN's GEMMs at full
 * speed; the run_squad recipes' 12-32 per step are gradient accumulation over such micro-batches.
 * Every oneDNN execution is timed by interposing dnnl_primitive_execute (as bench/model.c does)
 * to split the time into big products, the per-head attention products (batched) and the rest.
 * Lines starting with "RESULT " are read by bench/squad_report.py (bench/squad.sh). */
#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>

#include "base/clock.h"
#include "base/rng.h"
#include "model/model.h"
#include "train/optimizer.h"

#define SEQ 384
#define QUESTION 24 /* [CLS] + 22 question tokens + [SEP]: token type 0; the context is type 1 */
#define INFER_BIG 16
#define LR 3e-5f

/* ---------------------------------------------------------------------------------------------
 * oneDNN time and FLOPs, split into batched products (attention: Q·Kᵀ, P·V and their backward)
 * and the rest (the linear layers). On the CPU engine with OpenMP, execution is synchronous. */

typedef struct dnnl_split {
  double seconds, flops;
} dnnl_split;

static struct {
  int on;
  dnnl_split linear, attention;
} g_dnnl;

typedef dnnl_status_t (*exec_fn)(const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t *);

/* 2·batch·m·n·k of a matmul (0 for other primitives); *batch = the product of the leading dims. */
static double matmul_flops(const_dnnl_primitive_t prim, int64_t *batch) {
  const_dnnl_primitive_desc_t pd = NULL;
  *batch = 1;
  if (dnnl_primitive_get_primitive_desc(prim, &pd) != dnnl_success || !pd) return 0;
  const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
  const dnnl_memory_desc_t *wei = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  if (!src || !wei || src->ndims < 2) return 0;
  int nd = src->ndims;
  for (int i = 0; i < nd - 2; i++) *batch *= src->dims[i];
  return 2.0 * (double)*batch * (double)src->dims[nd - 2] * (double)src->dims[nd - 1] *
         (double)wei->dims[wei->ndims - 1];
}

dnnl_status_t dnnl_primitive_execute(const_dnnl_primitive_t prim, dnnl_stream_t stream, int nargs,
                                     const dnnl_exec_arg_t *args) {
  static exec_fn real;
  if (!real) {
    void *sym = dlsym(RTLD_NEXT, "dnnl_primitive_execute");
    if (!sym) fprintf(stderr, "bench_squad: cannot find oneDNN's dnnl_primitive_execute\n"), abort();
    memcpy(&real, &sym, sizeof real);
  }
  if (!g_dnnl.on) return real(prim, stream, nargs, args);
  double t0 = bert_seconds();
  dnnl_status_t st = real(prim, stream, nargs, args);
  double dt = bert_seconds() - t0;
  int64_t batch;
  double flops = matmul_flops(prim, &batch);
  dnnl_split *d = batch > 1 ? &g_dnnl.attention : &g_dnnl.linear;
  d->seconds += dt, d->flops += flops;
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Options. */

enum { PREC_FP32 = 1, PREC_BF16 = 2 };

typedef struct opts {
  int threads, quick, iters, precisions, micro_batch, padded;
  double budget; /* seconds of timed iterations per workload; at least one iteration runs */
} opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_squad [--threads N] [--quick] [--precision fp32|bf16|all] [--micro-batch N]\n"
          "                   [--iters N] [--budget SECONDS] [--padded]\n"
          "  --threads N      OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --quick          one timed iteration of the batched workloads, budget 15 s\n"
          "  --micro-batch N  fine-tuning micro-batch (default 4)\n"
          "  --iters N        timed iterations of every workload, at most 64 (default 10 / 3 / 3, quick 3 / 1 / 1)\n"
          "  --budget S       stop timing a workload after S seconds (default 45, quick 15)\n"
          "  --padded         attention mask over 150 + (97 f mod 235) tokens of feature f (default: full)\n");
}

static int parse_precision(const char *v) {
  return !strcmp(v, "fp32") ? PREC_FP32 : !strcmp(v, "bf16") ? PREC_BF16 : !strcmp(v, "all") ? 3 : 0;
}

static int parse_opts(int argc, char **argv, opts *o) {
  *o = (opts){.precisions = 3, .micro_batch = 4, .budget = -1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--threads") && v) o->threads = atoi(v), i++;
    else if (!strcmp(a, "--iters") && v) o->iters = atoi(v), i++;
    else if (!strcmp(a, "--budget") && v) o->budget = atof(v), i++;
    else if (!strcmp(a, "--micro-batch") && v) o->micro_batch = atoi(v), i++;
    else if (!strcmp(a, "--precision") && v) {
      if (!(o->precisions = parse_precision(v))) return fprintf(stderr, "bench_squad: unknown precision '%s'\n", v), -1;
      i++;
    } else if (!strcmp(a, "--quick")) o->quick = 1;
    else if (!strcmp(a, "--padded")) o->padded = 1;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(stdout), exit(0);
    else return fprintf(stderr, "bench_squad: unknown or incomplete option '%s'\n", a), usage(stderr), -1;
  }
  if (o->threads < 0 || o->iters < 0 || o->micro_batch < 1)
    return fprintf(stderr, "bench_squad: --threads, --iters >= 0 and --micro-batch >= 1\n"), -1;
  if (o->budget < 0) o->budget = o->quick ? 15.0 : 45.0;
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Machine load: the CPU time every process used (/proc/stat, steal included) minus ours
 * (getrusage), over the machine's, between two snapshots — above 10 % a figure is noisy. */

typedef struct cpu_snap {
  double busy, total, self;
} cpu_snap;

static cpu_snap cpu_snap_take(void) {
  cpu_snap s = {0};
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
  s.total = total / hz;
  s.busy = (total - v[3] - v[4]) / hz; /* minus idle and iowait */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  s.self = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  return s;
}

static double cpu_others(cpu_snap a, cpu_snap b) {
  double total = b.total - a.total;
  if (total <= 0) return 0;
  double others = ((b.busy - a.busy) - (b.self - a.self)) / total;
  return others < 0 ? 0 : others > 1 ? 1 : others;
}

/* ---------------------------------------------------------------------------------------------
 * Features. */

typedef struct features {
  int n;
  int32_t *ids, *types, *mask, *start, *end;
} features;

/* Real tokens of feature f: all of them, or the synthetic spread of --padded (150-374, mean 262;
 * the peers use the same formula, so every implementation sees the same masks). */
static int real_length(int f, int padded) {
  int n = 150 + (97 * f) % 235;
  return padded && n < SEQ ? n : SEQ;
}

static int features_make(features *fs, int n, int vocab, int padded) {
  *fs = (features){.n = n};
  size_t tok = (size_t)n * SEQ * sizeof(int32_t);
  fs->ids = malloc(tok), fs->types = malloc(tok), fs->mask = malloc(tok);
  fs->start = malloc(n * sizeof(int32_t)), fs->end = malloc(n * sizeof(int32_t));
  if (!fs->ids || !fs->types || !fs->mask || !fs->start || !fs->end) return -1;
  bert_rng r = bert_rng_make(1234, BERT_RNG_DATA, 0, 0);
  uint64_t k = 0;
  for (int f = 0; f < n; f++) {
    int len = real_length(f, padded);
    for (int t = 0; t < SEQ; t++) {
      int i = f * SEQ + t;
      int word = 1000 + (int)(bert_rng_uniform(r, k++) * (vocab - 1000));
      fs->ids[i] = t >= len ? 0 : t == 0 ? 101 : t == QUESTION - 1 || t == len - 1 ? 102 : word;
      fs->types[i] = t >= QUESTION && t < len;
      fs->mask[i] = t < len;
    }
    /* an answer of 1-10 tokens inside the context */
    fs->start[f] = QUESTION + (int)(bert_rng_uniform(r, k++) * (len - QUESTION - 11));
    fs->end[f] = fs->start[f] + (int)(bert_rng_uniform(r, k++) * 10);
  }
  return 0;
}

static void features_free(features *fs) {
  free(fs->ids), free(fs->types), free(fs->mask), free(fs->start), free(fs->end);
}

/* The first `batch` features; labels only for fine-tuning (they make forward compute the loss). */
static bert_batch batch_of(const features *fs, int batch, int labels, int padded) {
  bert_batch b = {.batch = batch, .len = SEQ, .input_ids = fs->ids, .token_type_ids = fs->types};
  if (padded) b.attention_mask = fs->mask;
  if (labels) b.start_positions = fs->start, b.end_positions = fs->end;
  return b;
}

/* Analytic count of one feature's forward matrix products, 2·m·n·k each: per layer QKV 2·L·H·3H,
 * attention output 2·L·H², FFN 2·2·L·H·I, Q·Kᵀ and P·V 2·2·L²·H; the QA head 2·L·H·2. A
 * fine-tuning sample is 3 x that (backward = 2 x forward). Same count as the peers'. */
static double forward_flops(const bert_config *c) {
  double H = c->hidden_size, I = c->intermediate_size, L = SEQ;
  double layer = 2 * L * H * 3 * H + 2 * L * H * H + 2 * 2 * L * H * I + 2 * 2 * L * L * H;
  return c->num_hidden_layers * layer + 2 * L * H * 2;
}

/* ---------------------------------------------------------------------------------------------
 * Steps and timing. */

typedef struct step_ctx {
  bert_model *m;
  bert_workspace *ws;
  bert_batch batch;
  bert_optimizer *opt; /* NULL: inference */
  uint64_t step;
  double fwd, bwd, upd; /* seconds spent in each phase, summed over the timed steps */
} step_ctx;

static int infer_step(step_ctx *s, bert_error *err) {
  return bert_model_forward(s->m, s->ws, &s->batch, 0, bert_rng_make(7, BERT_RNG_DROPOUT, s->step++, 0), err);
}

/* zero grads + forward + backward + AdamW (+ bf16 copy refresh, as the trainer does). */
static int train_step(step_ctx *s, bert_error *err) {
  double t0 = bert_seconds();
  bert_model_zero_grads(s->m);
  int rc = bert_model_forward(s->m, s->ws, &s->batch, 1, bert_rng_make(7, BERT_RNG_DROPOUT, s->step++, 0), err);
  double t1 = bert_seconds();
  if (!rc) rc = bert_model_backward(s->m, s->ws, &s->batch, 1.0f, err);
  if (!rc && !isfinite(s->ws->out.loss))
    rc = bert_error_set(err, BERT_ERANGE, "fine-tuning step: loss is %g", (double)s->ws->out.loss);
  if (rc) return rc;
  double t2 = bert_seconds();
  bert_optimizer_step(s->opt, s->m->params, s->m->grads, 1.0f, LR);
  if (s->m->precision == BERT_BF16) bert_model_sync_bf16(s->m);
  s->fwd += t1 - t0, s->bwd += t2 - t1, s->upd += bert_seconds() - t2;
  return BERT_OK;
}

static int run_step(step_ctx *s, bert_error *err) { return s->opt ? train_step(s, err) : infer_step(s, err); }

typedef struct timing {
  int iters;
  double median, mean, others;
  dnnl_split linear, attention; /* per iteration */
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
 * seconds; the phase sums and oneDNN times cover the timed steps only. */
static int time_steps(step_ctx *s, int warmup, int iters, double budget, timing *t, bert_error *err) {
  int rc = BERT_OK, n = 0;
  for (int i = 0; i < warmup && !rc; i++) rc = run_step(s, err);
  double v[64], sum = 0;
  if (iters > 64) iters = 64;
  s->fwd = s->bwd = s->upd = 0;
  g_dnnl.linear = g_dnnl.attention = (dnnl_split){0, 0};
  g_dnnl.on = 1;
  cpu_snap c0 = cpu_snap_take();
  double start = bert_seconds();
  while (!rc && n < iters && (n == 0 || bert_seconds() - start <= budget)) {
    double t0 = bert_seconds();
    if (!(rc = run_step(s, err))) sum += v[n] = bert_seconds() - t0, n++;
  }
  g_dnnl.on = 0;
  if (rc) return rc;
  *t = (timing){n, median_of(v, n), sum / n, cpu_others(c0, cpu_snap_take()),
                {g_dnnl.linear.seconds / n, g_dnnl.linear.flops / n},
                {g_dnnl.attention.seconds / n, g_dnnl.attention.flops / n}};
  return BERT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Workloads. */

typedef struct ctx {
  const opts *o;
  bert_model *m;
  const features *fs;
  double flops; /* forward, per feature */
  const char *prec;
} ctx;

static void report(const ctx *c, const char *workload, int batch, int train, const timing *t) {
  const char *unit = train ? "samples" : "features";
  double per_s = batch / t->median, gflops = (train ? 3 : 1) * c->flops * per_s * 1e-9;
  const dnnl_split *l = &t->linear, *a = &t->attention;
  double dnnl = l->seconds + a->seconds;
  printf("  %-9s b%-3d %8.3f %s/s  %8.2f s/batch (median of %d)  %6.1f GFLOP/s%s\n", train ? "fine-tune" : "inference",
         batch, per_s, unit, t->median, t->iters, gflops,
         t->others >= 0.10 ? "  NOISY: other processes used a share of the CPU" : "");
  printf("  %-14s oneDNN %.0f%% of the time: linear products %.2f s at %.1f GFLOP/s, attention products %.2f s at"
         " %.1f GFLOP/s; the rest %.2f s\n", "", 100 * dnnl / t->mean, l->seconds, l->flops / l->seconds * 1e-9,
         a->seconds, a->flops / a->seconds * 1e-9, t->mean - dnnl);
  printf("RESULT impl=bertc precision=%s workload=%s batch=%d per_s=%.4f gflops=%.2f iters=%d gemm_share=%.4f "
         "attn_share=%.4f linear_gflops=%.1f attn_gflops=%.1f others_cpu=%.3f\n", c->prec, workload, batch, per_s,
         gflops, t->iters, dnnl / t->mean, a->seconds / t->mean, l->flops / l->seconds * 1e-9,
         a->flops / a->seconds * 1e-9, t->others);
}

static int bench_inference(const ctx *c, bert_error *err) {
  bert_workspace ws;
  int rc = bert_workspace_create(&ws, c->m, BERT_TASK_QA, INFER_BIG, SEQ, 0, 1, 0, err);
  static const int sizes[2] = {1, INFER_BIG};
  for (int i = 0; i < 2 && !rc; i++) {
    int bs = sizes[i];
    step_ctx s = {.m = c->m, .ws = &ws, .batch = batch_of(c->fs, bs, 0, c->o->padded)};
    int iters = c->o->iters ? c->o->iters : bs == 1 ? (c->o->quick ? 3 : 10) : (c->o->quick ? 1 : 3);
    timing t;
    char name[32];
    snprintf(name, sizeof name, "infer_b%d", bs);
    if (!(rc = bert_batch_validate(c->m, &ws, &s.batch, err)) &&
        !(rc = time_steps(&s, 1 + (bs == 1), iters, c->o->budget, &t, err)))
      report(c, name, bs, 0, &t);
  }
  bert_workspace_free(&ws);
  return rc;
}

static int bench_finetune(const ctx *c, bert_optimizer *opt, bert_error *err) {
  bert_workspace ws;
  int mb = c->o->micro_batch, rc;
  if ((rc = bert_workspace_create(&ws, c->m, BERT_TASK_QA, mb, SEQ, 0, 1, 1, err))) return rc;
  step_ctx s = {.m = c->m, .ws = &ws, .batch = batch_of(c->fs, mb, 1, c->o->padded), .opt = opt};
  timing t;
  int iters = c->o->iters ? c->o->iters : c->o->quick ? 1 : 3;
  if (!(rc = bert_batch_validate(c->m, &ws, &s.batch, err)) &&
      !(rc = time_steps(&s, 1, iters, c->o->budget, &t, err))) {
    report(c, "train", mb, 1, &t);
    printf("  %-14s per step: forward %.2f s, backward %.2f s, AdamW%s %.2f s; last loss %.3f; activations %.0f MiB\n",
           "", s.fwd / t.iters, s.bwd / t.iters, c->m->precision == BERT_BF16 ? " + bf16 copy" : "", s.upd / t.iters,
           (double)ws.out.loss, ws.arena.capacity / 1048576.0);
  }
  bert_workspace_free(&ws);
  return rc;
}

/* One precision: both workloads, or an "unsupported"/"error" RESULT line. */
static void bench_precision(ctx *c, bert_precision p, bert_optimizer *opt) {
  bert_error err = {0};
  c->prec = p == BERT_BF16 ? "bf16" : "fp32";
  int native = bert_gemm_bf16_native(c->m->gemm);
  printf("\n[%s%s] BERT-base QA, sequence %d\n", c->prec, p == BERT_BF16 && !native ? ", emulated" : "", SEQ);
  if (p == BERT_BF16 && !native)
    printf("  no native bf16 on this CPU: bf16 operands are widened to fp32 for fp32 products (fp32 speed at best)\n");
  int rc = bert_model_set_precision(c->m, p, &err);
  if (!rc) rc = bench_inference(c, &err);
  if (!rc) rc = bench_finetune(c, opt, &err);
  if (rc) {
    printf("  failed: %s\nRESULT impl=bertc precision=%s workload=all status=error\n", err.message, c->prec);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Main. */

static int model_build(bert_model *m, bert_optimizer *opt, bert_error *err) {
  bert_config cfg;
  bert_config_defaults(&cfg); /* BERT-base, dropout 0.1 */
  int rc = bert_model_create(m, &cfg, BERT_PART_QA, err); /* HF's QA model: no pooler */
  bert_config_free(&cfg);
  if (rc) return rc;
  bert_layout_init(&m->layout, &m->config, 42, BERT_PART_ALL, m->params);
  if ((rc = bert_model_enable_grads(m, err))) return rc;
  bert_optimizer_config oc;
  bert_optimizer_config_defaults(&oc); /* AdamW, betas 0.9/0.999, eps 1e-6, no weight decay */
  return bert_optimizer_create(opt, &m->layout, &oc, err);
}

int main(int argc, char **argv) {
  opts o;
  if (parse_opts(argc, argv, &o)) return 2;
  if (o.threads > 0) omp_set_num_threads(o.threads);
  setvbuf(stdout, NULL, _IOLBF, 0);
  double start = bert_seconds();
  printf("bertc SQuAD benchmark: %d thread(s), %ld core(s) online; sequence %d, %s windows, inference batch 1 and %d,"
         " fine-tuning micro-batch %d\n", omp_get_max_threads(), sysconf(_SC_NPROCESSORS_ONLN), SEQ,
         o.padded ? "padded" : "full", INFER_BIG, o.micro_batch);
  bert_model m;
  bert_optimizer opt;
  bert_error err = {0};
  if (model_build(&m, &opt, &err)) {
    printf("cannot build the model: %s\nRESULT impl=bertc precision=fp32 workload=all status=error\n", err.message);
    return 1;
  }
  features fs;
  int nf = o.micro_batch > INFER_BIG ? o.micro_batch : INFER_BIG;
  if (features_make(&fs, nf, m.config.vocab_size, o.padded)) return fprintf(stderr, "bench_squad: out of memory\n"), 1;
  ctx c = {&o, &m, &fs, forward_flops(&m.config), NULL};
  printf("FLOPs counted per feature: inference %.2f GFLOP, fine-tuning %.2f GFLOP (3 x forward)\n", c.flops * 1e-9,
         3 * c.flops * 1e-9);
  if (o.precisions & PREC_FP32) bench_precision(&c, BERT_FP32, &opt);
  if (o.precisions & PREC_BF16) bench_precision(&c, BERT_BF16, &opt);
  features_free(&fs);
  bert_optimizer_free(&opt);
  bert_model_free(&m);
  printf("\nbench_squad: done in %.0f s\n", bert_seconds() - start);
  return 0;
}
