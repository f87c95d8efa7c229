/* bert serve: a Triton / KServe v2 compatible HTTP and gRPC inference server over a model repository
 * (docs/serve.md). Runs until SIGINT or SIGTERM, then finishes the requests in flight. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "serve/server.h"

/* The one piece of global state: set by the signal handler, read by the main thread. */
static volatile sig_atomic_t serve_signal = 0;

static void on_signal(int sig) { serve_signal = sig; }

/* A second SIGINT/SIGTERM while draining: the operator will not wait, so leave now (only
 * async-signal-safe calls: the requests in flight are dropped, their clients see a closed
 * connection). */
static void on_second_signal(int sig) {
  (void)sig;
  static const char msg[] = "bert serve: second signal: exiting without finishing the requests in flight\n";
  ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)n;
  _exit(1);
}

static const char *usage_text =
    "usage: bert serve --model-repository DIR [options]\n"
    "\n"
    "Serves the models of a Triton-layout repository (DIR/<model>/config.pbtxt and\n"
    "DIR/<model>/<version>/ with a HuggingFace folder) over the KServe v2 protocol, HTTP and\n"
    "gRPC (inference.GRPCInferenceService, as Triton), with Triton's extensions (binary tensors,\n"
    "model configuration, statistics) and /metrics.\n"
    "While a \"bertc-qa-text\" model is loaded, http://HOST:PORT/ is a page to ask it questions\n"
    "in a browser (the answer highlighted in the passage, its score, the n-best list).\n"
    "\n"
    "options:\n"
    "  --model-repository DIR  the model repository (required)\n"
    "  --http-port N           HTTP port (default 8000; 0 = any free port, printed at start)\n"
    "  --host ADDR             address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
    "  --metrics-port N        also serve /metrics on this port (0 = any free port)\n"
    "  --grpc-port N           gRPC port (default 8001; 0 = any free port, printed at start)\n"
    "  --no-grpc               no gRPC listener\n"
    "  --grpc-threads N        gRPC completion-queue threads (default 2)\n"
    "  --threads N             compute threads per model, split between its instances\n"
    "                          (default: all cores)\n"
    "  --http-threads N        connection threads (default 2)\n"
    "  --max-body-bytes N      largest request body (HTTP: 413 beyond) or gRPC message\n"
    "                          (RESOURCE_EXHAUSTED beyond) accepted (default 67108864)\n"
    "  --drain-timeout S       on SIGINT/SIGTERM, wait at most S seconds for requests in\n"
    "                          flight (default 30); a second signal exits at once\n"
    "slow and idle clients (HTTP; gRPC as far as gRPC allows: docs/serve.md):\n"
    "  --header-timeout S      a new connection must send its request line and headers\n"
    "                          within S seconds in all, else it is closed (default 60;\n"
    "                          gRPC: the HTTP/2 preface and settings)\n"
    "  --body-timeout S        at most S seconds between two reads of a request body or two\n"
    "                          writes of a reply (default 60)\n"
    "  --idle-timeout S        a kept-alive connection without a request for S seconds is\n"
    "                          closed (default 75; gRPC: without a call)\n"
    "  --max-connections N     HTTP connections at most (default 4096); from 90% on, each\n"
    "                          new one closes the oldest idle connection, or else the oldest\n"
    "                          stalled partial request (never one being answered)\n"
    "  --max-connections-per-ip N\n"
    "                          HTTP connections from one client address at most; the excess\n"
    "                          is closed at once (default 0: no cap)\n"
    "  -h, --help              show this help and exit\n";

typedef struct serve_cli {
  bert_serve_options opt;
  double drain;
} serve_cli;

