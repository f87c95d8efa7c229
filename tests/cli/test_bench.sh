#!/usr/bin/env bash
# bert bench: a small spec in the reference's schema (template merged with <<:, parameters in both
# styles, $DATASETS_DIR, env) with a real `bert pretrain` entry and `printf` entries whose
# metrics are known exactly (mean with skip, final, value, min, max, lazy regexes); the table,
# the JSON, --benchmark selection (benchmarks and single variants), --dry-run, --log-dir,
# --timeout; errors: unknown benchmark, bad YAML, bad spec values, a regex that matches nothing,
# a failing command. Also: the project's benchmarks.yml loads and expands as documented.
set -u
BERT=${BERT_BIN:?BERT_BIN must point to the bert program}
PY=/usr/bin/python3
ROOT=$(pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
say() { echo "FAIL: $*"; fail=1; }

cat >"$T/spec.yml" <<'EOF'
# templates: names with "options" are not benchmarks
common_options: &common_options
  data:
    throughput:
      regexp: 'throughput: *(.*?) samples\/sec'
      skip: 1
    loss:
      regexp: 'total loss: *(\d*\.\d*)'
      reduction_type: "final"
  output:
    - [samples/sec, "throughput"]
    - [loss, "loss"]

tiny_pretrain:
  <<: *common_options
  description: two steps of the demo model on the bundled data
  cmd: >-
    bert pretrain --config demo_tiny_128 --training-steps 2 --gradient-accumulation 2
      --input-files '$DATASETS_DIR/sample_text.tfrecord' --vocab '$DATASETS_DIR/vocab.txt' --disable-progress-bar

reductions:
  data:
    mean_skip: {regexp: 'v=(\d+)', skip: 2}
    final: {regexp: 'v=(\d+)', reduction_type: final}
    first: {regexp: 'v=(\d+)', reduction_type: value}
    low: {regexp: 'v=(\d+)', reduction_type: min}
    high: {regexp: 'v=(\d+)', reduction_type: max}
    lazy: {regexp: 'a: *(.*?) z', reduction_type: max}
    latency: {regexp: 'latency: *(.*?) ms \(mean\)', skip: 1}
  output:
    - [mean, mean_skip]
    - [max, high]
  cmd: >-
    printf 'v=5 v=1 v=9\nv=3 a: 7 z a: 8 z\nlatency: 10 ms (mean) latency: 2 ms (mean) latency: 4 ms (mean)\n'

grid:
  parameters:
    n: 1,2
    word: [x, y]
  data:
    n: {regexp: 'n=(\d+)', reduction_type: final}
  cmd: echo "n={n} word={word} dir=${{DATASETS_DIR}} env=$GREETING {{braces}}"
  env:
    GREETING: hello

rows:
  parameters:
    - [size, name]
    - [10, ten]
    - [20, twenty]
  data:
    size: {regexp: 'size=(\d+)', reduction_type: final}
  cmd: echo size={size} name={name} >&2

nomatch:
  <<: *common_options
  cmd: echo 'no metrics here'

failing:
  data:
    x: {regexp: 'x=(\d+)'}
  cmd: echo x=1; echo 'something went wrong' >&2; exit 3

dryrun_guard:
  cmd: touch ran.flag

slow_conv:
  cmd: sleep 30
EOF

json() { $PY - "$@"; }

echo "== --dry-run: every variant's command, nothing run"
DATASETS_DIR="$ROOT/data" "$BERT" bench --spec "$T/spec.yml" --dry-run >"$T/dry" 2>"$T/err" || say "dry run failed: $(cat "$T/err")"
for v in tiny_pretrain reductions grid_n_1_word_x grid_n_2_word_x grid_n_1_word_y grid_n_2_word_y rows_name_ten_size_10 \
  rows_name_twenty_size_20 nomatch failing dryrun_guard; do
  grep -qx "$v" "$T/dry" || say "dry run lacks variant $v"
done
grep -q "slow_conv" "$T/dry" && say "a _conv benchmark was selected without --include-convergence"
grep -qF -- "--input-files '$ROOT/data/sample_text.tfrecord' --vocab '$ROOT/data/vocab.txt' --disable-progress-bar" "$T/dry" || say "\$DATASETS_DIR not substituted"
grep -qF 'echo "n=2 word=y dir='"$ROOT"'/data env=$GREETING {braces}"' "$T/dry" || say "grid command: $(grep 'n=2 word=y' "$T/dry")"
grep -qF "bert pretrain --config demo_tiny_128 --training-steps 2 --gradient-accumulation 2 --input-files" "$T/dry" ||
  say "whitespace of a folded command not collapsed"
[ -e "$T/ran.flag" ] && say "--dry-run ran a command"
"$BERT" bench --spec "$T/spec.yml" --dry-run --include-convergence | grep -qx slow_conv || say "--include-convergence"
[ "$(grep -c '^ *key .* is not supported' "$T/err")" = 0 ] || say "unexpected ignored-key warning: $(cat "$T/err")"

echo "== run everything except the slow one: table, JSON, status 1 for the failures"
rc=0
DATASETS_DIR="$ROOT/data" "$BERT" bench --spec "$T/spec.yml" --output "$T/all.json" --log-dir "$T/logs" \
  --benchmark tiny_pretrain reductions grid rows --benchmark nomatch failing dryrun_guard >"$T/table" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || say "exit $rc, want 1 (a benchmark failed): $(tail -5 "$T/err")"
cat "$T/table"
head -1 "$T/table" | grep -qE '^benchmark +status +time \(s\) +samples/sec +loss +mean +max +n +size +x$' ||
  say "table header: $(head -1 "$T/table")"
grep -qE '^tiny_pretrain +ok +[0-9.]+ +[0-9.]+ +[0-9.]+ *$' "$T/table" || say "tiny_pretrain row: $(grep tiny "$T/table")"
grep -qE '^reductions +ok +[0-9.]+ +7 +9 *$' "$T/table" || say "reductions row: $(grep '^reductions' "$T/table")"
grep -qE '^nomatch +FAILED \(metrics\) +[0-9.]+ +n/a +n/a *$' "$T/table" || say "nomatch row: $(grep '^nomatch' "$T/table")"
grep -qE '^failing +FAILED \(exit 3\) ' "$T/table" || say "failing row: $(grep '^failing' "$T/table")"
grep -qx '9 passed, 2 failed' "$T/table" || say "summary: $(tail -1 "$T/table")"
grep -qF "throughput: no value: regexp 'throughput: *(.*?) samples\/sec' matched nothing" "$T/err" || say "no-match not reported"
grep -qF "something went wrong" "$T/err" || say "a failed command's stderr tail is not shown"
[ -e "$T/ran.flag" ] || say "commands do not run in the spec's folder"
grep -q "total loss" "$T/logs/tiny_pretrain/stderr.log" || say "--log-dir: no stderr.log"
grep -q "size=10" "$T/logs/rows_name_ten_size_10/stderr.log" || say "--log-dir: rows stderr"
json "$T/all.json" "$ROOT/data" <<'PYEOF' || say "JSON content"
import json, sys
r = json.load(open(sys.argv[1]))
assert list(r) == ["tiny_pretrain", "reductions", "grid", "rows", "nomatch", "failing", "dryrun_guard"], list(r)
t = r["tiny_pretrain"][0]
assert t["exitcode"] == 0 and t["results"]["throughput"]["mean"] > 0 and 0 < t["results"]["loss"]["final"] < 20, t
assert t["output"]["samples/sec"] == t["results"]["throughput"]["mean"] and t["problems"] == [], t
assert t["command"].endswith("--input-files '%s/sample_text.tfrecord' --vocab '%s/vocab.txt' --disable-progress-bar" % (sys.argv[2], sys.argv[2])), t["command"]
m = r["reductions"][0]["results"]
# examples_utils: mean sorts, then skips the smallest (largest for latency); final/value/min/max ignore skip
assert m == {"mean_skip": {"mean": 7}, "final": {"final": 3}, "first": {"value": 5}, "low": {"min": 1},
             "high": {"max": 9}, "lazy": {"max": 8}, "latency": {"mean": 3}}, m
g = r["grid"]
assert [v["variant_name"] for v in g] == ["grid_n_1_word_x", "grid_n_2_word_x", "grid_n_1_word_y", "grid_n_2_word_y"]
assert g[3]["params"] == {"n": "2", "word": "y"} and g[3]["results"]["n"]["final"] == 2, g[3]
assert [v["results"]["size"]["final"] for v in r["rows"]] == [10, 20]
n = r["nomatch"][0]
assert n["exitcode"] == 1 and n["results"]["throughput"] == {"mean": None} and n["output"]["loss"] is None, n
assert any("matched nothing" in p for p in n["problems"]), n["problems"]
f = r["failing"][0]
assert f["exitcode"] == 3 and f["results"]["x"]["mean"] is None and "status 3" in f["problems"][0], f
PYEOF
"$BERT" bench --spec "$T/spec.yml" --benchmark grid_n_2_word_y --verbose --output "$T/one.json" >"$T/out" 2>"$T/err" ||
  say "--verbose run failed"
grep -qF "env=hello {braces}" "$T/err" || say "--verbose does not echo the output, or env not set: $(cat "$T/err")"
json "$T/one.json" <<'PYEOF' || say "--benchmark VARIANT should run that variant only"
import json, sys
r = json.load(open(sys.argv[1]))
assert list(r) == ["grid"] and len(r["grid"]) == 1 and r["grid"][0]["variant_name"] == "grid_n_2_word_y", r
PYEOF

echo "== --timeout stops a run (and its whole process group)"
start=$(date +%s)
rc=0
"$BERT" bench --spec "$T/spec.yml" --benchmark slow_conv --timeout 1 --output "$T/slow.json" >"$T/table" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || say "timeout: exit $rc"
[ $(($(date +%s) - start)) -lt 15 ] || say "timeout did not stop the command"
grep -qE '^slow_conv +TIMEOUT' "$T/table" || say "timeout row: $(cat "$T/table")"
json "$T/slow.json" <<'PYEOF' || say "timeout JSON"
import json, sys
v = json.load(open(sys.argv[1]))["slow_conv"][0]
assert v["timed_out"] is True and v["exitcode"] != 0, v
PYEOF

echo "== errors"
expect_error() { # expect_error STATUS PATTERN ARGS...
  local want=$1 pattern=$2 rc=0
  shift 2
  "$BERT" bench "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || say "exit $rc (want $want): bench $*: $(cat "$T/err")"
  grep -qF -- "$pattern" "$T/err" || say "stderr lacks '$pattern': $(cat "$T/err")"
}
expect_error 2 "benchmark 'nope' is not in $T/spec.yml (benchmarks: tiny_pretrain, reductions" \
  --spec "$T/spec.yml" --benchmark nope --dry-run
expect_error 1 "cannot open" --spec "$T/missing.yml"
bad() { # bad NAME PATTERN: a spec with the given text fails to load with PATTERN
  cat >"$T/$1.yml"
  expect_error 1 "$2" --spec "$T/$1.yml" --dry-run
}
printf 'a:\n  cmd: [unclosed\n' | bad yaml "yaml.yml:"
printf 'a: [1, 2]\n' | bad notmap "notmap.yml:1: a: a benchmark must be a mapping"
printf 'a:\n  data:\n    t: {regexp: "x"}\n' | bad nocmd "nocmd.yml:2: a: 'cmd' (the command to run, a string) is required"
printf 'a:\n  cmd: echo\n  data:\n    t: {regexp: "(a)\\\\1"}\n' | bad backref "a: data.t: regexp '(a)\\1': a back-reference is not supported"
printf 'a:\n  cmd: echo\n  data:\n    t: {regexp: "x", reduction_type: median}\n' | bad reduction "data.t.reduction_type 'median' is not one of"
printf 'a:\n  cmd: echo\n  data:\n    t: {regexp: "x", skip: -1}\n' | bad skip "data.t.skip must be a whole number"
printf 'a:\n  cmd: echo\n  data:\n    t: {reduction_type: final}\n' | bad noregexp "data.t has no 'regexp'"
printf 'a:\n  cmd: echo {size}\n' | bad param "a: cmd uses {size}, which is not a parameter"
printf 'a:\n  cmd: echo }\n' | bad brace "single '}'"
printf 'a:\n  cmd: echo\n  output:\n    - [x, missing]\n' | bad output "output 'x' names metric 'missing', which 'data' does not define"
printf 'a:\n  cmd: echo\n  parameters: 5\n' | bad params "'parameters' must be a mapping"
printf 'a:\n  cmd: echo\n  parameters:\n    - [x]\n' | bad rows "needs a row of names, then rows of values"
printf 'only_options:\n  cmd: echo\n' | bad templates "no benchmarks"
printf '' | bad empty "empty.yml"
printf 'a:\n  cmd: echo\n  requirements_path: r.txt\n' >"$T/warn.yml"
"$BERT" bench --spec "$T/warn.yml" --dry-run >/dev/null 2>"$T/err" || say "an unsupported key should only warn"
grep -qF "key 'requirements_path' is not supported by bert bench and is ignored" "$T/err" || say "no warning for an ignored key"
expect_error 2 "unknown option" --spec "$T/spec.yml" --frobnicate
expect_error 2 "--benchmark needs at least one name" --spec "$T/spec.yml" --benchmark
expect_error 2 "--timeout needs a number" --spec "$T/spec.yml" --timeout soon
"$BERT" bench --help | head -1 | grep -q '^usage: bert bench' || say "--help"
"$BERT" --help | grep -q '^  bench ' || say "bert --help does not list bench"

echo "== the project's benchmarks.yml"
"$BERT" bench --spec benchmarks.yml --dry-run >"$T/dry" 2>"$T/err" || say "benchmarks.yml does not load: $(cat "$T/err")"
[ ! -s "$T/err" ] || say "benchmarks.yml warns: $(cat "$T/err")"
for cfg in base large; do
  for phase in 128 512; do
    grep -qE "^  bert pretrain --config pretrain_${cfg}_${phase} --dataset generated --micro-batch-size [0-9]+ " "$T/dry" ||
      say "no $cfg $phase generated entry"
    grep -qE "^  bert pretrain --config pretrain_${cfg}_${phase} --dataset generated --packed-data " "$T/dry" ||
      say "no $cfg $phase packed generated entry"
  done
done
grep -qF "bert pretrain --config demo_tiny_128 --training-steps 10 --input-files 'data/sample_text.tfrecord'" "$T/dry" ||
  say "demo_tiny_128 entry"
# training and SQuAD entries log one line per step (the metrics' source), never a progress bar
[ "$(grep -E '^  bert (pretrain|squad) ' "$T/dry" | grep -c -- '--disable-progress-bar')" = \
  "$(grep -cE '^  bert (pretrain|squad) ' "$T/dry")" ] || say "a pretrain/squad entry lacks --disable-progress-bar"
grep -qE '^  bert squad --config squad_base_384 ' "$T/dry" || say "no SQuAD entry"
grep -qE '^  bert bench-serve .*--mode (sync|async|SYNC|ASYNC)' "$T/dry" || say "no serving entry"

[ "$fail" = 0 ] && echo "cli/test_bench: all checks passed"
exit "$fail"
