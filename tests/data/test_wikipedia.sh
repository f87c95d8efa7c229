#!/bin/bash
# `bert data wiki-extract | wiki-preprocess | wikipedia`: extraction matches WikiExtractor's own
# output for the bundled viwiki dump (same documents and titles, word-set overlap >= 0.8), plain and
# bzip2 alike and whatever the threads; preprocessing keeps every word and follows the reference's
# line rules; truncated or malformed input gives an error naming the position; the whole pipeline
# on the bzip2'd dump gives TFRecords that pass the record checks, and a second run skips every
# stage that is done.
set -euo pipefail
BIN=${BERT_BIN:?BERT_BIN must point to the bert binary}
CHECK=${BERT_BUILD:?BERT_BUILD must point to the build folder}/tests/tool_pretraining_check
PY=/usr/bin/python3
VI=tests/data/text/wikiextractor_vi_pair
EN=tests/data/text/wikiextractor_en
VOCAB=data/vocab.txt
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-wikipedia.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_error EXIT_CODE PATTERN CMD...: the command fails with that code and stderr matching.
expect_error() {
  local code=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$code" ] || fail "exit $rc (wanted $code): $* ($(cat "$T/err"))"
  grep -q -- "$pattern" "$T/err" || fail "stderr lacks '$pattern': $(cat "$T/err")"
}
bz2() { $PY -c 'import bz2, sys; sys.stdout.buffer.write(bz2.compress(open(sys.argv[1], "rb").read()))' "$1"; }
extract() { "$BIN" data wiki-extract --disable-progress-bar "$@" 2>"$T/log"; }

echo "== extraction: the same documents as WikiExtractor, word-set overlap >= 0.8"
extract "$VI/test.xml" "$T/plain"
[ "$(ls "$T/plain")" = AA ] && [ "$(ls "$T/plain/AA")" = wiki_00 ] || fail "layout: $(ls -R "$T/plain")"
grep -q "Extracted 9 documents (3 redirects) of 10 pages into 1 file(s)" "$T/log" || fail "summary: $(cat "$T/log")"
$PY tests/data/wiki_overlap.py "$T/plain/AA/wiki_00" "$VI/text_AA_wiki_00" 0.8

echo "== bzip2 input, threads and file size do not change the text"
bz2 "$VI/test.xml" >"$T/vi.xml.bz2"
extract "$T/vi.xml.bz2" "$T/bz" --threads 1
cmp "$T/plain/AA/wiki_00" "$T/bz/AA/wiki_00"
extract "$T/vi.xml.bz2" "$T/bz4" --threads 4
cmp "$T/plain/AA/wiki_00" "$T/bz4/AA/wiki_00"
# multistream, as Wikimedia's dumps: one stream for the header, one per page, one for the end
$PY - "$VI/test.xml" "$T/multi.xml.bz2" <<'EOF'
import bz2, sys
data = open(sys.argv[1], "rb").read()
cuts = [0] + [i for i in range(len(data)) if data.startswith(b"  <page>", i)] + [len(data)]
open(sys.argv[2], "wb").write(b"".join(bz2.compress(data[a:b]) for a, b in zip(cuts, cuts[1:])))
EOF
extract "$T/multi.xml.bz2" "$T/multi" --threads 2
cmp "$T/plain/AA/wiki_00" "$T/multi/AA/wiki_00"
extract "$VI/test.xml" "$T/small" --bytes 20K
[ "$(find "$T/small" -type f | wc -l)" -gt 3 ] || fail "--bytes 20K: $(find "$T/small" -type f)"
cat "$T"/small/AA/wiki_* | cmp - "$T/plain/AA/wiki_00"
for f in "$T"/small/AA/wiki_*; do
  size=$(stat -c %s "$f")
  # a file holds whole documents and passes 20 KiB only when its one document is that large
  [ "$size" -le 20480 ] || [ "$(grep -c '^<doc ' "$f")" = 1 ] || fail "$f: $size bytes"
  [ "$(grep -c '^<doc ' "$f")" = "$(grep -c '^</doc>$' "$f")" ] || fail "$f: a document split across files"
done
extract "$VI/test.xml" "$T/noredir" --skip-redirects
[ "$(grep -c '^<doc ' "$T/noredir/AA/wiki_00")" = 6 ] || fail "--skip-redirects"

echo "== truncated or malformed dumps: errors that name the position"
size=$(stat -c %s "$T/vi.xml.bz2")
head -c $((size / 2)) "$T/vi.xml.bz2" >"$T/cut.xml.bz2"
expect_error 1 "cut.xml.bz2: truncated bzip2 stream: the file ends at compressed byte offset $((size / 2))" \
  "$BIN" data wiki-extract "$T/cut.xml.bz2" "$T/cut"
[ ! -e "$T/cut/AA/wiki_00" ] || fail "a failed extraction left an output file"
$PY -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[5000] ^= 0xFF; open(sys.argv[2], "wb").write(d)' \
  "$T/vi.xml.bz2" "$T/bad.xml.bz2"
