#!/usr/bin/env bash
# `bert bench-serve --input dev.json` sends SQuAD features (384/128 windows cut to the model's
# length) to a small served model and every answer passes --check against local inference.
set -u
BERT=${BERT_BIN:-build/bert}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/small_repo.sh"
small_repo "$dir/repo" 30522
"$BERT" bench-serve --serve "$dir/repo" --model small --input tests/data/squad/dev-v1.1.json --requests 4 \
  --clients 1,4 --mode both --check "$dir/repo/small/1" >"$dir/out" 2>&1
status=$?
fails=0
[ $status -eq 0 ] || { echo "FAIL: bench-serve exited $status"; fails=1; }
grep -Eq 'SQuAD features of 128 tokens' "$dir/out" || { echo "FAIL: no SQuAD features line"; fails=1; }
[ "$(grep -Ec '^(SYNC|ASYNC) +[0-9]+ .* ok$' "$dir/out")" = 4 ] || { echo "FAIL: not every level passed --check"; fails=1; }
[ $fails -eq 0 ] || { tail -30 "$dir/out"; exit 1; }
echo "bench-serve --input: all checks passed"
