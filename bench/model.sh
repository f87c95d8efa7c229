#!/usr/bin/env bash
# bench/model.sh: the model speed benchmark of issue 2 against its peers, at the same thread count:
#   1. bench_model (our C benchmark, bench/model.c),
#   2. PyTorch (bench/peers/torch_bert.py, Debian's python3-torch run as /usr/bin/python3 with the
#      OpenMP OpenBLAS first in its library path), which also exports the model to ONNX,
#   3. ONNX Runtime (bench/peers/ort_bert.js, npm onnxruntime-node, CPU provider), inference only,
# one after the other, then a table of our figures beside theirs with the ratios and the targets.
#
#   bench/model.sh [--threads N] [--quick] [--model base|tiny|all] [--precision fp32|bf16|all]
#                  [--iters N] [--budget S] [--profile] [--no-memory] [--skip-peers] [--no-build]
#                  [--force-bf16]
# --profile adds bench_model's per-shape oneDNN table and kernel micro-benchmarks; --force-bf16
# makes PyTorch run BERT-base in bf16 even where its bf16 matmul is a slow fallback (no native
# bf16 on the CPU: many minutes).
# Builds bench_model in $BUILD (default build) first; logs and the table are kept in
# $BUILD/bench/model-<date>/. The ONNX files go to a temporary directory removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
threads=$(nproc)
common=()      # options every benchmark takes
ours=()        # options of bench_model only
torch_only=()  # options of torch_bert.py only
peers=1 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --quick) common+=(--quick); shift ;;
    --model|--precision|--iters|--budget) common+=("$1" "$2"); shift 2 ;;
    --profile|--no-memory) ours+=("$1"); shift ;;
    --force-bf16) torch_only+=(--force-bf16); shift ;;
    --skip-peers) peers=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "model.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
# ORT is fp32 inference only: it takes no --precision
ort_opts=()
for ((i = 0; i < ${#common[@]}; i++)); do
  case "${common[i]}" in
    --precision) i=$((i + 1)) ;;
    *) ort_opts+=("${common[i]}") ;;
  esac
done
want_fp32=1
for ((i = 0; i < ${#common[@]}; i++)); do
  [ "${common[i]}" = --precision ] && [ "${common[i+1]}" = bf16 ] && want_fp32=0
done

start=$(date +%s)
logs="$BUILD/bench/model-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$logs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ----
if [ "$build" = 1 ]; then
  bash scripts/install-deps.sh --bench
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target bench_model >/dev/null
fi
[ -x "$BUILD/bench/bench_model" ] || { echo "model.sh: $BUILD/bench/bench_model missing (make BUILD=$BUILD bench)" >&2; exit 1; }

# ---- peers: set-up checks ----
have_torch=0 have_ort=0
if [ "$peers" = 1 ]; then
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    have_torch=1
  else
    echo "model.sh: /usr/bin/python3 has no torch (Debian python3-torch): PyTorch and ONNX Runtime peers skipped" >&2
  fi
  if [ "$have_torch" = 1 ] && [ "$want_fp32" = 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d bench/peers/node_modules/onnxruntime-node ]; then
      echo "model.sh: installing onnxruntime-node into bench/peers/node_modules" >&2
      (cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >&2) ||
        echo "model.sh: npm ci failed: ONNX Runtime peer skipped" >&2
    fi
    if (cd bench/peers && node -e "require('onnxruntime-node')") 2>/dev/null; then
      have_ort=1
    else
      echo "model.sh: onnxruntime-node does not load: ONNX Runtime peer skipped" >&2
    fi
  elif [ "$have_torch" = 1 ] && [ "$want_fp32" = 1 ]; then
    echo "model.sh: node/npm missing: ONNX Runtime peer skipped" >&2
  fi
fi
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
blas_dir=/usr/lib/$multiarch/openblas-openmp
[ -d "$blas_dir" ] || { echo "model.sh: $blas_dir missing (libopenblas0-openmp): PyTorch's fp32 runs slower" >&2; blas_dir=; }

# ---- runs, one after the other ----
echo "== bertc: $BUILD/bench/bench_model --threads $threads ${common[*]} ${ours[*]}"
OMP_NUM_THREADS=$threads "$BUILD/bench/bench_model" --threads "$threads" "${common[@]}" "${ours[@]}" |
  tee "$logs/bertc.txt"

if [ "$have_torch" = 1 ]; then
  export_opts=()
  [ "$have_ort" = 1 ] && export_opts=(--export-onnx "$tmp")
  echo
  echo "== PyTorch: bench/peers/torch_bert.py --threads $threads ${common[*]} ${torch_only[*]} ${export_opts[*]}"
  OMP_NUM_THREADS=$threads LD_LIBRARY_PATH=${blas_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    /usr/bin/python3 bench/peers/torch_bert.py --threads "$threads" "${common[@]}" "${torch_only[@]}" "${export_opts[@]}" 2>&1 |
    tee "$logs/torch.txt"
fi

if [ "$have_ort" = 1 ]; then
  echo
  echo "== ONNX Runtime: bench/peers/ort_bert.js --threads $threads ${ort_opts[*]}"
  OMP_NUM_THREADS=$threads node bench/peers/ort_bert.js --dir "$tmp" --threads "$threads" "${ort_opts[@]}" 2>&1 |
    tee "$logs/ort.txt"
fi

echo
reports=("$logs/bertc.txt")
[ -f "$logs/torch.txt" ] && reports+=("$logs/torch.txt")
[ -f "$logs/ort.txt" ] && reports+=("$logs/ort.txt")
/usr/bin/python3 bench/model_report.py "${reports[@]}" | tee "$logs/table.txt"
echo
echo "model.sh: done in $(( $(date +%s) - start )) s; logs in $logs"
