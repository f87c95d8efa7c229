#!/usr/bin/env bash
# bert squad-eval: the official scores of the SQuAD-explorer prediction files on dev-v1.1.json
# (tests/data/squad/expected_scores.json, printed by the official evaluate-v1.1.py) to within 1e-9;
# unanswered questions (score 0, a warning each) and unknown ids (ignored); a hand-made v1.1 and
# v2.0 fixture (Unicode, articles, impossible questions, duplicates) checked against Python
# re-statements of the official scripts; malformed inputs exit 1 naming the file and field; bad
# usage exits 2.
set -u
BERT=${BERT_BIN:?BERT_BIN must point to the bert program}
PY=/usr/bin/python3
D=tests/data/squad
T=$(mktemp -d "${TMPDIR:-/tmp}/bertc-squad-eval.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
say() { echo "FAIL: $*"; fail=1; }

# The official scripts' logic, re-stated (evaluate-v1.1.py and evaluate-v2.0.py, without the
# na-prob options): python3 official.py v1|v2 DATA PRED prints the script's JSON.
cat >"$T/official.py" <<'PYEOF'
import collections, json, re, string, sys
from collections import Counter

def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)
    def white_space_fix(text):
        return ' '.join(text.split())
    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)
    return white_space_fix(remove_articles(remove_punc(s.lower())))

def v1(dataset, predictions):
    def f1_score(prediction, ground_truth):
        prediction_tokens = normalize_answer(prediction).split()
        ground_truth_tokens = normalize_answer(ground_truth).split()
        common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
        num_same = sum(common.values())
        if num_same == 0:
            return 0
        precision = 1.0 * num_same / len(prediction_tokens)
        recall = 1.0 * num_same / len(ground_truth_tokens)
        return (2 * precision * recall) / (precision + recall)
    def exact_match_score(prediction, ground_truth):
        return normalize_answer(prediction) == normalize_answer(ground_truth)
    def best(fn, prediction, ground_truths):
        return max(fn(prediction, gt) for gt in ground_truths)
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article['paragraphs']:
            for qa in paragraph['qas']:
                total += 1
                if qa['id'] not in predictions:
                    continue
                ground_truths = [x['text'] for x in qa['answers']]
                prediction = predictions[qa['id']]
                exact_match += best(exact_match_score, prediction, ground_truths)
                f1 += best(f1_score, prediction, ground_truths)
    return {'exact_match': 100.0 * exact_match / total, 'f1': 100.0 * f1 / total}

def v2(dataset, preds):
    def get_tokens(s):
        if not s: return []
        return normalize_answer(s).split()
    def compute_exact(a_gold, a_pred):
        return int(normalize_answer(a_gold) == normalize_answer(a_pred))
    def compute_f1(a_gold, a_pred):
        gold_toks = get_tokens(a_gold)
        pred_toks = get_tokens(a_pred)
        common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
        num_same = sum(common.values())
        if len(gold_toks) == 0 or len(pred_toks) == 0:
            return int(gold_toks == pred_toks)
        if num_same == 0:
            return 0
        precision = 1.0 * num_same / len(pred_toks)
        recall = 1.0 * num_same / len(gold_toks)
        return (2 * precision * recall) / (precision + recall)
    qid_to_has_ans = {}
    for article in dataset:
        for p in article['paragraphs']:
            for qa in p['qas']:
                qid_to_has_ans[qa['id']] = bool(qa['answers'])
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    exact_scores, f1_scores = {}, {}
    for article in dataset:
        for p in article['paragraphs']:
            for qa in p['qas']:
                qid = qa['id']
                gold_answers = [a['text'] for a in qa['answers'] if normalize_answer(a['text'])]
                if not gold_answers:
                    gold_answers = ['']
                if qid not in preds:
                    continue
                a_pred = preds[qid]
                exact_scores[qid] = max(compute_exact(a, a_pred) for a in gold_answers)
                f1_scores[qid] = max(compute_f1(a, a_pred) for a in gold_answers)
    na_probs = {k: 0.0 for k in preds}
    def thresh(scores):
        return {qid: (float(not qid_to_has_ans[qid]) if na_probs[qid] > 1.0 else s) for qid, s in scores.items()}
    exact_scores, f1_scores = thresh(exact_scores), thresh(f1_scores)
    def make_eval_dict(qid_list=None):
        if not qid_list:
            total = len(exact_scores)
            return collections.OrderedDict([('exact', 100.0 * sum(exact_scores.values()) / total),
                                            ('f1', 100.0 * sum(f1_scores.values()) / total), ('total', total)])
        total = len(qid_list)
        return collections.OrderedDict([('exact', 100.0 * sum(exact_scores[k] for k in qid_list) / total),
                                        ('f1', 100.0 * sum(f1_scores[k] for k in qid_list) / total), ('total', total)])
    out = make_eval_dict()
    if has_ans_qids:
        for k, v in make_eval_dict(has_ans_qids).items(): out['HasAns_' + k] = v
    if no_ans_qids:
        for k, v in make_eval_dict(no_ans_qids).items(): out['NoAns_' + k] = v
    return out