expect_error 1 "bad.xml.bz2: corrupt bzip2 data, detected at compressed byte offset [0-9]* (after [0-9]* bytes of XML)" \
  "$BIN" data wiki-extract "$T/bad.xml.bz2" "$T/bad"
head -c 200000 "$VI/test.xml" >"$T/cut.xml"
expect_error 1 "cut.xml: line 1[0-9]* (XML byte offset 199999): unexpected end of the XML inside <text> opened at line" \
  "$BIN" data wiki-extract "$T/cut.xml" "$T/cut2"
sed '200s|</title>|</titel>|' "$VI/test.xml" >"$T/mismatch.xml"
sed -n 200p "$T/mismatch.xml" | grep -q '</titel>' || fail "line 200 of test.xml has no title"
expect_error 1 "mismatch.xml: line 200 (XML byte offset [0-9]*): closing tag </titel> does not match <title> opened at line 200" \
  "$BIN" data wiki-extract "$T/mismatch.xml" "$T/mm"
sed '5s|$| \& |' "$VI/test.xml" >"$T/amp.xml"
expect_error 1 "amp.xml: line 5 (XML byte offset [0-9]*): bad entity" "$BIN" data wiki-extract "$T/amp.xml" "$T/amp"
expect_error 1 "no-such.xml: cannot open" "$BIN" data wiki-extract "$T/no-such.xml" "$T/x"
expect_error 2 "expected DUMP and OUTDIR" "$BIN" data wiki-extract "$VI/test.xml"

echo "== preprocessing: the reference's line rules, every word kept, one sentence per line"
"$BIN" data wiki-preprocess "$EN" "$T/pre" --disable-progress-bar 2>"$T/log"
grep -q "Preprocessed 2 file(s)" "$T/log" || fail "summary: $(cat "$T/log")"
for f in AA_wiki_00 AB_wiki_00; do
  out="$T/pre/wikiextractor_en/${f}_cleaned"
  [ -f "$out" ] || fail "missing $out"
  $PY - "$EN/$f" "$out" <<'EOF'
import re, sys
src = open(sys.argv[1], encoding="utf-8").read().split("\n")
out = open(sys.argv[2], encoding="utf-8").read()
# the reference's rules, with the sentence split left out: the text of each document
docs, cur, skip = [], [], False
for line in src:
    if skip:
        skip = False
        continue
    if not line.strip():
        continue
    if "<doc" in line:
        skip = True
    elif "</doc" in line:
        docs.append(cur)
        cur = []
    else:
        cur.append(line)
got = out.split("\n\n") if not out.startswith("\n") else None
assert out.endswith("\n\n"), "the file must end with a document boundary"
got = out[:-2].split("\n\n")
assert len(got) == len(docs), f"{len(got)} documents, wanted {len(docs)}"
sentences = 0
for i, (want, have) in enumerate(zip(docs, got)):
    lines = have.split("\n") if have else []
    sentences += len(lines)
    assert all(l == l.strip() and l for l in lines), f"document {i}: blank or padded sentence"
    norm = lambda s: " ".join(s.split())
    assert norm(" ".join(want)) == norm(" ".join(lines)), f"document {i}: text changed"
paragraphs = sum(len(d) for d in docs)
assert sentences > 2 * paragraphs, f"only {sentences} sentences for {paragraphs} paragraphs"
print(f"  {sys.argv[1]}: {len(docs)} documents, {paragraphs} paragraphs -> {sentences} sentences")
EOF
done
! grep -q '<doc\|</doc' "$T"/pre/wikiextractor_en/* || fail "doc markers left"
head -1 "$T/pre/wikiextractor_en/AA_wiki_00_cleaned" | grep -q '^Anarchism is an' || fail "title line kept"

# --small-files: stops after line index max_len+1, the skipped title lines counted
{ echo '<doc id="1" url="u" title="T">'; echo 'T'; echo; for i in $(seq 3 30); do echo "Line $i is here."; done; echo '</doc>'; } \
  >"$T/numbered"
"$BIN" data wiki-preprocess "$T/numbered" "$T/numbered.out" --small-files --max-len 10 2>/dev/null
[ "$(cat "$T/numbered.out" | tr '\n' ' ')" = "$(seq 3 11 | sed 's/.*/Line & is here./' | tr '\n' ' ')" ] \
  || fail "--small-files --max-len 10: $(cat "$T/numbered.out")"
"$BIN" data wiki-preprocess --input-file-path "$T/numbered" --output-file-path "$T/numbered.all" 2>/dev/null
[ "$(wc -l <"$T/numbered.all")" = 29 ] && [ "$(tail -1 "$T/numbered.all")" = "" ] || fail "whole file"

echo "== bert data wikipedia: dump.bz2 -> TFRecords, resumable"
wp() { "$BIN" data wikipedia "$T/vi.xml.bz2" "$T/wp" --sequence-length 128 --mask-tokens 20 --vocab "$VOCAB" \
         --disable-progress-bar "$@"; }
