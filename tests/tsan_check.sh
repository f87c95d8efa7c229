#!/usr/bin/env bash
# `make check TSAN=1`: runs the tests of the threaded parts from a ThreadSanitizer build and fails
# on any report, written by every process (servers the tests start included) into BUILD/tsan/.
#   tests/tsan_check.sh BUILD TEST_REGEX
# OpenMP teams are limited to one thread (OMP_THREAD_LIMIT=1, which bertc honours: base/threads.h):
# Debian's libgomp is not built with TSan, so its barriers are invisible to it and every parallel
# kernel would be a false report; the threads under test are bertc's own (HTTP, gRPC, sender,
# batcher, instances, loader). The
# suppressions (tests/tsan.supp) cover only third-party libraries, each with its reason.
set -uo pipefail
build=$1 tests=$2
root=$(cd "$(dirname "$0")/.." && pwd)
reports="$root/$build/tsan"
rm -rf "$reports" && mkdir -p "$reports"
export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp log_path=$reports/report halt_on_error=0 second_deadlock_stack=1 history_size=4"
export OMP_THREAD_LIMIT=1
cd "$build" && ctest --output-on-failure -j 2 -R "$tests"
status=$?
shopt -s nullglob
found=("$reports"/report*)
if [ ${#found[@]} -gt 0 ]; then
  echo "ThreadSanitizer: ${#found[@]} process(es) reported races or other problems:" >&2
  for f in "${found[@]}"; do echo "== $f" >&2; grep -E "^(WARNING|SUMMARY)" "$f" | sort | uniq -c >&2; done
  echo "(full reports in $reports)" >&2
  status=1
fi
[ $status -eq 0 ] && echo "ThreadSanitizer: no reports"
exit $status