static int int_value(const char *name, const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) {
    fprintf(stderr, "bert serve: %s expects an integer in [%ld, %ld], got '%s'\n", name, lo, hi, s);
    return -1;
  }
  *out = v;
  return 0;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_options(int argc, char **argv, serve_cli *cli) {
  static const struct option longopts[] = {
      {"model-repository", required_argument, 0, 'r'}, {"http-port", required_argument, 0, 'p'},
      {"host", required_argument, 0, 'H'},             {"metrics-port", required_argument, 0, 'm'},
      {"threads", required_argument, 0, 't'},          {"http-threads", required_argument, 0, 'T'},
      {"max-body-bytes", required_argument, 0, 'b'},   {"drain-timeout", required_argument, 0, 'd'},
      {"grpc-port", required_argument, 0, 'g'},        {"no-grpc", no_argument, 0, 'G'},
      {"grpc-threads", required_argument, 0, 'j'},     {"help", no_argument, 0, 'h'},
      {"header-timeout", required_argument, 0, 'e'},   {"body-timeout", required_argument, 0, 'B'},
      {"idle-timeout", required_argument, 0, 'i'},     {"max-connections", required_argument, 0, 'c'},
      {"max-connections-per-ip", required_argument, 0, 'P'},
      {0, 0, 0, 0}};
  bert_serve_options *o = &cli->opt;
  memset(cli, 0, sizeof *cli);
  o->host = "127.0.0.1", o->http_port = 8000, o->metrics_port = -1, o->http_threads = 2;
  o->grpc_port = 8001, o->grpc_threads = 2;
  o->max_body_bytes = (size_t)64 << 20;
  /* nginx's defaults (client_header_timeout, client_body_timeout, keepalive_timeout); the cap is
   * what a few held sockets must not reach, and within any usual descriptor limit */
  o->limits = (bert_serve_conn_limits){60, 60, 75, 4096, 0};
  cli->drain = 30;
  opterr = 0;
  optind = 1;
  int c;
  long v;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'r': o->repository = optarg; break;
      case 'H': o->host = optarg; break;
      case 'p': if (int_value("--http-port", optarg, 0, 65535, &v)) return 2; o->http_port = (int)v; break;
      case 'm': if (int_value("--metrics-port", optarg, 0, 65535, &v)) return 2; o->metrics_port = (int)v; break;
      case 't': if (int_value("--threads", optarg, 1, 4096, &v)) return 2; o->threads = (int)v; break;
      case 'g': if (int_value("--grpc-port", optarg, 0, 65535, &v)) return 2; o->grpc_port = (int)v; break;
      case 'G': o->grpc_port = -1; break;
      case 'j': if (int_value("--grpc-threads", optarg, 1, 64, &v)) return 2; o->grpc_threads = (int)v; break;
      case 'T': if (int_value("--http-threads", optarg, 1, 256, &v)) return 2; o->http_threads = (int)v; break;
      case 'b': if (int_value("--max-body-bytes", optarg, 1024, 1L << 40, &v)) return 2; o->max_body_bytes = (size_t)v; break;
      case 'd': if (int_value("--drain-timeout", optarg, 0, 86400, &v)) return 2; cli->drain = (double)v; break;
      case 'e': if (int_value("--header-timeout", optarg, 1, 86400, &v)) return 2; o->limits.header_timeout = (int)v; break;
      case 'B': if (int_value("--body-timeout", optarg, 1, 86400, &v)) return 2; o->limits.body_timeout = (int)v; break;
      case 'i': if (int_value("--idle-timeout", optarg, 1, 86400, &v)) return 2; o->limits.idle_timeout = (int)v; break;
      case 'c': if (int_value("--max-connections", optarg, 16, 1 << 20, &v)) return 2; o->limits.max_connections = (int)v; break;
      case 'P':
        if (int_value("--max-connections-per-ip", optarg, 0, 1 << 20, &v)) return 2;
        o->limits.max_connections_per_ip = (int)v;
        break;
      case 'h': fputs(usage_text, stdout); return 1;
      default:
        fprintf(stderr, "bert serve: unknown or incomplete option '%s'\n%s", argv[optind - 1], usage_text);
        return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "bert serve: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (!o->repository) {
    fprintf(stderr, "bert serve: --model-repository is required\n%s", usage_text);
    return 2;
  }
  return 0;
}

/* SIGINT/SIGTERM are blocked in every thread (the server's threads inherit the mask) and taken
 * by the main thread alone in sigsuspend, so the handler never interrupts a worker. */
static void block_signals(sigset_t *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a client gone mid-reply is an error on that connection, not our end */
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, old);
}

static void wait_for_signal(const sigset_t *old) {
  sigset_t wait_mask = *old;
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGTERM);
  while (!serve_signal) sigsuspend(&wait_mask);
}

/* From the first signal on, the next one ends the process (on the main thread: the server's
 * threads keep both blocked). */
static void arm_second_signal(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_second_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigset_t both;
  sigemptyset(&both);
  sigaddset(&both, SIGINT);
  sigaddset(&both, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &both, NULL);
}

int cmd_serve(int argc, char **argv) {
  serve_cli cli;
  int usage = parse_options(argc, argv, &cli);
  if (usage) return usage == 1 ? 0 : 2;
  sigset_t old;
  block_signals(&old);
  bert_serve_server *server;
  bert_error err = {0};
  if (bert_serve_server_start(&server, &cli.opt, &err)) {
    fprintf(stderr, "bert serve: %s\n", err.message);
    return 1;
  }
  /* an IPv6 address goes in brackets in a URL */
  const char *open = strchr(cli.opt.host, ':') ? "[" : "", *close = *open ? "]" : "";
  printf("bert serve: listening on http://%s%s%s:%d\n", open, cli.opt.host, close, bert_serve_server_http_port(server));
  if (bert_serve_server_grpc_port(server) >= 0)
    printf("bert serve: grpc listening on %s%s%s:%d\n", open, cli.opt.host, close, bert_serve_server_grpc_port(server));
  if (bert_serve_server_metrics_port(server) >= 0)
    printf("bert serve: metrics on http://%s%s%s:%d/metrics\n", open, cli.opt.host, close, bert_serve_server_metrics_port(server));
  fflush(stdout);
  wait_for_signal(&old);
  fprintf(stderr, "bert serve: %s received: finishing the requests in flight (send it again to exit at once)\n",
          serve_signal == SIGINT ? "SIGINT" : "SIGTERM");
  arm_second_signal();
  bert_serve_server_stop(server, cli.drain);
  fprintf(stderr, "bert serve: stopped\n");
  return 0;
}
