#!/usr/bin/env bash
# bench/pretrain.sh: training throughput of `bert pretrain` (samples/s, median of the logged steps
# after the first) against a PyTorch re-statement of the same step (bench/peers/torch_pretrain.py)
# at the same thread count, for demo_tiny_128 (micro-batch 1, GA 16, AdamW) and pretrain_base_128
# (micro-batch 8, GA 1, LAMBNoBiasCorrection), fp32 and bf16, unpacked and packed (tiny), 1 rank x
# 2 threads and 2 ranks x 1 thread, on generated data (no I/O) or the bundled sample data.
#   bench/pretrain.sh [--quick] [--threads N] [--no-base] [--skip-peers] [--force-bf16]
# PyTorch BERT-base bf16 runs only with --force-bf16: without native bf16 (no AVX-512 BF16) its
# bf16 matmul is a ~1 GFLOP/s fallback and a step takes many minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
threads=$(nproc) steps=6 base=1 peers=1 force_bf16=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) steps=4; shift ;;
    --threads) threads=$2; shift 2 ;;
    --no-base) base=0; shift ;;
    --skip-peers) peers=0; shift ;;
    --force-bf16) force_bf16=1; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pretrain.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
make -s BUILD="$BUILD" build >/dev/null
bash scripts/install-deps.sh --bench
export OMP_NUM_THREADS=$threads
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# median throughput of the logged steps after the first (warm-up)
ours() {
  local name=$1; shift
  "$@" --disable-progress-bar > "$out/$name.log" 2>&1 || { echo "$name: FAILED"; tail -3 "$out/$name.log"; return; }
  grep -o 'throughput: [0-9.]* samples/sec' "$out/$name.log" | awk 'NR > 1 {print $2}' | sort -g |
    awk -v n="$name" '{a[NR] = $1} END {printf "%s %.3f\n", n, (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
torch_peer() {
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/peers/torch_pretrain.py "$@" \
    --threads "$threads" --steps "$steps" | awk '/^RESULT/ {print $NF}'
}
B=./$BUILD/bert
tiny=(pretrain --config demo_tiny_128 --training-steps $steps --input-files data/sample_text.tfrecord)
gen=(pretrain --config pretrain_base_128 --training-steps $steps --micro-batch-size 8 --gradient-accumulation 1
     --replication-factor 1 --device-iterations 1 --dataset generated)
mpi=(mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1)

{
  ours tiny_fp32 $B "${tiny[@]}"
  ours tiny_bf16 $B "${tiny[@]}" --precision bf16
  ours tiny_packed_fp32 $B "${tiny[@]}" --packed-data --input-files 'data/packing/*.tfrecord'
  ours tiny_fp32_2ranks "${mpi[@]}" $B "${tiny[@]}" --threads 1
  if [ $base -eq 1 ]; then
    ours base_fp32 $B "${gen[@]}"
    ours base_bf16 $B "${gen[@]}" --precision bf16
    ours base_fp32_2ranks "${mpi[@]}" $B "${gen[@]}" --threads 1 --micro-batch-size 4 --replication-factor 2
  fi
} | tee "$out/ours.txt"
if [ $peers -eq 1 ]; then
  echo "torch_tiny_fp32 $(torch_peer --model tiny --micro-batch 1 --ga 16)" | tee -a "$out/ours.txt"
  echo "torch_tiny_bf16 $(torch_peer --model tiny --micro-batch 1 --ga 16 --precision bf16)" | tee -a "$out/ours.txt"
  if [ $base -eq 1 ]; then
    echo "torch_base_fp32 $(torch_peer --model base --micro-batch 8 --ga 1 --optimizer LAMB)" | tee -a "$out/ours.txt"
    if [ $force_bf16 -eq 1 ] || grep -q avx512_bf16 /proc/cpuinfo; then
      echo "torch_base_bf16 $(torch_peer --model base --micro-batch 8 --ga 1 --optimizer LAMB --precision bf16)" | tee -a "$out/ours.txt"
    fi
  fi
fi
echo
awk '{v[$1] = $2} END {
  printf "%-22s %12s %12s %8s\n", "workload", "bertc", "PyTorch", "ratio"
  split("tiny_fp32 tiny_bf16 base_fp32 base_bf16", k, " ")
  for (i = 1; i <= 4; i++) if (k[i] in v) {
    t = v["torch_" k[i]]; printf "%-22s %12.2f %12s %8s\n", k[i], v[k[i]], t == "" ? "-" : t, t == "" || t == 0 ? "-" : sprintf("%.2fx", v[k[i]] / t)
  }
  if ("tiny_packed_fp32" in v) printf "%-22s %12.2f  (sequences/s)\n", "tiny_packed_fp32", v["tiny_packed_fp32"]
  if ("tiny_fp32_2ranks" in v) printf "%-22s %12.2f  (%.0f %% of 1 rank x 2 threads)\n", "tiny 2 ranks x 1 thr", v["tiny_fp32_2ranks"], 100 * v["tiny_fp32_2ranks"] / v["tiny_fp32"]
  if ("base_fp32_2ranks" in v) printf "%-22s %12.2f  (%.0f %% of 1 rank x 2 threads)\n", "base 2 ranks x 1 thr", v["base_fp32_2ranks"], 100 * v["base_fp32_2ranks"] / v["base_fp32"]
}' "$out/ours.txt"