wp 2>"$T/log1" || fail "pipeline: $(cat "$T/log1")"
for s in extract preprocess create index; do grep -q "wikipedia: $s -> " "$T/log1" || fail "stage $s did not run"; done
[ -f "$T/wp/text/AA/wiki_00" ] && [ -f "$T/wp/sentences/AA/wiki_00_cleaned" ] || fail "stage outputs: $(ls -R "$T/wp")"
[ "$(ls "$T/wp/128" | tr '\n' ' ')" = \
  "wiki_0.index wiki_0.tfrecord wiki_1.index wiki_1.tfrecord wiki_2.index wiki_2.tfrecord wiki_3.index wiki_3.tfrecord wiki_4.index wiki_4.tfrecord " ] \
  || fail "5 TFRecords for 1 input file: $(ls "$T/wp/128")"
"$CHECK" 128 20 "$(wc -l <"$VOCAB")" "$T"/wp/128/*.tfrecord
records=0
for f in "$T"/wp/128/*.tfrecord; do
  n=$("$BIN" data inspect "$f" --vocab "$VOCAB" | grep -c '^record ')
  [ "$n" = "$(wc -l <"${f%.tfrecord}.index")" ] || fail "$f: inspect read $n records"
  records=$((records + n))
done
[ "$records" -gt 100 ] || fail "only $records records"
# (into a file first: with pipefail, grep -q closing the pipe early would fail the command)
"$BIN" data inspect "$T/wp/128/wiki_0.tfrecord" --vocab "$VOCAB" --records 1 >"$T/insp"
grep -q '^    text: \[CLS\]' "$T/insp" || fail "inspect shows no text"
sums() { find "$T/wp/128" "$T/wp/text" "$T/wp/sentences" -type f -exec md5sum {} + | sort; }
sums >"$T/sums1"

wp 2>"$T/log2"
for s in extract preprocess create index; do
  grep -q "wikipedia: $s: already done" "$T/log2" || fail "second run did not skip $s: $(cat "$T/log2")"
done
! grep -q -- ' -> ' "$T/log2" || fail "second run ran a stage: $(cat "$T/log2")"
sums | cmp - "$T/sums1" || fail "second run changed the outputs"

# a stage without its done-file (as after a crash) runs again, with the stages after it
rm "$T/wp/.stages/create-128.done"
wp 2>"$T/log3"
grep -q "wikipedia: preprocess: already done" "$T/log3" && grep -q "wikipedia: create -> " "$T/log3" \
  && grep -q "wikipedia: index -> " "$T/log3" || fail "resume after create: $(cat "$T/log3")"
sums | cmp - "$T/sums1" || fail "rerunning create changed its output (same seed)"
# other settings of a stage rerun it; the stages before it stay done
wp --seed 7 2>"$T/log4"
grep -q "wikipedia: extract: already done" "$T/log4" && grep -q "wikipedia: create -> " "$T/log4" \
  || fail "--seed 7 did not rerun create: $(cat "$T/log4")"
! cmp -s "$T/wp/128/wiki_0.tfrecord" <(grep -v . /dev/null) || fail "empty output"

# --pack: pack + shuffle (bert data pack / shuffle) after the stages already done
wp --seed 7 --pack 2>"$T/log5" || fail "--pack: $(cat "$T/log5")"
grep -q "wikipedia: index: already done" "$T/log5" && grep -q "wikipedia: pack -> " "$T/log5" \
  && grep -q "wikipedia: shuffle -> " "$T/log5" || fail "--pack stages: $(cat "$T/log5")"
[ -f "$T/wp/packed_128/wiki_000.tfrecord" ] && [ -f "$T/wp/packed_128/wiki_000.index" ] || fail "no packed output"
[ ! -e "$T/wp/packed_unshuffled_128" ] || fail "the unshuffled packs were not removed"
"$BIN" data inspect "$T/wp/packed_128/wiki_000.tfrecord" --records 1 >"$T/insp"
grep -q '^  packed_input_ids (int64_list, 128):' "$T/insp" || fail "packed records"
wp --seed 7 --pack 2>"$T/log6"
grep -q "wikipedia: pack: already done" "$T/log6" && grep -q "wikipedia: shuffle: already done" "$T/log6" \
  || fail "second --pack run: $(cat "$T/log6")"

expect_error 2 "are required" "$BIN" data wikipedia "$T/vi.xml.bz2" "$T/wp2" --sequence-length 128
expect_error 1 "no-such.xml" "$BIN" data wikipedia "$T/no-such.xml" "$T/wp3" --sequence-length 128 --mask-tokens 20
expect_error 1 "extract stage: .*truncated bzip2 stream" "$BIN" data wikipedia "$T/cut.xml.bz2" "$T/wp4" \
  --sequence-length 128 --mask-tokens 20 --vocab "$VOCAB" --disable-progress-bar
[ ! -e "$T/wp4/.stages/extract-text.done" ] || fail "a failed stage was marked done"
echo "OK"
