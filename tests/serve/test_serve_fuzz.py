"""Robustness: well over 1,000 malformed requests — broken JSON, wrong names, shapes, data types,
values outside the vocabulary, batches over max_batch_size, binary sizes that lie, header lengths
past the body, oversized bodies, wrong methods and paths — each answered 4xx with a JSON
{"error": "..."} body, while valid requests in between keep succeeding, the server stays up and
its memory stays steady."""
import json
import os
import random
import sys
import tempfile
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

MAX_BODY = 65536
check = v2.Checks()


def tensor(name, shape, data=None, datatype="INT32", **params):
    t = {"name": name, "shape": shape, "datatype": datatype}
    if data is not None:
        t["data"] = data
    if params:
        t["parameters"] = params
    return t


def valid_inputs(rng, rows=2, length=12):
    ids = [int(x) for x in rng.integers(1, 512, rows * length)]
    return [tensor("input_ids", [rows, length], ids), tensor("attention_mask", [rows, length], [1] * (rows * length)),
            tensor("token_type_ids", [rows, length], [0] * (rows * length))]


def post(body, headers=None, path="/v2/models/qa/infer", method="POST"):
    return {"method": method, "path": path, "body": body, "headers": headers or {}}


def js(obj, **kw):
    return post(json.dumps(obj).encode(), **kw)


def binary_request(rng, size_fn, header_fn=None, extra=b""):
    """A binary request whose sizes / header length are distorted by the given functions."""
    arrs = [rng.integers(1, 512, (2, 8)).astype(np.int32), np.ones((2, 8), np.int32), np.zeros((2, 8), np.int32)]
    names = ["input_ids", "attention_mask", "token_type_ids"]
    head = {"inputs": [tensor(n, [2, 8], binary_data_size=size_fn(i, a.nbytes)) for i, (n, a) in enumerate(zip(names, arrs))]}
    text = json.dumps(head).encode()
    body = text + b"".join(a.tobytes() for a in arrs) + extra
    hl = header_fn(len(text), len(body)) if header_fn else str(len(text))
    return post(body, {"Inference-Header-Content-Length": hl})


def mutate_inputs(rng, kind):
    """Valid inputs with one field broken."""
    inputs = valid_inputs(rng)
    k = rng.integers(0, 3)
    t = inputs[k]
    bad = {
        "name-missing": lambda: t.pop("name"),
        "name-type": lambda: t.update(name=7),
        "name-unknown": lambda: t.update(name="input_x"),
        "name-duplicate": lambda: inputs.append(dict(inputs[0])),
        "input-missing": lambda: inputs.pop(int(k)),
        "dtype-missing": lambda: t.pop("datatype"),
        "dtype-wrong": lambda: t.update(datatype=random.choice(["FP32", "INT64", "BYTES", "INT33", "", "int32"])),
        "dtype-type": lambda: t.update(datatype=[1]),
        "shape-missing": lambda: t.pop("shape"),
        "shape-string": lambda: t.update(shape="2,12"),
        "shape-nested": lambda: t.update(shape=[[2, 12]]),
        "shape-negative": lambda: t.update(shape=[2, -12]),
        "shape-float": lambda: t.update(shape=[2, 12.5]),
        "shape-rank": lambda: t.update(shape=[2, 12, 1]),
        "shape-huge": lambda: t.update(shape=[2, 2 ** 40]),
        "shape-overflow": lambda: t.update(shape=[2 ** 31 - 1, 2 ** 31 - 1, 7]),
        "shape-count": lambda: t.update(shape=[2, 11]),
        "shape-zero": lambda: t.update(shape=[0, 12], data=[]),
        "data-missing": lambda: t.pop("data"),
        "data-type": lambda: t.update(data="1,2,3"),
        "data-elements": lambda: t["data"].__setitem__(int(rng.integers(0, 24)), random.choice(["7", 1.5, None, {}, [[]], True])),
        "data-short": lambda: t["data"].pop(),
        "data-long": lambda: t["data"].append(1),
        "params-type": lambda: t.update(parameters=[1]),
        "shared-memory": lambda: t.update(parameters={"shared_memory_region": "r", "shared_memory_byte_size": 96}),
        "both-data-binary": lambda: t.update(parameters={"binary_data_size": 96}),
        "binary-size-type": lambda: (t.pop("data"), t.update(parameters={"binary_data_size": "96"})),
    }
    bad[kind]()
    return {"inputs": inputs}


def value_error(rng, kind):
    inputs = valid_inputs(rng)
    i = int(rng.integers(0, 24))
    if kind == "ids-vocab":
        inputs[0]["data"][i] = random.choice([512, 513, 30522, 2 ** 31 - 1])
    elif kind == "ids-negative":
        inputs[0]["data"][i] = random.choice([-1, -(2 ** 31)])
    elif kind == "ids-int32-range":
        inputs[0]["data"][i] = random.choice([2 ** 31, -(2 ** 31) - 1, 2 ** 40])
    elif kind == "mask-value":
        inputs[1]["data"][i] = random.choice([2, -1, 7])
    else:
        inputs[2]["data"][i] = random.choice([2, 3, -1])
    return {"inputs": inputs}


