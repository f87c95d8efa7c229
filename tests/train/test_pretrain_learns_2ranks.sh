#!/usr/bin/env bash
# The reference's learning test with 2 MPI ranks (see learning_check.sh).
source "$(dirname "$0")/learning_check.sh"
source "$(dirname "$0")/mpi.sh"
learning_check "demo_tiny_128 2 ranks" "${MPIRUN[@]}" -np 2 -- \
  --input-files data/sample_text.tfrecord --threads 1
