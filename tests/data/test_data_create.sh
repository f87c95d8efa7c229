#!/bin/bash
# `bert data create|index|inspect` end to end: created data passes the reference's
# wikipedia_dataset_test record checks and masking ratios, is independent of the thread count and
# of the run, is readable by an independent parser; bad inputs give clear errors.
set -euo pipefail
BIN=${BERT_BIN:?BERT_BIN must point to the bert binary}
CHECK=${BERT_BUILD:?BERT_BUILD must point to the build folder}/tests/tool_pretraining_check
PY=/usr/bin/python3
VOCAB=data/vocab.txt
VSIZE=$(wc -l < "$VOCAB")
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-data-create.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
create() { "$BIN" data create --vocab "$VOCAB" --disable-progress-bar "$@"; }
# expect_error EXIT_CODE PATTERN CMD...: the command fails with that code and stderr matching.
expect_error() {
  local code=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$code" ] || fail "exit $rc (wanted $code): $*"
  grep -q -- "$pattern" "$T/err" || fail "stderr lacks '$pattern': $(cat "$T/err")"
}

echo "== sample text: reference record checks, independent parser, index"
create --input-file data/sample_text.txt --output-file "$T/s.tfrecord" --do-lower-case --duplication-factor 4 2>"$T/log"
grep -q "Wrote [0-9]* total instances" "$T/log" || fail "no summary line"
"$CHECK" 128 20 "$VSIZE" "$T/s.tfrecord"
n=$($PY tests/data/tfrecord_py_check.py 128 20 "$T/s.tfrecord" "$T/s.index")
[ "$n" -gt 20 ] || fail "only $n records from the sample text"

echo "== bert data index reproduces the reference's sample_text.index byte for byte"
cp data/sample_text.tfrecord "$T/ref.tfrecord"
"$BIN" data index "$T/ref.tfrecord" >/dev/null
cmp "$T/ref.index" data/sample_text.index
cp data/packing/sample_text_packed.tfrecord "$T/packed.tfrecord"
"$BIN" data index "$T/packed.tfrecord" >/dev/null
cmp "$T/packed.index" data/packing/sample_text_packed.index

echo "== inspect reads the unpacked and packed formats"
"$BIN" data inspect data/sample_text.tfrecord --vocab "$VOCAB" >"$T/insp"
[ "$(grep -c '^record ' "$T/insp")" = 45 ] || fail "inspect: not 45 records"
grep -q '^  masked_lm_weights (float_list, 20):' "$T/insp" || fail "inspect: masked_lm_weights"
grep -q '^    text: \[CLS\] ' "$T/insp" || fail "inspect: no decoded text"
"$BIN" data inspect data/packing/sample_text_packed.tfrecord --records 3 >"$T/insp"
[ "$(grep -c '^record ' "$T/insp")" = 3 ] || fail "inspect --records 3"
"$BIN" data inspect data/packing/sample_text_packed.tfrecord >"$T/insp"
[ "$(grep -c '^record ' "$T/insp")" = 44 ] || fail "inspect: not 44 packs"
grep -q '^  packed_masked_lm_positions (int64_list, 22):' "$T/insp" || fail "inspect: M' = 22"
grep -q '^  packed_next_sentence_labels (int64_list, 3):' "$T/insp" || fail "inspect: S = 3"

