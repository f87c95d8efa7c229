"""Post-processing (squad/postprocess.c) and SQuAD 2.0 metrics against independent re-statements:
given random logits for every feature (some with a strong [CLS] so the null answer wins), the
predictions and n-best lists must equal the reference's post-processing (top 20 starts x top 20
ends per feature, context tokens only, end >= start, at most 30 tokens, score = start + end, best
over the features; v2: the null score is the LARGEST [CLS] score over the features and wins unless
beaten) and HF utils_qa's n-best (best 20 with the null answer, softmax probabilities); then
`bert squad-eval --v2` on those predictions must print the official v2.0 script's numbers
(re-stated below). Runs on a hand-made v2.0 fixture at 384 tokens and at 40/8 windows (several
features per example), and on v1.1 data without the null rule."""
import collections
import json
import os
import re
import string
import subprocess
import sys
import tempfile

import numpy as np

BERT = os.environ.get("BERT_BIN", "build/bert")
BUILD = os.environ.get("BERT_BUILD", "build")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


# ---- the official evaluate-v2.0.py, re-stated ----
def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s, flags=re.UNICODE)
    return " ".join(s.split())


def get_tokens(s):
    return normalize_answer(s).split() if s else []


def compute_f1(gold, pred):
    g, p = get_tokens(gold), get_tokens(pred)
    common = collections.Counter(g) & collections.Counter(p)
    same = sum(common.values())
    if not g or not p:
        return int(g == p)
    if same == 0:
        return 0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def v2_scores(data, preds):
    exact, f1, has = {}, {}, {}
    for art in data["data"]:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                golds = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])] or [""]
                exact[qa["id"]] = max(int(normalize_answer(a) == normalize_answer(preds[qa["id"]])) for a in golds)
                f1[qa["id"]] = max(compute_f1(a, preds[qa["id"]]) for a in golds)
                has[qa["id"]] = bool(qa["answers"])
    out = collections.OrderedDict()

    def add(prefix, ids):
        out[prefix + "exact"] = 100.0 * sum(exact[k] for k in ids) / len(ids)
        out[prefix + "f1"] = 100.0 * sum(f1[k] for k in ids) / len(ids)
        out[prefix + "total"] = len(ids)

    add("", list(exact))
    if any(has.values()):
        add("HasAns_", [k for k in exact if has[k]])
    if not all(has.values()):
        add("NoAns_", [k for k in exact if not has[k]])
    return out


# ---- the reference's post-processing, re-stated ----
def top(x, n):
    return list(np.argsort(-x, kind="stable")[:n])


def postprocess(data, feats, logits, v2):
    contexts = {}
    for art in data["data"]:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                contexts[qa["id"]] = p["context"].encode()
    by_example = collections.OrderedDict()
    for f, (s, e) in zip(feats, logits):
        by_example.setdefault(f["id"], []).append((f, s, e))
    preds, nbests = {}, {}
    for qid, items in by_example.items():
        ctx, cands, null = contexts[qid], [], None
        for f, s, e in items:
            score0 = np.float32(s[0]) + np.float32(e[0])
            if null is None or score0 > null[0]:
                null = (score0, s[0], e[0])
            for a in top(s, 20):
                for b in top(e, 20):
                    if f["spans"][a] is None or f["spans"][b] is None or b < a or b - a + 1 > 30:
                        continue
                    cands.append((np.float32(s[a]) + np.float32(e[b]), ctx[f["spans"][a][0]:f["spans"][b][1]].decode(),
                                  s[a], e[b]))
        cands.sort(key=lambda c: -c[0])  # stable: first found first among equals
        best = cands[0] if cands else (0.0, "", 0.0, 0.0)
        answer = best[1]
        nb = cands[:20]
        if v2:
            if not best[0] > null[0]:
                answer = ""
            nb = sorted(nb + [(null[0], "", null[1], null[2])], key=lambda c: -c[0])[:20]
        scores = np.array([float(c[0]) for c in nb])
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        preds[qid] = answer
        nbests[qid] = [{"text": c[1], "probability": p, "start_logit": c[2], "end_logit": c[3]} for c, p in zip(nb, probs)]
    return preds, nbests


def run_case(name, data, max_len, stride, v2, seed):
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.json")
        json.dump(data, open(path, "w", encoding="utf-8"), ensure_ascii=False)
        r = subprocess.run([os.path.join(BUILD, "tests", "tool_squad_features"), path, "data/vocab.txt", str(max_len),
                            str(stride)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        feats = [json.loads(l) for l in r.stdout.splitlines()]
        logits = []
        for i, f in enumerate(feats):
            n = len(f["input_ids"])
            s, e = rng.normal(0, 2, n).astype(np.float32), rng.normal(0, 2, n).astype(np.float32)
            if i % 3 == 0:  # a confident "no answer" on some features
                s[0] += 6
                e[0] += 6
            logits.append((s, e))
        with open(os.path.join(d, "logits.jsonl"), "w") as out:
            for s, e in logits:
                out.write(json.dumps({"start": [float(x) for x in s], "end": [float(x) for x in e]}) + "\n")
        pred, nbest = os.path.join(d, "pred.json"), os.path.join(d, "nbest.json")
        r = subprocess.run([os.path.join(BUILD, "tests", "tool_squad_postprocess"), path,
                            os.path.join(d, "logits.jsonl"), pred, nbest, str(int(v2)), str(max_len), str(stride)],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"{name}: tool failed: {r.stderr}")
        if r.returncode:
            return
        got_pred, got_nbest = json.load(open(pred, encoding="utf-8")), json.load(open(nbest, encoding="utf-8"))
        want_pred, want_nbest = postprocess(data, feats, logits, v2)
        check(got_pred == want_pred, f"{name}: predictions differ: {got_pred} vs {want_pred}")
        for qid, want in want_nbest.items():
            got = got_nbest.get(qid, [])
            check([g["text"] for g in got] == [w["text"] for w in want], f"{name} {qid}: n-best texts differ")
            check(all(abs(g["probability"] - w["probability"]) < 1e-6 and abs(g["start_logit"] - w["start_logit"]) < 1e-6
                      for g, w in zip(got, want)), f"{name} {qid}: n-best numbers differ")
        if v2:
            check(any(v == "" for v in got_pred.values()) and any(v for v in got_pred.values()),
                  f"{name}: expected both null and non-null predictions")
            r = subprocess.run([BERT, "squad-eval", path, pred, "--v2"], capture_output=True, text=True)
            check(r.returncode == 0, f"{name}: squad-eval failed: {r.stderr}")
            got_scores, want_scores = json.loads(r.stdout), v2_scores(data, got_pred)
            check(list(got_scores) == list(want_scores), f"{name}: keys {list(got_scores)} vs {list(want_scores)}")
            check(all(abs(got_scores[k] - want_scores[k]) <= 1e-9 for k in want_scores),
                  f"{name}: scores {got_scores} vs {want_scores}")


def main():
    v2 = json.load(open("tests/data/squad/handmade-v2.0.json", encoding="utf-8"))
    uni = json.load(open("tests/data/squad/unicode-v1.1.json", encoding="utf-8"))
    for seed in range(3):
        run_case(f"v2 384 seed {seed}", v2, 384, 128, True, seed)
        run_case(f"v2 40/8 seed {seed}", v2, 40, 8, True, 10 + seed)
        run_case(f"v1 unicode 40/8 seed {seed}", uni, 40, 8, False, 20 + seed)
    if failures:
        print("\n".join(failures[:20]))
        sys.exit(1)
    print("squad post-processing: all checks passed")


main()
