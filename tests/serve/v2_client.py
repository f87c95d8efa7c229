"""Helpers of the serving tests (not a test itself): an independent KServe v2 HTTP client that
builds requests and reads responses the way tritonclient.http does (_utils._get_inference_request,
InferInput.set_data_from_numpy, InferRequestedOutput, InferResult), with only requests + numpy;
starting and stopping `bert serve`; writing small model repositories; and `bert infer --head qa`
as the reference for served logits."""
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import requests

BERT = os.environ.get("BERT_BIN", "build/bert")
BUILD = os.environ.get("BERT_BUILD", os.path.dirname(BERT) or "build")
MODEL_TOOL = os.path.join(BUILD, "tests", "tool_serve_model")

# A small BERT: 2 layers, hidden 64 (tests never serve BERT-base).
TINY_CONFIG = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
               "vocab_size": 512, "max_position_embeddings": 128, "type_vocab_size": 2, "hidden_act": "gelu"}

class Checks:
    """check(cond, what) records a failure and carries on (thread-safe); finish() reports and exits."""

    def __init__(self):
        self.failures, self._lock = [], threading.Lock()

    def __call__(self, cond, what):
        if not cond:
            with self._lock:
                self.failures.append(what)
        return cond

    def finish(self, name, t0, most=40):
        for f in self.failures[:most]:
            print("FAIL:", f)
        print(f"{name}: {len(self.failures)} failures ({time.time() - t0:.1f} s)")
        sys.exit(1 if self.failures else 0)


