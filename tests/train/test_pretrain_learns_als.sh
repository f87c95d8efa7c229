#!/usr/bin/env bash
# The reference's ALS learning test: half-precision gradients with automatic loss scaling from a
# scale of 1, 2 MPI ranks (see learning_check.sh).
source "$(dirname "$0")/learning_check.sh"
source "$(dirname "$0")/mpi.sh"
learning_check "demo_tiny_128 fp16 ALS 2 ranks" "${MPIRUN[@]}" -np 2 -- \
  --input-files data/sample_text.tfrecord --threads 1 --precision fp16 --loss-scaling 1 --auto-loss-scaling True