echo "== Wikipedia text: ratios; same output for 1 and 4 threads and for two runs"
mkdir "$T/wiki"
for f in tests/data/text/wikiextractor_en/*; do
  # one sentence per line (split on ". "); <doc> lines become blank document boundaries
  sed -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^<doc .*$//' -e '/^<\/doc>$/d' -e 's/\. /.\n/g' "$f" \
    >"$T/wiki/$(basename "$f").txt"
done
create --input-file "$T/wiki/*.txt" --output-file "$T/w1.tfrecord" --duplication-factor 1 --threads 1 2>/dev/null
create --input-file "$T/wiki/*.txt" --output-file "$T/w4.tfrecord" --duplication-factor 1 --threads 4 2>/dev/null
create --input-file "$T/wiki/*.txt" --output-file "$T/w4b.tfrecord" --duplication-factor 1 --threads 4 2>/dev/null
cmp "$T/w1.tfrecord" "$T/w4.tfrecord" && cmp "$T/w1.index" "$T/w4.index"
cmp "$T/w4.tfrecord" "$T/w4b.tfrecord" && cmp "$T/w4.index" "$T/w4b.index"
"$CHECK" --ratios 128 20 "$VSIZE" "$T/w1.tfrecord"
create --input-file "$T/wiki/*.txt" --output-file "$T/w_seed.tfrecord" --duplication-factor 1 --seed 7 2>/dev/null
cmp -s "$T/w1.tfrecord" "$T/w_seed.tfrecord" && fail "--seed does not change the output"

echo "== options: groups, several outputs, max samples, whole words, L/M, ignore index"
create --input-file "$T/wiki/AA*,$T/wiki/AB*" --output-file "$T/g1.tfrecord" --group-files 1 --threads 1 \
  --duplication-factor 2 --sequence-length 64 --mask-tokens 10 2>/dev/null
create --input-file "$T/wiki/AA*,$T/wiki/AB*" --output-file "$T/g2.tfrecord" --group-files 1 --threads 3 \
  --duplication-factor 2 --sequence-length 64 --mask-tokens 10 2>/dev/null
cmp "$T/g1.tfrecord" "$T/g2.tfrecord"
"$CHECK" 64 10 "$VSIZE" "$T/g1.tfrecord"
create --input-file data/sample_text.txt --output-file "$T/a.tfrecord,$T/b.tfrecord,$T/c.tfrecord" \
  --max-samples 10 2>"$T/log"
grep -q "Wrote 10 total instances" "$T/log" || fail "--max-samples 10"
[ "$(wc -l < "$T/a.index")" = 4 ] && [ "$(wc -l < "$T/b.index")" = 3 ] && [ "$(wc -l < "$T/c.index")" = 3 ] \
  || fail "round-robin over three outputs"
"$CHECK" 128 20 "$VSIZE" "$T/a.tfrecord" "$T/b.tfrecord" "$T/c.tfrecord"
create --input-file data/sample_text.txt --output-file "$T/wwm.tfrecord" --whole-word-masking \
  --ignore-index-value -100 --mlm-prob 0.15 --short-seq-prob 0.5 --seed 3 2>/dev/null
"$CHECK" --wwm --ignore=-100 128 20 "$VSIZE" "$T/wwm.tfrecord"

echo "== errors"
expect_error 1 "$T/nothing\*.txt: no such file" create --input-file "data/sample_text.txt,$T/nothing*.txt" \
  --output-file "$T/e.tfrecord"
printf 'a fine line\nanother one\nbad \xff\xfe byte\n' >"$T/latin.txt"
expect_error 1 "latin.txt: line 3 (byte offset 28): invalid UTF-8" create --input-file "$T/latin.txt" \
  --output-file "$T/e.tfrecord"
[ ! -e "$T/e.tfrecord" ] && [ ! -e "$T/e.index" ] || fail "a failed run left an output behind"
ls "$T" | grep -q '\.tmp\.' && fail "a failed run left a temporary file behind"
printf '\n  \n\n' >"$T/blank.txt"
: >"$T/empty.txt"
expect_error 1 "no documents in the 2 input file(s)" create --input-file "$T/blank.txt,$T/empty.txt" \
  --output-file "$T/e.tfrecord"
expect_error 1 "missing.txt: cannot open" create --input-file data/sample_text.txt --vocab "$T/missing.txt" \
  --output-file "$T/e.tfrecord"
expect_error 2 "expects an integer" create --input-file data/sample_text.txt --output-file "$T/e.tfrecord" \
  --mask-tokens many
expect_error 1 "given twice as an output file" create --input-file data/sample_text.txt \
  --output-file "$T/d.tfrecord,$T/d.tfrecord"
expect_error 2 "are required" "$BIN" data create --input-file data/sample_text.txt
head -c 1000 data/sample_text.tfrecord >"$T/cut.tfrecord"
expect_error 1 "record 1 at byte offset 841: truncated record" "$BIN" data inspect "$T/cut.tfrecord"
expect_error 1 "record 1 at byte offset 841: truncated record" "$BIN" data index "$T/cut.tfrecord"
expect_error 2 "unknown subcommand" "$BIN" data frobnicate
echo "all data create tests passed"
