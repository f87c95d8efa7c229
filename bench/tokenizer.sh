#!/bin/bash
# bench/tokenizer.sh: bertc's WordPiece tokenizer beside HuggingFace's Rust tokenizer (npm
# `tokenizers`, installed into bench/peers/hf_tokenizer/node_modules) on the same Wikipedia lines:
# MB/s single-threaded and with all cores, the ratios, and whether the ids are identical.
#
#   bash bench/tokenizer.sh [--mb 20] [--repeats 5] [--hf-repeats 2]
#
# Environment: BUILD (default build) is the CMake build folder.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
MB=20
REPEATS=5
HF_REPEATS=2 # HuggingFace takes about 20 s per single-threaded pass over 20 MB here
while [ $# -gt 0 ]; do
  case "$1" in
    --mb) MB=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --hf-repeats) HF_REPEATS=$2; shift 2 ;;
    *) echo "bench/tokenizer.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
CORPUS=tests/data/text/wikiextractor_en/AA_wiki_00
VOCAB=data/vocab.txt
CORES=$(nproc)

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target bench_tokenizer -j "$CORES" >/dev/null
command -v node >/dev/null || { echo "bench/tokenizer.sh: node is needed for the HuggingFace peer" >&2; exit 1; }
if [ ! -d bench/peers/hf_tokenizer/node_modules/tokenizers ]; then
  (cd bench/peers/hf_tokenizer && npm ci --no-audit --no-fund)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--vocab "$VOCAB" --corpus "$CORPUS" --mb "$MB")

echo "== bertc (bench_tokenizer)"
"$BUILD/bench/bench_tokenizer" "${common[@]}" --repeats "$REPEATS" --threads "$CORES" \
  --dump-ids "$tmp/bertc.ids" | tee "$tmp/bertc.txt"
echo "== HuggingFace tokenizers, 1 thread"
TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 node bench/peers/hf_tokenizer.js "${common[@]}" \
  --repeats "$HF_REPEATS" --dump-ids "$tmp/hf.ids" | tee "$tmp/hf1.txt"
echo "== HuggingFace tokenizers, $CORES threads"
TOKENIZERS_PARALLELISM=true RAYON_NUM_THREADS=$CORES node bench/peers/hf_tokenizer.js "${common[@]}" \
  --repeats "$HF_REPEATS" | tee "$tmp/hfn.txt"

mbs() { grep "^RESULT .*$2" "$1" | sed -E 's/.* MB\/s=([0-9.]+).*/\1/'; }
b1=$(mbs "$tmp/bertc.txt" single-thread)
bn=$(mbs "$tmp/bertc.txt" all-cores)
h1=$(mbs "$tmp/hf1.txt" 'threads=1 ')
hn=$(mbs "$tmp/hfn.txt" "threads=$CORES ")
if cmp -s "$tmp/bertc.ids" "$tmp/hf.ids"; then
  ids="identical ($(wc -l <"$tmp/bertc.ids") lines)"
else
  ids="DIFFERENT (first differing line: $(cmp "$tmp/bertc.ids" "$tmp/hf.ids" | sed -E 's/.*line ([0-9]+).*/\1/'))"
fi
echo
echo "== summary ($MB MB of Wikipedia paragraphs, $CORES cores)"
printf '%-14s %12s %12s %8s\n' "" "bertc MB/s" "HF MB/s" "ratio"
awk -v a="$b1" -v b="$h1" 'BEGIN { printf "%-14s %12.1f %12.1f %7.1fx\n", "1 thread", a, b, a / b }'
awk -v a="$bn" -v b="$hn" -v c="$CORES" 'BEGIN { printf "%-14s %12.1f %12.1f %7.1fx\n", c " threads", a, b, a / b }'
echo "ids: $ids"
