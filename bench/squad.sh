#!/usr/bin/env bash
# bench/squad.sh: the SQuAD speed benchmark of issue 6 against its peers, at the same thread count:
#   1. bench_squad (our C benchmark, bench/squad.c): BERT-base QA at sequence 384, inference
#      features/s at batch 1 and 16, fine-tuning samples/s (zero grads + forward + backward +
#      AdamW) at micro-batch 4, fp32 and bf16;
#   2. PyTorch (bench/peers/torch_squad.py: BertForQuestionAnswering in plain torch, Debian's
#      python3-torch as /usr/bin/python3 with the OpenMP OpenBLAS first in its library path), the
#      same workloads with torch.optim.AdamW; it also exports the QA model to ONNX;
#   3. ONNX Runtime (bench/peers/ort_bert.js on that model, CPU provider), fp32 inference only;
# one after the other, then a table of our figures beside theirs, the ratios and the targets.
#
#   bench/squad.sh [--threads N] [--quick] [--precision fp32|bf16|all] [--micro-batch N]
#                  [--iters N] [--budget S] [--padded] [--skip-peers] [--no-build] [--force-bf16]
# --padded gives the features attention masks over 150-374 of their 384 tokens (all three do the
# same work either way: none skips padding); --force-bf16 makes PyTorch run bf16 even where its
# bf16 matmul is a slow fallback (no native bf16 on the CPU: hours at sequence 384).
# Builds bench_squad in $BUILD (default build) first; logs and the table are kept in
# $BUILD/bench/squad-<date>/. The ONNX file goes to a temporary directory removed at exit.
# About 10 minutes on a quiet 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
threads=$(nproc)
common=()      # options every benchmark takes
ours_torch=()  # options of bench_squad and torch_squad.py only
torch_only=()  # options of torch_squad.py only
peers=1 build=1 want_fp32=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --quick|--padded) common+=("$1"); shift ;;
    --iters|--budget) common+=("$1" "$2"); shift 2 ;;
    --precision) ours_torch+=("$1" "$2"); [ "$2" = bf16 ] && want_fp32=0; shift 2 ;;
    --micro-batch) ours_torch+=("$1" "$2"); shift 2 ;;
    --force-bf16) torch_only+=(--force-bf16); shift ;;
    --skip-peers) peers=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "squad.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

# one time budget for all three (their defaults differ)
budget_given=0
for ((i = 0; i < ${#common[@]}; i++)); do [ "${common[i]}" = --budget ] && budget_given=1; done
if [ "$budget_given" = 0 ]; then
  case " ${common[*]} " in *" --quick "*) common+=(--budget 15) ;; *) common+=(--budget 45) ;; esac
fi

start=$(date +%s)
logs="$BUILD/bench/squad-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$logs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ----
if [ "$build" = 1 ]; then
  bash scripts/install-deps.sh --bench
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target bench_squad >/dev/null
fi
[ -x "$BUILD/bench/bench_squad" ] || { echo "squad.sh: $BUILD/bench/bench_squad missing (make BUILD=$BUILD bench)" >&2; exit 1; }

# ---- peers: set-up checks (as bench/model.sh) ----
have_torch=0 have_ort=0
if [ "$peers" = 1 ]; then
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    have_torch=1
  else
    echo "squad.sh: /usr/bin/python3 has no torch (Debian python3-torch): PyTorch and ONNX Runtime peers skipped" >&2
  fi
  if [ "$have_torch" = 1 ] && [ "$want_fp32" = 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d bench/peers/node_modules/onnxruntime-node ]; then
      echo "squad.sh: installing onnxruntime-node into bench/peers/node_modules" >&2
      (cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >&2) ||
        echo "squad.sh: npm ci failed: ONNX Runtime peer skipped" >&2
    fi
    if (cd bench/peers && node -e "require('onnxruntime-node')") 2>/dev/null; then
      have_ort=1
    else
      echo "squad.sh: onnxruntime-node does not load: ONNX Runtime peer skipped" >&2
    fi
  elif [ "$have_torch" = 1 ] && [ "$want_fp32" = 1 ]; then
    echo "squad.sh: node/npm missing: ONNX Runtime peer skipped" >&2
  fi
fi
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
blas_dir=/usr/lib/$multiarch/openblas-openmp
[ -d "$blas_dir" ] || { echo "squad.sh: $blas_dir missing (libopenblas0-openmp): PyTorch's fp32 runs slower" >&2; blas_dir=; }

# ---- runs, one after the other; the load average is logged around them ----
echo "load before: $(uptime)" | tee "$logs/load.txt"
echo "== bertc: $BUILD/bench/bench_squad --threads $threads ${common[*]} ${ours_torch[*]}"
OMP_NUM_THREADS=$threads "$BUILD/bench/bench_squad" --threads "$threads" "${common[@]}" "${ours_torch[@]}" |
  tee "$logs/bertc.txt"

if [ "$have_torch" = 1 ]; then
  export_opts=()
  [ "$have_ort" = 1 ] && export_opts=(--export-onnx "$tmp")
  echo
  echo "== PyTorch: bench/peers/torch_squad.py --threads $threads ${common[*]} ${ours_torch[*]} ${torch_only[*]} ${export_opts[*]}"
  OMP_NUM_THREADS=$threads LD_LIBRARY_PATH=${blas_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    /usr/bin/python3 bench/peers/torch_squad.py --threads "$threads" "${common[@]}" "${ours_torch[@]}" \
    "${torch_only[@]}" "${export_opts[@]}" 2>&1 | tee "$logs/torch.txt"
fi

if [ "$have_ort" = 1 ] && [ -f "$tmp/base.onnx" ]; then
  echo
  echo "== ONNX Runtime: bench/peers/ort_bert.js --dir TMP --model base --seq 384 --batches 1,16 --threads $threads ${common[*]}"
  OMP_NUM_THREADS=$threads node bench/peers/ort_bert.js --dir "$tmp" --model base --seq 384 --batches 1,16 \
    --threads "$threads" "${common[@]}" 2>&1 | tee "$logs/ort.txt"
fi
echo "load after: $(uptime)" | tee -a "$logs/load.txt"

echo
reports=("$logs/bertc.txt")
[ -f "$logs/torch.txt" ] && reports+=("$logs/torch.txt")
[ -f "$logs/ort.txt" ] && reports+=("$logs/ort.txt")
/usr/bin/python3 bench/squad_report.py "${reports[@]}" | tee "$logs/table.txt"
echo
echo "squad.sh: done in $(( $(date +%s) - start )) s; logs in $logs"
