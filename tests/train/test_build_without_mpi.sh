#!/usr/bin/env bash
# A build without MPI still works: train/distributed.c compiled without BERT_HAVE_MPI (as CMake
# does when no MPI is found) runs one replica, and refuses clearly when started by mpirun.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -Isrc -Itests)
gcc "${flags[@]}" tests/train/tool_distributed.c src/train/distributed.c src/base/error.c -o "$tmp/tool" -lm \
  || { echo "FAIL: distributed.c does not build without MPI"; exit 1; }
[ "$("$tmp/tool")" = "rank 0 of 1 ok" ] || { echo "FAIL: single replica without MPI"; exit 1; }
OMPI_COMM_WORLD_SIZE=2 "$tmp/tool" > "$tmp/out" 2>&1
[ $? -ne 0 ] && grep -q "built without MPI" "$tmp/out" || { echo "FAIL: no clear error under a launcher"; exit 1; }
echo "build without MPI: ok"
