#!/usr/bin/env bash
# CI smoke of the fuzz targets (docs/reliability.md): builds them with clang + libFuzzer in their
# own folder under the build folder, replays every regression input, runs each target on its
# seed corpus plus 3 seconds of fuzzing, and fails on a target that does not build, a crash, a
# leak, undefined behaviour, a timeout or the memory limit (scripts/fuzz.sh does the work).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BERT_BUILD:-build}/fuzz-smoke
# The first build compiles the library with clang (1.2 min on 2 idle cores, ~4 min under a load of
# 6); later ones rebuild what changed. The 15 targets then take ~70 s.
JOBS=2 FUZZ_FRESH_CORPUS=1 bash scripts/fuzz.sh "$build" "${FUZZ_SMOKE_SECONDS:-3}"
echo "fuzz smoke: every target built, replayed its regressions and fuzzed without a finding"