mode, data_file, pred_file = sys.argv[1:4]
dataset = json.load(open(data_file, encoding='utf-8'))['data']
preds = json.load(open(pred_file, encoding='utf-8'))
if mode == 'v1':
    print(json.dumps(v1(dataset, preds)))
else:
    print(json.dumps(v2(dataset, preds), indent=2))
PYEOF

# same_scores GOT WANT: the same keys, numbers within 1e-9.
same_scores() {
  $PY - "$1" "$2" <<'PYEOF'
import json, sys
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert list(got) == list(want), (list(got), list(want))
for k in want:
    assert abs(got[k] - want[k]) <= 1e-9, (k, got[k], want[k])
PYEOF
}

echo "== the SQuAD-explorer prediction files reproduce expected_scores.json (official evaluate-v1.1.py)"
for name in explorer-bert-ensemble-google explorer-logistic-regression-baseline; do
  if ! "$BERT" squad-eval $D/dev-v1.1.json $D/predictions/$name.json >"$T/$name.out" 2>"$T/$name.err"; then
    say "$name: exit status $?"; cat "$T/$name.err"; continue
  fi
  $PY - "$T/$name.out" $D/expected_scores.json "predictions/$name.json" <<'PYEOF' || say "$name: scores differ"
import json, sys
text = open(sys.argv[1]).read()
got = json.loads(text)
want = json.load(open(sys.argv[2]))[sys.argv[3]]
assert list(got) == ["exact_match", "f1"], got
for k in got:
    assert abs(got[k] - want[k]) <= 1e-9, (k, got[k], want[k])
# printed as Python prints them (json.dumps of the dict)
assert text == json.dumps({"exact_match": want["exact_match"], "f1": want["f1"]}) + "\n", text
print("  ", sys.argv[3], got)
PYEOF
done
grep -q "Unanswered" "$T/explorer-bert-ensemble-google.err" && say "google: unexpected unanswered warnings"

echo "== edge cases of the baseline file: 13 dev ids unanswered (score 0), 28 ids not in dev (ignored)"
n=$(grep -c '^Unanswered question .* will receive score 0\.$' "$T/explorer-logistic-regression-baseline.err")
[ "$n" = 13 ] || say "expected 13 unanswered warnings, got $n"
grep -q '28 prediction ids not in .* ignored' "$T/explorer-logistic-regression-baseline.err" ||
  say "no note about the 28 unknown ids"
"$BERT" squad-eval --quiet $D/dev-v1.1.json $D/predictions/explorer-logistic-regression-baseline.json \
  >"$T/q.out" 2>"$T/q.err" || say "--quiet failed"
