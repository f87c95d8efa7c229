#!/usr/bin/env bash
# Malformed SQuAD inputs give clear errors naming the file and the place (never a crash), and
# recoverable problems (empty contexts, answers outside their context, text that differs from the
# context) give warnings while the run goes on; `bert squad` / `bert qa` usage errors exit 2.
set -u
BERT=${BERT_BIN:-build/bert}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
tiny=(--config demo_tiny_128 --num-hidden-layers 1 --layers-per-ipu 0 1 0 0 --hidden-size 32 --num-attention-heads 2
      --num-epochs 1 --gradient-accumulation 1 --micro-batch-size 2 --disable-progress-bar --output-dir "$dir/out")

# expect NAME STATUS PATTERN -- command...: the exit status and a line of stderr matching PATTERN
expect() {
  local name=$1 status=$2 pattern=$3
  shift 4
  "$@" >"$dir/stdout" 2>"$dir/stderr"
  local got=$?
  if [ "$got" != "$status" ] || ! grep -Eq -- "$pattern" "$dir/stderr"; then
    echo "FAIL $name: status $got (expected $status), stderr:"; sed 's/^/  /' "$dir/stderr" | tail -5
    fails=$((fails + 1))
  fi
}

para() { # context, then question objects
  printf '{"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": %s, "qas": [%s]}]}]}' "$1" "$2"
}
q='{"id": "q1", "question": "Who?", "answers": [{"text": "Ann", "answer_start": 0}]}'

printf '{"data": [' >"$dir/truncated.json"
expect "truncated JSON" 1 'truncated.json: malformed JSON near line 1, column 1[01]' -- \
  "$BERT" squad "${tiny[@]}" --train-file "$dir/truncated.json" --squad-do-validation False
: >"$dir/empty.json"
expect "empty file" 1 'empty.json: empty file' -- \
  "$BERT" squad "${tiny[@]}" --train-file "$dir/empty.json" --squad-do-validation False
printf '{"data": [{"title": "t", "paragraphs": [{"qas": []}]}]}' >"$dir/nocontext.json"
expect "missing context" 1 'nocontext.json: data\[0\]\.paragraphs\[0\]: missing field "context", expected a string' -- \
  "$BERT" squad "${tiny[@]}" --train-file "$dir/nocontext.json" --squad-do-validation False
para '"Ann went home."' '{"id": "q1", "question": "Who?", "answers": [{"text": "Ann"}]}' >"$dir/nostart.json"
expect "missing answer_start" 1 'qas\[0\]\.answers\[0\]: missing field "answer_start", expected a number' -- \
  "$BERT" squad "${tiny[@]}" --train-file "$dir/nostart.json" --squad-do-validation False
para '"Ann went home."' '{"id": 7, "question": "Who?", "answers": []}' >"$dir/badid.json"
expect "numeric id" 1 'badid.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]: wrong type of field "id", expected a string' -- \
  "$BERT" squad "${tiny[@]}" --train-file "$dir/badid.json" --squad-do-validation False
printf '{"data": []}' >"$dir/noquestions.json"
expect "no questions" 1 'noquestions.json: no questions in the file' -- \
  "$BERT" squad "${tiny[@]}" --squad-do-training False --predict-file "$dir/noquestions.json"

# recoverable: warnings, and the run completes
para '""' "$q" >"$dir/emptycontext.json"
expect "empty context" 0 'emptycontext.json: data\[0\]\.paragraphs\[0\]: empty context' -- \
  "$BERT" squad "${tiny[@]}" --squad-do-training False --predict-file "$dir/emptycontext.json"
grep -Eq '"q1":[[:space:]]*""' "$dir/out/predictions.json" || { echo "FAIL empty context: no empty prediction"; fails=$((fails + 1)); }
para '"Ann went home."' '{"id": "q1", "question": "Who?", "answers": [{"text": "Ann", "answer_start": 40}]},
  {"id": "q2", "question": "Where?", "answers": [{"text": "home", "answer_start": 9}]}' >"$dir/outside.json"
expect "answer outside" 0 'answer_start \+ the answer.s length lies outside the context' -- \
  "$BERT" squad "${tiny[@]}" --train-file "$dir/outside.json" --squad-do-validation False
grep -q '1 usable' "$dir/stderr" || grep -q '(1 usable)' "$dir/stderr" ||
  { echo "FAIL answer outside: the example was not left out of training"; fails=$((fails + 1)); }
para '"Ann went home."' '{"id": "q1", "question": "Who?", "answers": [{"text": "Bob", "answer_start": 0}]}' >"$dir/mismatch.json"
expect "answer text differs" 0 'differs from the context at answer_start' -- \
  "$BERT" squad "${tiny[@]}" --train-file "$dir/mismatch.json" --squad-do-validation False

# usage
expect "no train file" 2 'bert squad: --train-file is required for training' -- \
  "$BERT" squad "${tiny[@]}" --squad-do-validation False
expect "fp16" 2 'fp16 is for pretraining' -- "$BERT" squad "${tiny[@]}" --precision fp16 --train-file "$dir/outside.json"
expect "qa without model" 2 '--model is required' -- "$BERT" qa --question a --context b
expect "qa question alone" 2 '--question and --context go together' -- "$BERT" qa --model "$dir" --question a
expect "qa missing folder" 1 "$dir/nothing" -- "$BERT" qa --model "$dir/nothing" --question a --context b

if [ "$fails" -ne 0 ]; then echo "$fails failures"; exit 1; fi
echo "squad errors: all checks passed"
