"""The repository shipped in models/ loads and serves: its config.pbtxt files (bert: 384-token
positional inputs, max_batch_size 32; bert-qa-text: BYTES questions and contexts) are copied
unchanged beside a small BERT config.json (random weights, as shipped), and each model answers
one inference (the text model with its 5-long n-best list). The text model's JSON bound holds too:
BYTES strings may be long, but a header with more values than any valid request has is a 413 at
once. With the text model loaded, / and /qa are the question-answering page (HTML, nosniff, a
nonce CSP; a POST is a 405)."""
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

check = v2.Checks()
# small, but with BERT-base's vocabulary (the text model tokenises with data/vocab.txt) and room
# for the shipped 384-token dims
SMALL = dict(v2.TINY_CONFIG, vocab_size=30522, max_position_embeddings=512)


def shipped_repo(root):
    repo = os.path.join(root, "models")
    for name in ("bert", "bert-qa-text"):
        os.makedirs(os.path.join(repo, name, "1"))
        shutil.copy(os.path.join("models", name, "config.pbtxt"), os.path.join(repo, name, "config.pbtxt"))
        with open(os.path.join(repo, name, "1", "config.json"), "w") as f:
            json.dump(SMALL, f)
    return repo


def test_bert(c):
    rng = np.random.default_rng(1)
    ids = np.zeros((2, 384), np.int32)
    ids[:, :100] = rng.integers(1000, 30000, (2, 100))
    mask = (ids != 0).astype(np.int32)
    inputs = []
    for i, arr in enumerate((ids, mask, np.zeros_like(ids))):
        inp = v2.InferInput(f"input_{i}", arr.shape, "INT32")
        inp.set_data_from_numpy(arr)
        inputs.append(inp)
    res = c.infer("bert", inputs)
    start, end = res.as_numpy("output_0"), res.as_numpy("output_1")
    check(start is not None and start.shape == (2, 384) and end.shape == (2, 384), "bert: output shapes")
    if start is not None:
        check(np.all(np.isfinite(start[:, :100])) and np.all(start[:, 100:] == -10000.0), "bert: logits")
    meta = c.get("/v2/models/bert").json()
    check(meta["inputs"][0] == {"name": "input_0", "datatype": "INT32", "shape": [-1, 384]}, f"bert metadata {meta}")


def test_qa_text(c):
    context = "The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50."
    body = {"inputs": [{"name": "question", "shape": [1, 1], "datatype": "BYTES", "data": ["Who won Super Bowl 50?"]},
                       {"name": "context", "shape": [1, 1], "datatype": "BYTES", "data": [context]}]}
    r = c.session.post(c.url + "/v2/models/bert-qa-text/infer", json=body, timeout=60)
    if check(r.status_code == 200, f"bert-qa-text: {r.status_code} {r.text[:300]}"):
        out = {o["name"]: o for o in r.json()["outputs"]}
        check(sorted(out) == ["answer", "end", "nbest_answer", "nbest_end", "nbest_probability", "nbest_score",
                              "nbest_start", "score", "start"], f"bert-qa-text outputs {sorted(out)}")
        start, end = out["start"]["data"][0], out["end"]["data"][0]
        check(0 <= start <= end <= len(context) and out["answer"]["data"][0] == context[start:end],
              f"bert-qa-text answer {out['answer']['data']} at {start}..{end}")
        nbest = out.get("nbest_answer", {})
        check(nbest.get("shape") == [1, 5] and nbest["data"][0] == out["answer"]["data"][0], f"bert-qa-text n-best {nbest}")
    # a long context is fine (strings have no length bound) ...
    body["inputs"][1]["data"] = [context * 200]
    r = c.session.post(c.url + "/v2/models/bert-qa-text/infer", json=body, timeout=60)
    check(r.status_code == 200, f"bert-qa-text long context: {r.status_code} {r.text[:200]}")
    # ... but 200,000 strings in one header are no valid request of 8 rows: refused unparsed
    body["inputs"][1]["data"] = ["x"] * 200000
    t0 = time.time()
    r = c.session.post(c.url + "/v2/models/bert-qa-text/infer", json=body, timeout=60)
    took = time.time() - t0
    check(r.status_code == 413 and "more values" in r.json().get("error", ""), f"many strings: {r.status_code} {r.text[:200]}")
    check(took < 2, f"many strings took {took:.1f} s")


def test_page(c):
    for path in ("/", "/qa"):
        r = c.session.get(c.url + path)
        csp = r.headers.get("Content-Security-Policy", "")
        check(r.status_code == 200 and r.headers.get("Content-Type") == "text/html; charset=utf-8" and
              r.headers.get("X-Content-Type-Options") == "nosniff" and "<option>bert-qa-text</option>" in r.text and
              "default-src 'none'" in csp and "connect-src 'self'" in csp, f"GET {path}: {r.status_code} {r.headers}")
        nonce = csp.split("'nonce-")[1].split("'")[0] if "'nonce-" in csp else "?"
        check(r.text.count(f'nonce="{nonce}"') == 2 and "{{" not in r.text, f"GET {path}: nonce {nonce} not in the page")
    r = c.session.head(c.url + "/")
    check(r.status_code == 200 and r.content == b"", f"HEAD /: {r.status_code}")
    r = c.session.post(c.url + "/qa")
    check(r.status_code == 405 and r.headers.get("Allow") == "GET, HEAD" and "error" in r.json(), f"POST /qa: {r.status_code}")
    check(c.session.get(c.url + "/other").status_code == 404, "GET /other is not a 404")


def main():
    t0 = time.time()
    with tempfile.TemporaryDirectory() as root:
        with v2.Server(shipped_repo(root), "--threads", "2") as s:
            c = v2.Client(s.url)
            test_bert(c)
            test_qa_text(c)
            test_page(c)
            check(requests.get(s.url + "/v2/health/ready").status_code == 200, "not ready after the requests")
            check(s.stop() == 0, f"exit code: {s.stderr()[-300:]}")
    check.finish("serve shipped models", t0)


if __name__ == "__main__":
    main()
