#!/usr/bin/env bash
# bench/model.sh: the model speed benchmark of issues 2 and 11 against its peers, at the same
# thread count, in fp32, bf16 and int8 (inference):
#   0. a short probe run of bench_model with ONEDNN_VERBOSE=1 (one iteration per workload): which
#      ISA and kernels oneDNN really dispatched, kept in onednn_verbose.txt (the timed run below is
#      not verbose: printing a line per primitive would slow the small model down),
#   1. bench_model (our C benchmark, bench/model.c),
#   2. PyTorch (bench/peers/torch_bert.py, Debian's python3-torch run as /usr/bin/python3 with the
#      OpenMP OpenBLAS first in its library path; int8 = torch's dynamic quantization), which also
#      exports the model to ONNX; bench/peers/onnx_quantize.py (Debian's python3-onnx) makes the
#      dynamic int8 ONNX model of it,
#   3. ONNX Runtime (bench/peers/ort_bert.js, npm onnxruntime-node, CPU provider), fp32 and int8
#      inference only,
# one after the other, then a table of our figures beside theirs with the ratios and the targets.
#
#   bench/model.sh [--threads N] [--quick] [--model base|tiny|all] [--precision fp32|bf16|int8|all]
#                  [--iters N] [--budget S] [--profile] [--no-memory] [--skip-peers] [--no-build]
#                  [--force-bf16]
# --profile adds bench_model's per-shape oneDNN table and kernel micro-benchmarks; --force-bf16
# makes PyTorch run BERT-base in bf16 even where its bf16 matmul is a slow fallback (no native
# bf16 on the CPU: many minutes). --precision all = fp32, bf16 and int8.
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
precision=all
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --quick) common+=(--quick); shift ;;
    --precision)
      case "$2" in fp32|bf16|int8|all) ;; *) echo "model.sh: unknown precision '$2' (fp32|bf16|int8|all)" >&2; exit 2 ;; esac
      precision=$2; common+=("$1" "$2"); shift 2 ;;
    --model|--iters|--budget) common+=("$1" "$2"); shift 2 ;;
    --profile|--no-memory) ours+=("$1"); shift ;;
    --force-bf16) torch_only+=(--force-bf16); shift ;;
    --skip-peers) peers=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "model.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
# ORT runs fp32 and int8 inference (no bf16): it needs the ONNX export unless only bf16 is wanted
want_ort=1 want_int8=0
[ "$precision" = bf16 ] && want_ort=0
case "$precision" in int8|all) want_int8=1 ;; esac
ort_opts=()
for ((i = 0; i < ${#common[@]}; i++)); do
  case "${common[i]}" in
    --precision) i=$((i + 1)) ;;
    *) ort_opts+=("${common[i]}") ;;
  esac
done
ort_opts+=(--precision "$precision")

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
  if [ "$have_torch" = 1 ] && [ "$want_ort" = 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
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
  elif [ "$have_torch" = 1 ] && [ "$want_ort" = 1 ]; then
    echo "model.sh: node/npm missing: ONNX Runtime peer skipped" >&2
  fi
  if [ "$have_ort" = 1 ] && [ "$want_int8" = 1 ] && ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
    echo "model.sh: /usr/bin/python3 has no onnx (Debian python3-onnx): ONNX Runtime int8 skipped" >&2
    want_int8=0
  fi
fi
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
blas_dir=/usr/lib/$multiarch/openblas-openmp
[ -d "$blas_dir" ] || { echo "model.sh: $blas_dir missing (libopenblas0-openmp): PyTorch's fp32 runs slower" >&2; blas_dir=; }

# ---- which ISA oneDNN dispatches: a verbose probe run, one iteration per workload ----
# Only the verbose lines are kept (its RESULT lines, of single iterations, must not reach the table).
echo "== oneDNN probe: ONEDNN_VERBOSE=1 $BUILD/bench/bench_model --threads $threads ${common[*]} --iters 1 --budget 0 --no-memory"
ONEDNN_VERBOSE=1 DNNL_VERBOSE=1 OMP_NUM_THREADS=$threads "$BUILD/bench/bench_model" --threads "$threads" \
  "${common[@]}" --iters 1 --budget 0 --no-memory >"$tmp/probe.txt" 2>&1 ||
  echo "model.sh: the oneDNN probe run failed (exit $?): see the kernels below for what it got to" >&2
grep -E '^(onednn|dnnl)_verbose,' "$tmp/probe.txt" >"$logs/onednn_verbose.txt" || true
/usr/bin/python3 bench/model_report.py --onednn "$logs/onednn_verbose.txt"
echo

# ---- runs, one after the other ----
echo "== bertc: $BUILD/bench/bench_model --threads $threads ${common[*]} ${ours[*]}"
OMP_NUM_THREADS=$threads "$BUILD/bench/bench_model" --threads "$threads" "${common[@]}" "${ours[@]}" |
  tee "$logs/bertc.txt" ||
  echo "model.sh: bench_model failed (exit $?): its figures are missing from the table" >&2

if [ "$have_torch" = 1 ]; then
  export_opts=()
  [ "$have_ort" = 1 ] && export_opts=(--export-onnx "$tmp")
  echo
  echo "== PyTorch: bench/peers/torch_bert.py --threads $threads ${common[*]} ${torch_only[*]} ${export_opts[*]}"
  OMP_NUM_THREADS=$threads LD_LIBRARY_PATH=${blas_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    /usr/bin/python3 bench/peers/torch_bert.py --threads "$threads" "${common[@]}" "${torch_only[@]}" "${export_opts[@]}" 2>&1 |
    tee "$logs/torch.txt"
fi

if [ "$have_ort" = 1 ] && [ "$want_int8" = 1 ]; then
  echo
  echo "== ONNX dynamic int8: bench/peers/onnx_quantize.py TMP/<model>.onnx"
  for f in "$tmp"/*.onnx; do
    case "$f" in *.int8.onnx) continue ;; esac
    [ -f "$f" ] || continue
    /usr/bin/python3 bench/peers/onnx_quantize.py "$f" 2>&1 | tee -a "$logs/onnx_quantize.txt" ||
      echo "model.sh: onnx_quantize.py failed on $f: no ONNX Runtime int8 for it" >&2
  done
fi

if [ "$have_ort" = 1 ]; then
  echo
  echo "== ONNX Runtime: bench/peers/ort_bert.js --threads $threads ${ort_opts[*]}"
  OMP_NUM_THREADS=$threads node bench/peers/ort_bert.js --dir "$tmp" --threads "$threads" "${ort_opts[@]}" 2>&1 |
    tee "$logs/ort.txt"
fi

echo
reports=("$logs/bertc.txt" "$logs/onednn_verbose.txt")
[ -f "$logs/torch.txt" ] && reports+=("$logs/torch.txt")
[ -f "$logs/ort.txt" ] && reports+=("$logs/ort.txt")
/usr/bin/python3 bench/model_report.py "${reports[@]}" | tee "$logs/table.txt"
echo
echo "model.sh: done in $(( $(date +%s) - start )) s; logs in $logs"
