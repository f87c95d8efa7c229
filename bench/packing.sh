#!/bin/bash
# Benchmark of `bert data pack` and `bert data shuffle`:
#  1. planning from the Packed BERT paper's Wikipedia-512 histogram (16,279,552 sequences) with
#     --histogram, each algorithm (best of RUNS runs): time, efficiency, speed-up;
#  2. packing real files: `bert data create` output of the bundled Wikipedia text (the WikiExtractor
#     sample, one sentence per line, copied UNITS times, duplication factor 5, L = 128 and 512):
#     sequences/s, the two passes, peak memory; then `bert data shuffle` of the packs.
#
# usage: bench/packing.sh [BUILD_DIR]    (default: build)
# env:   THREADS (default: all cores), UNITS (copies of the ~2 MB text, default 10), RUNS (3),
#        WORK (folder for the data; default under $TMPDIR; WORK=/dev/shm keeps the disk out)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bert
THREADS=${THREADS:-$(nproc)}
UNITS=${UNITS:-10}
RUNS=${RUNS:-3}
H=tests/data/packing/wikipedia_512_histogram.json
[ -x "$BIN" ] || { echo "bench/packing.sh: $BIN not found; build first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/packing.sh: /usr/bin/time missing (scripts/install-deps.sh --bench)" >&2; exit 2; }
T=$(mktemp -d "${WORK:-${TMPDIR:-/tmp}}/bertc-bench-pack.XXXXXX")
trap 'rm -rf "$T"' EXIT

echo "## planning from $H ($(nproc) cores, best of $RUNS)"
printf "| algorithm | S | plan s | efficiency | speed-up | packs |\n|---|---|---|---|---|---|\n"
for spec in "nnlshp 3" "spfhp 12" "lpfhp 12" "spfhp 16" "lpfhp 16"; do
  set -- $spec
  best=""
  for _ in $(seq "$RUNS"); do
    "$BIN" data pack --histogram $H --algorithm "$1" --max-sequences-per-pack "$2" --plan-output "$T/plan.json" >"$T/log"
    t=$(sed -n 's/^Planning took: \([0-9.]*\) seconds.*/\1/p' "$T/log")
    best=$(awk -v a="$best" -v b="$t" 'BEGIN {print (a == "" || b < a) ? b : a}')
  done
  /usr/bin/python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
print("| %s | %s | %s | %.4f %% | %.5f | %d |" % (sys.argv[2], sys.argv[3], sys.argv[4], 100 * p["efficiency"], p["speedup"], p["packs"]))' \
    "$T/plan.json" "$1" "$2" "$best"
done

# Unpacked data: UNITS copies of the ~2 MB text unit, 2 output files per unit.
for f in tests/data/text/wikiextractor_en/*; do
  sed -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^<doc .*$//' -e '/^<\/doc>$/d' -e 's/\. /.\n/g' "$f"
done >"$T/unit.txt"
mkdir "$T/text"
for i in $(seq -w 1 "$UNITS"); do cp "$T/unit.txt" "$T/text/part_$i.txt"; done

# run CMD...: wall, CPU (user + sys) and peak RSS of a command; its stdout in $T/log.
run() {
  /usr/bin/time -v "$@" >"$T/log" 2>"$T/time"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$T/time")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$T/time")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$T/time")
}

echo
echo "## packing $UNITS x 2 MB of Wikipedia text, duplication factor 5, $THREADS threads, WORK=${WORK:-\$TMPDIR}"
printf "| L | algorithm | sequences | input MB | packs | wall s | CPU s | pass 1 s | plan + pass 2 s | sequences/s | sequences per CPU-s | peak RSS MB |\n"
printf "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
for len in 128 512; do
  mask=20; [ $len = 512 ] && mask=76
  outs=$(for i in $(seq -w 1 $((UNITS * 2))); do printf "%s," "$T/u$len/wiki_$i.tfrecord"; done)
  mkdir -p "$T/u$len"
  "$BIN" data create --input-file "$T/text/*.txt" --output-file "${outs%,}" --vocab data/vocab.txt --do-lower-case \
    --duplication-factor 5 --sequence-length $len --mask-tokens $mask --disable-progress-bar 2>/dev/null
  in_mb=$(du -sm --apparent-size "$T/u$len" | cut -f1)
  for spec in "nnlshp 3" "spfhp 16" "lpfhp 16"; do
    set -- $spec
    rm -rf "$T/p"
    run "$BIN" data pack --input-files "$T/u$len/*.tfrecord" --output-dir "$T/p" --sequence-length $len \
      --mask-tokens $mask --algorithm "$1" --max-sequences-per-pack "$2" --threads "$THREADS" --disable-progress-bar
    seqs=$(sed -n 's/^Done looping through dataset. Took \([0-9.]*\) seconds to read \([0-9]*\) sequences/\2/p' "$T/log")
    read1=$(sed -n 's/^Done looping through dataset. Took \([0-9.]*\) seconds.*/\1/p' "$T/log")
    rest=$(sed -n 's/^Packing took: \([0-9.]*\) seconds.*/\1/p' "$T/log")
    packs=$(cat "$T"/p/*.index | wc -l)
    awk -v l=$len -v a="$1 ($2)" -v n="$seqs" -v m="$in_mb" -v p="$packs" -v w="$wall" -v c="$cpu" -v r1="$read1" \
      -v r2="$rest" -v r="$rss" 'BEGIN {
      printf "| %d | %s | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %d |\n", l, a, n, m, p, w, c, r1, r2,
             n / w, n / c, r }'
  done
done

echo
echo "## shuffling the last packs (L = 512, lpfhp) and the L = 128 unpacked data, buffer 2,500,000"
printf "| input | records | MB | wall s | CPU s | records/s | peak RSS MB |\n|---|---|---|---|---|---|---|\n"
for src in p u128; do
  rm -rf "$T/s"
  run "$BIN" data shuffle --input-files "$T/$src/*.tfrecord" --output-dir "$T/s" --threads "$THREADS" \
    --disable-progress-bar
  n=$(cat "$T"/s/*.index | wc -l)
  mb=$(du -sm --apparent-size "$T/s" | cut -f1)
  awk -v s="$src" -v n="$n" -v m="$mb" -v w="$wall" -v c="$cpu" -v r="$rss" 'BEGIN {
    printf "| %s | %d | %d | %.2f | %.2f | %.0f | %d |\n", s, n, m, w, c, n / w, r }'
done