[ -s "$T/q.err" ] && say "--quiet still wrote warnings"
cmp -s "$T/q.out" "$T/explorer-logistic-regression-baseline.out" || say "--quiet changed the scores"

# Removing predictions or adding unknown ids changes the scores exactly as the official logic says.
$PY - $D/predictions/explorer-bert-ensemble-google.json "$T/partial.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
keys = list(p)
partial = {k: p[k] for i, k in enumerate(keys) if i % 7 != 3}
partial.update({"not-a-dev-id-%d" % i: "Denver Broncos" for i in range(50)})
json.dump(partial, open(sys.argv[2], "w"))
PYEOF
"$BERT" squad-eval --quiet $D/dev-v1.1.json "$T/partial.json" >"$T/partial.out" || say "partial: exit $?"
$PY "$T/official.py" v1 $D/dev-v1.1.json "$T/partial.json" >"$T/partial.want"
same_scores "$T/partial.out" "$T/partial.want" || say "partial predictions: scores differ from the official logic"
echo '{}' >"$T/none.json"
"$BERT" squad-eval --quiet $D/dev-v1.1.json "$T/none.json" >"$T/none.out" || say "empty predictions: exit $?"
grep -qx '{"exact_match": 0.0, "f1": 0.0}' "$T/none.out" || say "empty predictions: $(cat "$T/none.out")"

echo "== hand-made v1.1 fixture: Unicode, articles, punctuation, several references, duplicates"
cat >"$T/v1.json" <<'EOF'
{"version": "1.1", "data": [{"title": "t", "paragraphs": [
 {"context": "c", "qas": [
  {"id": "q1", "question": "?", "answers": [{"answer_start": 0, "text": "The Theater"}, {"answer_start": 0, "text": "a theater company"}]},
  {"id": "q2", "question": "?", "answers": [{"answer_start": 0, "text": "ΟΔΟΣ Σ"}]},
  {"id": "q3", "question": "?", "answers": [{"answer_start": 0, "text": "İstanbul,\u00a0Turkey"}]},
  {"id": "q4", "question": "?", "answers": [{"answer_start": 0, "text": "the\u0301 end"}]},
  {"id": "q5", "question": "?", "answers": [{"answer_start": 0, "text": "New York City"}, {"answer_start": 0, "text": "NYC"}]},
  {"id": "q6", "question": "?", "answers": [{"answer_start": 0, "text": "b b a"}]},
  {"id": "q7", "question": "?", "answers": [{"answer_start": 0, "text": "U.S."}]}]},
 {"context": "c", "qas": [
  {"id": "q8", "question": "?", "answers": [{"answer_start": 0, "text": "an apple"}]},
  {"id": "q1", "question": "?", "answers": [{"answer_start": 0, "text": "theater"}]}]}]}]}
EOF
cat >"$T/v1pred.json" <<'EOF'
{"q1": "theater!", "q2": "οδος σ", "q3": "i̇stanbul turkey\u3000", "q4": "\u0301 end", "q5": "the city of New York",
 "q6": "b a a", "q7": "us", "unknown": "x", "q8": "a", "q8": "apple"}
EOF
"$BERT" squad-eval "$T/v1.json" "$T/v1pred.json" >"$T/v1.out" 2>"$T/v1.err" || say "v1 fixture: exit $?"
$PY "$T/official.py" v1 "$T/v1.json" "$T/v1pred.json" >"$T/v1.want"
same_scores "$T/v1.out" "$T/v1.want" || say "v1 fixture: $(cat "$T/v1.out") vs $(cat "$T/v1.want")"
cmp -s "$T/v1.out" "$T/v1.want" || say "v1 fixture: not printed as Python prints it"

