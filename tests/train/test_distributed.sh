#!/usr/bin/env bash
# MPI replicas: the collectives of train/distributed.c under `mpirun -np 2`, and the same binary
# alone as one replica.
set -u
source "$(dirname "$0")/mpi.sh"
tool="$BERT_BUILD/tests/tool_distributed"
fail=0
out=$("$tool") || fail=1
[ "$out" = "rank 0 of 1 ok" ] || { echo "single replica: '$out'"; fail=1; }
if ! command -v mpirun >/dev/null; then echo "mpirun missing (scripts/install-deps.sh installs openmpi-bin)"; exit 1; fi
out=$("${MPIRUN[@]}" -np 2 "$tool" 2>&1)
for r in 0 1; do
  echo "$out" | grep -q "^rank $r of 2 ok$" || { echo "mpirun -np 2: rank $r not ok:"; echo "$out"; fail=1; }
done
[ $fail -eq 0 ] && echo "distributed: ok"
exit $fail
