#!/bin/bash
# The run configuration as `bert pretrain` / `bert squad` see it, through tests/io/tool_options:
# --help's first line and defaults, exit status 2 with a message on bad usage, the prefixes the
# reference's scripts use, the unknown-key warning, finding configs/ from another directory, and
# every named section of configs/*.yml read the same as PyYAML reads it (anchors, merge keys).
set -euo pipefail
TOOL=${BERT_BUILD:?BERT_BUILD must point to the build folder}/tests/tool_options
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-options.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_error PATTERN ARGS...: exit status 2, usage and the pattern on stderr, nothing on stdout.
expect_error() {
  local pattern=$1; shift
  local rc=0
  "$TOOL" "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = 2 ] || fail "exit $rc (wanted 2): $*: $(cat "$T/err")"
  [ ! -s "$T/out" ] || fail "stdout not empty: $*"
  head -1 "$T/err" | grep -q "^usage: bert $1 \[-h\]" || fail "no usage line: $*: $(head -1 "$T/err")"
  grep -qF -- "$pattern" "$T/err" || fail "stderr lacks '$pattern': $(tail -1 "$T/err")"
}

echo "== --help: usage first, every option with its default"
"$TOOL" pretrain --help >"$T/help"
head -1 "$T/help" | grep -q '^usage: bert pretrain \[-h\]' || fail "help first line: $(head -1 "$T/help")"
grep -q -- '--micro-batch-size MICRO_BATCH_SIZE' "$T/help" || fail "help lacks --micro-batch-size"
grep -q -- '(default: demo_tiny_128)' "$T/help" || fail "help lacks the config default"
"$TOOL" pretrain --config pretrain_large_128 -h >"$T/help"
tr -s ' \n' ' ' <"$T/help" | grep -qF '(default: [3, 7, 7, 7])' || fail "help does not show the config's values"
"$TOOL" squad --help >"$T/help"
head -1 "$T/help" | grep -q '^usage: bert squad \[-h\]' || fail "squad help first line"

echo "== bad usage exits 2 naming the option"
expect_error "argument --micro-batch-size: invalid int value: 'many'" pretrain --micro-batch-size many
expect_error "argument --packed-data: maybe is not a valid boolean value" pretrain --packed-data maybe
expect_error "ambiguous option: --re could match" pretrain --re 2
expect_error "unknown config 'nope'" pretrain --config nope
expect_error "layers_per_ipu not compatible with number of hidden layers: [1, 1, 1, 1] and 3" \
  pretrain --config unit_test --layers-per-ipu 1 1 1 1 --num-hidden-layers 3
expect_error "checkpoint-steps must be >=1" pretrain --checkpoint-steps 0
expect_error "unrecognized arguments: --not-an-option" pretrain --not-an-option
expect_error "argument --num-epochs: invalid int value" squad --num-epochs x

echo "== the reference's prefixes, overrides and derived values"
"$TOOL" pretrain --config pretrain_base_3L_128_single --input-file 'data/*.tfrecord' --replication 4 \
  --packed-data >"$T/json" 2>"$T/log"
$PY - "$T/json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["input_files"] == ["data/*.tfrecord"], c["input_files"]
assert c["replication_factor"] == 4 and c["gradient_accumulation"] == 110, c
assert c["global_batch_size"] == 4 * 110 * 8 and c["samples_per_step"] == 4 * 110 * 8 * 64
assert c["packing_factor"] == 1.17 and c["intermediate_size"] == 3072
PYEOF
grep -qx 'Using config: pretrain_base_3L_128_single' "$T/log" || fail "no 'Using config' line"
grep -qF 'Packing enabled. Adjusting gradient accumulation down by the packing factor, 1.17: 128 -> 110' "$T/log" \
  || fail "no packing line: $(cat "$T/log")"
[ "$(grep -c 'No effect on CPU' "$T/log")" = 1 ] || fail "the no-effect line is not printed once"

echo "== unknown YAML keys warn; configs/ is found from another directory"
printf 'mine:\n  micro_batch_size: 2\n  gradient_accumulation: 1\n  replication_factor: 1\n  device_iterations: 1\n  hidden_size: 8\n  num_hidden_layers: 1\n  not_an_option: 3\n' >"$T/mine.yml"
"$TOOL" pretrain --config-file "$T/mine.yml" --config mine >/dev/null 2>"$T/log"
grep -qF " Warning: Unknown arg(s) in config file: {'not_an_option'}" "$T/log" || fail "no unknown-key warning"
(cd "$T" && "$TOOL" pretrain --config pretrain_base_128 >"$T/json") || fail "configs/ not found from $T"

echo "== every section reads as PyYAML reads it"
for program in pretrain squad; do
  file=configs/pretraining.yml
  [ $program = squad ] && file=configs/squad.yml
  for name in $($PY -c "import yaml,sys; print(' '.join(k for k in yaml.safe_load(open(sys.argv[1])) if k != 'defaults'))" $file); do
    "$TOOL" $program --config "$name" >"$T/$name.json" 2>/dev/null || fail "$program --config $name"
    $PY - "$file" "$name" "$T/$name.json" <<'PYEOF' || fail "$program $name differs from PyYAML"
import json, sys, yaml
section = yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]
got = json.load(open(sys.argv[3]))
for key, want in section.items():
    have = got[key]
    if isinstance(want, str) and isinstance(have, float):
        want = float(want)  # YAML 1.1 reads 6e-5 as a string; argparse converts it
    if key == "matmul_proportion" and not isinstance(want, list):
        want = [want] * got["ipus_per_replica"]
    if key == "packing_factor":
        want = {str(k): v for k, v in want.items()}
    if key == "intermediate_size":
        want = 4 * got["hidden_size"]
    assert have == want, f"{sys.argv[2]}.{key}: {have!r} != {want!r}"
PYEOF
  done
done
echo "ok"