echo "== SQuAD v2.0: hand-made fixture with answerable and impossible questions"
cat >"$T/v2.json" <<'EOF'
{"version": "v2.0", "data": [{"title": "t", "paragraphs": [
 {"context": "c", "qas": [
  {"id": "a1", "question": "?", "is_impossible": false, "answers": [{"answer_start": 0, "text": "Denver Broncos"}, {"answer_start": 0, "text": "the Broncos"}]},
  {"id": "a2", "question": "?", "is_impossible": false, "answers": [{"answer_start": 0, "text": "Santa Clara, California"}]},
  {"id": "a3", "question": "?", "is_impossible": false, "answers": [{"answer_start": 0, "text": "Ελλάδα"}]},
  {"id": "a4", "question": "?", "is_impossible": false, "answers": [{"answer_start": 0, "text": "The"}, {"answer_start": 0, "text": "gold"}]},
  {"id": "a5", "question": "?", "is_impossible": false, "answers": [{"answer_start": 0, "text": "an"}]},
  {"id": "n1", "question": "?", "is_impossible": true, "answers": [], "plausible_answers": [{"answer_start": 0, "text": "x"}]},
  {"id": "n2", "question": "?", "is_impossible": true, "answers": []},
  {"id": "n3", "question": "?", "is_impossible": true, "answers": []}]},
 {"context": "c", "qas": [
  {"id": "a6", "question": "?", "answers": [{"answer_start": 0, "text": "one two three four"}]},
  {"id": "n4", "question": "?", "answers": []},
  {"id": "a1", "question": "?", "answers": [{"answer_start": 0, "text": "Broncos"}]}]}]}]}
EOF
cat >"$T/v2pred.json" <<'EOF'
{"a1": "Denver Broncos", "a2": "Santa Clara", "a3": "ΕΛΛΆΔΑ", "a4": "", "a5": "", "a6": "two four five",
 "n1": "", "n2": "something", "n3": "the", "n4": "", "stray": "ignored"}
EOF
"$BERT" squad-eval "$T/v2.json" "$T/v2pred.json" --squad-v2 >"$T/v2.out" 2>"$T/v2.err" || say "v2 fixture: exit $?"
$PY "$T/official.py" v2 "$T/v2.json" "$T/v2pred.json" >"$T/v2.want"
same_scores "$T/v2.out" "$T/v2.want" || { say "v2 fixture scores differ"; cat "$T/v2.out" "$T/v2.want"; }
cmp -s "$T/v2.out" "$T/v2.want" || say "v2 fixture: not printed as the v2 script prints it"
cat "$T/v2.out"
# only answerable / only impossible questions: the HasAns_ or NoAns_ keys are left out, as the script does
$PY - "$T/v2.json" "$T/v2has.json" "$T/v2no.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for path, keep in ((sys.argv[2], True), (sys.argv[3], False)):
    e = json.loads(json.dumps(d))
    for p in e["data"][0]["paragraphs"]:
        p["qas"] = [q for q in p["qas"] if bool(q["answers"]) == keep]
    json.dump(e, open(path, "w"))
PYEOF
for part in v2has v2no; do
  "$BERT" squad-eval --v2 "$T/$part.json" "$T/v2pred.json" >"$T/$part.out" 2>/dev/null || say "$part: exit $?"
  $PY "$T/official.py" v2 "$T/$part.json" "$T/v2pred.json" >"$T/$part.want"
  cmp -s "$T/$part.out" "$T/$part.want" || { say "$part differs"; cat "$T/$part.out" "$T/$part.want"; }
done
# v2.0 with a question left without a prediction: the official script fails (KeyError); so do we
echo '{"a1": "Denver"}' >"$T/v2missing.json"
"$BERT" squad-eval --v2 "$T/v2.json" "$T/v2missing.json" >/dev/null 2>"$T/v2missing.err"
rc=$?
[ $rc = 1 ] || say "v2 missing predictions: exit $rc, want 1"
grep -q "have no prediction" "$T/v2missing.err" || say "v2 missing predictions: $(cat "$T/v2missing.err")"

