#!/bin/bash
# `bert data pack` end to end: the reference's packing_script_test (sample_text leaves 0 packs to
# fill), Graphcore's own packed sample reproduced, every pack valid and unpacking to exactly the
# original sequences (tool_pack_check), the three algorithms, thread independence, seeds, output
# files, bounded memory, planning from the paper's histogram, and clear errors for bad input.
set -euo pipefail
BIN=${BERT_BIN:?BERT_BIN must point to the bert binary}
CHECK=${BERT_BUILD:?BERT_BUILD must point to the build folder}/tests/tool_pack_check
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-data-pack.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pack() { "$BIN" data pack --disable-progress-bar "$@"; }
# expect_error EXIT_CODE PATTERN CMD...: the command fails with that code and stderr matching.
expect_error() {
  local code=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$code" ] || fail "exit $rc (wanted $code): $*: $(cat "$T/err")"
  grep -q -- "$pattern" "$T/err" || fail "stderr lacks '$pattern': $(cat "$T/err")"
}
# peak_kb CMD...: peak resident memory of the command, in kB.
peak_kb() {
  $PY -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

echo "== sample_text: 0 packs left to fill, valid packs, Graphcore's packs exactly"
pack --input-files data/sample_text.tfrecord --output-dir "$T/s" >"$T/log"
grep -Eq '^Packing took: [0-9]+\.[0-9]{2} seconds\. 0 packs left to fill\.$' "$T/log" || fail "no final line: $(tail -3 "$T/log")"
grep -q '^Packing efficiency (fraction of real tokens): 0.8556$' "$T/log" || fail "efficiency line"
grep -q '^Wrote 44 packs into ' "$T/log" || fail "not 44 packs"
"$CHECK" --schema data/packing/sample_text_packed.tfrecord 128 20 3 data/sample_text.tfrecord -- "$T/s/wiki_000.tfrecord"
# The NNLS plan and the packs are Graphcore's own (data/packing/sample_text_packed.tfrecord),
# record for record up to order (theirs is shuffled by Python's random, ours by Philox).
$PY tests/data/tfrecord_multiset.py "$T/s/wiki_000.tfrecord" -- data/packing/sample_text_packed.tfrecord
cp "$T/s/wiki_000.index" "$T/s.index"
"$BIN" data index "$T/s/wiki_000.tfrecord" >/dev/null
cmp "$T/s.index" "$T/s/wiki_000.index" || fail "the written .index differs from bert data index's"

echo "== Wikipedia text at L=128 and L=512: every algorithm valid; threads, seeds, files"
mkdir "$T/wiki"
for f in tests/data/text/wikiextractor_en/*; do
  sed -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^<doc .*$//' -e '/^<\/doc>$/d' -e 's/\. /.\n/g' "$f" \
    >"$T/wiki/$(basename "$f").txt"
done
"$BIN" data create --input-file "$T/wiki/*.txt" --output-file "$T/u0.tfrecord,$T/u1.tfrecord,$T/u2.tfrecord" \
  --vocab data/vocab.txt --do-lower-case --duplication-factor 2 --disable-progress-bar 2>/dev/null
"$BIN" data create --input-file "$T/wiki/*.txt" --output-file "$T/l512.tfrecord" --vocab data/vocab.txt \
  --do-lower-case --duplication-factor 1 --sequence-length 512 --mask-tokens 76 --short-seq-prob 0.5 \
  --disable-progress-bar 2>/dev/null
U=("$T/u0.tfrecord" "$T/u1.tfrecord" "$T/u2.tfrecord")
for algo in nnlshp spfhp lpfhp; do
  S=3; [ $algo = nnlshp ] || S=16
  pack --input-files "$T/u*.tfrecord" --output-dir "$T/$algo-1" --algorithm $algo --max-sequences-per-pack $S \
    --threads 1 >"$T/log"
  grep -q ' 0 packs left to fill\.$' "$T/log" || fail "$algo: packs left to fill"
  pack --input-files "$T/u*.tfrecord" --output-dir "$T/$algo-3" --algorithm $algo --max-sequences-per-pack $S \
    --threads 3 >/dev/null
  cmp "$T/$algo-1/wiki_000.tfrecord" "$T/$algo-3/wiki_000.tfrecord" || fail "$algo: 1 and 3 threads differ"
  cmp "$T/$algo-1/wiki_000.index" "$T/$algo-3/wiki_000.index"
  out=$("$CHECK" 128 20 $S "${U[@]}" -- "$T/$algo-1/wiki_000.tfrecord")
  echo "  $algo L=128: $out"
  eff=$(echo "$out" | sed 's/.*efficiency \([0-9.]*\).*/\1/')
  $PY -c "import sys; sys.exit(0 if $eff > 0.98 else 1)" || fail "$algo: efficiency $eff"
  pack --input-files "$T/l512.tfrecord" --output-dir "$T/$algo-512" --algorithm $algo --max-sequences-per-pack $S \
    --sequence-length 512 --mask-tokens 76 >/dev/null
  out=$("$CHECK" 512 76 $S "$T/l512.tfrecord" -- "$T/$algo-512/wiki_000.tfrecord")
  echo "  $algo L=512: $out"
  [ $algo = nnlshp ] || [ "${out##*max_per_pack }" -gt 3 ] || fail "$algo: no pack holds more than 3 sequences"
done
pack --input-files "$T/u*.tfrecord" --output-dir "$T/seed" --random-seed 7 >/dev/null
cmp -s "$T/nnlshp-1/wiki_000.tfrecord" "$T/seed/wiki_000.tfrecord" && fail "--random-seed does not change the packs"
"$CHECK" 128 20 3 "${U[@]}" -- "$T/seed/wiki_000.tfrecord" >/dev/null
# Files of N packs: the same packs in the same order, cut into wiki_000, wiki_001, ...
pack --input-files "$T/u*.tfrecord" --output-dir "$T/files" --packs-per-file 3000 >"$T/log"
n=$(wc -l <"$T/nnlshp-1/wiki_000.index")
[ "$(ls "$T/files"/*.tfrecord | wc -l)" = $(( (n + 2999) / 3000 )) ] || fail "number of files"
[ "$(wc -l <"$T/files/wiki_000.index")" = 3000 ] && [ "$(wc -l <"$T/files/wiki_001.index")" = 3000 ] || fail "3000 per file"
cat "$T"/files/wiki_*.tfrecord | cmp - "$T/nnlshp-1/wiki_000.tfrecord" || fail "split output differs"
grep -q "^Wrote 3000 packs into $T/files/wiki_001.tfrecord.$" "$T/log" || fail "per-file line"
# a later, smaller run into the same folder warns about the files it did not replace
pack --input-files "$T/u0.tfrecord" --output-dir "$T/files" --packs-per-file 3000 >/dev/null 2>"$T/err"
grep -q "still holds 2 older file(s) from wiki_001.tfrecord on" "$T/err" || fail "no warning about older files: $(cat "$T/err")"
# Dropping the rounding remainder: fewer sequences, every pack still exact.
pack --input-files "$T/u*.tfrecord" --output-dir "$T/drop" --drop-unpacked-remainder True >"$T/log"
grep -Eq '^Number of sequences dropped:  [1-9][0-9]*$' "$T/log" || fail "nothing dropped"
"$CHECK" --allow-dropped 128 20 3 "${U[@]}" -- "$T/drop/wiki_000.tfrecord" >/dev/null
# Inputs without .index files are fine (pass 1 reads them sequentially).
mkdir "$T/noindex" && cp "$T/u0.tfrecord" "$T/noindex/"
pack --input-files "$T/noindex/u0.tfrecord" --output-dir "$T/noindex/out" >/dev/null

echo "== memory: 8 times the data, about the same peak (10 bytes per sequence, not the records)"
if ldd "$BIN" | grep -Eq "libasan|libtsan"; then
  echo "  (skipped under Address/ThreadSanitizer: their shadow memory is the peak and breaks ulimit -v)"
else
  mkdir "$T/big"
  for i in 1 2 3 4 5 6 7 8; do for u in "${U[@]}"; do cp "$u" "$T/big/$i-$(basename "$u")"; done; done
  small=$(peak_kb "$BIN" data pack --input-files "$T/u*.tfrecord" --output-dir "$T/m1" --threads 2)
  big=$(peak_kb "$BIN" data pack --input-files "$T/big/*.tfrecord" --output-dir "$T/m8" --threads 2)
  in_mb=$(du -sm "$T/big" | cut -f1)
  echo "  peak RSS ${small} kB for $(du -sm "$T/u0.tfrecord" | cut -f1) MB x 3, ${big} kB for ${in_mb} MB"
  [ $((big - small)) -lt 8192 ] || fail "peak memory grew by $((big - small)) kB for 8x the data"
  # and under a hard cap on the address space
  (ulimit -v 1000000; pack --input-files "$T/big/*.tfrecord" --output-dir "$T/m8cap" --threads 2 >/dev/null) \
    || fail "packing 8x the data does not run in 1 GB of address space"
  cmp "$T/m8/wiki_000.tfrecord" "$T/m8cap/wiki_000.tfrecord"
fi

echo "== --histogram: the paper's Wikipedia-512 histogram"
H=tests/data/packing/wikipedia_512_histogram.json
for args in "--algorithm nnlshp" "--algorithm spfhp --max-sequences-per-pack 16" \
            "--algorithm lpfhp --max-sequences-per-pack 16"; do
  # shellcheck disable=SC2086
  "$BIN" data pack --histogram $H $args >"$T/log"
  eff=$(sed -n 's/^Packing efficiency (fraction of real tokens): //p' "$T/log")
  echo "  $args: efficiency $eff, $(grep '^Planning took' "$T/log")"
  $PY -c "import sys; sys.exit(0 if $eff >= 0.995 else 1)" || fail "$args: efficiency $eff < 0.995"
  grep -q '^Number of sequences dropped:  0$' "$T/log" || fail "$args: dropped sequences"
done
"$BIN" data pack --histogram $H --plan-output "$T/plan.json" >/dev/null
$PY -c "import json,sys; p=json.load(open(sys.argv[1])); sys.exit(0 if p['sequences']==16279552 and p['packs']==sum(p['repeat']) else 1)" "$T/plan.json"

echo "== bad inputs give clear errors"
expect_error 1 "matches nothing" pack --input-files "$T/none*.tfrecord" --output-dir "$T/e"
expect_error 1 "sample_text.tfrecord: record 0 at byte offset 0: feature 'input_ids' has 128 values, expected 64 (--sequence-length 64)" \
  pack --input-files data/sample_text.tfrecord --output-dir "$T/e" --sequence-length 64 --mask-tokens 10
expect_error 1 "feature 'masked_lm_positions' has 20 values, expected 10 (--mask-tokens 10)" \
  pack --input-files data/sample_text.tfrecord --output-dir "$T/e" --mask-tokens 10
expect_error 1 "record 0 at byte offset 0: feature 'input_ids' is missing" \
  pack --input-files data/packing/sample_text_packed.tfrecord --output-dir "$T/e"
head -c 20000 data/sample_text.tfrecord >"$T/trunc.tfrecord"
expect_error 1 "trunc.tfrecord: record 24 at byte offset 19629: truncated record" \
  pack --input-files "data/sample_text.tfrecord,$T/trunc.tfrecord" --output-dir "$T/e"
expect_error 1 "not a valid tf.train.Example\|CRC mismatch\|truncated" \
  pack --input-files data/sample_text.txt --output-dir "$T/e"
[ ! -e "$T/e" ] || [ -z "$(ls "$T/e")" ] || fail "a failed run left files in the output folder"
expect_error 1 "the output folder holds the input $T/files/wiki_000.tfrecord" \
  pack --input-files "$T/files/*.tfrecord" --output-dir "$T/files/"
touch "$T/file"
expect_error 1 "$T/file" pack --input-files data/sample_text.tfrecord --output-dir "$T/file"
expect_error 2 "unknown packing algorithm 'best'" pack --input-files data/sample_text.tfrecord --output-dir "$T/e" --algorithm best
expect_error 1 "nnlshp takes 2 to 3 sequences per pack, not 4" \
  pack --input-files data/sample_text.tfrecord --output-dir "$T/e" --max-sequences-per-pack 4
expect_error 2 "--input-files and --output-dir are required" pack --input-files data/sample_text.tfrecord
expect_error 1 "has 512 lengths but --sequence-length is 128" pack --histogram $H --sequence-length 128
expect_error 1 "not valid JSON" pack --histogram data/sample_text.txt
echo "OK"
