#!/usr/bin/env bash
# `bert bench-serve -i grpc` against a small served model: unary SYNC and ASYNC clients and
# streaming clients (ModelStreamInfer), every answer checked against local inference, the log
# lines, request counts and the server's statistics line; then errors: an unknown model and
# requests the server refuses carry the gRPC status (a stream's error_message) and exit 1.
set -u
BERT=${BERT_BIN:-build/bert}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/small_repo.sh"
small_repo "$dir/repo" 512
fails=0
fail() { echo "FAIL: $*"; fails=1; }
common=(--serve "$dir/repo" --model small --vocab-size 512 --batches 4 --batch-size 3 --lengths 8:128)

# 1. every mode at 1 and 3 clients, 5 requests each (1 warm-up): 4 and 12 measured per level
"$BERT" bench-serve "${common[@]}" -i GRPC --mode both --streaming --clients 1,3 --requests 5 --warmup 1 \
  --async-depth 3 --check "$dir/repo/small" >"$dir/out" 2>&1
status=$?
[ $status -eq 0 ] || fail "bench-serve -i grpc exited $status"
[ "$(grep -Ec '^small-RequestType\.(SYNC|ASYNC|STREAM)-(1|3) results:$' "$dir/out")" = 6 ] || fail "not 6 result blocks"
[ "$(grep -c 'protocol: grpc (ModelInfer)$' "$dir/out")" = 4 ] || fail "not 4 unary blocks"
[ "$(grep -c 'protocol: grpc (ModelStreamInfer)$' "$dir/out")" = 2 ] || fail "not 2 streaming blocks"
[ "$(grep -Ec 'throughput: [0-9.e+]+ samples/sec \(mean\)' "$dir/out")" = 6 ] || fail "throughput lines"
[ "$(grep -Ec 'request latency: p50 [0-9.]+ ms, p90 [0-9.]+ ms, p95 [0-9.]+ ms, p99 [0-9.]+ ms' "$dir/out")" = 6 ] ||
  fail "latency percentile lines"
[ "$(grep -Ec 'server: [0-9.]+ ms per request \(queue [0-9.]+ ms, compute [0-9.]+ ms, own -?[0-9.]+ ms\)' "$dir/out")" = 6 ] ||
  fail "server statistics lines"
grep -q '^protocol grpc, model small:$' "$dir/out" || fail "no table title naming the protocol"
table=$(grep -E '^(SYNC|ASYNC|STREAM) +[0-9]+ ' "$dir/out" | awk '{ print $1, $2, $3, $(NF - 1), $NF }' | tr '\n' ';')
want="SYNC 1 4 0 ok;SYNC 3 12 0 ok;ASYNC 1 4 0 ok;ASYNC 3 12 0 ok;STREAM 1 4 0 ok;STREAM 3 12 0 ok;"
[ "$table" = "$want" ] || fail "sweep table (mode clients requests errors check): '$table', expected '$want'"
[ $fails -eq 0 ] || tail -40 "$dir/out"

# 2. an unknown model: the gRPC status of ModelConfig
"$BERT" bench-serve --serve "$dir/repo" --model nope --protocol grpc >"$dir/out" 2>&1
status=$?
[ $status -eq 1 ] || fail "unknown model: exit $status, expected 1"
grep -Eq "bench-serve: ModelConfig: gRPC status [0-9]+ \([A-Z_]+\): .*nope" "$dir/out" || { fail "unknown model: no gRPC status"; cat "$dir/out"; }

# 3. ids outside the vocabulary: every request refused, unary with its status, streamed with the
#    stream's error_message
"$BERT" bench-serve "${common[@]}" --vocab-size 100000 -i grpc --mode sync --streaming --requests 3 --warmup 1 >"$dir/out" 2>&1
status=$?
[ $status -eq 1 ] || fail "refused requests: exit $status, expected 1"
grep -Eq 'errors: 3, check failures: 0 \(first: gRPC status 3 \(INVALID_ARGUMENT\): .*vocabulary' "$dir/out" ||
  fail "refused unary requests: no INVALID_ARGUMENT"
grep -Eq 'errors: 3, check failures: 0 \(first: stream error: .*vocabulary' "$dir/out" || fail "refused streamed requests: no stream error"
[ $fails -eq 0 ] || tail -20 "$dir/out"

# 4. usage: streaming is gRPC's
"$BERT" bench-serve --streaming >/dev/null 2>&1
[ $? -eq 2 ] || fail "--streaming over HTTP is not a usage error"

[ $fails -eq 0 ] || exit 1
echo "bench-serve -i grpc: all checks passed"
