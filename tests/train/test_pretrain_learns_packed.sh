#!/usr/bin/env bash
# The reference's learning test on Graphcore's packed sample data (see learning_check.sh).
source "$(dirname "$0")/learning_check.sh"
learning_check "demo_tiny_128 packed" -- --packed-data --input-files 'data/packing/*.tfrecord'
