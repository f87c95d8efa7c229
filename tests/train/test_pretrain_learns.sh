#!/usr/bin/env bash
# The reference's learning test on unpacked data (see learning_check.sh).
source "$(dirname "$0")/learning_check.sh"
learning_check "demo_tiny_128" -- --input-files data/sample_text.tfrecord
