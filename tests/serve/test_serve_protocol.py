"""bert serve speaks KServe v2 / Triton HTTP: health, metadata, config, readiness, versions and
errors of every endpoint, HEAD without a body; inference with binary and JSON tensors (built as
tritonclient builds them) and outputs equal to `bert infer --head qa` on real positions (-10000 on
padded ones) for HF-named and positional models, INT64 inputs, FP16 outputs, packing and padding,
two instances and the random-weights path; the raw binary request; "outputs": [] as every output;
a JSON header longer than any valid request refused (413) before it is parsed; statistics and
/metrics counters that agree with what was sent; dynamic batching (queue delay, preferred sizes);
--metrics-port; --max-body-bytes; a graceful SIGTERM with requests in flight; --help of serve and
bench-serve."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

check = v2.Checks()


def make_repo(root):
    """Models over the same weights (seed 7): `qa` saved with weights, the others drawn at load."""
    repo = os.path.join(root, "repo")
    v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 8, "dynamic_batching { }\n"), weights_seed=7)
    fixed_in = [("input_0", "TYPE_INT32", [64]), ("input_1", "TYPE_INT32", [64]), ("input_2", "TYPE_INT32", [64])]
    fixed_out = [("output_0", "TYPE_FP32", [64]), ("output_1", "TYPE_FP32", [64])]
    seed = 'parameters { key: "random_seed" value: { string_value: "7" } }\n'
    v2.write_model(repo, "bert", v2.pbtxt("bert", fixed_in, fixed_out, 4, "dynamic_batching { }\n" + seed))
    v2.write_model(repo, "bert16", v2.pbtxt("bert16", [(n, "TYPE_INT64", d) for n, _, d in fixed_in],
                                            [(n, "TYPE_FP16", d) for n, _, d in fixed_out], 4, seed))
    v2.write_model(repo, "batched", v2.pbtxt("batched", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                             "dynamic_batching { max_queue_delay_microseconds: 1000000 }\n" + seed))
    v2.write_model(repo, "pref", v2.pbtxt("pref", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                          "dynamic_batching { preferred_batch_size: [ 2 ] max_queue_delay_microseconds: 5000000 }\n" + seed))
    v2.write_model(repo, "padded", v2.pbtxt("padded", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                            "dynamic_batching { }\ninstance_group [ { kind: KIND_CPU count: 2 } ]\n" + seed +
                                            'parameters { key: "packing" value: { string_value: "false" } }\n'))
    v2.write_model(repo, "ids_only", v2.pbtxt("ids_only", [("input_ids", "TYPE_INT32", [-1])],
                                              [("start_logits", "TYPE_FP32", [-1])], 0, seed))
    v2.write_model(repo, "qa8", v2.pbtxt("qa8", v2.QA_INPUTS, v2.QA_OUTPUTS, 8, "dynamic_batching { }\n" +
                                         'parameters { key: "precision" value: { string_value: "int8" } }\n'),
                   weights_seed=7)
    os.makedirs(os.path.join(repo, ".hidden"))  # skipped, as Triton does
    return repo


def qa_inputs(ids, mask, types, binary=(True, True, True), names=("input_ids", "attention_mask", "token_type_ids")):
    inputs = []
    for name, arr, b in zip(names, (ids, mask, types), binary):
        i = v2.InferInput(name, arr.shape, v2.np_to_triton_dtype(arr.dtype))
        i.set_data_from_numpy(arr, binary_data=b)
        inputs.append(i)
    return inputs


def test_endpoints(c):
    r = c.get("/v2/health/live")
    check(r.status_code == 200 and r.content == b"", f"live: {r.status_code} {r.content!r}")
    r = c.get("/v2/health/ready")
    check(r.status_code == 200 and r.content == b"", f"ready: {r.status_code}")
    meta = c.get("/v2").json()
    check(meta["name"] == "bertc" and "version" in meta, f"server metadata {meta}")
    check({"binary_tensor_data", "model_configuration", "statistics"} <= set(meta["extensions"]), "extensions")
    m = c.get("/v2/models/bert").json()
    check(m["name"] == "bert" and m["versions"] == ["1"] and m["platform"] == "bertc", f"model metadata {m}")
    check(m["inputs"][0] == {"name": "input_0", "datatype": "INT32", "shape": [-1, 64]}, f"inputs {m['inputs']}")
    check(m["outputs"][1] == {"name": "output_1", "datatype": "FP32", "shape": [-1, 64]}, f"outputs {m['outputs']}")
    check(c.get("/v2/models/ids_only").json()["inputs"][0]["shape"] == [-1], "max_batch_size 0 has no batch dim")
    cfg = c.get("/v2/models/bert/config").json()
    check(cfg["max_batch_size"] == 4 and cfg["backend"] == "bertc", f"config {cfg}")
    check(cfg["input"][0]["data_type"] == "TYPE_INT32" and cfg["input"][0]["dims"] == [64], "config dims without batch")
    check("dynamic_batching" in cfg and cfg["instance_group"][0]["count"] == 1, "config batching/instances")
    check(cfg["parameters"]["random_seed"] == {"string_value": "7"}, "config parameters")
    pcfg = c.get("/v2/models/padded/config").json()
    check(pcfg["dynamic_batching"]["preferred_batch_size"] == [] and pcfg["instance_group"][0]["count"] == 2, f"padded config {pcfg}")
    pref = c.get("/v2/models/pref/config").json()["dynamic_batching"]
    check(pref == {"preferred_batch_size": [2], "max_queue_delay_microseconds": 5000000, "preserve_ordering": False}, f"pref {pref}")
    check("dynamic_batching" not in c.get("/v2/models/bert16/config").json(), "no dynamic_batching block")
    for path in ("/v2/models/bert/ready", "/v2/models/bert/versions/1/ready", "/v2/models/bert/versions/1",
                 "/v2/models/bert/versions/1/config", "/v2/models/bert/versions/1/stats"):
        check(c.get(path).status_code == 200, f"GET {path}")
    for path, code in (("/v2/models/nope", 404), ("/v2/models/nope/ready", 404), ("/v2/models/bert/versions/2/ready", 404),
                       ("/v2/models/.hidden", 404), ("/v2/nothing", 404), ("/", 404), ("/qa", 404), ("/v2/models/bert/extra", 404)):
        r = c.get(path)
        check(r.status_code == code and "error" in r.json(), f"GET {path}: {r.status_code} {r.text[:100]}")
    for path in ("/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/bert", "/v2/models/bert/config", "/metrics"):
        r = c.session.head(c.url + path)
        check(r.status_code == 200 and r.content == b"", f"HEAD {path}: {r.status_code} {r.content[:80]!r}")
    r = c.session.head(c.url + "/v2/models/nope")
    check(r.status_code == 404 and r.content == b"", f"HEAD of an unknown model: {r.status_code}")
    r = c.session.post(c.url + "/v2/health/live")
    check(r.status_code == 405 and "error" in r.json() and "GET" in r.headers.get("Allow", ""), f"POST live: {r.status_code}")
    r = c.get("/v2/models/bert/infer")
    check(r.status_code == 405 and r.headers.get("Allow") == "POST", f"GET infer: {r.status_code}")


def test_inference(c, repo, rng):
    rows = v2.random_rows(rng, 6, 3, 40)
    expected = v2.bert_infer_qa(os.path.join(repo, "qa", "1"), rows)
    # HF names, variable length: binary in, binary out (tritonclient's defaults)
    ids, mask, types = v2.pad_rows(rows, 40)
    res = c.infer("qa", qa_inputs(ids, mask, types), [v2.InferRequestedOutput("start_logits"),
                                                       v2.InferRequestedOutput("end_logits")], request_id="req-7")
    check(res.get_response()["id"] == "req-7" and res.get_response()["model_name"] == "qa", "id / model_name echo")
    check(res.get_response()["model_version"] == "1", "model_version")
    served = (res.as_numpy("start_logits"), res.as_numpy("end_logits"))
    check(served[0].shape == (6, 40) and served[0].dtype == np.float32, f"shape {served[0].shape}")
    for p in v2.check_logits(served, rows, expected):
        check(False, "qa binary: " + p)
    # JSON inputs and outputs, one output only
    res = c.infer("qa", qa_inputs(ids, mask, types, (False, False, False)), [v2.InferRequestedOutput("end_logits", False)])
    out = res.get_response()["outputs"]
    check(len(out) == 1 and "data" in out[0] and res.binary_bytes == 0, "JSON output")
    check(v2.close(res.as_numpy("end_logits")[:, :3], np.array([e[1][:3] for e in expected])), "JSON end logits")
    # mixed: one JSON input, one output binary and one JSON; no outputs named -> all binary
    res = c.infer("qa", qa_inputs(ids, mask, types, (True, False, True)),
                  [v2.InferRequestedOutput("start_logits", True), v2.InferRequestedOutput("end_logits", False)])
    for p in v2.check_logits((res.as_numpy("start_logits"), res.as_numpy("end_logits")), rows, expected):
        check(False, "qa mixed: " + p)
    res = c.infer("qa", qa_inputs(ids, mask, types))
    check(all("binary_data_size" in o.get("parameters", {}) for o in res.get_response()["outputs"]), "binary_data_output")
    # "outputs": [] means every output (Triton), not none
    body, json_size = v2.get_inference_request(qa_inputs(ids, mask, types, (False, False, False)))
    body = json.loads(body)
    body["outputs"] = []
    body.pop("parameters")  # JSON outputs
    r = c.session.post(c.url + "/v2/models/qa/infer", json=body)
    got = sorted(o["name"] for o in r.json().get("outputs", [])) if r.status_code == 200 else r.text[:200]
    check(got == ["end_logits", "start_logits"], f'"outputs": [] returned {got}')
    # nested JSON data is accepted as well as flat
    body = {"inputs": [{"name": n, "shape": [6, 40], "datatype": "INT32", "data": a.tolist()}
                       for n, a in (("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types))]}
    r = c.session.post(c.url + "/v2/models/qa/infer", json=body)
    check(r.status_code == 200 and r.headers["Content-Type"].startswith("application/json"), f"nested JSON: {r.status_code}")

    # positional fixed-length model with weights drawn from the same seed; INT64 in, FP16 out
    ids, mask, types = v2.pad_rows(rows[:4], 64)
    for model, cast, rtol in (("bert", np.int32, 1e-5), ("bert16", np.int64, 1e-3)):
        res = c.infer(model, qa_inputs(ids.astype(cast), mask.astype(cast), types.astype(cast), names=("input_0", "input_1", "input_2")))
        served = (res.as_numpy("output_0"), res.as_numpy("output_1"))
        check(served[0].dtype == (np.float16 if model == "bert16" else np.float32), f"{model} dtype {served[0].dtype}")
        for p in v2.check_logits(served, rows[:4], expected[:4], rtol=rtol):
            check(False, f"{model}: {p}")
    # padding instead of packing, two instances
    ids, mask, types = v2.pad_rows(rows, 40)
    res = c.infer("padded", qa_inputs(ids, mask, types))
    for p in v2.check_logits((res.as_numpy("start_logits"), res.as_numpy("end_logits")), rows, expected):
        check(False, "padded: " + p)
    # a mask with holes: the packed computation still equals the padded one on real tokens
    holes = mask.copy()
    holes[:, 1] = 0
    a = c.infer("qa", qa_inputs(ids, holes, types)).as_numpy("start_logits")
    b = c.infer("padded", qa_inputs(ids, holes, types)).as_numpy("start_logits")
    check(v2.close(a, b) and np.all(a[:, 1] == -10000), "mask with holes: packed != padded")
    # raw binary request: the body is the one input, batch 1 (max_batch_size 0: shape [L])
    raw = rows[0][0].astype(np.int32)
    r = c.session.post(c.url + "/v2/models/ids_only/infer", data=raw.tobytes(), headers={"Inference-Header-Content-Length": "0"})
    if check(r.status_code == 200, f"raw binary: {r.status_code} {r.text[:200]}"):
        res = v2.InferResult(r)
        want = v2.bert_infer_qa(os.path.join(repo, "qa", "1"), [(raw, np.zeros_like(raw))])[0][0]
        check(res.as_numpy("start_logits").shape == (len(raw),) and v2.close(res.as_numpy("start_logits"), want), "raw values")


def test_int8(c, rng):
    """A model with parameter precision "int8" (same weights as `qa`): logits close to fp32's, not identical."""
    rows = v2.random_rows(rng, 5, 8, 48)
    ids, mask, types = v2.pad_rows(rows, 48)
    got = [c.infer(m, qa_inputs(ids, mask, types)) for m in ("qa", "qa8")]
    a, b = (np.stack([r.as_numpy("start_logits"), r.as_numpy("end_logits")]) for r in got)
    live = np.broadcast_to(mask.astype(bool), a.shape)
    err = float(np.abs(a - b)[live].max() / max(np.abs(a[live]).max(), 1e-6))
    print(f"int8 model vs fp32: logits differ by {err:.2e} of their largest value")
    check(0 < err < 0.05, f"int8 served logits differ from fp32 by {err:.3g} (expected 0 < e < 0.05)")
    cfg = c.get("/v2/models/qa8/config").json()
    check(cfg["parameters"]["precision"] == {"string_value": "int8"}, "int8 model configuration")


