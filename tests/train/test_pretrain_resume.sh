#!/usr/bin/env bash
# bert pretrain: checkpoints (step_0, every n, final), exact resume (losses and final weights
# bit for bit, also with 2 ranks), refusing to overwrite, 2 ranks x GA g == 1 rank x 2g, and the
# command line's help and errors.
set -u
BERT="$BERT_BIN"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
say() { echo "FAIL: $*"; fail=1; }
source "$(dirname "$0")/mpi.sh"
MPI=("${MPIRUN[@]}" -np 2)
common=(--config demo_tiny_128 --disable-progress-bar --gradient-accumulation 4 --random-seed 11
        --input-files data/sample_text.tfrecord)

losses() { grep -o "Step: [0-9]* / [0-9]* - LR: [^ ]* - total loss: [0-9.]*" "$1" | sed 's/.*total loss: //'; }

# --- help and bad usage
"$BERT" pretrain --help > "$tmp/help" || say "--help exit status"
head -1 "$tmp/help" | grep -q '^usage: bert pretrain \[-h\]' || say "--help first line: $(head -1 "$tmp/help")"
"$BERT" pretrain --config demo_tiny_128 --micro-batch-size zero > /dev/null 2> "$tmp/err"
[ $? -eq 2 ] && grep -q "micro-batch-size" "$tmp/err" || say "bad value: status/message $(cat "$tmp/err")"

# --- uninterrupted run: 6 steps, checkpoints every 3
"$BERT" pretrain "${common[@]}" --training-steps 6 --checkpoint-steps 3 --checkpoint-output-dir "$tmp/full" \
  > "$tmp/full.log" 2>&1 || { say "full run failed"; cat "$tmp/full.log"; }
for s in 0 3 6; do
  for f in config.json model.safetensors vocab.txt tokenizer_config.json optimizer.safetensors training_state.json; do
    [ -f "$tmp/full/step_$s/$f" ] || say "step_$s/$f missing"
  done
done
[ -d "$tmp/full/step_1" ] && say "unexpected step_1"
[ "$(wc -l < "$tmp/full/metrics.jsonl")" -eq 6 ] || say "metrics.jsonl should have 6 lines"
grep -q '"micro_batch_size"' "$tmp/full/step_3/config.json" || say "config.json lacks the run options"

# --- refusing to overwrite
"$BERT" pretrain "${common[@]}" --training-steps 1 --checkpoint-output-dir "$tmp/full" > "$tmp/over.log" 2>&1
[ $? -ne 0 ] && grep -q "Overwriting checkpoints is not supported" "$tmp/over.log" || say "overwrite not refused"

# --- resume from step_3: steps 3..5 give the same losses and the same final state, bit for bit
"$BERT" pretrain "${common[@]}" --training-steps 6 --checkpoint-input-dir "$tmp/full" \
  --resume-training-from-checkpoint --checkpoint-output-dir "$tmp/resumed" > "$tmp/resumed.log" 2>&1 \
  || { say "resume from the highest step failed"; cat "$tmp/resumed.log"; }
grep -q "Forwarding Data Loader until Checkpoint Step 6" "$tmp/resumed.log" || say "resume did not pick step_6"
"$BERT" pretrain "${common[@]}" --training-steps 6 --checkpoint-input-dir "$tmp/full/step_3" \
  --resume-training-from-checkpoint --checkpoint-output-dir "$tmp/resumed3" > "$tmp/resumed3.log" 2>&1 \
  || { say "resume from step_3 failed"; cat "$tmp/resumed3.log"; }
[ "$(losses "$tmp/full.log" | tail -3)" = "$(losses "$tmp/resumed3.log")" ] \
  || say "resumed losses differ: $(losses "$tmp/full.log" | tail -3 | tr '\n' ' ') vs $(losses "$tmp/resumed3.log" | tr '\n' ' ')"
cmp -s "$tmp/full/step_6/model.safetensors" "$tmp/resumed3/step_6/model.safetensors" || say "resumed weights differ"
cmp -s "$tmp/full/step_6/optimizer.safetensors" "$tmp/resumed3/step_6/optimizer.safetensors" || say "resumed optimizer differs"