_NP_TO_TRITON = {np.dtype(np.bool_): "BOOL", np.dtype(np.int8): "INT8", np.dtype(np.int16): "INT16",
                 np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64", np.dtype(np.uint8): "UINT8",
                 np.dtype(np.float16): "FP16", np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64"}
_TRITON_TO_NP = {v: k for k, v in _NP_TO_TRITON.items()}


def np_to_triton_dtype(dtype):
    if dtype == np.object_ or dtype.type == np.bytes_:
        return "BYTES"
    return _NP_TO_TRITON[np.dtype(dtype)]


def serialize_byte_tensor(arr):
    """tritonclient.utils.serialize_byte_tensor: each element a 4-byte little-endian length + bytes."""
    out = b""
    for obj in np.nditer(arr, flags=["refs_ok"], order="C"):
        item = obj.item()
        b = item if isinstance(item, bytes) else str(item).encode()
        out += struct.pack("<I", len(b)) + b
    return out


class InferInput:
    def __init__(self, name, shape, datatype):
        self._name, self._shape, self._datatype = name, list(shape), datatype
        self._parameters, self._data, self._raw_data = {}, None, None

    def set_data_from_numpy(self, tensor, binary_data=True):
        if np_to_triton_dtype(tensor.dtype) != self._datatype:
            raise ValueError("dtype mismatch")
        if list(tensor.shape) != self._shape:
            raise ValueError("shape mismatch")
        if not binary_data:
            self._parameters.pop("binary_data_size", None)
            self._raw_data = None
            if self._datatype == "BYTES":
                self._data = [x.decode() if isinstance(x, bytes) else str(x) for x in tensor.flatten()]
            else:
                self._data = [v.item() for v in tensor.flatten()]
        else:
            self._data = None
            self._raw_data = serialize_byte_tensor(tensor) if self._datatype == "BYTES" else tensor.tobytes()
            self._parameters["binary_data_size"] = len(self._raw_data)

    def _get_binary_data(self):
        return self._raw_data

    def _get_tensor(self):
        tensor = {"name": self._name, "shape": self._shape, "datatype": self._datatype}
        if self._parameters:
            tensor["parameters"] = self._parameters
        if self._raw_data is None and self._data is not None:
            tensor["data"] = self._data
        return tensor


class InferRequestedOutput:
    def __init__(self, name, binary_data=True):
        self._name = name
        self._parameters = {"binary_data": binary_data}

    def _get_tensor(self):
        return {"name": self._name, "parameters": self._parameters}


def get_inference_request(inputs, request_id="", outputs=None, custom_parameters=None):
    """tritonclient.http._utils._get_inference_request: (body, json_size or None)."""
    infer_request, parameters = {}, {}
    if request_id != "":
        infer_request["id"] = request_id
    infer_request["inputs"] = [i._get_tensor() for i in inputs]
    if outputs:
        infer_request["outputs"] = [o._get_tensor() for o in outputs]
    else:
        parameters["binary_data_output"] = True
    if custom_parameters:
        parameters.update(custom_parameters)
    if parameters:
        infer_request["parameters"] = parameters
    request_json = json.dumps(infer_request)
    body = [request_json.encode()]
    for i in inputs:
        raw = i._get_binary_data()
        if raw is not None:
            body.append(raw)
    if len(body) == 1:
        return body[0], None
    return b"".join(body), len(request_json)


class InferResult:
    """tritonclient.http.InferResult over a requests response."""

    def __init__(self, response):
        header_length = response.headers.get("Inference-Header-Content-Length")
        content = response.content
        if header_length is None:
            self._result, self._buffer = json.loads(content), b""
        else:
            n = int(header_length)
            self._result, self._buffer = json.loads(content[:n]), content[n:]
        self._offsets, index = {}, 0
        for out in self._result["outputs"]:
            size = out.get("parameters", {}).get("binary_data_size")
            if size is not None:
                self._offsets[out["name"]] = (index, size)
                index += size
        self.binary_bytes = len(self._buffer)

    def get_response(self):
        return self._result

    def as_numpy(self, name):
        for out in self._result["outputs"]:
            if out["name"] != name:
                continue
            if name in self._offsets:
                start, size = self._offsets[name]
                arr = np.frombuffer(self._buffer[start:start + size], dtype=_TRITON_TO_NP[out["datatype"]])
            else:
                arr = np.array(out["data"], dtype=_TRITON_TO_NP[out["datatype"]])
            return arr.reshape(out["shape"])
        return None


class ServerError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


class Client:
    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def get(self, path):
        return self.session.get(self.url + path, timeout=60)

    def infer(self, model, inputs, outputs=None, request_id="", custom_parameters=None, version=""):
        body, json_size = get_inference_request(inputs, request_id, outputs, custom_parameters)
        headers = {}
        if json_size is not None:
            headers["Inference-Header-Content-Length"] = str(json_size)
        path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
        r = self.session.post(self.url + path, data=body, headers=headers, timeout=120)
        if r.status_code != 200:
            raise ServerError(r.status_code, r.text)
        return InferResult(r)


class Server:
    """`bert serve` on free ports (HTTP, and gRPC unless --no-grpc or a --grpc-port is given);
    stop() sends SIGTERM and returns the exit code."""

    def __init__(self, repo, *extra):
        self.log = tempfile.TemporaryFile(mode="w+")
        grpc = [] if "--no-grpc" in extra or "--grpc-port" in extra else ["--grpc-port", "0"]
        self.proc = subprocess.Popen([BERT, "serve", "--model-repository", repo, "--http-port", "0", *grpc, *extra],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.port, self.metrics_port, self.grpc_port = None, None, None
        want_grpc = "--no-grpc" not in extra
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            m = re.search(r"metrics on http://[^:]+:(\d+)/metrics", line)
            if m:
                self.metrics_port = int(m.group(1))
            m = re.search(r"grpc listening on \S+:(\d+)", line)
            if m:
                self.grpc_port = int(m.group(1))
            if self.port and ("--metrics-port" not in extra or self.metrics_port) and (not want_grpc or self.grpc_port):
                break
        if not self.port:
            raise RuntimeError("bert serve did not start: " + self.stderr())
        self.url = f"http://127.0.0.1:{self.port}"

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -999

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def pbtxt(name, inputs, outputs, max_batch_size=8, extra="", backend="bertc"):
    """A config.pbtxt; inputs/outputs are (name, TYPE_*, dims) triples."""
    def block(kind, items):
        rows = ",\n".join(f'  {{ name: "{n}" data_type: {t} dims: [ {", ".join(str(d) for d in dims)} ] }}'
                          for n, t, dims in items)
        return f"{kind} [\n{rows}\n]\n"
    return (f'name: "{name}"\nbackend: "{backend}"\nmax_batch_size: {max_batch_size}\n' + block("input", inputs) +
            block("output", outputs) + extra)


QA_INPUTS = [("input_ids", "TYPE_INT32", [-1]), ("attention_mask", "TYPE_INT32", [-1]), ("token_type_ids", "TYPE_INT32", [-1])]
QA_OUTPUTS = [("start_logits", "TYPE_FP32", [-1]), ("end_logits", "TYPE_FP32", [-1])]
QA_TEXT_NBEST = {"nbest_answer": "TYPE_STRING", "nbest_score": "TYPE_FP32", "nbest_probability": "TYPE_FP32",
                 "nbest_start": "TYPE_INT32", "nbest_end": "TYPE_INT32"}


def qa_text_pbtxt(name, nbest=None):
    """A "bertc-qa-text" config.pbtxt on 64-token windows sharing 16 (`bert qa --max-seq-length 64
    --doc-stride 16`); nbest maps the n-best outputs to declare to their dims N."""
    outputs = [("answer", "TYPE_STRING", [1]), ("score", "TYPE_FP32", [1]), ("start", "TYPE_INT32", [1]),
               ("end", "TYPE_INT32", [1])] + [(n, QA_TEXT_NBEST[n], [k]) for n, k in (nbest or {}).items()]
    params = ('parameters [\n  { key: "max_seq_length" value: { string_value: "64" } },\n'
              '  { key: "doc_stride" value: { string_value: "16" } }\n]\n')
    return pbtxt(name, [("question", "TYPE_STRING", [1]), ("context", "TYPE_STRING", [1])], outputs, 4,
                 "dynamic_batching { max_queue_delay_microseconds: 2000 }\n" + params, backend="bertc-qa-text")


def write_model(repo, name, config_pbtxt, config=None, weights_seed=None):
    """repo/name/config.pbtxt and repo/name/1/ (config.json, plus weights drawn from weights_seed)."""
    version = os.path.join(repo, name, "1")
    os.makedirs(version, exist_ok=True)
    with open(os.path.join(repo, name, "config.pbtxt"), "w") as f:
        f.write(config_pbtxt)
    with open(os.path.join(version, "config.json"), "w") as f:
        json.dump(config or TINY_CONFIG, f)
    if weights_seed is not None:
        subprocess.run([MODEL_TOOL, os.path.join(version, "config.json"), version, str(weights_seed)], check=True)
    return version


def random_rows(rng, count, min_len, max_len, vocab=512):
    """Unpadded rows: (ids, types) with types 0 then 1."""
    rows = []
    for _ in range(count):
        n = int(rng.integers(min_len, max_len + 1))
        ids = rng.integers(1, vocab, size=n).astype(np.int32)
        types = (np.arange(n) >= n // 2).astype(np.int32)
        rows.append((ids, types))
    return rows


def pad_rows(rows, length):
    """[B, length] ids, mask, types with the rows' real tokens first."""
    b = len(rows)
    ids, mask, types = (np.zeros((b, length), np.int32) for _ in range(3))
    for i, (r_ids, r_types) in enumerate(rows):
        n = len(r_ids)
        ids[i, :n], mask[i, :n], types[i, :n] = r_ids, 1, r_types
    return ids, mask, types


def bert_infer_qa(model_dir, rows):
    """start/end logits of every row by `bert infer --head qa`, each row alone and unpadded."""
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in.jsonl"), os.path.join(d, "out.jsonl")
        with open(inp, "w") as f:
            for ids, types in rows:
                f.write(json.dumps({"input_ids": ids.tolist(), "token_type_ids": types.tolist()}) + "\n")
        subprocess.run([BERT, "infer", "--model", model_dir, "--head", "qa", "--input", inp, "--output", out],
                       check=True, capture_output=True)
        res = [json.loads(line) for line in open(out)]
    return [(np.array(r["start_logits"], np.float32), np.array(r["end_logits"], np.float32)) for r in res]


def close(got, want, rtol=1e-5, atol=1e-5):
    return bool(np.all(np.abs(got.astype(np.float64) - want) <= atol + rtol * np.abs(want)))


def check_logits(served, rows, expected, rtol=1e-5, atol=1e-5):
    """served: (start [B, L], end [B, L]); expected: per row (start, end) from bert_infer_qa.
    Returns a list of problems (empty when real positions match and padded ones are -10000)."""
    problems = []
    for k, which in enumerate(("start", "end")):
        arr = served[k]
        for i, (ids, _) in enumerate(rows):
            n = len(ids)
            if not close(arr[i, :n], expected[i][k], rtol, atol):
                worst = float(np.max(np.abs(arr[i, :n] - expected[i][k])))
                problems.append(f"{which} row {i}: differs from bert infer by {worst:.3g}")
            if not np.all(arr[i, n:] == -10000.0):
                problems.append(f"{which} row {i}: padded positions are not -10000")
    return problems


def metric(text, name, model):
    m = re.search(rf'^{name}{{model="{model}",version="1"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None