def stats_of(c, model):
    s = c.get(f"/v2/models/{model}/stats").json()["model_stats"]
    return s[0]


def test_counters(c, rng):
    """Statistics and metrics agree with what this test sends (differences over the test)."""
    def snapshot():
        st = stats_of(c, "bert16")
        text = c.get("/metrics").text
        return st, {k: v2.metric(text, k, "bert16") for k in (
            "nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count", "nv_inference_exec_count",
            "nv_inference_compute_infer_duration_us", "bertc_tokens_real_total", "bertc_tokens_computed_total")}, text

    s0, m0, _ = snapshot()
    rows_sent, ok, bad = 0, 0, 0
    for i in range(7):
        n = 1 + i % 4
        ids, mask, types = v2.pad_rows(v2.random_rows(rng, n, 2, 64), 64)
        c.infer("bert16", qa_inputs(ids.astype(np.int64), mask.astype(np.int64), types.astype(np.int64), names=("input_0", "input_1", "input_2")))
        rows_sent += n
        ok += 1
    for body in (b"{", b'{"inputs": []}', b'{"inputs": [{"name": "input_0"}]}'):
        r = c.session.post(c.url + "/v2/models/bert16/infer", data=body)
        check(r.status_code == 400, f"bad request {body!r}: {r.status_code}")
        bad += 1
    s1, m1, text = snapshot()
    i0, i1 = s0["inference_stats"], s1["inference_stats"]

    def d(key):
        return i1[key]["count"] - i0[key]["count"]

    check(d("success") == ok and d("fail") == bad, f"success/fail {i1['success']} {i1['fail']}")
    check(s1["inference_count"] - s0["inference_count"] == rows_sent, f"inference_count {s1['inference_count']} != +{rows_sent}")
    check(s1["execution_count"] - s0["execution_count"] == ok, "execution_count (no dynamic batching: one per request)")
    check(sum(b["compute_infer"]["count"] for b in s1["batch_stats"]) == s1["execution_count"], "batch_stats counts")
    check(sorted(b["batch_size"] for b in s1["batch_stats"]) == [1, 2, 3, 4], f"batch sizes {s1['batch_stats']}")
    for key in ("queue", "compute_input", "compute_infer", "compute_output"):
        check(d(key) == ok and i1[key]["ns"] > i0[key]["ns"], f"{key} {i1[key]}")
    check(i1["success"]["ns"] >= i1["compute_infer"]["ns"], "request time covers compute time")
    check(s1["last_inference"] > 1.6e12, "last_inference is ms since the epoch")
    check(m1["nv_inference_request_success"] == i1["success"]["count"], "metrics success = stats success")
    check(m1["nv_inference_request_success"] - m0["nv_inference_request_success"] == ok, "metrics success")
    check(m1["nv_inference_request_failure"] - m0["nv_inference_request_failure"] == bad, "metrics failure")
    check(m1["nv_inference_count"] - m0["nv_inference_count"] == rows_sent, "metrics inference count")
    check(m1["nv_inference_exec_count"] == s1["execution_count"], "metrics exec count")
    check(m1["nv_inference_compute_infer_duration_us"] == i1["compute_infer"]["ns"] // 1000, "metrics infer us")
    check(v2.metric(text, "nv_inference_pending_request_count", "bert16") == 0, "pending")
    check("nv_cpu_utilization " in text and "nv_cpu_memory_total_bytes " in text, "cpu metrics")
    check(f'bertc_batch_size_bucket{{model="bert16",version="1",le="+Inf"}} {s1["execution_count"]}' in text, "batch size histogram")
    real = m1["bertc_tokens_real_total"] - m0["bertc_tokens_real_total"]
    check(0 < real <= m1["bertc_tokens_computed_total"] - m0["bertc_tokens_computed_total"], "token counters")
    allstats = c.get("/v2/models/stats").json()["model_stats"]
    check(sorted(m["name"] for m in allstats) == ["batched", "bert", "bert16", "ids_only", "padded", "pref", "qa", "qa8"], "all-model stats")


def concurrent(c, model, rows):
    """One single-row request per row, all at once; returns the start logits and the wall time."""
    results = [None] * len(rows)

    def one(i):
        ids, mask, types = v2.pad_rows([rows[i]], 30)
        results[i] = v2.Client(c.url).infer(model, qa_inputs(ids, mask, types)).as_numpy("start_logits")

    t0 = time.time()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(rows))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.time() - t0