def structural(rng, kind):
    base = {"inputs": valid_inputs(rng)}
    if kind == "top-type":
        return random.choice([[], "x", 3, None, True])
    if kind == "inputs-type":
        return {"inputs": random.choice([{}, "x", 3, None, [1, 2], []])}
    if kind == "batch-too-large":
        return {"inputs": valid_inputs(rng, rows=int(rng.integers(5, 9)), length=4)}
    if kind == "batch-disagree":
        other = valid_inputs(rng, rows=3)
        return {"inputs": [base["inputs"][0], other[1], base["inputs"][2]]}
    if kind == "length-disagree":
        other = valid_inputs(rng, length=10)
        return {"inputs": [base["inputs"][0], other[1], base["inputs"][2]]}
    if kind == "outputs":
        base["outputs"] = random.choice([{}, "x", [{"name": "nope"}], [{"name": 3}], [1],
                                         [{"name": "start_logits"}, {"name": "start_logits"}],
                                         [{"name": "end_logits", "parameters": {"classification": 3}}],
                                         [{"name": "end_logits", "parameters": {"binary_data": "yes"}}],
                                         [{"name": "end_logits", "parameters": {"shared_memory_region": "r"}}],
                                         [{"name": "end_logits", "parameters": []}]])
        return base
    if kind == "parameters":
        base["parameters"] = random.choice([[], "x", {"binary_data_output": "yes"}, {"binary_data_output": 1}])
        return base
    if kind == "id":
        base["id"] = random.choice([1, None, [], {}])
        return base
    # fixed-length model: rank and length
    return None


