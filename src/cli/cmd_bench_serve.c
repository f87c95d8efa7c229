/* bert bench-serve: the reference's Triton client benchmark (REFERENCE 9.3) in C — SYNC and
 * ASYNC clients (and gRPC streams) at several concurrency levels against a v2 server over HTTP
 * or gRPC, the reference's throughput and latency log lines, latency percentiles, the server's
 * own cost from its statistics, a sweep table, and optionally a check of every output against
 * local inference (docs/bench-serve.md). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "cli/commands.h"
#include "model/config.h"
#include "serve/bench_client.h"
#include "serve/bench_local.h"
#include "serve/bench_query.h"
#include "serve/bert_backend.h"
#include "serve/grpc_client.h"
#include "serve/http_client.h"
#include "serve/repository.h"

#define MAX_LEVELS 32

typedef struct bench_cli {
  const char *url, *serve_repo, *model, *check_dir, *input, *vocab;
  int serve_threads;
  bert_serve_bench_protocol protocol;
  int sync, async, streaming;     /* modes to run */
  int levels[MAX_LEVELS], n_levels;
  int requests, warmup, depth, batch_size, seq_len, n_batches, vocab_size, json, verbose, in_process;
  int min_real, max_real;         /* 0 = the full length */
  double duration, timeout;
  uint64_t seed;
} bench_cli;

static const char *usage_text =
    "usage: bert bench-serve [--url HOST:PORT | --serve REPO] [-i http|grpc] [options]\n"
    "\n"
    "Benchmarks a KServe v2 / Triton server over HTTP or gRPC with concurrent clients, as the\n"
    "reference's Triton client test: throughput and latency lines per concurrency level,\n"
    "p50/p90/p95/p99 request latency, the server's own cost per request (from its statistics) and\n"
    "a sweep table; --check compares every output with local inference.\n"
    "\n"
    "options:\n"
    "  -i, --protocol P     http or grpc, any case (default http)\n"
    "  --url HOST:PORT      the server (default 127.0.0.1:8000, for grpc 127.0.0.1:8001)\n"
    "  --serve REPO         start `bert serve --model-repository REPO` on free ports for the run\n"
    "  --serve-threads N    its --threads\n"
    "  --in-process         also run the same requests through the model's backend in this process\n"
    "                       (no HTTP or gRPC, no queue; needs --serve): the table then shows\n"
    "                       HTTP (or gRPC) / in-process\n"
    "  --model NAME         model to call (default bert)\n"
    "  --mode M             sync, async or both, any case (default sync)\n"
    "  --streaming          grpc: also run STREAM levels, each client one ModelStreamInfer stream\n"
    "                       with --async-depth requests in flight on it\n"
    "  --clients LIST       concurrency levels, e.g. 1,4,8 (default 1)\n"
    "  --requests N         requests per client, warm-up included (default 20)\n"
    "  --duration S         send for S seconds per client instead of --requests\n"
    "  --warmup N           requests per client left out of the figures (default 2, the reference's)\n"
    "  --async-depth D      requests in flight per asynchronous client (default 4)\n"
    "  --batch-size B       rows per request (default: the model's max_batch_size)\n"
    "  --seq-len L          sequence length for a model with a variable one (default 128)\n"
    "  --lengths MIN:MAX    real tokens per row, uniform; the rest is padding (default: all real)\n"
    "  --random             random valid token ids (the default input)\n"
    "  --input FILE         rows are the SQuAD features of FILE (e.g. dev-v1.1.json), tokenised with\n"
    "                       --vocab (default data/vocab.txt, uncased), windows of the model's length\n"
    "  --batches N          distinct requests prepared and cycled through (default 8)\n"
    "  --vocab-size V       ids are drawn from [1, V) (default: --check's config.json, else 30522)\n"
    "  --seed S             seed of the random inputs (default 0)\n"
    "  --json               http: JSON tensors in and out (default: binary, as tritonclient)\n"
    "  --check DIR          compare every output with local inference of DIR (a model folder with\n"
    "                       config.pbtxt, or a HuggingFace folder): fp32 within rtol 1e-5 + atol 1e-5,\n"
    "                       fp16 within rtol 1e-3; padded positions must be -10000\n"
    "  --timeout S          seconds one request may take (default 120)\n"
    "  --verbose            the reference's per-request SYNC lines\n"
    "  -h, --help           show this help and exit\n";