def test_json_bound(c, rng):
    """A JSON header longer than any valid request of the model (8 rows of at most 128 tokens) is a
    413 before it is parsed, at once and without holding up other calls; a valid one still works."""
    n = 4_000_000  # 8 MB of "1,": cJSON would spend seconds and hundreds of MB on it
    big = ('{"inputs":[{"name":"input_ids","shape":[1,%d],"datatype":"INT32","data":[' % n + "1," * (n - 1) + "1]}]}").encode()
    t0 = time.time()
    r = c.session.post(c.url + "/v2/models/qa/infer", data=big)
    took = time.time() - t0
    body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
    check(r.status_code == 413 and "longer than any valid request for model 'qa'" in body.get("error", ""),
          f"8 MB JSON header: {r.status_code} {r.text[:200]}")
    check(took < 2, f"8 MB JSON header took {took:.1f} s")
    t0 = time.time()
    check(c.get("/v2/health/live").status_code == 200 and time.time() - t0 < 0.5, "live after the 413")
    ids, mask, types = v2.pad_rows(v2.random_rows(rng, 8, 120, 128), 128)  # the largest valid request, as JSON
    res = c.infer("qa", qa_inputs(ids, mask, types, (False, False, False)), [v2.InferRequestedOutput("end_logits", False)])
    check(res.as_numpy("end_logits").shape == (8, 128), "the largest JSON request")


