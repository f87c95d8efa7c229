# Sourced by the MPI tests: MPIRUN is the launcher for 2-rank runs. OpenMPI does not free its own
# allocations at exit, so under LeakSanitizer every MPI run would fail: leak detection is off for
# MPI processes only (the single-process tests still check for leaks).
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
if [ "${BERT_SANITIZED:-0}" = 1 ]; then MPIRUN=(env ASAN_OPTIONS=detect_leaks=0 "${MPIRUN[@]}"); fi
