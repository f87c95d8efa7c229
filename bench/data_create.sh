#!/bin/bash
# Benchmark of `bert data create`: throughput (input MB/s, instances/s) and peak memory on about
# 50 MB and 100 MB of Wikipedia text (the bundled WikiExtractor sample, one sentence per line,
# repeated), duplication factor 5. Peak memory should not grow with the corpus: it is bounded by
# the group of files (--group-files), not by the corpus.
#
# usage: bench/data_create.sh [BUILD_DIR]     (default: build; run `make bench` first)
# env:   THREADS (default: all cores), GROUP_FILES (default 10 files of ~2 MB), DUP (default 5),
#        SIZES (default "50 100", MB), WORK (folder for the text and the output; default a
#        temporary folder under $TMPDIR; WORK=/dev/shm keeps the disk out of the measurement)
# Besides wall-clock rates it reports MB per CPU-second (user + sys), which stays meaningful on a
# shared machine where other processes take cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bert
THREADS=${THREADS:-$(nproc)}
GROUP_FILES=${GROUP_FILES:-10}
DUP=${DUP:-5}
SIZES=${SIZES:-"50 100"}
[ -x "$BIN" ] || { echo "bench/data_create.sh: $BIN not found; build first (make bench)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/data_create.sh: /usr/bin/time missing (scripts/install-deps.sh --bench)" >&2; exit 2; }
T=$(mktemp -d "${WORK:-${TMPDIR:-/tmp}}/bertc-bench-data.XXXXXX")
trap 'rm -rf "$T"' EXIT

# One ~2 MB unit of text: sentences split on ". ", <doc> lines as blank document boundaries.
for f in tests/data/text/wikiextractor_en/*; do
  sed -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^<doc .*$//' -e '/^<\/doc>$/d' -e 's/\. /.\n/g' "$f"
done >"$T/unit.txt"
unit=$(stat -c %s "$T/unit.txt")

echo "bert data create: $THREADS threads, --group-files $GROUP_FILES, --duplication-factor $DUP, $(nproc) cores"
printf "| input | files | instances | output MB | wall s | CPU s | input MB/s | instances/s | MB per CPU-s | peak RSS MB |\n"
printf "|---|---|---|---|---|---|---|---|---|---|\n"
for mb in $SIZES; do
  files=$(( (mb * 1000000 + unit - 1) / unit ))
  rm -rf "$T/in" "$T/out" && mkdir "$T/in" "$T/out"
  for i in $(seq -w 1 "$files"); do cp "$T/unit.txt" "$T/in/part_$i.txt"; done
  bytes=$(cat "$T/in"/*.txt | wc -c)
  /usr/bin/time -v "$BIN" data create --input-file "$T/in/*.txt" --output-file "$T/out/wiki.tfrecord" \
    --vocab data/vocab.txt --do-lower-case --duplication-factor "$DUP" --group-files "$GROUP_FILES" \
    --threads "$THREADS" --disable-progress-bar 2>"$T/log"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$T/log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/log")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$T/log")
  out=$(stat -c %s "$T/out/wiki.tfrecord")
  inst=$(sed -n 's/^Wrote \([0-9]*\) total instances/\1/p' "$T/log")
  awk -v b="$bytes" -v f="$files" -v n="$inst" -v w="$wall" -v r="$rss" -v c="$cpu" -v o="$out" 'BEGIN {
    printf "| %.1f MB | %d | %d | %.0f | %.2f | %.2f | %.1f | %.0f | %.1f | %.0f |\n", b / 1e6, f, n, o / 1e6, w, c,
           b / 1e6 / w, n / w, b / 1e6 / c, r / 1024 }'
  grep "^Created" "$T/log" >&2
done
