#!/bin/bash
# Benchmark of the Wikipedia pipeline: MB/s of each stage of `bert data wikipedia` end to end on a
# dump made from the bundled viwiki excerpt, plus extraction from plain XML and the sentence
# splitter on the bundled English WikiExtractor text.
#
# usage: bench/wikipedia.sh [BUILD_DIR]      (default: build)
# env:   SIZE_MB (default 100: MB of XML; the bundled 10-page dump repeated with new page ids),
#        THREADS (default: all cores), WORK (folder for the files; default a temporary folder
#        under $TMPDIR; WORK=/dev/shm keeps the disk out of the measurement)
# Besides wall-clock rates it reports CPU seconds (user + sys), which stay meaningful on a shared
# machine where other processes take cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bert
SIZE_MB=${SIZE_MB:-100}
THREADS=${THREADS:-$(nproc)}
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "bench/wikipedia.sh: $BIN not found; build first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/wikipedia.sh: /usr/bin/time missing (scripts/install-deps.sh --bench)" >&2; exit 2; }
T=$(mktemp -d "${WORK:-${TMPDIR:-/tmp}}/bertc-bench-wiki.XXXXXX")
trap 'rm -rf "$T"' EXIT

# The dump: siteinfo + the 10 pages repeated (page ids shifted by 1000 per copy) to SIZE_MB.
$PY - tests/data/text/wikiextractor_vi_pair/test.xml "$T/dump.xml" "$SIZE_MB" <<'EOF'
import re, sys
src = open(sys.argv[1], encoding="utf-8").read()
head_end = src.index("  <page>")
head, pages = src[:head_end], src[head_end:src.rfind("</page>") + len("</page>\n")]
target, n, k = int(sys.argv[3]) * 10**6, len(head), 0
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(head)
    while n < target:
        chunk = re.sub(r"(<ns>\d+</ns>\n    <id>)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1000 * k), pages)
        out.write(chunk)
        n, k = n + len(chunk.encode()), k + 1
    out.write("</mediawiki>\n")
EOF
# bzip2 as one stream, and as Wikimedia's multistream dumps (a stream per 100 pages)
$PY - "$T/dump.xml" "$T/dump.xml.bz2" "$T/dump.multi.xml.bz2" <<'EOF'
import bz2, sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(bz2.compress(data, 9))
cuts, pos, n = [0, data.index(b"  <page>")], data.index(b"  <page>"), 0
while True:
    pos = data.find(b"</page>\n", pos)
    if pos < 0:
        break
    pos += len(b"</page>\n")
    n += 1
    if n % 100 == 0:
        cuts.append(pos)
cuts.append(len(data))
open(sys.argv[3], "wb").write(b"".join(bz2.compress(data[a:b], 9) for a, b in zip(cuts, cuts[1:]) if b > a))
EOF
xml_mb=$(awk -v b="$(stat -c %s "$T/dump.xml")" 'BEGIN { printf "%.1f", b / 1e6 }')
bz_mb=$(awk -v b="$(stat -c %s "$T/dump.multi.xml.bz2")" 'BEGIN { printf "%.1f", b / 1e6 }')

# timed LOG CMD...: runs CMD with /usr/bin/time -v into LOG; sets WALL, CPU, RSS.
timed() {
  local log=$1; shift
  /usr/bin/time -v "$@" 2>"$log"
  WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$log")
  CPU=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$log")
  RSS=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$log")
}

echo "bert data wikipedia: ${xml_mb} MB of XML (${bz_mb} MB bzip2, multistream), $THREADS threads, $(nproc) cores"
echo
echo "| stage | input | wall s | MB/s |"
echo "|---|---|---|---|"
timed "$T/log" "$BIN" data wikipedia "$T/dump.multi.xml.bz2" "$T/wp" --sequence-length 128 --mask-tokens 20 \
  --vocab data/vocab.txt --threads "$THREADS" --disable-progress-bar
pipeline_wall=$WALL pipeline_cpu=$CPU pipeline_rss=$RSS
awk '/^  (extract|preprocess|create|index) / && / MB\/s/ {
  unit = $1 == "extract" ? "MB of XML (from multistream .bz2)" : "MB"
  printf "| %s | %.1f %s | %.2f | %.1f |\n", $1, $4, unit, $2, $7 }' "$T/log"
echo "| **whole pipeline** | ${xml_mb} MB of XML | ${pipeline_wall} | $(awk -v m="$xml_mb" -v w="$pipeline_wall" 'BEGIN { printf "%.1f", m / w }') |"
echo
echo "pipeline: CPU ${pipeline_cpu} s, peak RSS ${pipeline_rss} MB; $(grep -c . <(ls "$T/wp/128"/*.tfrecord)) TFRecord files, $(cat "$T"/wp/128/*.index | wc -l) instances"
echo

echo "| run | input MB | wall s | CPU s | MB/s | MB per CPU-s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
row() { awk -v n="$1" -v m="$2" -v w="$WALL" -v c="$CPU" -v r="$RSS" 'BEGIN {
  printf "| %s | %.1f | %.2f | %.2f | %.1f | %.1f | %s |\n", n, m, w, c, m / w, m / c, r }'; }
timed "$T/log" "$BIN" data wiki-extract "$T/dump.xml" "$T/x1" --threads "$THREADS" --disable-progress-bar
row "wiki-extract, plain XML" "$xml_mb"
timed "$T/log" "$BIN" data wiki-extract "$T/dump.xml.bz2" "$T/x2" --threads "$THREADS" --disable-progress-bar
row "wiki-extract, bzip2 (one stream)" "$xml_mb"
timed "$T/log" "$BIN" data wiki-extract "$T/dump.multi.xml.bz2" "$T/x4" --threads "$THREADS" --disable-progress-bar
row "wiki-extract, bzip2 multistream" "$xml_mb"
timed "$T/log" "$BIN" data wiki-extract "$T/dump.multi.xml.bz2" "$T/x5" --threads 1 --disable-progress-bar
row "wiki-extract, bzip2 multistream, 1 thread" "$xml_mb"
if command -v bzip2 >/dev/null; then
  timed "$T/log" sh -c "bzip2 -dc '$T/dump.xml.bz2' >/dev/null"
  row "(bzip2 -dc alone, for scale)" "$xml_mb"
fi
timed "$T/log" "$BIN" data wiki-extract "$T/dump.xml" "$T/x3" --threads 1 --disable-progress-bar
row "wiki-extract, plain XML, 1 thread" "$xml_mb"

# The sentence splitter on English: the bundled WikiExtractor output copied into ~SIZE_MB / 2 MB.
mkdir -p "$T/en/AA"
copies=$(( (SIZE_MB + 1) / 2 ))
for i in $(seq -w 1 "$copies"); do cat tests/data/text/wikiextractor_en/AA_wiki_00 tests/data/text/wikiextractor_en/AB_wiki_00 >"$T/en/AA/wiki_$i"; done
en_mb=$(awk -v b="$(cat "$T"/en/AA/* | wc -c)" 'BEGIN { printf "%.1f", b / 1e6 }')
timed "$T/log" "$BIN" data wiki-preprocess "$T/en" "$T/en_out" --threads "$THREADS" --disable-progress-bar
row "wiki-preprocess, English, $copies files" "$en_mb"
timed "$T/log" "$BIN" data wiki-preprocess "$T/en" "$T/en_out1" --threads 1 --disable-progress-bar
row "wiki-preprocess, English, 1 thread" "$en_mb"