def test_batching(c, rng):
    """A 1 s queue delay gathers 8 concurrent single-row requests into one full batch, and holds a
    lone request that long; a preferred batch size leaves at once although the delay is 5 s."""
    rows = v2.random_rows(rng, 8, 4, 30)
    before = stats_of(c, "batched")["execution_count"]
    results, _ = concurrent(c, "batched", rows)
    after = stats_of(c, "batched")
    check(all(r is not None for r in results), "batched requests failed")
    check(after["execution_count"] - before < 8, f"8 concurrent requests took {after['execution_count'] - before} executions")
    check(any(b["batch_size"] > 1 for b in after["batch_stats"]), "no batch larger than 1")
    expected = v2.bert_infer_qa(os.path.join(c.repo, "qa", "1"), rows)
    for i in range(8):
        n = len(rows[i][0])
        check(v2.close(results[i][0, :n], expected[i][0]), f"batched row {i} differs")
    q0 = stats_of(c, "batched")["inference_stats"]["queue"]["ns"]
    _, elapsed = concurrent(c, "batched", rows[:1])
    waited = (stats_of(c, "batched")["inference_stats"]["queue"]["ns"] - q0) / 1e9
    check(0.95 <= waited and elapsed >= 0.95, f"a lone request waited {waited:.3f} s in the queue (delay 1 s)")
    _, elapsed = concurrent(c, "pref", rows[:2])
    check(elapsed < 4, f"a preferred batch of 2 waited {elapsed:.2f} s (delay 5 s)")
    check([b["batch_size"] for b in stats_of(c, "pref")["batch_stats"]] == [2], "preferred batch not executed as 2")


