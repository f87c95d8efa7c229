"""The text model (backend "bertc-qa-text"): questions and contexts as BYTES in, answer text,
score and code-point start/end out — each must equal `bert qa` on the same model folder (same
windows and post-processing), with binary and JSON tensors, several rows per request, unicode and
contexts long enough for several windows; the n-best outputs, asked for, equal `bert qa --n-best 5`
and a shorter list is padded ("", -inf, 0, -1, -1); n-best dims that differ are a load error; the
metadata shows the BYTES tensors; a request without its context is a 400 JSON error and the server
carries on."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

check = v2.Checks()
CONFIG = dict(v2.TINY_CONFIG, vocab_size=30522)
NBEST_OUTPUTS = tuple(v2.QA_TEXT_NBEST)


def pairs():
    data = json.load(open("tests/data/squad/unicode-v1.1.json", encoding="utf-8"))
    out = [(qa["question"], p["context"]) for p in data["data"][0]["paragraphs"] for qa in p["qas"]]
    dev = json.load(open("tests/data/squad/dev-v1.1.json", encoding="utf-8"))
    for p in dev["data"][0]["paragraphs"][:5]:  # contexts of 120-200 tokens: several 64-token windows
        out.append((p["qas"][0]["question"], p["context"]))
    return out


def expected(model_dir, items):
    lines = "".join(json.dumps({"question": q, "context": c}) + "\n" for q, c in items)
    r = subprocess.run([v2.BERT, "qa", "--model", model_dir, "--max-seq-length", "64", "--doc-stride", "16", "--n-best", "5"],
                       input=lines, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines()]


def bytes_output(res, name):
    for out in res.get_response()["outputs"]:
        if out["name"] != name:
            continue
        if name in res._offsets:
            start, size = res._offsets[name]
            buf, items, at = res._buffer[start:start + size], [], 0
            while at < len(buf):
                (n,) = struct.unpack_from("<I", buf, at)
                items.append(buf[at + 4:at + 4 + n].decode())
                at += 4 + n
            return items
        return list(out["data"])
    return None


def text_inputs(items, binary):
    inputs = []
    for k, name in enumerate(("question", "context")):
        arr = np.array([[x[k].encode()] for x in items], dtype=np.object_)
        i = v2.InferInput(name, arr.shape, "BYTES")
        i.set_data_from_numpy(arr, binary_data=binary)
        inputs.append(i)
    return inputs


def ask(client, items, binary):
    inputs = text_inputs(items, binary)
    outputs = [v2.InferRequestedOutput(n, binary_data=binary) for n in ("answer", "score", "start", "end")]
    res = client.infer("qa", inputs, outputs)
    return (bytes_output(res, "answer"), res.as_numpy("score").reshape(-1), res.as_numpy("start").reshape(-1),
            res.as_numpy("end").reshape(-1))


def ask_nbest(client, items, binary):
    outputs = [v2.InferRequestedOutput(n, binary_data=binary) for n in NBEST_OUTPUTS]
    res = client.infer("qa", text_inputs(items, binary), outputs)
    texts = bytes_output(res, "nbest_answer")
    numbers = [res.as_numpy(n) for n in NBEST_OUTPUTS[1:]]
    check(all(x is not None and x.shape == (len(items), 5) for x in numbers), f"n-best shapes {[getattr(x, 'shape', None) for x in numbers]}")
    return [texts[5 * k:5 * k + 5] for k in range(len(items))], numbers


def check_nbest(client, items, want):
    for binary in (True, False):
        texts, (scores, probs, starts, ends) = ask_nbest(client, items, binary)
        for k, w in enumerate(want):
            who, got = f"{'binary' if binary else 'JSON'} n-best of item {k}", len(w["nbest"])
            check(texts[k][:got] == [c["answer"] for c in w["nbest"]], f"{who}: {texts[k]} vs bert qa {w['nbest']}")
            for j, c in enumerate(w["nbest"]):
                check(abs(float(scores[k, j]) - c["score"]) <= 1e-4 * max(1.0, abs(c["score"])) and
                      abs(float(probs[k, j]) - c["probability"]) <= 1e-5 and
                      (int(starts[k, j]), int(ends[k, j])) == (c["start"], c["end"]), f"{who}: candidate {j}")
            pad = slice(got, 5)
            check(texts[k][pad] == [""] * (5 - got) and np.all(probs[k, pad] == 0) and np.all(starts[k, pad] == -1) and
                  np.all(ends[k, pad] == -1) and (np.all(np.isneginf(scores[k, pad])) if binary else np.all(np.isnan(scores[k, pad]))),
                  f"{who}: padding {texts[k][pad]} {scores[k, pad]} {probs[k, pad]} {starts[k, pad]} {ends[k, pad]}")
    check(any(len(w["nbest"]) < 5 for w in want) and any(len(w["nbest"]) == 5 for w in want), "no padded and full lists")


def check_nbest_dims(version):
    for sizes, what in (({"nbest_answer": 5, "nbest_score": 4}, "the same"), ({"nbest_answer": 21}, "from 1 to 20")):
        with tempfile.TemporaryDirectory() as repo:
            os.makedirs(os.path.join(repo, "qa"))
            os.symlink(version, os.path.join(repo, "qa", "1"))
            with open(os.path.join(repo, "qa", "config.pbtxt"), "w") as f:
                f.write(v2.qa_text_pbtxt("qa", sizes))
            try:
                v2.Server(repo).stop()
                check(False, f"n-best dims {sizes} were accepted")
            except RuntimeError as e:
                check(what in str(e), f"n-best dims {sizes}: {e}")


def main():
    t0 = time.time()
    items = pairs()
    with tempfile.TemporaryDirectory() as repo:
        version = v2.write_model(repo, "qa", v2.qa_text_pbtxt("qa", {n: 5 for n in NBEST_OUTPUTS}), CONFIG, weights_seed=5)
        want = expected(version, items)
        with v2.Server(repo) as server:
            client = v2.Client(server.url)
            meta = client.get("/v2/models/qa").json()
            check([i["datatype"] for i in meta.get("inputs", [])] == ["BYTES", "BYTES"], f"metadata: {meta}")
            for binary in (True, False):
                for first in range(0, len(items), 3):
                    chunk = items[first:first + 3]
                    answers, scores, starts, ends = ask(client, chunk, binary)
                    for k, w in enumerate(want[first:first + 3]):
                        who = f"{'binary' if binary else 'JSON'} item {first + k}"
                        check(answers[k] == w["answer"], f"{who}: answer {answers[k]!r} vs bert qa {w['answer']!r}")
                        check(int(starts[k]) == w["start"] and int(ends[k]) == w["end"],
                              f"{who}: span {starts[k]}..{ends[k]} vs {w['start']}..{w['end']}")
                        check(abs(float(scores[k]) - w["score"]) <= 1e-4 * max(1.0, abs(w["score"])),
                              f"{who}: score {scores[k]} vs {w['score']}")
                        c = chunk[k][1]
                        check(c[int(starts[k]):int(ends[k])] == answers[k], f"{who}: start/end are not code points")
            arr = np.array([[b"who?"]], dtype=np.object_)
            q = v2.InferInput("question", arr.shape, "BYTES")
            q.set_data_from_numpy(arr)
            try:
                client.infer("qa", [q])
                check(False, "a request without its context succeeded")
            except v2.ServerError as e:
                check(e.status == 400 and "context" in json.loads(e.body).get("error", ""), f"missing context: {e}")
            # the JSON reply writes -inf as null (read as NaN); "Paris." has only 3 spans
            check_nbest(client, items[:2] + [("Who?", "Paris.")], want[:2] + expected(version, [("Who?", "Paris.")]))
            check(server.alive(), "the server died")
            answers, _, _, _ = ask(client, items[:1], True)
            check(answers == [want[0]["answer"]], "a valid request after the bad one failed")
        check_nbest_dims(version)
    check(len(want) == len(items) and any(w["answer"] for w in want), "bert qa gave no answers")
    print(f"{len(items)} questions, e.g. {want[-1]}")
    check.finish("serve qa-text", t0)


main()
