# Sourced by the test_pretrain_learns*.sh tests: the reference's learning test (REFERENCE 11,
# bert_tiny_test): demo_tiny_128 for 360 steps on the sample data; the loss goes down and the mean
# MLM accuracy of the last 10 steps is above 0.85. Usage: learning_check NAME [launcher...] -- [args...]
learning_check() {
  local name=$1; shift
  local launcher=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do launcher+=("$1"); shift; done
  shift
  local tmp; tmp=$(mktemp -d)
  # Under AddressSanitizer (about 5x slower) the run checks memory, not learning: 40 steps, loss down.
  local steps=360
  [ "${BERT_SANITIZED:-0}" = 1 ] && steps=40
  "${launcher[@]}" "$BERT_BIN" pretrain --config demo_tiny_128 --training-steps $steps --disable-progress-bar \
    --metrics-file "$tmp/metrics.jsonl" "$@" > "$tmp/log" 2>&1 || { echo "FAIL: $name run"; tail -20 "$tmp/log"; rm -rf "$tmp"; return 1; }
  /usr/bin/python3 - "$tmp/metrics.jsonl" "$tmp/log" "$name" "$steps" <<'PY'
import json, re, statistics, sys
m = [json.loads(l) for l in open(sys.argv[1])]
lines = [l for l in open(sys.argv[2]) if l.startswith("Step: ")]
name, steps = sys.argv[3], int(sys.argv[4])
loss = [x["total_loss"] for x in m]
acc = [x["mlm_acc"] for x in m]
first, last = statistics.mean(loss[:10]), statistics.mean(loss[-10:])
final_acc = statistics.mean(acc[-10:])
ok = len(m) == steps and len(lines) == steps and last < first and (steps < 360 or final_acc > 0.85)
# the reference's regexes parse our lines
ok &= all(re.match(rf"Step: \d+ / {steps - 1} - LR: \S+ - total loss: [\d.]+ .*mlm_acc: [\d.]+ % .*throughput: [\d.]+ samples/sec", l)
          for l in lines)
print(f"{name}: loss {first:.3f} -> {last:.3f}, last-10 MLM accuracy {final_acc:.3f}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
  local rc=$?
  rm -rf "$tmp"
  return $rc
}