def test_limits_and_signals(root, repo, rng):
    with v2.Server(repo, "--max-body-bytes", "4096", "--metrics-port", "0", "--threads", "1") as s:
        c = v2.Client(s.url)
        r = c.session.post(s.url + "/v2/models/qa/infer", data=b"x" * 10000)
        check(r.status_code == 413 and "error" in r.json(), f"oversized body: {r.status_code}")
        check(c.get("/v2/health/ready").status_code == 200, "alive after 413")
        check(s.metrics_port is not None, "metrics port not printed")
        if s.metrics_port:
            r = requests.get(f"http://127.0.0.1:{s.metrics_port}/metrics")
            check(r.status_code == 200 and "nv_inference_count" in r.text, "metrics port")
            r = requests.get(f"http://127.0.0.1:{s.metrics_port}/v2")
            check(r.status_code == 404 and "error" in r.json(), "metrics port serves /metrics only")
    # SIGTERM with requests queued: a 30 s queue delay keeps them waiting; all still succeed at once
    slow = os.path.join(root, "slow")
    v2.write_model(slow, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                        "dynamic_batching { max_queue_delay_microseconds: 30000000 }\n"), weights_seed=7)
    s = v2.Server(slow)
    codes = []

    def one():
        ids, mask, types = v2.pad_rows(v2.random_rows(rng, 1, 5, 20), 20)
        try:
            v2.Client(s.url).infer("qa", qa_inputs(ids, mask, types))
            codes.append(200)
        except Exception as e:  # noqa: BLE001
            codes.append(str(e))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while time.time() < deadline and v2.metric(requests.get(s.url + "/metrics").text, "nv_inference_pending_request_count", "qa") != 4:
        time.sleep(0.05)
    t0 = time.time()
    rc = s.stop(signal.SIGTERM)
    check(time.time() - t0 < 15, "the stop waited for the queue delay")
    for t in threads:
        t.join()
    check(rc == 0, f"SIGTERM exit code {rc}: {s.stderr()}")
    check(codes == [200] * 4, f"requests in flight at SIGTERM: {codes}")
    check("stopped" in s.stderr(), "no stop message")