/* ---- options ---- */

static int int_value(const char *name, const char *s, long lo, long hi, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) {
    fprintf(stderr, "bert bench-serve: %s expects an integer in [%ld, %ld], got '%s'\n", name, lo, hi, s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static int parse_levels(const char *s, bench_cli *o) {
  o->n_levels = 0;
  char *copy = strdup(s), *save = NULL;
  int rc = copy ? 0 : -1;
  for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc; t = strtok_r(NULL, ",", &save))
    rc = o->n_levels == MAX_LEVELS ? -1 : int_value("--clients", t, 1, 1024, &o->levels[o->n_levels++]);
  free(copy);
  return rc || !o->n_levels ? -1 : 0;
}

static int parse_lengths(const char *s, bench_cli *o) {
  if (sscanf(s, "%d:%d", &o->min_real, &o->max_real) != 2 || o->min_real < 1 || o->max_real < o->min_real) {
    fprintf(stderr, "bert bench-serve: --lengths expects MIN:MAX with 1 <= MIN <= MAX, got '%s'\n", s);
    return -1;
  }
  return 0;
}

static int parse_mode(const char *s, bench_cli *o) {
  /* case-insensitive: the reference's benchmark parameters say SYNC / ASYNC */
  o->sync = !strcasecmp(s, "sync") || !strcasecmp(s, "both");
  o->async = !strcasecmp(s, "async") || !strcasecmp(s, "both");
  if (o->sync || o->async) return 0;
  fprintf(stderr, "bert bench-serve: --mode expects sync, async or both, got '%s'\n", s);
  return -1;
}

static int parse_protocol(const char *s, bench_cli *o) {
  /* case-insensitive, as perf_analyzer's -i */
  if (!strcasecmp(s, "http") || !strcasecmp(s, "grpc")) {
    o->protocol = strcasecmp(s, "grpc") ? BERT_SERVE_BENCH_HTTP : BERT_SERVE_BENCH_GRPC;
    return 0;
  }
  fprintf(stderr, "bert bench-serve: -i expects http or grpc, got '%s'\n", s);
  return -1;
}

static int parse_double(const char *name, const char *s, double *out) {
  char *end;
  *out = strtod(s, &end);
  if (*s && !*end && *out > 0) return 0;
  fprintf(stderr, "bert bench-serve: %s expects a positive number, got '%s'\n", name, s);
  return -1;
}

static void defaults(bench_cli *o) {
  memset(o, 0, sizeof *o);
  o->model = "bert", o->sync = 1;
  o->levels[0] = 1, o->n_levels = 1;
  o->requests = 20, o->warmup = 2, o->depth = 4, o->seq_len = 128, o->n_batches = 8, o->timeout = 120;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_options(int argc, char **argv, bench_cli *o) {
  static const struct option longopts[] = {
      {"url", required_argument, 0, 'u'},        {"serve", required_argument, 0, 'S'},
      {"serve-threads", required_argument, 0, 'T'}, {"model", required_argument, 0, 'm'},
      {"mode", required_argument, 0, 'M'},       {"clients", required_argument, 0, 'c'},
      {"requests", required_argument, 0, 'n'},   {"duration", required_argument, 0, 'd'},
      {"warmup", required_argument, 0, 'w'},     {"async-depth", required_argument, 0, 'D'},
      {"batch-size", required_argument, 0, 'b'}, {"seq-len", required_argument, 0, 'L'},
      {"lengths", required_argument, 0, 'l'},    {"random", no_argument, 0, 'R'},
      {"input", required_argument, 0, 'F'},      {"batches", required_argument, 0, 'B'},
      {"vocab-size", required_argument, 0, 'V'}, {"vocab", required_argument, 0, 'W'}, {"seed", required_argument, 0, 's'},
      {"json", no_argument, 0, 'j'},             {"check", required_argument, 0, 'C'},
      {"timeout", required_argument, 0, 't'},    {"verbose", no_argument, 0, 'v'},
      {"in-process", no_argument, 0, 'P'},       {"help", no_argument, 0, 'h'},
      {"protocol", required_argument, 0, 'i'},   {"streaming", no_argument, 0, 'X'},
      {0, 0, 0, 0}};
  defaults(o);
  opterr = 0;
  optind = 1;
  int c, bad = 0;
  while (!bad && (c = getopt_long(argc, argv, "hi:", longopts, NULL)) != -1) {
    switch (c) {
      case 'u': o->url = optarg; break;
      case 'S': o->serve_repo = optarg; break;
      case 'T': bad = int_value("--serve-threads", optarg, 1, 4096, &o->serve_threads); break;
      case 'm': o->model = optarg; break;
      case 'M': bad = parse_mode(optarg, o); break;
      case 'c': bad = parse_levels(optarg, o); if (bad) fprintf(stderr, "bert bench-serve: bad --clients '%s'\n", optarg); break;
      case 'n': bad = int_value("--requests", optarg, 1, 100000000, &o->requests); o->duration = 0; break;
      case 'd': bad = parse_double("--duration", optarg, &o->duration); o->requests = 0; break;
      case 'w': bad = int_value("--warmup", optarg, 0, 1000000, &o->warmup); break;
      case 'D': bad = int_value("--async-depth", optarg, 1, 256, &o->depth); break;
      case 'b': bad = int_value("--batch-size", optarg, 1, 1 << 20, &o->batch_size); break;
      case 'L': bad = int_value("--seq-len", optarg, 1, 1 << 20, &o->seq_len); break;
      case 'l': bad = parse_lengths(optarg, o); break;
      case 'R': o->input = NULL; break;
      case 'F': o->input = optarg; break;
      case 'i': bad = parse_protocol(optarg, o); break;
      case 'X': o->streaming = 1; break;
      case 'B': bad = int_value("--batches", optarg, 1, 100000, &o->n_batches); break;
      case 'V': bad = int_value("--vocab-size", optarg, 2, 1 << 30, &o->vocab_size); break;
      case 'W': o->vocab = optarg; break;
      case 's': o->seed = strtoull(optarg, NULL, 10); break;
      case 'j': o->json = 1; break;
      case 'C': o->check_dir = optarg; break;
      case 't': bad = parse_double("--timeout", optarg, &o->timeout); break;
      case 'v': o->verbose = 1; break;
      case 'P': o->in_process = 1; break;
      case 'h': fputs(usage_text, stdout); return 1;
      default:
        fprintf(stderr, "bert bench-serve: unknown or incomplete option '%s'\n%s", argv[optind - 1], usage_text);
        return 2;
    }
  }
  if (bad) return 2;
  if (optind < argc) {
    fprintf(stderr, "bert bench-serve: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  int grpc = o->protocol == BERT_SERVE_BENCH_GRPC;
  if (!o->url) o->url = grpc ? "127.0.0.1:8001" : "127.0.0.1:8000";
  if (!grpc && o->streaming) {
    fprintf(stderr, "bert bench-serve: --streaming is gRPC's (-i grpc)\n");
    return 2;
  }
  if (grpc && o->json) {
    fprintf(stderr, "bert bench-serve: --json is HTTP's: gRPC sends raw tensors\n");
    return 2;
  }
  if (o->in_process && !o->serve_repo) {
    fprintf(stderr, "bert bench-serve: --in-process needs --serve REPO (the model to load)\n");
    return 2;
  }
  if (o->requests && o->requests <= o->warmup) {
    fprintf(stderr, "bert bench-serve: --requests %d leaves nothing after --warmup %d\n", o->requests, o->warmup);
    return 2;
  }
  return 0;
}

/* ---- a server of our own (--serve) ---- */

typedef struct spawned {
  pid_t pid;
  int port, grpc_port;
} spawned;

/* The port at the end of `line` after `marker`, or 0. */
static int port_after(const char *line, const char *marker) {
  const char *p = strstr(line, marker), *colon = p ? strrchr(p, ':') : NULL;
  return colon ? atoi(colon + 1) : 0;
}

/* Starts `bert serve` on free ports and reads them from its first lines. */
static int spawn_server(const bench_cli *o, spawned *s, bert_error *err) {
  int fds[2];
  if (pipe(fds)) return bert_error_set(err, BERT_EIO, "--serve: pipe failed");
  char threads[16];
  snprintf(threads, sizeof threads, "%d", o->serve_threads);
  s->pid = fork();
  if (s->pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]), close(fds[1]);
    const char *args[] = {"bert", "serve", "--model-repository", o->serve_repo, "--http-port", "0", "--grpc-port", "0",
                          o->serve_threads ? "--threads" : NULL, threads, NULL};
    execv("/proc/self/exe", (char *const *)args);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char line[512];
  s->port = s->grpc_port = 0;
  while (f && (s->port <= 0 || s->grpc_port <= 0) && fgets(line, sizeof line, f)) {
    if (s->port <= 0) s->port = port_after(line, "listening on http://");
    if (s->grpc_port <= 0) s->grpc_port = port_after(line, "grpc listening on ");
  }
  if (f) fclose(f); /* the server's later stdout lines (none) would get EPIPE: it ignores SIGPIPE */
  else close(fds[0]);
  if (s->port > 0 && s->grpc_port > 0) return BERT_OK;
  int status;
  kill(s->pid, SIGTERM);
  waitpid(s->pid, &status, 0);
  s->pid = 0;
  return bert_error_set(err, BERT_EIO, "--serve %s: the server did not start (see its messages above)", o->serve_repo);
}

static int stop_server(spawned *s) {
  if (s->pid <= 0) return 0;
  kill(s->pid, SIGTERM);
  int status = 0;
  waitpid(s->pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- preparing the inputs ---- */

/* The HF folder and seed behind --check DIR: a model folder (config.pbtxt + versions) or a
 * HuggingFace folder itself. */
static int load_check_model(const char *dir, bert_model *model, bert_error *err) {
  char pbtxt[4200], version[32], hf[4300], name[256];
  uint64_t seed = BERT_SERVE_DEFAULT_SEED;
  snprintf(hf, sizeof hf, "%s", dir);
  if (!bert_path_join(pbtxt, sizeof pbtxt, dir, "config.pbtxt") && bert_path_exists(pbtxt)) {
    const char *slash = strrchr(dir, '/');
    snprintf(name, sizeof name, "%s", slash && slash[1] ? slash + 1 : dir);
    bert_serve_model_config cfg;
    int rc = bert_serve_model_config_load(&cfg, pbtxt, name, err);
    if (rc) return rc;
    const char *s = bert_serve_model_config_param(&cfg, "random_seed");
    if (s) seed = strtoull(s, NULL, 10);
    bert_serve_model_config_free(&cfg);
    if ((rc = bert_serve_latest_version(dir, version, sizeof version, err))) return rc;
    snprintf(hf, sizeof hf, "%s/%s", dir, version);
  }
  return bert_serve_bert_load(model, hf, seed, NULL, err);
}

/* SQuAD features of --input in windows of `len` tokens (stride: a quarter of the length, at most
 * the reference's 128). */
typedef struct squad_input {
  bert_squad_dataset ds;
  bert_vocab vocab;
  bert_tokenizer *tok;
  bert_squad_features f;
  int have_ds, have_vocab, have_f;
} squad_input;

static void squad_input_free(squad_input *in) {
  if (in->have_f) bert_squad_features_free(&in->f);
  if (in->tok) bert_tokenizer_free(in->tok);
  if (in->have_vocab) bert_vocab_free(&in->vocab);
  if (in->have_ds) bert_squad_dataset_free(&in->ds);
}

static int squad_input_load(squad_input *in, const bench_cli *o, int len, bert_error *err) {
  memset(in, 0, sizeof *in);
  char path[4096];
  bert_find_project_file(o->vocab ? o->vocab : "data/vocab.txt", path, sizeof path);
  int rc = bert_squad_dataset_load(&in->ds, o->input, err);
  in->have_ds = rc == BERT_OK;
  if (!rc && !(rc = bert_tokenizer_open(path, &in->vocab, &in->tok, NULL, err))) in->have_vocab = 1;
  bert_squad_feature_config fc = {len, len / 4 < 128 ? len / 4 : 128};
  if (!rc && !(rc = bert_squad_features_build(&in->f, &in->ds, in->tok, &fc, err))) in->have_f = 1;
  if (!rc) fprintf(stderr, "bert bench-serve: %lld SQuAD features of %d tokens from %s\n", (long long)in->f.count, len, o->input);
  return rc;
}

static int prepare(const bench_cli *o, const bert_serve_bench_model *m, bert_serve_bench_batch **batches, bert_error *err) {
  bert_model local;
  int have_local = 0, rc = BERT_OK;
  if (o->check_dir) {
    if ((rc = load_check_model(o->check_dir, &local, err))) return bert_error_prefix(err, "--check: ");
    have_local = 1;
  }
  int len = m->seq_len > 0 ? m->seq_len : o->seq_len;
  bert_serve_bench_shape shape = {o->batch_size ? o->batch_size : (m->cfg.max_batch_size > 0 ? m->cfg.max_batch_size : 1),
                                  len, o->min_real ? o->min_real : len, o->max_real ? o->max_real : len,
                                  o->vocab_size ? o->vocab_size : have_local ? local.config.vocab_size : 30522, o->seed, o->json,
                                  o->protocol == BERT_SERVE_BENCH_GRPC, NULL};
  if (shape.max_real > len) rc = bert_error_set(err, BERT_EINVAL, "--lengths: %d tokens exceed the model's %d", shape.max_real, len);
  if (!rc && m->cfg.max_batch_size > 0 && shape.rows > m->cfg.max_batch_size)
    rc = bert_error_set(err, BERT_EINVAL, "--batch-size %d exceeds the model's max_batch_size %d", shape.rows, m->cfg.max_batch_size);
  squad_input squad;
  int have_squad = !rc && o->input;
  if (have_squad && !(rc = squad_input_load(&squad, o, len, err))) shape.squad = &squad.f;
  if (!rc) rc = bert_serve_bench_make_batches(batches, o->n_batches, m, &shape, err);
  if (have_squad) squad_input_free(&squad);
  if (!rc && have_local) {
    double t = bert_seconds();
    rc = bert_serve_bench_expect(*batches, o->n_batches, &local, err);
    fprintf(stderr, "bert bench-serve: local reference outputs computed in %.1f s\n", bert_seconds() - t);
  }
  if (have_local) bert_model_free(&local);
  return rc;
}

/* ---- reporting ---- */

enum { SYNC, ASYNC, STREAM, N_MODES };
static const char *mode_names[N_MODES] = {"SYNC", "ASYNC", "STREAM"};

typedef struct level_summary {
  const char *mode;
  int clients, requests, errors, mismatches;
  double overall, p50, p90, p95, p99, mean_ms;
  double own_ms;                  /* the server's own cost per request; NAN when unknown */
} level_summary;

static const char *protocol_name(const bench_cli *o, int mode) {
  if (o->protocol == BERT_SERVE_BENCH_HTTP) return "http";
  return mode == STREAM ? "grpc (ModelStreamInfer)" : "grpc (ModelInfer)";
}

static void mean_min_max_std(const double *v, int n, double *mean, double *min, double *max, double *std) {
  double s = 0, ss = 0;
  *min = n ? v[0] : 0, *max = n ? v[0] : 0;
  for (int i = 0; i < n; i++) {
    s += v[i];
    if (v[i] < *min) *min = v[i];
    if (v[i] > *max) *max = v[i];
  }
  *mean = n ? s / n : 0;
  for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
  *std = n ? sqrt(ss / n) : 0; /* numpy's np.std: population */
}

/* The reference's per-client figures: throughput = rows / time and latency = 1000 time x 2 / rows
 * (normalised to its 2-sample micro-batch), time being the summed request times (SYNC) or the
 * client's wall time (ASYNC and STREAM, whose requests overlap). */
static void reference_lines(const bench_cli *o, const bert_serve_bench_model *m, int mode, int n,
                            const bert_serve_bench_result *res) {
  double thr[n], lat[n], mean, min, max, std;
  int k = 0;
  for (int i = 0; i < n; i++) {
    double t = mode != SYNC ? res[i].wall : res[i].busy;
    if (res[i].rows <= 0 || t <= 0) continue;
    thr[k] = (double)res[i].rows / t, lat[k] = 1000.0 * t * 2.0 / (double)res[i].rows, k++;
  }
  int fp16 = m->out_role[0] >= 0 && m->cfg.outputs[m->out_role[0]].dtype == BERT_SERVE_FP16;
  printf("%s-RequestType.%s-%d results:\n", o->model, mode_names[mode], n);
  printf("\tdata_type: %s\n", fp16 ? "float16" : "float32");
  printf("\tprotocol: %s\n", protocol_name(o, mode));
  mean_min_max_std(thr, k, &mean, &min, &max, &std);
  printf("\tthroughput: %.6g samples/sec (mean) (min: %.6g, max: %.6g, std: %.6g)\n", mean, min, max, std);
  if (n > 1) printf("\tthroughput thread combined: %.6g samples/sec (mean)\n", n * mean);
  mean_min_max_std(lat, k, &mean, &min, &max, &std);
  printf("\tlatency: %.6g ms (mean) (min: %.6g, max: %.6g)\n", mean, min, max);
}

/* The server's statistics over the level (its warm-up included): time per request in the server,
 * and what is neither queue nor compute — the server's own cost. */
static double server_line(const bert_serve_bench_stats *a, const bert_serve_bench_stats *b) {
  double n = (double)(b->count - a->count);
  if (n <= 0) return NAN;
  double total = (double)(b->success_ns - a->success_ns) / n / 1e6, queue = (double)(b->queue_ns - a->queue_ns) / n / 1e6;
  double compute = (double)((b->input_ns - a->input_ns) + (b->infer_ns - a->infer_ns) + (b->output_ns - a->output_ns)) / n / 1e6;
  printf("\tserver: %.3f ms per request (queue %.3f ms, compute %.3f ms, own %.4f ms) over %.0f requests\n", total, queue,
         compute, total - queue - compute, n);
  return total - queue - compute;
}

static level_summary summarize(const bench_cli *o, const bert_serve_bench_model *m, int mode, int n,
                               bert_serve_bench_result *res) {
  level_summary s = {mode_names[mode], n, 0, 0, 0, 0, 0, 0, 0, 0, 0, NAN};
  int total = 0;
  int64_t rows = 0;
  double first = 0, last = 0, sum = 0;
  for (int i = 0; i < n; i++) total += res[i].requests;
  double *all = malloc(sizeof(double) * (size_t)(total ? total : 1));
  total = 0;
  for (int i = 0; all && i < n; i++) {
    for (int j = 0; j < res[i].requests; j++) all[total++] = res[i].latency[j] * 1000.0, sum += res[i].latency[j] * 1000.0;
    rows += res[i].rows;
    s.errors += res[i].errors, s.mismatches += res[i].mismatches;
    if (res[i].requests && (first == 0 || res[i].started < first)) first = res[i].started;
    if (res[i].finished > last) last = res[i].finished;
  }
  s.requests = total;
  s.overall = last > first ? (double)rows / (last - first) : 0;
  s.mean_ms = total ? sum / total : 0;
  s.p50 = bert_serve_quantile(all, total, 0.50), s.p90 = bert_serve_quantile(all, total, 0.90);
  s.p95 = bert_serve_quantile(all, total, 0.95), s.p99 = bert_serve_quantile(all, total, 0.99);
  free(all);
  reference_lines(o, m, mode, n, res);
  printf("\trequest latency: p50 %.3f ms, p90 %.3f ms, p95 %.3f ms, p99 %.3f ms (mean %.3f ms over %d requests)\n", s.p50,
         s.p90, s.p95, s.p99, s.mean_ms, total);
  printf("\tthroughput all clients: %.6g samples/sec (wall clock)\n", s.overall);
  if (s.errors || s.mismatches) {
    const char *first_problem = "";
    for (int i = 0; i < n && !*first_problem; i++) first_problem = res[i].first_problem;
    printf("\terrors: %d, check failures: %d (first: %s)\n", s.errors, s.mismatches, first_problem);
  }
  return s;
}

/* One row per level; `local` (samples/s in process, 0 = not measured) adds the HTTP (or gRPC) /
 * in-process ratio. */
static void sweep_table(const bench_cli *o, const level_summary *s, int n, int checked, double local) {
  printf("\nprotocol %s, model %s:\n", o->protocol == BERT_SERVE_BENCH_GRPC ? "grpc" : "http", o->model);
  printf("%-6s %7s %9s %12s %9s %9s %9s %9s %9s %8s %7s", "mode", "clients", "requests", "samples/s", "mean ms", "p50 ms",
         "p90 ms", "p95 ms", "p99 ms", "own ms", "errors");
  printf("%s%s\n", local > 0 ? "  vs-local" : "", checked ? "  check" : "");
  for (int i = 0; i < n; i++) {
    printf("%-6s %7d %9d %12.2f %9.3f %9.3f %9.3f %9.3f %9.3f", s[i].mode, s[i].clients, s[i].requests, s[i].overall,
           s[i].mean_ms, s[i].p50, s[i].p90, s[i].p95, s[i].p99);
    if (isnan(s[i].own_ms)) printf(" %8s", "-");
    else printf(" %8.4f", s[i].own_ms);
    printf(" %7d", s[i].errors);
    if (local > 0) printf("  %7.1f%%", 100.0 * s[i].overall / local);
    printf("%s\n", checked ? (s[i].mismatches ? "  FAILED" : "  ok") : "");
  }
}

/* The same requests through the backend in this process (the baseline of the served figures). */
static double in_process(const bench_cli *o, const bert_serve_bench_batch *batches, bert_error *err) {
  bert_serve_bench_local_result res;
  int passes = o->requests ? (o->requests + o->n_batches - 1) / o->n_batches : 3;
  if (bert_serve_bench_local(o->serve_repo, o->model, batches, o->n_batches, passes, o->serve_threads, &res, err)) return -1;
  printf("in-process: %.6g samples/sec (%.3f ms per request, %d requests, no %s)\n", res.samples_per_sec,
         res.ms_per_request, res.requests, o->protocol == BERT_SERVE_BENCH_GRPC ? "gRPC" : "HTTP");
  return res.samples_per_sec;
}

/* ---- running ---- */

static int run_level(const bench_cli *o, bert_serve_bench_options *bo, const bert_serve_bench_server *server, int mode,
                     int clients, level_summary *out, bert_error *err) {
  bert_serve_bench_result *res = calloc((size_t)clients, sizeof *res);
  if (!res) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  bo->clients = clients, bo->depth = mode == SYNC ? 1 : o->depth, bo->streaming = mode == STREAM;
  bert_serve_bench_stats before, after;
  bert_error ignored = {0}; /* a server without the statistics extension: no server line */
  int stats = !bert_serve_bench_fetch_stats(server, o->model, &before, &ignored);
  int rc = bert_serve_bench_run(bo, res, err);
  if (!rc && o->verbose && mode == SYNC)
    for (int i = 0; i < clients; i++)
      for (int j = 0; j < res[i].requests; j++)
        printf("Iteration: %d: throughput: %.6g samples/sec; Elapsed time: %.6f s\n", j,
               (double)(res[i].rows / (res[i].requests ? res[i].requests : 1)) / res[i].latency[j], res[i].latency[j]);
  if (!rc) *out = summarize(o, bo->model, mode, clients, res);
  if (!rc && stats && !bert_serve_bench_fetch_stats(server, o->model, &after, &ignored)) out->own_ms = server_line(&before, &after);
  fflush(stdout);
  for (int i = 0; i < clients; i++) bert_serve_bench_result_free(&res[i]);
  free(res);
  return rc;
}

static int run_all(const bench_cli *o, const bert_serve_bench_server *server, const char *target, int *failed,
                   bert_error *err) {
  bert_serve_bench_model m;
  int rc = bert_serve_bench_fetch_model(server, o->model, &m, err);
  if (rc) return rc;
  bert_serve_bench_batch *batches = NULL;
  if ((rc = prepare(o, &m, &batches, err))) {
    bert_serve_bench_model_free(&m);
    return rc;
  }
  char path[512];
  snprintf(path, sizeof path, "/v2/models/%s/infer", o->model);
  int fp16 = m.out_role[0] >= 0 && m.cfg.outputs[m.out_role[0]].dtype == BERT_SERVE_FP16;
  bert_serve_bench_options bo = {.protocol = o->protocol, .host = server->host, .port = server->port, .path = path,
                                 .target = target, .requests = o->requests, .duration = o->duration, .warmup = o->warmup,
                                 .batches = batches, .n_batches = o->n_batches, .model = &m, .rtol = fp16 ? 1e-3 : 1e-5,
                                 .atol = 1e-5, .timeout = o->timeout};
  level_summary sums[N_MODES * MAX_LEVELS];
  int n = 0, run_mode[N_MODES] = {o->sync, o->async, o->streaming};
  for (int mode = 0; mode < N_MODES && !rc; mode++) {
    if (!run_mode[mode]) continue;
    for (int i = 0; i < o->n_levels && !rc; i++) rc = run_level(o, &bo, server, mode, o->levels[i], &sums[n++], err);
  }
  double local = 0;
  if (!rc && o->in_process && (local = in_process(o, batches, err)) < 0) rc = err->code;
  if (!rc) sweep_table(o, sums, n, o->check_dir != NULL, local);
  for (int i = 0; !rc && i < n; i++) *failed |= sums[i].errors || sums[i].mismatches;
  bert_serve_bench_free_batches(batches, o->n_batches);
  bert_serve_bench_model_free(&m);
  return rc;
}

/* Where the server is: --serve's ports, or --url (HTTP: host and port; gRPC: the target as given). */
static int locate_server(const bench_cli *o, const spawned *sp, char *host, size_t cap, int *port, char *target, size_t tcap,
                         bert_error *err) {
  if (o->serve_repo) {
    snprintf(host, cap, "127.0.0.1");
    *port = sp->port;
    snprintf(target, tcap, "127.0.0.1:%d", sp->grpc_port);
    return BERT_OK;
  }
  snprintf(target, tcap, "%s", o->url);
  *port = 0;
  return o->protocol == BERT_SERVE_BENCH_GRPC ? BERT_OK : bert_serve_parse_url(o->url, host, cap, port, err);
}

int cmd_bench_serve(int argc, char **argv) {
  bench_cli o;
  int usage = parse_options(argc, argv, &o);
  if (usage) return usage == 1 ? 0 : 2;
  signal(SIGPIPE, SIG_IGN);
  bert_error err = {0};
  char host[256] = "", target[512];
  int failed = 0, rc = BERT_OK;
  spawned sp = {0, 0, 0};
  bert_serve_bench_server server = {o.protocol, host, 0, NULL};
  if (o.serve_repo) rc = spawn_server(&o, &sp, &err);
  if (!rc) rc = locate_server(&o, &sp, host, sizeof host, &server.port, target, sizeof target, &err);
  if (!rc && o.protocol == BERT_SERVE_BENCH_GRPC) rc = bert_serve_grpc_client_open(&server.grpc, target, 1, &err);
  if (!rc) rc = run_all(&o, &server, target, &failed, &err);
  bert_serve_grpc_client_close(server.grpc);
  if (stop_server(&sp)) fprintf(stderr, "bert bench-serve: the server did not exit cleanly\n"), failed = 1;
  if (rc) {
    fprintf(stderr, "bert bench-serve: %s\n", err.message);
    return 1;
  }
  return failed ? 1 : 0;
}
