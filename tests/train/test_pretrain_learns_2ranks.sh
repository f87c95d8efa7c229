#!/usr/bin/env bash
# The reference's learning test with 2 MPI ranks (see learning_check.sh).
source "$(dirname "$0")/learning_check.sh"
learning_check "demo_tiny_128 2 ranks" mpirun --allow-run-as-root --oversubscribe -np 2 -- \
  --input-files data/sample_text.tfrecord --threads 1
