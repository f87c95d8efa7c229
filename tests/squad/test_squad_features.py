"""SQuAD features (squad/features.c) against an independent re-statement of HuggingFace run_qa.py's
prepare_train_features: question first, context windows with `stride` tokens shared by
consecutive windows (the fast tokenizer's Encoding.truncate: windows start every room - stride
tokens, the last is the first to reach the end), token types, training labels from character
offsets ([CLS] when the answer is not entirely inside the window), and each position's span.
The tokens come from `bert tokenize` (checked against Google's and HF's tokenizers elsewhere).
Runs on the first 300 questions of dev-v1.1.json and a unicode fixture, at 384/128 and at small
windows (64/16, 40/8) where answers straddle window boundaries."""
import json
import os
import subprocess
import sys
import tempfile

BERT = os.environ.get("BERT_BIN", "build/bert")
TOOL = os.path.join(os.environ.get("BERT_BUILD", "build"), "tests", "tool_squad_features")
VOCAB = "data/vocab.txt"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def subset(path, n):
    data = json.load(open(path, encoding="utf-8"))
    out, count = {"version": "1.1", "data": []}, 0
    for art in data["data"]:
        paras = []
        for p in art["paragraphs"]:
            qas = p["qas"][: max(0, n - count)]
            count += len(qas)
            if qas:
                paras.append({"context": p["context"], "qas": qas})
        if paras:
            out["data"].append({"title": art["title"], "paragraphs": paras})
        if count >= n:
            break
    return out


def examples(data):
    for art in data["data"]:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                yield qa, p["context"]


def tokenize(texts):
    lines = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
    r = subprocess.run([BERT, "tokenize", "--vocab", VOCAB, "--do-lower-case", "--never-split", "--jsonl"],
                       input=lines.encode(), capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return [json.loads(l) for l in r.stdout.decode().splitlines()]


def restate(data, max_len, stride, cls, sep):
    exs = list(examples(data))
    toks = tokenize([q["question"] for q, _ in exs] + [c for _, c in exs])
    qtoks, ctoks = toks[: len(exs)], toks[len(exs):]
    feats = []
    for (qa, context), qt, ct in zip(exs, qtoks, ctoks):
        q, c, offs = qt["ids"], ct["ids"], ct["offsets"]
        room = max_len - len(q) - 3
        if len(c) <= room:
            windows = [(0, len(c))]
        else:
            windows, start = [], 0
            while True:  # Encoding.truncate: range(0, len).step_by(room - stride), stop at the end
                stop = min(start + room, len(c))
                windows.append((start, stop))
                if stop == len(c):
                    break
                start += room - stride
        ans = qa["answers"][0]
        a0 = len(context[: ans["answer_start"]].encode())
        a1 = len(context[: ans["answer_start"] + len(ans["text"])].encode())
        for (w0, w1) in windows:
            ids = [cls] + q + [sep] + c[w0:w1] + [sep]
            types = [0] * (len(q) + 2) + [1] * (w1 - w0 + 1)
            spans = [None] * (len(q) + 2) + [list(o) for o in offs[w0:w1]] + [None]
            s = e = 0
            if w1 > w0 and offs[w0][0] <= a0 and offs[w1 - 1][1] >= a1:
                ts, te = w0, w1 - 1
                while ts < w1 and offs[ts][0] <= a0:
                    ts += 1
                while te >= w0 and offs[te][1] >= a1:
                    te -= 1
                s, e = len(q) + 2 + ts - 1 - w0, len(q) + 2 + te + 1 - w0
            feats.append({"id": qa["id"], "start": s, "end": e, "input_ids": ids, "token_type_ids": types,
                          "spans": spans, "answer": (a0, a1), "window": (w0, w1)})
    return feats


def ours(path, max_len, stride):
    r = subprocess.run([TOOL, path, VOCAB, str(max_len), str(stride)], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return [json.loads(l) for l in r.stdout.decode().splitlines()]


def compare(name, data, max_len, stride, cls, sep):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.json")
        json.dump(data, open(path, "w", encoding="utf-8"), ensure_ascii=False)
        got = ours(path, max_len, stride)
    want = restate(data, max_len, stride, cls, sep)
    check(len(got) == len(want), f"{name} {max_len}/{stride}: {len(got)} features, expected {len(want)}")
    bad = 0
    for i, (g, w) in enumerate(zip(got, want)):
        for key in ("id", "start", "end", "input_ids", "token_type_ids", "spans"):
            if g[key] != w[key]:
                bad += 1
                if bad <= 5:
                    failures.append(f"{name} {max_len}/{stride} feature {i} ({w['id']}): {key} differs: "
                                    f"{str(g[key])[:120]} vs {str(w[key])[:120]}")
    return want


def main():
    vocab = [l.rstrip("\n") for l in open(VOCAB, encoding="utf-8")]
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    dev = subset("tests/data/squad/dev-v1.1.json", 300)
    uni = json.load(open("tests/data/squad/unicode-v1.1.json", encoding="utf-8"))
    for max_len, stride in ((384, 128), (64, 16), (40, 8)):
        feats = compare("dev", dev, max_len, stride, cls, sep)
        compare("unicode", uni, max_len, stride, cls, sep)
        if max_len == 64:
            ex = sum(1 for _ in examples(dev))
            check(len(feats) > 2 * ex, f"64/16 should split most contexts: {len(feats)} features for {ex} questions")
            straddle = [f for f in feats if f["start"] == 0 and
                        any(s and s[0] < f["answer"][1] and s[1] > f["answer"][0] for s in f["spans"])]
            check(len(straddle) > 0, "no feature whose window cuts an answer (label [CLS]) at 64/16")
            at_edge = [f for f in feats if f["end"] > 0 and f["end"] == len(f["input_ids"]) - 2]
            check(len(at_edge) > 0, "no feature whose answer ends on the window's last context token at 64/16")
    # the answer's bytes, decoded, are the answer text wherever the labels point inside the context
    for f in compare("unicode", uni, 384, 128, cls, sep):
        check(f["start"] > 0, f"unicode {f['id']}: answer not found in its only window")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("squad features: all checks passed")


main()
