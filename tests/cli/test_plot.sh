#!/usr/bin/env bash
# bert plot: the SVG of a real short `bert pretrain` run is well-formed XML with the loss and
# accuracy polylines, axes and legend; --lr adds a panel; 1 step, 20000 steps (decimated), NaN
# gaps, missing keys; self-contained (no scripts, links or external resources); errors name the
# line; bad usage exits 2.
set -u
BERT=${BERT_BIN:?BERT_BIN must point to the bert program}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-plot.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
say() { echo "FAIL: $*"; fail=1; }

# check_svg FILE: well-formed XML, one <svg> root, no scripts or external references; prints
# "<series id> <polylines> <points> <circles>" per series and the texts, for the checks below.
check_svg() {
  $PY - "$1" <<'PYEOF'
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
root = doc.documentElement
assert root.tagName == "svg" and root.getAttribute("xmlns") == "http://www.w3.org/2000/svg", root.tagName
text = open(sys.argv[1]).read()
for bad in ("<script", "href", "url(", "@import", "<image", "<foreignObject"):
    assert bad not in text, "not self-contained: " + bad
for g in doc.getElementsByTagName("g"):
    if g.getAttribute("class") != "series":
        continue
    lines = g.getElementsByTagName("polyline")
    points = sum(len(l.getAttribute("points").split()) for l in lines)
    print("series", g.getAttribute("id"), len(lines), points, len(g.getElementsByTagName("circle")))
print("panels", sum(1 for g in doc.getElementsByTagName("g") if g.getAttribute("class") == "panel"))
for t in doc.getElementsByTagName("text"):
    print("text", "".join(n.data for n in t.childNodes if n.nodeType == n.TEXT_NODE))
PYEOF
}

echo "== a real run: bert pretrain writes metrics.jsonl, bert plot draws it"
mkdir -p "$T/run"
"$BERT" pretrain --config demo_tiny_128 --training-steps 4 --disable-progress-bar --gradient-accumulation 2 \
  --input-files data/sample_text.tfrecord --metrics-file "$T/run/metrics.jsonl" >"$T/train.log" 2>&1 ||
  { say "pretrain failed"; cat "$T/train.log"; }
[ "$(wc -l <"$T/run/metrics.jsonl")" = 4 ] || say "metrics.jsonl should have 4 lines"
"$BERT" plot "$T/run/metrics.jsonl" 2>"$T/err" || say "plot failed: $(cat "$T/err")"
[ -f "$T/run/curves.svg" ] || say "default output is not curves.svg beside the metrics"
grep -q "4 steps" "$T/err" || say "no summary line: $(cat "$T/err")"
check_svg "$T/run/curves.svg" >"$T/info" || say "run SVG is not well-formed"
for s in total_loss mlm_loss nsp_loss mlm_acc nsp_acc; do
  grep -qx "series series-$s 1 4 0" "$T/info" || say "series $s: want 1 polyline of 4 points: $(grep "series-$s" "$T/info")"
done
grep -q "series-lr" "$T/info" && say "learning rate drawn without --lr"
grep -qx "panels 2" "$T/info" || say "want 2 panels"
for t in "Loss" "Accuracy" "step" "loss" "accuracy (fraction)" "0.0" "1.0"; do
  grep -qxF "text $t" "$T/info" || say "missing text '$t'"
done
grep -q "^text total loss (last [0-9.]*)$" "$T/info" || say "legend lacks the total loss with its last value"
grep -q "^text MLM accuracy (last " "$T/info" || say "legend lacks MLM accuracy"

echo "== --lr, -o, --title (escaped), '-' for stdout"
"$BERT" plot "$T/run/metrics.jsonl" -o "$T/lr.svg" --lr --title 'A <b>&"title"' 2>/dev/null || say "plot --lr failed"
check_svg "$T/lr.svg" >"$T/info" || say "--lr SVG is not well-formed"
grep -qx "panels 3" "$T/info" || say "--lr: want 3 panels"
grep -qx "series series-lr 1 4 0" "$T/info" || say "--lr: no learning-rate polyline"
grep -qxF 'text A <b>&"title"' "$T/info" || say "title not kept/escaped: $(grep '^text A' "$T/info")"
"$BERT" plot "$T/run/metrics.jsonl" -o - >"$T/stdout.svg" 2>/dev/null || say "plot -o - failed"
check_svg "$T/stdout.svg" >/dev/null || say "stdout SVG is not well-formed"

echo "== one step: dots, not lines"
head -1 "$T/run/metrics.jsonl" >"$T/one.jsonl"
"$BERT" plot "$T/one.jsonl" -o "$T/one.svg" 2>/dev/null || say "1-step plot failed"
check_svg "$T/one.svg" >"$T/info" || say "1-step SVG is not well-formed"
grep -qx "series series-total_loss 0 0 1" "$T/info" || say "1 step: want one dot: $(grep total_loss "$T/info")"

echo "== 20000 steps: decimated, still every series, small file"
$PY - "$T/long.jsonl" <<'PYEOF'
import json, math, sys
with open(sys.argv[1], "w") as f:
    for s in range(20000):
        loss = 10 * math.exp(-s / 4000) + 0.1 * math.sin(s)
        spike = 50.0 if s == 12345 else loss
        f.write(json.dumps({"step": s, "total_loss": spike, "mlm_loss": loss * 0.9, "nsp_loss": 0.7,
                            "mlm_acc": min(1, s / 20000), "nsp_acc": 0.5, "lr": 1e-3 * (1 - s / 20000),
                            "loss_scale": 1, "throughput": 100.0, "packing_ratio": 1}) + "\n")