def test_cli():
    for cmd in ("serve", "bench-serve"):
        r = subprocess.run([v2.BERT, cmd, "--help"], capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.startswith(f"usage: bert {cmd}"), f"{cmd} --help")
    r = subprocess.run([v2.BERT, "serve"], capture_output=True, text=True)
    check(r.returncode == 2 and "--model-repository" in r.stderr, "serve without repository")
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad")
        v2.write_model(bad, "m", v2.pbtxt("m", v2.QA_INPUTS, v2.QA_OUTPUTS).replace("TYPE_INT32", "TYPE_FLOAT", 1))
        r = subprocess.run([v2.BERT, "serve", "--model-repository", bad, "--http-port", "0"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and "model 'm'" in r.stderr and "TYPE_FLOAT" in r.stderr and "config.pbtxt:" in r.stderr,
              f"bad config: {r.returncode} {r.stderr}")


def main():
    rng = np.random.default_rng(5)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as root:
        repo = make_repo(root)
        with v2.Server(repo, "--threads", "2") as s:
            c = v2.Client(s.url)
            c.repo = repo
            test_endpoints(c)
            test_inference(c, repo, rng)
            test_int8(c, rng)
            test_counters(c, rng)
            test_json_bound(c, rng)
            test_batching(c, rng)
            check(s.alive(), "server died")
            rc = s.stop()
            check(rc == 0, f"exit code {rc}")
            check("random_seed 7" in s.stderr(), "random initialisation not reported")
        test_limits_and_signals(root, repo, rng)
        test_cli()
    check.finish("serve protocol", t0)


if __name__ == "__main__":
    main()
