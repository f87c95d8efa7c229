#!/bin/bash
# `bert data shuffle` (reference shuffle_packed_data.py): the output is a permutation of the input
# records (same multiset), deterministic for a seed and thread count independent, another seed
# gives another order; buffers and files of the requested sizes; indexes valid; clear errors.
set -euo pipefail
BIN=${BERT_BIN:?BERT_BIN must point to the bert binary}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-data-shuffle.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
shuffle() { "$BIN" data shuffle --disable-progress-bar "$@"; }
expect_error() {
  local code=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$code" ] || fail "exit $rc (wanted $code): $*: $(cat "$T/err")"
  grep -q -- "$pattern" "$T/err" || fail "stderr lacks '$pattern': $(cat "$T/err")"
}
lines() { cat "$@" | wc -l; }

echo "== packed Wikipedia text: permutation, determinism, buffers and files"
mkdir "$T/wiki"
for f in tests/data/text/wikiextractor_en/*; do
  sed -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^<doc .*$//' -e '/^<\/doc>$/d' -e 's/\. /.\n/g' "$f" \
    >"$T/wiki/$(basename "$f").txt"
done
"$BIN" data create --input-file "$T/wiki/*.txt" --output-file "$T/u.tfrecord" --vocab data/vocab.txt \
  --do-lower-case --duplication-factor 1 --disable-progress-bar 2>/dev/null
"$BIN" data pack --input-files "$T/u.tfrecord" --output-dir "$T/p" --packs-per-file 1500 --disable-progress-bar >/dev/null
n=$(lines "$T"/p/*.index)
shuffle --input-files "$T/p/*.tfrecord" --output-dir "$T/s1" --buffer-size 2000 --records-per-file 1000 \
  --threads 1 >"$T/log"
shuffle --input-files "$T/p/*.tfrecord" --output-dir "$T/s2" --buffer-size 2000 --records-per-file 1000 \
  --threads 3 >/dev/null
diff -r "$T/s1" "$T/s2" >/dev/null || fail "1 and 3 threads differ"
[ "$(lines "$T"/s1/*.index)" = "$n" ] || fail "record count changed"
$PY tests/data/tfrecord_multiset.py "$T"/p/*.tfrecord -- "$T"/s1/*.tfrecord >/dev/null || fail "not a permutation"
cat "$T"/p/*.tfrecord | cmp -s - <(cat "$T"/s1/*.tfrecord) && fail "the order did not change"
# buffers of 2000 records in input order, each written as files of 1000 (the last ones shorter)
grep -q "^The number of packs being shuffled is 2000.$" "$T/log" || fail "buffer line"
[ "$(wc -l <"$T/s1/wiki_000.index")" = 1000 ] && [ "$(wc -l <"$T/s1/wiki_001.index")" = 1000 ] || fail "file sizes"
[ "$(ls "$T"/s1/*.tfrecord | wc -l)" = $(( (n + 999) / 1000 )) ] || fail "number of files"
# each buffer holds exactly the records of its stretch of the input
cat "$T"/p/*.tfrecord >"$T/in.all"
head -c "$(cat "$T"/p/*.index | head -2000 | awk '{s += $2} END {print s}')" "$T/in.all" >"$T/first2000.tfrecord"
$PY tests/data/tfrecord_multiset.py "$T/first2000.tfrecord" -- "$T/s1/wiki_000.tfrecord" "$T/s1/wiki_001.tfrecord" \
  >/dev/null || fail "the first buffer is not the first 2000 records"
# the indexes written are the ones bert data index builds
cp "$T/s1/wiki_001.index" "$T/keep.index"
"$BIN" data index "$T/s1/wiki_001.tfrecord" >/dev/null
cmp "$T/keep.index" "$T/s1/wiki_001.index"
shuffle --input-files "$T/p/*.tfrecord" --output-dir "$T/seed" --buffer-size 2000 --records-per-file 1000 \
  --random-seed 7 >/dev/null
cmp -s "$T/s1/wiki_000.tfrecord" "$T/seed/wiki_000.tfrecord" && fail "--random-seed does not change the order"
# one buffer for everything; the defaults (2,500,000 / 500,000) make a single file here
shuffle --input-files "$T/p/*.tfrecord" --output-dir "$T/all" --buffer-size 0 --records-per-file 100000 >/dev/null
shuffle --input-files "$T/p/*.tfrecord" --output-dir "$T/def" >/dev/null
cmp "$T/all/wiki_000.tfrecord" "$T/def/wiki_000.tfrecord" || fail "--buffer-size 0 and the default differ here"
$PY tests/data/tfrecord_multiset.py "$T"/p/*.tfrecord -- "$T/all/wiki_000.tfrecord" >/dev/null
# any TFRecords, with or without .index files
cp data/sample_text.tfrecord "$T/plain.tfrecord"
shuffle --input-files "$T/plain.tfrecord" --output-dir "$T/plain" >/dev/null
$PY tests/data/tfrecord_multiset.py data/sample_text.tfrecord -- "$T/plain/wiki_000.tfrecord"

echo "== bad inputs give clear errors"
expect_error 1 "matches nothing" shuffle --input-files "$T/none*.tfrecord" --output-dir "$T/e"
# an index that does not match its file: the record at a listed offset is not there
cp data/sample_text.tfrecord "$T/stale.tfrecord"
sed '3s/^[0-9]*/1700/' data/sample_text.index >"$T/stale.index"
expect_error 1 "stale.tfrecord: record at byte offset 1700: length CRC mismatch" \
  shuffle --input-files "$T/stale.tfrecord" --output-dir "$T/e"
[ ! -e "$T/e/wiki_000.tfrecord" ] || fail "a failed run left an output file"
head -c 20000 data/sample_text.tfrecord >"$T/trunc.tfrecord"
expect_error 1 "trunc.tfrecord: record 24 at byte offset 19629: truncated record" \
  shuffle --input-files "$T/trunc.tfrecord" --output-dir "$T/e"
expect_error 1 "the output folder holds the input $T/p/wiki_000.tfrecord" \
  shuffle --input-files "$T/p/*.tfrecord" --output-dir "$T/p"
touch "$T/file"
expect_error 1 "$T/file" shuffle --input-files data/sample_text.tfrecord --output-dir "$T/file"
expect_error 2 "--input-files and --output-dir are required" shuffle --output-dir "$T/e"
expect_error 2 "--buffer-size expects" shuffle --input-files data/sample_text.tfrecord --output-dir "$T/e" --buffer-size -1
echo "OK"