PYEOF
"$BERT" plot "$T/long.jsonl" -o "$T/long.svg" --lr 2>/dev/null || say "long plot failed"
check_svg "$T/long.svg" >"$T/info" || say "long SVG is not well-formed"
size=$(stat -c %s "$T/long.svg")
[ "$size" -lt 400000 ] || say "20000-step SVG is $size bytes: not decimated"
awk '$1 == "series" && ($3 != 1 || $4 < 600 || $4 > 2600) { bad = 1; print "FAIL: " $0 } END { exit bad }' "$T/info" ||
  { say "decimated series out of bounds"; }
grep -qx "text 50" "$T/info" || say "the 50.0 spike should set the loss axis top (tick 50)"

echo "== NaN and null make gaps; missing keys leave a series empty; steps may be missing"
cat >"$T/gaps.jsonl" <<'EOF'
{"step": 0, "total_loss": 10, "mlm_loss": 9, "nsp_loss": 1, "mlm_acc": 0.1}
{"step": 1, "total_loss": 9, "mlm_loss": 8, "nsp_loss": 1, "mlm_acc": 0.2}

{"step": 2, "total_loss": NaN, "mlm_loss": null, "nsp_loss": Infinity, "mlm_acc": 0.3}
{"total_loss": 7, "mlm_loss": 6, "nsp_loss": -Infinity, "mlm_acc": 0.4, "note": "NaN in a string"}
{"step": 4, "total_loss": 6, "mlm_loss": 5, "nsp_loss": 1, "mlm_acc": 0.5}
EOF
"$BERT" plot "$T/gaps.jsonl" -o "$T/gaps.svg" 2>"$T/err" || say "gaps plot failed: $(cat "$T/err")"
check_svg "$T/gaps.svg" >"$T/info" || say "gaps SVG is not well-formed"
grep -qx "series series-total_loss 2 4 0" "$T/info" || say "NaN gap: $(grep total_loss "$T/info")"
grep -qx "series series-nsp_loss 1 2 1" "$T/info" || say "Infinity gaps: $(grep nsp_loss "$T/info")"
grep -qx "series series-mlm_acc 1 5 0" "$T/info" || say "a line without step takes the previous + 1: $(grep mlm_acc "$T/info")"
grep -qx "series series-nsp_acc 0 0 0" "$T/info" || say "missing key: $(grep nsp_acc "$T/info")"
grep -qxF "text NSP accuracy (no data)" "$T/info" || say "legend should say the series has no data"

echo "== errors name the file and line; nothing is written"
expect_error() { # expect_error STATUS PATTERN ARGS...
  local want=$1 pattern=$2 rc=0
  shift 2
  "$BERT" plot "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || say "exit $rc (want $want): plot $*"
  grep -qF -- "$pattern" "$T/err" || say "stderr lacks '$pattern': $(cat "$T/err")"
}
printf '{"step": 0, "total_loss": 1}\n{"step": 1, "total_loss": 2}\n{"step": 2, total_loss: 3}\n' >"$T/bad.jsonl"
expect_error 1 "bad.jsonl:3: not a JSON object" "$T/bad.jsonl" -o "$T/bad.svg"
[ -e "$T/bad.svg" ] && say "an SVG was written for a bad file"
ls "$T" | grep -q '\.tmp\.' && say "a temporary file was left behind"
printf '{"step": 0}\n{"step": 1, "mlm_acc": "high"}\n' >"$T/str.jsonl"
expect_error 1 'str.jsonl:2: "mlm_acc" is not a number' "$T/str.jsonl" -o "$T/x.svg"
printf '[1, 2]\n' >"$T/arr.jsonl"
expect_error 1 "arr.jsonl:1: not a JSON object" "$T/arr.jsonl" -o "$T/x.svg"
printf '{"step": 0} trailing\n' >"$T/trail.jsonl"
expect_error 1 "trail.jsonl:1: not a JSON object" "$T/trail.jsonl" -o "$T/x.svg"
: >"$T/empty.jsonl"
expect_error 1 "no metrics" "$T/empty.jsonl" -o "$T/x.svg"
expect_error 1 "cannot open" "$T/missing.jsonl" -o "$T/x.svg"
expect_error 1 "a folder" "$T" -o "$T/x.svg"
expect_error 1 "" "$T/run/metrics.jsonl" -o "$T/no/such/dir/x.svg"
expect_error 2 "is required" 
expect_error 2 "unknown option '--nope'" "$T/run/metrics.jsonl" --nope
expect_error 2 "needs a value" "$T/run/metrics.jsonl" -o
expect_error 2 "one metrics file only" "$T/run/metrics.jsonl" "$T/one.jsonl"
"$BERT" plot --help | head -1 | grep -q '^usage: bert plot' || say "--help"
"$BERT" --help | grep -q '^  plot ' || say "bert --help does not list plot"

[ "$fail" = 0 ] && echo "cli/test_plot: all checks passed"
exit "$fail"
