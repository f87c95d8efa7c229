#!/usr/bin/env bash
# The question-answering page of `bert serve` (src/serve/web/qa.html) in headless Debian chromium
# (tests/serve/qa_page.mjs through playwright-core): a repository of two bertc-qa-text models on
# one tiny random-weight checkpoint — "qa" with the n-best outputs, "qa-plain" without them (the
# configs of before) — must give in the page the answer, highlight, score and n-best rows of
# `bert qa --n-best 5`, offsets right past astral characters, a 413 and a stopped server shown
# as errors, no request to another host, no overflow at phone width; screenshots go to
# $BERT_BUILD/qa_page/. Chromium and tests/node/node_modules are required (make check installs
# them): without them the test fails.
set -euo pipefail
BERT_BIN=${BERT_BIN:-build/bert}
BERT_BUILD=${BERT_BUILD:-build}
export BERT_BIN BERT_BUILD # for qa_page_repo.py
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing: run 'bash scripts/install-deps.sh --test' (make check does)"
[ -d tests/node/node_modules/playwright-core ] ||
  fail "tests/node/node_modules/playwright-core is missing: run 'bash scripts/install-deps.sh --test' (make check does)"
command -v node >/dev/null || fail "node is missing (Node.js comes with the machine)"

tmp=$(mktemp -d)
server="" driver=""
cleanup() {
  set +e # every step runs, whatever the ones before returned
  if [ -n "$driver" ]; then kill "$driver" 2>/dev/null; wait "$driver" 2>/dev/null; fi # node closes chromium
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

repo=$tmp/repo
/usr/bin/python3 tests/serve/qa_page_repo.py "$repo" || fail "could not write the model repository"

# Astral characters (two UTF-16 units each) before the answer: code points and JS indices differ.
export QA_CONTEXT="🎉🎉 Zoë Ångström moved to Köln in 1998 and opened a small bakery near the cathedral. Her rye bread 🍞 won the city's prize in 2004."
export QA_QUESTION="Where did Zoë open her bakery?"
"$BERT_BIN" qa --model "$repo/qa/1" --max-seq-length 64 --doc-stride 16 --n-best 5 \
  --question "$QA_QUESTION" --context "$QA_CONTEXT" >"$tmp/expected.json" 2>"$tmp/qa.err" ||
  fail "bert qa: $(cat "$tmp/qa.err")"

# --max-body-bytes 2048: the page's requests fit, a long passage is the server's 413.
"$BERT_BIN" serve --model-repository "$repo" --http-port 0 --max-body-bytes 2048 >"$tmp/serve.out" 2>"$tmp/serve.err" &
server=$!
port=""
for _ in $(seq 600); do
  port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$tmp/serve.out")
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || fail "bert serve exited: $(cat "$tmp/serve.err")"
  sleep 0.1
done
[ -n "$port" ] || fail "bert serve did not print its port within 60 s: $(cat "$tmp/serve.err")"

mkdir -p "$BERT_BUILD/qa_page" "$tmp/chromium"
QA_URL="http://127.0.0.1:$port" QA_EXPECTED="$tmp/expected.json" QA_SERVER_PID=$server QA_USER_DATA="$tmp/chromium" \
  QA_SHOTS="$BERT_BUILD/qa_page" node tests/serve/qa_page.mjs &
driver=$!
status=0
wait "$driver" || status=$?
driver=""
[ "$status" -eq 0 ] || fail "the page test failed (bert serve's log: $(tail -c 2000 "$tmp/serve.err"))"
for shot in desktop phone; do
  [ -s "$BERT_BUILD/qa_page/$shot.png" ] || fail "no screenshot $BERT_BUILD/qa_page/$shot.png"
done
echo "qa page: screenshots in $BERT_BUILD/qa_page/"