def make_cases(rng):
    cases = []
    valid = json.dumps({"inputs": valid_inputs(rng)}).encode()
    input_kinds = ["name-missing", "name-type", "name-unknown", "name-duplicate", "input-missing", "dtype-missing",
                   "dtype-wrong", "dtype-type", "shape-missing", "shape-string", "shape-nested", "shape-negative",
                   "shape-float", "shape-rank", "shape-huge", "shape-overflow", "shape-count", "shape-zero", "data-missing",
                   "data-type", "data-elements", "data-short", "data-long", "params-type", "shared-memory",
                   "both-data-binary", "binary-size-type"]
    value_kinds = ["ids-vocab", "ids-negative", "ids-int32-range", "mask-value", "types-value"]
    struct_kinds = ["top-type", "inputs-type", "batch-too-large", "batch-disagree", "length-disagree", "outputs", "parameters", "id"]
    for rep in range(17):
        # broken JSON: random bytes, truncations, garbage after the object
        cases.append(("random-bytes", post(bytes(rng.integers(0, 256, int(rng.integers(0, 300))).astype(np.uint8)))))
        cut = int(rng.integers(1, len(valid) - 1))
        cases.append(("truncated-json", post(valid[:cut])))
        cases.append(("trailing-garbage", post(valid + b"xyz")))
        cases.append(("empty-body", post(b"")))
        for kind in input_kinds:
            cases.append((kind, js(mutate_inputs(rng, kind))))
        for kind in value_kinds:
            cases.append((kind, js(value_error(rng, kind))))
        for kind in struct_kinds:
            cases.append((kind, js(structural(rng, kind))))
        # the fixed-length model: wrong sequence length, wrong rank
        fixed = [tensor(n, [1, 31], [1] * 31) for n in ("input_0", "input_1", "input_2")]
        cases.append(("fixed-length", js({"inputs": fixed}, path="/v2/models/bert/infer")))
        fixed = [tensor(n, [32], [1] * 32) for n in ("input_0", "input_1", "input_2")]
        cases.append(("fixed-rank", js({"inputs": fixed}, path="/v2/models/bert/infer")))
        # binary extension: sizes and header lengths that lie
        cases.append(("binary-too-big", binary_request(rng, lambda i, n: n + 4 if i == 2 else n)))
        cases.append(("binary-too-small", binary_request(rng, lambda i, n: n - 4 if i == 0 else n)))
        cases.append(("binary-past-end", binary_request(rng, lambda i, n: n * 1000 if i == 1 else n)))
        cases.append(("binary-negative", binary_request(rng, lambda i, n: -n if i == 1 else n)))
        cases.append(("binary-trailing", binary_request(rng, lambda i, n: n, extra=b"\0" * 8)))
        cases.append(("header-past-body", binary_request(rng, lambda i, n: n, lambda h, b: str(b + 1 + int(rng.integers(0, 99))))))
        cases.append(("header-cuts-json", binary_request(rng, lambda i, n: n, lambda h, b: str(h // 2))))
        cases.append(("header-not-number", binary_request(rng, lambda i, n: n, lambda h, b: random.choice(["x", "-5", "12a", "", "1e3", "0x10"]))))
        cases.append(("raw-multi-input", post(b"\1\0\0\0" * 8, {"Inference-Header-Content-Length": "0"})))
        cases.append(("gzip-body", post(valid, {"Content-Encoding": random.choice(["gzip", "deflate", "br"])})))
        cases.append(("raw-wrong-size", post(b"\1\0\0", {"Inference-Header-Content-Length": "0"}, path="/v2/models/ids_only/infer")))
        # oversized bodies (Content-Length over --max-body-bytes)
        cases.append(("oversized", post(b"{" + b" " * (MAX_BODY + int(rng.integers(1, 5000))) + b"}")))
        # wrong method or path
        cases.append(("get-infer", post(None, method="GET")))
        cases.append(("put-infer", post(valid, method="PUT")))
        cases.append(("unknown-model", post(valid, path="/v2/models/nope/infer")))
        cases.append(("unknown-version", post(valid, path="/v2/models/qa/versions/9/infer")))
        cases.append(("unknown-path", post(valid, path=random.choice(["/v2/models/qa/infer/x", "/v2/models//infer", "/v3"]))))
    return cases


def run_case(session, url, case):
    return session.request(case["method"], url + case["path"], data=case["body"], headers=case["headers"], timeout=60)


def main():
    random.seed(3)
    rng = np.random.default_rng(3)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as root:
        repo = os.path.join(root, "repo")
        v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 4, "dynamic_batching { }\n"))
        fixed_in = [(n, "TYPE_INT32", [32]) for n in ("input_0", "input_1", "input_2")]
        v2.write_model(repo, "bert", v2.pbtxt("bert", fixed_in, [("output_0", "TYPE_FP32", [32])], 4))
        v2.write_model(repo, "ids_only", v2.pbtxt("ids_only", [("input_ids", "TYPE_INT32", [-1])], [("start_logits", "TYPE_FP32", [-1])], 0))
        cases = make_cases(rng)
        check(len(cases) >= 1000, f"only {len(cases)} malformed requests")
        with v2.Server(repo, "--max-body-bytes", str(MAX_BODY), "--threads", "1") as s:
            session = requests.Session()
            good = json.dumps({"inputs": valid_inputs(rng)}).encode()
            rss = []
            by_kind = {}
            for n, (kind, case) in enumerate(cases):
                try:
                    r = run_case(session, s.url, case)
                    body = r.json()
                    ok = 400 <= r.status_code < 500 and isinstance(body.get("error"), str) and body["error"]
                    ok = ok and r.headers.get("Content-Type", "").startswith("application/json")
                    detail = f"{r.status_code} {r.text[:120]}"
                except Exception as e:  # noqa: BLE001
                    ok, detail = False, repr(e)
                    session = requests.Session()
                by_kind[kind] = by_kind.get(kind, 0) + 1
                check(ok, f"{kind} (case {n}): {detail}")
                if n % 100 == 99:
                    r = session.post(s.url + "/v2/models/qa/infer", data=good)
                    check(r.status_code == 200, f"valid request after {n + 1} malformed ones: {r.status_code} {r.text[:200]}")
                    check(s.alive(), f"server died after case {n}")
                if n in (300, len(cases) - 1):
                    rss.append(s.rss_kb())
            growth = rss[1] - rss[0]
            # AddressSanitizer keeps freed blocks in quarantine (up to 256 MB): RSS says nothing there, and
            # LeakSanitizer checks for leaks at the server's exit instead (a leak fails the exit code)
            limit = 8 * 1024 if os.environ.get("BERT_SANITIZED") != "1" else 256 * 1024
            check(growth < limit, f"RSS grew by {growth} kB over {len(cases) - 300} malformed requests")
            r = session.post(s.url + "/v2/models/qa/infer", data=good)
            check(r.status_code == 200 and len(r.json()["outputs"]) == 2, "valid request at the end")
            stats = session.get(s.url + "/v2/models/qa/stats").json()["model_stats"][0]["inference_stats"]
            # every malformed POST to qa counts as a failure of the model, except oversized bodies (refused
            # before the body is read, so before the request reaches the model)
            qa_cases = sum(1 for k, c in cases if c["path"] == "/v2/models/qa/infer" and c["method"] == "POST" and k != "oversized")
            check(stats["fail"]["count"] == qa_cases, f"fail count {stats['fail']['count']} != {qa_cases} malformed qa requests")
            check(s.stop() == 0, "exit code after the fuzzing")
        print(f"{len(cases)} malformed requests of {len(by_kind)} kinds, RSS {rss[0]} -> {rss[1]} kB")
    check.finish("serve fuzz", t0)


if __name__ == "__main__":
    main()