# --- 2 ranks: same losses as 1 rank (each rank accumulates half), exact resume with 2 ranks
"${MPI[@]}" "$BERT" pretrain "${common[@]}" --training-steps 6 --checkpoint-steps 3 \
  --checkpoint-output-dir "$tmp/two" > "$tmp/two.log" 2>&1 || { say "2 ranks failed"; cat "$tmp/two.log"; }
grep -q "2 ranks: each accumulates 2 of the 4" "$tmp/two.log" || say "2 ranks: no share line"
/usr/bin/python3 - "$tmp/full/metrics.jsonl" "$tmp/two/metrics.jsonl" <<'PY' || fail=1
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
keys = ("total_loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc")
bad = [(x["step"], k, x[k], y[k]) for x, y in zip(a, b) for k in keys if abs(x[k] - y[k]) > 1e-5 * max(1, abs(x[k]))]
if len(a) != 6 or len(b) != 6 or bad:
    print(f"FAIL: 1 rank vs 2 ranks: {bad or (len(a), len(b))}"); sys.exit(1)
PY
"${MPI[@]}" "$BERT" pretrain "${common[@]}" --training-steps 6 --checkpoint-input-dir "$tmp/two/step_3" \
  --resume-training-from-checkpoint --checkpoint-output-dir "$tmp/two_resumed" > "$tmp/two_resumed.log" 2>&1 \
  || { say "2-rank resume failed"; cat "$tmp/two_resumed.log"; }
cmp -s "$tmp/two/step_6/model.safetensors" "$tmp/two_resumed/step_6/model.safetensors" || say "2-rank resumed weights differ"
[ "$(losses "$tmp/two.log" | tail -3)" = "$(losses "$tmp/two_resumed.log")" ] || say "2-rank resumed losses differ"

# --- static loss scaling is undone before the optimizer: the moments after one update are the
# same for scales 1 and 4096 (the step itself hides a wrong scale: Adam is nearly scale-invariant)
for scale in 1 4096; do
  "$BERT" pretrain "${common[@]}" --training-steps 1 --loss-scaling $scale --checkpoint-output-dir "$tmp/scale$scale" \
    > "$tmp/scale$scale.log" 2>&1 || { say "loss scaling $scale run failed"; tail -3 "$tmp/scale$scale.log"; }
done
/usr/bin/python3 - "$tmp/scale1/step_1/optimizer.safetensors" "$tmp/scale4096/step_1/optimizer.safetensors" <<'PY' || fail=1
import sys
sys.path.insert(0, "tests/reference")
import safetensors_py
a, b = (safetensors_py.load(p) for p in sys.argv[1:3])
worst = max(float((a[k].double() - b[k].double()).abs().max() / max(a[k].double().abs().max(), 1e-30))
            for k in a if k.startswith("exp_avg"))
if not worst < 1e-4:
    print(f"FAIL: optimizer moments depend on the loss scale (relative difference {worst:.3g})"); sys.exit(1)
PY

# --- phase 1 -> phase 2: the 128-length checkpoint starts a 512-length run (generated data)
"$BERT" pretrain --config demo_tiny_128 --disable-progress-bar --training-steps 2 --gradient-accumulation 2 \
  --dataset generated --sequence-length 512 --mask-tokens 76 --checkpoint-input-dir "$tmp/full" \
  > "$tmp/phase2.log" 2>&1 || { say "phase 2 from a 128 checkpoint failed"; tail -3 "$tmp/phase2.log"; }
grep -q "Loaded weights from $tmp/full/step_6" "$tmp/phase2.log" || say "phase 2 did not load step_6"
"$BERT" pretrain --config demo_tiny_128 --disable-progress-bar --training-steps 2 --gradient-accumulation 2 \
  --synthetic-data --packed-data > "$tmp/synthetic.log" 2>&1 || { say "synthetic packed run failed"; tail -3 "$tmp/synthetic.log"; }

# --- a rank count that does not divide RF x GA
"${MPI[@]}" "$BERT" pretrain "${common[@]}" --gradient-accumulation 3 --training-steps 1 > "$tmp/odd.log" 2>&1
[ $? -eq 2 ] && grep -q "cannot be shared by 2 ranks" "$tmp/odd.log" || say "indivisible rank count: $(tail -2 "$tmp/odd.log")"

[ $fail -eq 0 ] && echo "pretrain resume: ok"
exit $fail
