#!/usr/bin/env bash
# bench/serve.sh: the serving benchmark of issues 7 and 12 — `bert serve` driven by `bert bench-serve`
# over HTTP and gRPC, next to in-process inference of the same requests in the same run:
#   1. models/bert (BERT-base, 384 tokens, random weights) and the same model at 128 tokens:
#      HTTP SYNC and ASYNC, gRPC SYNC, ASYNC and STREAM (one ModelStreamInfer stream per client)
#      at 1, 4 and 8 clients: throughput, p50/p90/p95/p99 latency, served / in-process;
#   2. mixed-length traffic (real lengths uniform in 16..384, padded to 384 by the client as SQuAD
#      features are) served with packing (the default) and with padding (parameter packing "false");
#   3. tiny requests (a 2-layer, 64-wide BERT, one 128-token row) from 1 SYNC client over HTTP and
#      gRPC: the server's own cost per request.
# Then the issues' targets: HTTP throughput at 8 clients >= 90 % of in-process; p99 <= 2 x p50 at
# 1 client (SYNC); mixed lengths >= 1.5 x faster packed than padded; gRPC throughput at 8 clients
# >= 95 % of in-process; the server's own cost <= 0.1 ms per request. The own cost is measured
# from the server's statistics (/v2/models/<m>/stats or ModelStatistics, read by bench-serve
# before and after each level): (success - queue - compute input/infer/output) ns / requests,
# i.e. the server's time per request that is neither waiting nor the model; next to it the
# end-to-end difference, the client's mean latency at 1 SYNC client - the in-process time per
# request (which also holds the client's own cost and the network).
#
#   bench/serve.sh [--quick] [--threads N] [--requests N] [--no-build]
# --quick: fewer requests and smaller batches (about three minutes; the default takes about seven). Logs and the summary are kept in
# $BUILD/bench/serve-<date>/ (BUILD defaults to build). Run on a quiet machine: the clients, the
# server and the in-process baseline share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
threads=$(nproc)
requests=3 batch384=2 batch128=4 mixed_batch=16 tiny_requests=1000 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) requests=2 batch384=1 batch128=2 mixed_batch=8 tiny_requests=300; shift ;;
    --threads) threads=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "serve.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

if [ "$build" = 1 ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target bert >/dev/null
fi
BERT=$BUILD/bert
[ -x "$BERT" ] || { echo "serve.sh: $BERT missing (make BUILD=$BUILD)" >&2; exit 1; }

logs="$BUILD/bench/serve-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$logs"
repo=$(mktemp -d)
trap 'rm -rf "$repo"' EXIT

# One repository, one set of weights (random_seed 0 of models/bert): the shipped model, a
# 128-token copy, and a padding (not packing) copy; and a tiny BERT for the server's own cost.
make_model() { # name dims extra-parameters [config.json]
  mkdir -p "$repo/$1/1"
  cp "${4:-models/bert/1/config.json}" "$repo/$1/1/config.json"
  sed -e "s/name: \"bert\"/name: \"$1\"/" -e "s/dims: \[ 384 \]/dims: [ $2 ]/" models/bert/config.pbtxt > "$repo/$1/config.pbtxt"
  [ -z "${3:-}" ] || echo "$3" >> "$repo/$1/config.pbtxt"
}
make_model bert 384
make_model bert128 128
make_model bert_padded 384 'parameters { key: "packing" value: { string_value: "false" } }'
echo '{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
 "vocab_size": 30522, "max_position_embeddings": 128, "type_vocab_size": 2}' > "$repo/tiny.json"
make_model tiny 128 '' "$repo/tiny.json"

common=(--serve "$repo" --serve-threads "$threads" --requests "$requests" --warmup 1 --async-depth 2 --batches 4)
run() { # label, then bench-serve options
  local label=$1
  shift
  echo "== $label: bert bench-serve $*" >&2
  "$BERT" bench-serve "${common[@]}" "$@" > "$logs/$label.log" 2> "$logs/$label.err" ||
    { echo "serve.sh: $label failed, see $logs/$label.err" >&2; cat "$logs/$label.err" >&2; exit 1; }
  sed -n '/^protocol /,$p' "$logs/$label.log" >&2
}

