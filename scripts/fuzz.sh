#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_<name>.c) with clang in BUILD and runs each one:
# first its regression inputs (tests/fuzz/regressions/<name>/, each executed once), then
# SECONDS of fuzzing from its seed corpus (tests/fuzz/corpus/<name>/, read only: new inputs go to
# BUILD/fuzz-corpus/<name>/, which persists between runs) with its dictionary when there is one.
# Prints per target the executions, coverage (edges), corpus size and the result; exits 1 when
# a target does not build, crashes, leaks, hits undefined behaviour, a timeout or the memory
# limit. A crash's reproducer is kept in BUILD/fuzz-artifacts/<name>/ (docs/reliability.md).
#   scripts/fuzz.sh BUILD SECONDS [NAME...]      (`make fuzz`, tests/fuzz/test_fuzz_smoke.sh)
# FUZZ_FRESH_CORPUS=1 starts from the seeds alone (the smoke test: the same work every run).
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh BUILD SECONDS [TARGET...]" >&2
  exit 2
fi
build=$1 seconds=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build"
build=$(cd "$build" && pwd)

if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DBERT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     >"$build/fuzz-configure.log" 2>&1; then
  tail -20 "$build/fuzz-configure.log"
  echo "fuzz: cmake could not configure $build (clang, libclang-rt-14-dev and libomp-14-dev come with" \
       "scripts/install-deps.sh --test)" >&2
  exit 1
fi
if ! cmake --build "$build" -j "${JOBS:-$(nproc)}" --target fuzz >"$build/fuzz-build.log" 2>&1; then
  grep -E "error|Error" "$build/fuzz-build.log" | head -30
  echo "fuzz: the fuzz targets do not build (log: $build/fuzz-build.log)" >&2
  exit 1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/tests/fuzz/fuzz_*.c; do
    name=${src##*/fuzz_}
    targets+=("${name%.c}")
  done
fi

# Options of every run: memory and time per input as the issue sets them; the target's own
# stdout/stderr closed (libFuzzer still reports a crash), so logs hold libFuzzer's lines.
common=(-rss_limit_mb=2048 -timeout=10 -close_fd_mask=3)
failed=0
printf '%-18s %12s %8s %16s %8s  %s\n' target executions "cov" "corpus" "cpu s" result
for name in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$name"
  log="$build/fuzz-logs/$name.log"
  artifacts="$build/fuzz-artifacts/$name/"
  [ "${FUZZ_FRESH_CORPUS:-0}" = 1 ] && rm -rf "$build/fuzz-corpus/$name"
  mkdir -p "$build/fuzz-logs" "$artifacts" "$build/fuzz-corpus/$name"
  if [ ! -x "$bin" ]; then
    printf '%-18s %12s %8s %16s %8s  %s\n' "$name" - - - - "NOT BUILT"
    failed=1
    continue
  fi
  result=ok
  regressions=("$root/tests/fuzz/regressions/$name"/*)
  if [ -e "${regressions[0]}" ]; then
    if ! "$bin" "${common[@]}" "${regressions[@]}" >"$log.regressions" 2>&1; then
      result="REGRESSION FAILED (log: $log.regressions)"
    fi
  fi
  dict=()
  [ -f "$root/tests/fuzz/dict/$name.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$name.dict")
  # The fuzzer's CPU seconds (user + system), so a campaign reports CPU time, not wall time.
  TIMEFORMAT='%U %S'
  cpu=$( { time "$bin" "${common[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$build/fuzz-corpus/$name" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1; \
    echo "rc=$?" >"$log.rc"; } 2>&1 )
  rc=$(sed -n 's/^rc=//p' "$log.rc")
  cpu=$(awk '{ printf "%.0f", $1 + $2 }' <<<"$cpu")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  stats=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$stats")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$stats")
  if [ $rc -ne 0 ]; then
    found=$(ls -t "$artifacts" 2>/dev/null | head -1)
    result="CRASHED (exit $rc; reproducer: $artifacts$found; log: $log)"
  fi
  [ "$result" = ok ] || failed=1
  printf '%-18s %12s %8s %16s %8s  %s\n' "$name" "${execs:--}" "${cov:--}" "${corp:--}" "${cpu:--}" "$result"
done
exit $failed
