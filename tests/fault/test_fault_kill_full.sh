#!/usr/bin/env bash
# kill -9 at random points of `bert data create` and `bert data pack` leaves either no output or a
# complete one (byte-identical to an uninterrupted run: a TFRecord, its index, every pack file);
# a full disk (a 64 KiB tmpfs mounted here) gives "No space left on device" naming the file, and
# leaves nothing behind, for data create, data pack, pretrain checkpoints and squad outputs.
# docs/reliability.md#fault-injection.
set -u
BIN=${BERT_BIN:?BERT_BIN must point to the bert binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-fault-kill.XXXXXX")
FULL="$T/full"
cleanup() {
  mountpoint -q "$FULL" 2>/dev/null && umount "$FULL"
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
sums() { (cd "$1" 2>/dev/null && find . -type f | sort | xargs -r sha256sum); }
SEED=${BERT_FAULT_SEED:-$(date +%s)}
RANDOM=$SEED
echo "random delays from seed $SEED (BERT_FAULT_SEED=$SEED repeats them)"

create=("$BIN" data create --vocab data/vocab.txt --input-file data/sample_text.txt --do-lower-case
        --duplication-factor 10 --disable-progress-bar --threads 2)
pack=("$BIN" data pack --input-files "$T/in/s.tfrecord" --packs-per-file 40 --disable-progress-bar --threads 2)

TEMPORARY='\.tmp\.[0-9]*\.[A-Za-z0-9]\{6\}\(\.prev\)\?$'
# rerun_clears NAME OUT_DIR GOOD_SUMS CMD...: after a kill left temporary files, the next run of the
# command removes them (their process is gone) and writes the whole output.
rerun_clears() {
  local name=$1 out=$2 good=$3
  shift 3
  "$@" >/dev/null 2>"$T/rerun.err" || { fail "$name rerun after a kill: $(tail -1 "$T/rerun.err")"; return; }
  local left
  left=$(cd "$out" && find . | grep -- '\.tmp\.[0-9]*\.[A-Za-z0-9]\{6\}$')
  [ -z "$left" ] || fail "$name rerun after a kill left the killed run's temporary files: $left"
  diff <(sums "$out" | grep -v "$TEMPORARY") "$good" >/dev/null || fail "$name rerun after a kill: output not whole"
  cleared=$((cleared + 1))
}

# kill_at NAME OUT_DIR GOOD_SUMS CMD...: 20 runs killed after a random delay within the command's
# own run time; afterwards every file in OUT_DIR must be one an uninterrupted run writes, and when
# the killed run left temporary files, the next run clears them.
kill_at() {
  local name=$1 out=$2 good=$3 ms=$4
  shift 4
  local whole=0 none=0 cleared=0
  for i in $(seq 20); do
    rm -rf "$out" && mkdir -p "$out"
    local delay
    delay=$(printf '0.%03d' $((RANDOM % ms)))
    "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    local now
    now=$(sums "$out" | grep -v "$TEMPORARY")
    if find "$out" | grep -q "$TEMPORARY"; then rerun_clears "$name" "$out" "$good" "$@"; fi
    if [ -z "$now" ]; then none=$((none + 1)); continue; fi
    if ! diff <(echo "$now") <(grep -F -f <(echo "$now" | awk '{print $2}') "$good") >/dev/null; then
      fail "$name killed after ${delay}s: an output file differs from a whole run's: $(echo "$now" | awk '{print $2}' | tr '\n' ' ')"
      continue
    fi
    # a TFRecord without its index (or the reverse) would be read as whole by no loader, but say so
    for f in "$out"/*.tfrecord; do
      [ -e "$f" ] && [ ! -e "${f%.tfrecord}.index" ] && echo "  note: $name killed after ${delay}s: $(basename "$f") without its index"
    done
    whole=$((whole + 1))
  done
  echo "$name: 20 kills: $none without output, $whole with whole files; $cleared left temporary files, cleared by the next run"
}

mkdir -p "$T/in" "$T/good_pack"
"${create[@]}" --output-file "$T/in/s.tfrecord" >/dev/null 2>&1 || fail "data create"
sums "$T/in" >"$T/create.sums"
"${pack[@]}" --output-dir "$T/good_pack" >/dev/null 2>&1 || fail "data pack"
sums "$T/good_pack" >"$T/pack.sums"
start=$(date +%s%N)
"${create[@]}" --output-file "$T/x/s.tfrecord" >/dev/null 2>&1 || true
create_ms=$(( ($(date +%s%N) - start) / 1000000 + 20 ))
start=$(date +%s%N)
"${pack[@]}" --output-dir "$T/x" >/dev/null 2>&1
pack_ms=$(( ($(date +%s%N) - start) / 1000000 + 20 ))
[ $create_ms -lt 1000 ] || create_ms=999
[ $pack_ms -lt 1000 ] || pack_ms=999
kill_at "data create" "$T/kc" "$T/create.sums" $create_ms "${create[@]}" --output-file "$T/kc/s.tfrecord"
kill_at "data pack" "$T/kp" "$T/pack.sums" $pack_ms "${pack[@]}" --output-dir "$T/kp"

# stale NAME DIR FILE CMD...: a temporary file of a process that no longer runs, planted in DIR,
# is gone after the command ran (whatever the random kills above happened to leave).
stale() {
  local name=$1 dir=$2 file=$3
  shift 3
  local dead
  bash -c 'exit 0' & dead=$!
  wait $dead
  mkdir -p "$dir"
  echo partial >"$dir/$file.tmp.$dead.Ab12Cd"
  "$@" >/dev/null 2>&1 || fail "$name with a stale temporary file beside its output failed"
  [ ! -e "$dir/$file.tmp.$dead.Ab12Cd" ] || fail "$name left a killed run's temporary file ($file.tmp.$dead.Ab12Cd)"
  echo "$name: a killed run's temporary file beside the output was removed"
}
stale "data create" "$T/st" s.index "${create[@]}" --output-file "$T/st/s.tfrecord"
stale "data pack" "$T/sp" wiki_007.tfrecord "${pack[@]}" --output-dir "$T/sp"

# disk full: a 64 KiB tmpfs; where mounting is not allowed, a 64 KiB file size limit (ulimit -f,
# SIGXFSZ ignored: the write then fails with EFBIG "File too large").
mkdir -p "$FULL"
if mount -t tmpfs -o size=64k tmpfs "$FULL" 2>"$T/mount.err"; then
  nospace="No space left on device"
  limit=()
  echo "disk full: 64 KiB tmpfs at $FULL"
else
  echo "disk full: cannot mount a tmpfs ($(cat "$T/mount.err")); using ulimit -f 64 instead"
  nospace="File too large"
  limit=(bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' limit)
fi
TINY=(--config demo_tiny_128 --num-hidden-layers 1 --layers-per-ipu 0 1 0 0 --hidden-size 32 --num-attention-heads 2
      --gradient-accumulation 1 --micro-batch-size 2 --disable-progress-bar)
# full NAME FILE_PATTERN CMD...: fails with status 1, the error names the file and says the disk is
# full, and the folder is left empty (temporary files removed).
full() {
  local name=$1 pattern=$2
  shift 2
  rm -rf "${FULL:?}"/*
  local rc=0
  "${limit[@]}" "$@" >/dev/null 2>"$T/full.err" || rc=$?
  [ "$rc" = 1 ] || fail "$name on a full disk: exit $rc (wanted 1): $(tail -2 "$T/full.err")"
  grep -q -- "$pattern.*$nospace" "$T/full.err" || fail "$name on a full disk: no '$pattern: ... $nospace' error: $(tail -2 "$T/full.err")"
  local left
  left=$(cd "$FULL" && find . -type f | grep -v '^\./metrics\.jsonl$' | head -5)
  [ -z "$left" ] || fail "$name on a full disk left files behind: $left"
  echo "$name on a full disk: $(grep -m1 -- "$nospace" "$T/full.err")"
}
full "data create" "s\.tfrecord" "${create[@]}" --output-file "$FULL/s.tfrecord"
full "data pack" "wiki_00[0-9]\.\(tfrecord\|index\)" "${pack[@]}" --output-dir "$FULL"
full "pretrain" "step_0[.a-z0-9-]*/[a-z_]*\.[a-z]*" "$BIN" pretrain "${TINY[@]}" --training-steps 1 --checkpoint-steps 1 \
  --input-files data/sample_text.tfrecord --checkpoint-output-dir "$FULL"
printf '{"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "Ann went home.", "qas": [{"id": "q1", "question": "Who went home?", "answers": [{"text": "Ann", "answer_start": 0}]}]}]}]}' >"$T/sq.json"
full "squad" "$FULL/[.a-z0-9_/-]*\.[a-z]*" "$BIN" squad "${TINY[@]}" --num-epochs 1 --train-file "$T/sq.json" \
  --predict-file "$T/sq.json" --output-dir "$FULL"

[ $fails -eq 0 ] && echo "kill and disk full: ok"
exit $((fails > 0))
