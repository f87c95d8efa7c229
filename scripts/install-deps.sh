#!/usr/bin/env bash
# Installs the Debian packages bertc needs, only those missing, non-interactively.
#   scripts/install-deps.sh          run-time + build packages (make demo)
#   scripts/install-deps.sh --test   also the test-only packages (make check)
#   scripts/install-deps.sh --bench  also the benchmark-only packages (bench/)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libdnnl-dev libutf8proc-dev libyaml-dev libcjson-dev
            libmicrohttpd-dev libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libbz2-dev libopenmpi-dev openmpi-bin)
# clang + its libFuzzer/sanitizer runtimes (libclang-rt-14-dev is only recommended by clang, and
# recommends are not installed) and clang's OpenMP: the fuzz smoke test and `make fuzz`.
test_pkgs=(python3-torch python3-numpy python3-requests python3-grpcio python3-grpc-tools chromium
           clang libclang-rt-14-dev libomp-14-dev)
# node + npm (onnxruntime-node peer) come with the machine; bench/ checks for them.
bench_pkgs=(python3-torch python3-numpy python3-onnx libopenblas0-openmp hyperfine time)

want=("${build_pkgs[@]}")
node_clients=0
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}"); node_clients=1 ;;
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
# The tests' second gRPC stack and browser driver (tests/node, versions pinned by its lock file):
# installed after the Debian packages, once, or again when the lock file changes.
install_node_clients() {
  [ "$node_clients" -eq 1 ] || return 0
  local dir="$(dirname "$0")/../tests/node"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null || { echo "install-deps.sh: npm is needed for tests/node (Node.js 20 comes with the machine)" >&2; exit 1; }
    echo "install-deps.sh: npm ci in tests/node" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  install_node_clients
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_node_clients
