#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/threads.h"
#include "cli/commands.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"data", cmd_data, "data pipeline: create, index, inspect, pack, shuffle, wiki-extract, wiki-preprocess, wikipedia"},
    {"pretrain", cmd_pretrain, "pretrain BERT (MLM + NSP) with the reference's configs; MPI ranks under mpirun"},
    {"infer", cmd_infer, "run a model (base, pretraining, QA or token-classification head) on JSONL input"},
    {"tokenize", cmd_tokenize, "WordPiece-tokenize text lines into JSON lines of tokens, ids and byte offsets"},
    {"plot", cmd_plot, "draw the loss and accuracy curves of a metrics.jsonl as a self-contained SVG"},
    {"bench", cmd_bench, "run named benchmarks of a benchmarks.yml, extract their metrics, table + JSON"},
    {"squad", cmd_squad, "fine-tune and evaluate a QA model on SQuAD v1.1 / v2.0 with the reference's configs"},
    {"qa", cmd_qa, "answer questions about a context with a fine-tuned QA model"},
    {"squad-eval", cmd_squad_eval, "official SQuAD v1.1 / v2.0 scores (EM, F1) of a predictions file"},
    {"serve", cmd_serve, "Triton / KServe v2 compatible HTTP inference server with dynamic batching"},
    {"bench-serve", cmd_bench_serve, "benchmark a v2 server: sync/async clients, throughput, latency percentiles"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: bert <command> [options]\n\nBERT pretraining, fine-tuning and serving on CPUs.\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n`bert <command> --help` describes a command's options.\n");
}

/* OpenMP threads that spin while idle steal the cores of the data-loader threads, of MPI ranks
 * and of anything else running; on a busy machine a tiny model trains 5x slower. libgomp reads
 * OMP_WAIT_POLICY before main, so when the user has not chosen, choose passive and re-execute. */
static void prefer_passive_waiting(char **argv) {
  if (getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
  prefer_passive_waiting(argv);
  bert_threads_set(0); /* within OMP_THREAD_LIMIT from the start (base/threads.h) */
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "bert: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
