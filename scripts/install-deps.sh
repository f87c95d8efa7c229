#!/usr/bin/env bash
# Installs the Debian packages bertc needs, only those missing, non-interactively.
#   scripts/install-deps.sh          run-time + build packages (make demo)
#   scripts/install-deps.sh --test   also the test-only packages (make check)
#   scripts/install-deps.sh --bench  also the benchmark-only packages (bench/)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libdnnl-dev libutf8proc-dev libyaml-dev libcjson-dev
            libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler libbz2-dev libopenmpi-dev openmpi-bin)
test_pkgs=(python3-torch python3-numpy python3-requests)
# node + npm (onnxruntime-node peer) come with the machine; bench/ checks for them.
bench_pkgs=(python3-torch python3-numpy python3-onnx libopenblas0-openmp hyperfine time)

want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}") ;;
    --bench) want+=("${bench_pkgs[@]}") ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --test or --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
