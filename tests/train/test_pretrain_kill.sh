#!/usr/bin/env bash
# Killing `bert pretrain` (SIGKILL) in the middle of checkpoint writes never leaves a broken
# step_N: every step_N folder present afterwards is complete and loads; a run resumed from the
# newest one carries on.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
args=(--config demo_tiny_128 --disable-progress-bar --gradient-accumulation 1 --hidden-size 256
      --num-hidden-layers 3 --num-attention-heads 4 --training-steps 1000 --checkpoint-steps 1
      --input-files data/sample_text.tfrecord)
for delay in 2.5 3.3 4.1; do
  out="$tmp/run_$delay"
  "$BERT_BIN" pretrain "${args[@]}" --checkpoint-output-dir "$out" > "$out.log" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  n=0
  for d in "$out"/step_*; do
    [ -d "$d" ] || continue
    n=$((n + 1))
    for f in config.json model.safetensors vocab.txt tokenizer_config.json optimizer.safetensors training_state.json; do
      [ -s "$d/$f" ] || { echo "FAIL: $d/$f missing after kill"; fail=1; }
    done
    echo '{"input_ids": [101, 2023, 102]}' | "$BERT_BIN" infer --model "$d" --input - --output /dev/null \
      > /dev/null 2>&1 || { echo "FAIL: $d does not load"; fail=1; }
  done
  [ $n -ge 1 ] || { echo "FAIL: no checkpoint within $delay s"; tail -3 "$out.log"; fail=1; }
done
# resume from the newest surviving checkpoint of the last run
last="$tmp/run_4.1"
"$BERT_BIN" pretrain "${args[@]}" --training-steps 30 --checkpoint-steps 100 --checkpoint-input-dir "$last" \
  --resume-training-from-checkpoint > "$tmp/resume.log" 2>&1 || { echo "FAIL: resume after kill"; tail -5 "$tmp/resume.log"; fail=1; }
[ $fail -eq 0 ] && echo "pretrain kill: ok"
exit $fail