echo "== malformed inputs exit 1 with a message naming the file and the field"
# expect_error DATA PRED PATTERN [--v2]
expect_error() {
  local data=$1 pred=$2 pattern=$3
  shift 3
  "$BERT" squad-eval "$data" "$pred" "$@" >"$T/err.out" 2>"$T/err.txt"
  local rc=$?
  [ $rc = 1 ] || say "$pattern: exit $rc, want 1"
  grep -q -- "$pattern" "$T/err.txt" || say "message lacks '$pattern': $(cat "$T/err.txt")"
  [ -s "$T/err.out" ] && say "$pattern: printed scores anyway"
}
expect_error "$T/absent.json" "$T/v1pred.json" "absent.json"
expect_error "$T/v1.json" "$T/absent.json" "absent.json"
head -c 300 "$T/v1.json" >"$T/trunc.json"
expect_error "$T/trunc.json" "$T/v1pred.json" "trunc.json: malformed JSON near line"
: >"$T/empty.json"
expect_error "$T/empty.json" "$T/v1pred.json" "empty.json: empty file"
expect_error "$T/v1.json" "$T/empty.json" "empty.json: empty file"
echo '[1, 2]' >"$T/array.json"
expect_error "$T/array.json" "$T/v1pred.json" "array.json: expected a JSON object"
expect_error "$T/v1.json" "$T/array.json" "array.json: expected a JSON object"
echo '{"version": "1.1"}' >"$T/nodata.json"
expect_error "$T/nodata.json" "$T/v1pred.json" 'nodata.json: top level: missing field "data"'
echo '{"data": [{"title": "x"}]}' >"$T/nopara.json"
expect_error "$T/nopara.json" "$T/v1pred.json" 'nopara.json: data\[0\]: missing field "paragraphs"'
echo '{"data": [{"paragraphs": [{"qas": [{"id": 7, "answers": []}]}]}]}' >"$T/numid.json"
expect_error "$T/numid.json" "$T/v1pred.json" 'numid.json: data\[0\].paragraphs\[0\].qas\[0\]: wrong type of field "id"'
echo '{"data": [{"paragraphs": [{"qas": [{"id": "q", "answers": [{"text": null}]}]}]}]}' >"$T/nulltext.json"
expect_error "$T/nulltext.json" "$T/v1pred.json" 'qas\[0\].answers\[0\]: wrong type of field "text"'
echo '{"data": [{"paragraphs": [{"qas": [{"id": "q1", "answers": []}]}]}]}' >"$T/noanswers.json"
expect_error "$T/noanswers.json" "$T/v1pred.json" 'question "q1" has no answers'
echo '{"data": []}' >"$T/noq.json"
expect_error "$T/noq.json" "$T/v1pred.json" "noq.json: no questions"
echo '{"q1": 3}' >"$T/numpred.json"
expect_error "$T/v1.json" "$T/numpred.json" 'numpred.json: the prediction for "q1" is not a string'
printf '{"q1": "unterminated' >"$T/badpred.json"
expect_error "$T/v1.json" "$T/badpred.json" "badpred.json: malformed JSON"
expect_error "$T/v1.json" "$T/badpred.json" "badpred.json: malformed JSON" --v2

echo "== usage"
"$BERT" squad-eval --help >"$T/help.txt" 2>&1 || say "--help exit $?"
grep -q "usage: bert squad-eval" "$T/help.txt" || say "--help text"
"$BERT" --help | grep -q "squad-eval" || say "squad-eval not in bert --help"
for args in "" "$T/v1.json" "$T/v1.json $T/v1pred.json --bogus" "$T/v1.json $T/v1pred.json $T/v1pred.json"; do
  # shellcheck disable=SC2086
  "$BERT" squad-eval $args >/dev/null 2>"$T/usage.err"
  rc=$?
  [ $rc = 2 ] || say "squad-eval $args: exit $rc, want 2"
  grep -q "usage:" "$T/usage.err" || say "squad-eval $args: no usage text"
done

[ $fail = 0 ] && echo "PASS"
exit $fail
