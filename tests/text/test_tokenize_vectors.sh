#!/bin/bash
# `bert tokenize` against published vectors: Google's tokenization.py (uncased and cased, 340 texts
# each, max 200 characters per word; HuggingFace's output where it differs, at 100) and llama.cpp's
# BGE vectors (HuggingFace, uncased). Ids and tokens must agree 100 %, offsets must point at the
# text each token came from, and the output must not depend on the thread count. Then the error
# cases. Run by CTest from the project root with BERT_BIN set.
set -euo pipefail

BERT=${BERT_BIN:?BERT_BIN must name the bert binary}
PY=/usr/bin/python3
HELPER=tests/text/tokenize_vectors.py
D=tests/data/tokenizer
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

tok() { "$BERT" tokenize "$@" 2>>"$TMP/stderr.log"; }

# --- Google's vectors (max 200 characters), then HuggingFace's view of them (max 100)
for model in uncased cased; do
  flag=--do-lower-case
  [ "$model" = cased ] && flag=--cased
  vocab=$D/bert-base-$model-vocab.txt
  vectors=$D/bert-base-$model-vectors.jsonl
  $PY $HELPER inputs "$vectors" "$TMP/$model.in"
  tok --vocab "$vocab" $flag --max-word-chars 200 --jsonl "$TMP/$model.in" >"$TMP/$model.google"
  $PY $HELPER compare "$vectors" "$TMP/$model.google" "$vocab" $model || fail "$model: Google vectors"
  tok --vocab "$vocab" $flag --jsonl "$TMP/$model.in" >"$TMP/$model.hf"
  $PY $HELPER compare "$vectors" "$TMP/$model.hf" "$vocab" $model --hf || fail "$model: HuggingFace vectors"
  for threads in 1 4; do
    tok --vocab "$vocab" $flag --max-word-chars 200 --jsonl --threads $threads "$TMP/$model.in" \
      >"$TMP/$model.t$threads"
    cmp -s "$TMP/$model.google" "$TMP/$model.t$threads" || fail "$model: output differs with --threads $threads"
  done
done

# --- llama.cpp's BGE vectors (HuggingFace AutoTokenizer, uncased vocabulary, inputs with newlines)
$PY $HELPER bge $D/ggml-vocab-bert-bge.gguf.inp "$TMP/bge.in"
tok --vocab $D/bert-base-uncased-vocab.txt --do-lower-case --jsonl "$TMP/bge.in" >"$TMP/bge.got"
$PY $HELPER compare-bge "$TMP/bge.in" $D/ggml-vocab-bert-bge.gguf.out "$TMP/bge.got" \
  $D/bert-base-uncased-vocab.txt || fail "BGE vectors"

# --- plain text lines, more than one chunk (16384 lines), same output whatever the thread count
wiki=tests/data/text/wikiextractor_en/AA_wiki_00
for i in 1 2 3 4 5; do cat $wiki; done >"$TMP/wiki.txt"
lines=$(wc -l <"$TMP/wiki.txt")
tok --vocab data/vocab.txt --threads 1 "$TMP/wiki.txt" >"$TMP/wiki.t1"
tok --vocab data/vocab.txt --threads 4 <"$TMP/wiki.txt" >"$TMP/wiki.t4"
[ "$(wc -l <"$TMP/wiki.t1")" -eq "$lines" ] || fail "wiki: $(wc -l <"$TMP/wiki.t1") output lines for $lines"
cmp -s "$TMP/wiki.t1" "$TMP/wiki.t4" || fail "wiki: output differs between 1 and 4 threads"
grep -q 'inferred from the vocabulary' "$TMP/stderr.log" || fail "casing inference was not logged"

# --- never-split keeps special tokens whole (HuggingFace); the default splits them (Google)
printf '[CLS] hi[MASK]you [SEP]\n' >"$TMP/special.txt"
got=$(tok --vocab data/vocab.txt --never-split "$TMP/special.txt")
[[ "$got" == '{"tokens": ["[CLS]", "hi", "[MASK]", "you", "[SEP]"], "ids": [101, 7632, 103, 2017, 102], "offsets": [[0, 5], [6, 8], [8, 14], [14, 17], [18, 23]]}' ]] ||
  fail "--never-split: $got"
got=$(tok --vocab data/vocab.txt --do-lower-case "$TMP/special.txt")
[[ "$got" == '{"tokens": ["[", "cl", "##s", "]", "hi", "[", "mask", "]", "you", "[", "sep", "]"],'* ]] ||
  fail "default split of special tokens: $got"

# --- invalid UTF-8 is skipped with a warning naming the line
printf 'ok\ncaf\xc3\xa9 \xff\xfebad\n' >"$TMP/invalid.txt"
got=$("$BERT" tokenize --vocab data/vocab.txt --do-lower-case "$TMP/invalid.txt" 2>"$TMP/invalid.err") ||
  fail "invalid UTF-8: non-zero exit"
[[ "$got" == *'"tokens": ["cafe", "bad"], "ids": [7668, 2919], "offsets": [[0, 5], [8, 11]]'* ]] ||
  fail "invalid UTF-8 output: $got"
grep -q 'invalid.txt:2: 2 invalid UTF-8' "$TMP/invalid.err" || fail "invalid UTF-8 warning: $(cat "$TMP/invalid.err")"

# --- errors: a clear message and a non-zero exit, never a crash
expect_error() { # expected-status expected-message-part command...
  local want=$1 msg=$2 status=0
  shift 2
  "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || status=$?
  [ "$status" -eq "$want" ] || fail "$*: exit status $status, expected $want"
  grep -qF -- "$msg" "$TMP/err" || fail "$*: message lacks '$msg': $(cat "$TMP/err")"
}
printf '"one"\n"two"\n{"text": 3}\n"four"\n' >"$TMP/bad.jsonl"
expect_error 1 'does-not-exist.txt' "$BERT" tokenize --vocab "$TMP/does-not-exist.txt"
expect_error 1 'bad.jsonl:3: expected a JSON string' "$BERT" tokenize --vocab data/vocab.txt --jsonl "$TMP/bad.jsonl"
[ "$(wc -l <"$TMP/out")" -eq 2 ] || fail "bad JSON: the lines before the bad one were not written"
printf '"unterminated\n' >"$TMP/bad2.jsonl"
expect_error 1 'bad2.jsonl:1: unterminated string' "$BERT" tokenize --vocab data/vocab.txt --jsonl "$TMP/bad2.jsonl"
expect_error 1 'missing.txt' "$BERT" tokenize --vocab data/vocab.txt "$TMP/missing.txt"
expect_error 2 'required' "$BERT" tokenize
expect_error 2 "unknown option '--bogus'" "$BERT" tokenize --vocab data/vocab.txt --bogus
expect_error 2 '--threads needs an integer' "$BERT" tokenize --vocab data/vocab.txt --threads 0
expect_error 2 '--max-word-chars needs a value' "$BERT" tokenize --vocab data/vocab.txt --max-word-chars
"$BERT" tokenize --help | grep -q 'default 100' || fail "--help does not give the defaults"

if [ "$failures" -ne 0 ]; then
  echo "test_tokenize_vectors: $failures failure(s)" >&2
  exit 1
fi
echo "test_tokenize_vectors: all checks passed"