# The machine's busy CPU time (jiffies) and the run's own (children of this shell, seconds): what
# other processes took meanwhile, since every figure here needs a quiet machine.
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
# `times` must run in this shell (in a pipeline or $(...) it would report a subshell): to a file
own_seconds() { awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$1"; }
read -r busy0 total0 < <(cpu_busy)
times > "$repo/times0"
start=$(date +%s)
run bert384 --model bert --mode both --clients 1,4,8 --batch-size "$batch384" --in-process
run bert384_grpc -i grpc --model bert --mode both --streaming --clients 1,4,8 --batch-size "$batch384" --in-process
run bert128 --model bert128 --mode both --clients 1,4,8 --batch-size "$batch128" --in-process
run bert128_grpc -i grpc --model bert128 --mode both --streaming --clients 1,4,8 --batch-size "$batch128" --in-process
run mixed_packed --model bert --clients 1 --batch-size "$mixed_batch" --lengths 16:384
run mixed_padded --model bert_padded --clients 1 --batch-size "$mixed_batch" --lengths 16:384
run tiny --model tiny --clients 1 --batch-size 1 --requests "$tiny_requests" --warmup 20 --in-process
run tiny_grpc -i grpc --model tiny --clients 1 --batch-size 1 --requests "$tiny_requests" --warmup 20 --in-process

# ---- summary and targets ----
read -r busy1 total1 < <(cpu_busy)
times > "$repo/times1"
table_value() { # log mode clients column(1-based)
  awk -v m="$2" -v c="$3" -v k="$4" '$1 == m && $2 == c { print $k }' "$1"
}
local_rate() { sed -n 's/^in-process: \([0-9.e+]*\) samples\/sec.*/\1/p' "$1"; }
local_ms() { sed -n 's/^in-process: .*(\([0-9.e+]*\) ms per request.*/\1/p' "$1"; }
{
  echo "# bench/serve.sh, $(date -u +%Y-%m-%dT%H:%MZ), $threads threads, $(nproc) cores, requests per client $requests"
  for m in bert384 bert128; do
    echo
    echo "## $m (in-process: $(local_rate "$logs/$m.log") samples/s next to HTTP, $(local_rate "$logs/${m}_grpc.log") next to gRPC)"
    sed -n '/^protocol /,$p' "$logs/$m.log"
    sed -n '/^protocol /,$p' "$logs/${m}_grpc.log"
  done
  for m in tiny tiny_grpc; do
    echo
    echo "## $m: 1 SYNC client, 1 row of 128 tokens, in-process $(local_ms "$logs/$m.log") ms per request"
    sed -n '/^protocol /,$p' "$logs/$m.log"
  done
  packed=$(table_value "$logs/mixed_packed.log" SYNC 1 4)
  padded=$(table_value "$logs/mixed_padded.log" SYNC 1 4)
  echo
  echo "## mixed lengths 16..384, batch $mixed_batch, 1 client: packed $packed samples/s, padded $padded samples/s"
  echo
  echo "## targets"
  for m in bert384 bert128; do
    l=$(local_rate "$logs/$m.log")
    for mode in SYNC ASYNC; do
      h=$(table_value "$logs/$m.log" $mode 8 4)
      awk -v h="$h" -v l="$l" -v n="$m $mode" 'BEGIN { r = h / l; printf "%-22s HTTP at 8 clients / in-process = %.2f (target >= 0.90) %s\n", n, r, (r >= 0.9 ? "ok" : "MISSED") }'
    done
    p50=$(table_value "$logs/$m.log" SYNC 1 6)
    p99=$(table_value "$logs/$m.log" SYNC 1 9)
    awk -v a="$p50" -v b="$p99" -v n="$m SYNC" 'BEGIN { r = b / a; printf "%-22s p99 / p50 at 1 client = %.2f (target <= 2) %s\n", n, r, (r <= 2 ? "ok" : "MISSED") }'
    l=$(local_rate "$logs/${m}_grpc.log")
    for mode in SYNC ASYNC STREAM; do
      g=$(table_value "$logs/${m}_grpc.log" $mode 8 4)
      awk -v h="$g" -v l="$l" -v n="$m gRPC $mode" 'BEGIN { r = h / l; printf "%-22s gRPC at 8 clients / in-process = %.2f (target >= 0.95) %s\n", n, r, (r >= 0.95 ? "ok" : "MISSED") }'
    done
  done
  for m in tiny tiny_grpc; do
    own=$(table_value "$logs/$m.log" SYNC 1 10)
    awk -v o="$own" -v n="$m" 'BEGIN { printf "%-22s server own cost at 1 SYNC client = %.4f ms per request (statistics; target <= 0.1) %s\n", n, o, (o <= 0.1 ? "ok" : "MISSED") }'
  done
  for m in bert384 bert384_grpc bert128 bert128_grpc; do
    awk -v o="$(table_value "$logs/$m.log" SYNC 1 10)" -v n="$m" 'BEGIN { printf "%-22s server own cost at 1 SYNC client = %.4f ms per request (statistics, next to BERT-base compute)\n", n, o }'
  done
  for m in tiny tiny_grpc; do
    awk -v lat="$(table_value "$logs/$m.log" SYNC 1 5)" -v l="$(local_ms "$logs/$m.log")" -v n="$m" \
      'BEGIN { printf "%-22s end to end: mean latency %.4f ms - in-process %.4f ms = %.4f ms per request (server, client and network)\n", n, lat, l, lat - l }'
  done
  awk -v a="$packed" -v b="$padded" 'BEGIN { r = a / b; printf "%-22s packed / padded = %.2f (target >= 1.5) %s\n", "mixed 16..384", r, (r >= 1.5 ? "ok" : "MISSED") }'
  awk -v b="$((busy1 - busy0))" -v t="$((total1 - total0))" -v o0="$(own_seconds "$repo/times0")" \
    -v o1="$(own_seconds "$repo/times1")" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { others = (b / hz - (o1 - o0)) / (t / hz); if (others < 0) others = 0; printf "\nother processes used %.0f %% of the CPU time during the run\n", 100 * others }'
  echo "elapsed: $(( $(date +%s) - start )) s; logs in $logs"
} | tee "$logs/summary.md"
