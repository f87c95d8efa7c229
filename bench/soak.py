#!/usr/bin/python3
"""bench/soak.py: the server soak of issue 13 (a benchmark, not a test: it takes 10 minutes).

Starts `bert serve` on a small BERT (2 layers, 64 wide, 128 tokens, random weights) with HTTP and
gRPC, then:
  1. quiet: CLIENTS clients send only valid requests for QUIET seconds -> the quiet p99;
  2. soak: the same clients for DURATION seconds send a mix — valid requests over HTTP and gRPC,
     malformed ones (broken JSON, wrong data types and shapes, junk protobuf, oversize bodies)
     and abandoned ones (an HTTP client that leaves mid-body or right after sending, a gRPC call
     cancelled in flight) — while the server's RSS is sampled.
Reports: requests by kind, every valid request answered exactly once with its own id (counted by
id), malformed ones refused with the right code, RSS at the start / end / peak of the soak, and
the p99 of valid requests during the soak against the quiet p99 (target <= 2x).

  /usr/bin/python3 bench/soak.py [--duration 600] [--quiet 60] [--clients 8] [--bert build/bert]
"""
import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "serve"))
import grpc  # noqa: E402

LENGTH = 128
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
def stubs():
    out = tempfile.mkdtemp(prefix="bertc_soak_stubs_")
    from grpc_tools import protoc
    proto = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "serve", "proto")
    if protoc.main(["protoc", f"-I{proto}", f"--python_out={out}", f"--grpc_python_out={out}", "grpc_service.proto"]):
        sys.exit("soak: grpc_tools.protoc failed")
    sys.path.insert(0, out)
    import grpc_service_pb2 as pb
    import grpc_service_pb2_grpc as pbg
    return pb, pbg


pb, pbg = stubs()


def tensors(rid):
    rng = np.random.default_rng(rid)
    n = int(rng.integers(8, LENGTH + 1))
    ids = np.zeros((1, LENGTH), np.int32)
    ids[0, :n] = rng.integers(1, 512, size=n)
    return ids, (ids > 0).astype(np.int32), np.zeros((1, LENGTH), np.int32)


def http_body(rid):
    ts = tensors(rid)
    header = json.dumps({"id": str(rid), "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, LENGTH], "parameters": {"binary_data_size": t.nbytes}}
        for n, t in zip(INPUTS, ts)], "parameters": {"binary_data_output": True}}).encode()
    return header + b"".join(t.tobytes() for t in ts), len(header)


def grpc_request(rid):
    req = pb.ModelInferRequest(model_name="small", id=str(rid))
    for n, t in zip(INPUTS, tensors(rid)):
        req.inputs.add(name=n, datatype="INT32", shape=[1, LENGTH])
        req.raw_input_contents.append(t.tobytes())
    return req


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent, self.answered, self.counts, self.latency, self.problems = set(), {}, {}, [], []

    def count(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def valid(self, rid, got_id, seconds):
        with self.lock:
            self.answered[got_id] = self.answered.get(got_id, 0) + 1
            if got_id != str(rid):
                self.problems.append(f"request {rid} answered with id {got_id}")
            self.latency.append(seconds)

    def problem(self, text):
        with self.lock:
            if len(self.problems) < 50:
                self.problems.append(text)


def valid_http(session, url, rid, tally):
    body, hlen = http_body(rid)
    t0 = time.perf_counter()
    r = session.post(url + "/v2/models/small/infer", data=body, headers={"Inference-Header-Content-Length": str(hlen)}, timeout=60)
    dt = time.perf_counter() - t0
    if r.status_code != 200:
        tally.problem(f"valid HTTP request {rid}: {r.status_code} {r.text[:200]}")
        return
    n = int(r.headers["Inference-Header-Content-Length"])
    tally.valid(rid, json.loads(r.content[:n]).get("id"), dt)


def valid_grpc(stub, rid, tally):
    t0 = time.perf_counter()
    try:
        resp = stub.ModelInfer(grpc_request(rid), timeout=60)
    except grpc.RpcError as e:
        tally.problem(f"valid gRPC request {rid}: {e.code()} {e.details()}")
        return
    tally.valid(rid, resp.id, time.perf_counter() - t0)


def malformed(session, url, stub, rnd, tally):
    kind = rnd.randrange(5)
    if kind == 0:
        r = session.post(url + "/v2/models/small/infer", data=b'{"inputs": [ {"name": "input_ids", ', timeout=60)
        ok = r.status_code == 400
    elif kind == 1:
        body = json.dumps({"inputs": [{"name": "input_ids", "datatype": "FP32", "shape": [1, LENGTH], "data": [0.0] * LENGTH}]})
        ok = session.post(url + "/v2/models/small/infer", data=body, timeout=60).status_code == 400
    elif kind == 2:
        ok = session.post(url + "/v2/models/small/infer", data=b"x" * (2 << 20), timeout=60).status_code == 413
    elif kind == 3:
        raw = stub._channel.unary_unary("/inference.GRPCInferenceService/ModelInfer", request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        try:
            raw(bytes(rnd.randrange(256) for _ in range(64)), timeout=60)
            ok = False
        except grpc.RpcError as e:
            # random bytes now and then decode as a ModelInferRequest (unknown fields are skipped)
            # naming no model or a garbled one: NOT_FOUND is then the right answer
            ok = e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    else:
        req = grpc_request(0)
        req.inputs[0].shape[:] = [1, LENGTH + 1]
        try:
            stub.ModelInfer(req, timeout=60)
            ok = False
        except grpc.RpcError as e:
            ok = e.code() == grpc.StatusCode.INVALID_ARGUMENT
    names = ("broken JSON", "wrong datatype", "oversize body", "junk protobuf", "wrong shape (gRPC)")
    tally.count(f"malformed {'ok' if ok else 'WRONG CODE'}")
    if not ok:
        tally.problem(f"malformed request ({names[kind]}) got an unexpected answer")


def abandoned(port, stub, rid, rnd):
    kind = rnd.randrange(3)
    if kind == 2:
        stub.ModelInfer.future(grpc_request(rid)).cancel()
        return
    body, hlen = http_body(rid)
    head = (f"POST /v2/models/small/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Inference-Header-Content-Length: {hlen}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head + (body[: len(body) // 2] if kind == 0 else body))
    s.close()


def client(k, server, until, mixed, tally):
    rnd = random.Random(k * 7919 + (1 if mixed else 0))
    session = requests.Session()
    stub = pbg.GRPCInferenceServiceStub(grpc.insecure_channel(f"127.0.0.1:{server['grpc']}"))
    stub._channel = grpc.insecure_channel(f"127.0.0.1:{server['grpc']}")
    url = f"http://127.0.0.1:{server['http']}"
    i = 0
    while time.time() < until:
        rid = (k + 1) * 10_000_000 + (5_000_000 if mixed else 0) + i
        i += 1
        r = rnd.random() if mixed else 0.0
        try:
            if r < 0.80:
                tally.count("valid")
                (valid_http(session, url, rid, tally) if rid % 2 else valid_grpc(stub, rid, tally))
            elif r < 0.90:
                malformed(session, url, stub, rnd, tally)
            else:
                tally.count("abandoned")
                abandoned(server["http"], stub, rid, rnd)
        except Exception as e:  # a transport failure of a valid request is a finding, counted
            tally.problem(f"client {k} request {rid}: {type(e).__name__}: {e}")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def phase(name, server, clients, seconds, mixed, rss_samples):
    tally = Tally()
    until = time.time() + seconds
    threads = [threading.Thread(target=client, args=(k, server, until, mixed, tally)) for k in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        rss_samples.append((time.time(), rss_kb(server["pid"])))
        time.sleep(5)
    lat = np.array(tally.latency) * 1000
    p50, p99 = (np.percentile(lat, 50), np.percentile(lat, 99)) if len(lat) else (float("nan"), float("nan"))
    twice = sum(1 for v in tally.answered.values() if v > 1)
    print(f"== {name}: {seconds:.0f} s, {clients} clients: {dict(sorted(tally.counts.items()))}")
    print(f"   valid answered {len(tally.latency)}, answered twice {twice}, problems {len(tally.problems)}; "
          f"latency p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    for p in tally.problems[:10]:
        print("   problem:", p)
    return tally, p99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--quiet", type=float, default=60)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--bert", default=os.environ.get("BERT_BIN", "build/bert"))
    a = ap.parse_args()
    repo = tempfile.mkdtemp(prefix="bertc_soak_")
    # the serving tests' model (vocabulary of 512, batches of up to 8 waiting 500 us)
    small_repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "serve", "small_repo.sh")
    subprocess.run(["bash", "-c", '. "$0" && small_repo "$1" 512 8 500', small_repo, repo], check=True)
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([a.bert, "serve", "--model-repository", repo, "--http-port", "0", "--grpc-port", "0",
                             "--max-body-bytes", "1048576"], stdout=subprocess.PIPE, stderr=log, text=True)
    server = {"pid": proc.pid}
    for line in proc.stdout:
        if m := re.search(r"listening on http://\S+:(\d+)", line):
            server["http"] = int(m.group(1))
        if m := re.search(r"grpc listening on \S+:(\d+)", line):
            server["grpc"] = int(m.group(1))
            break
    samples = []
    quiet, quiet_p99 = phase("quiet (valid requests only)", server, a.clients, a.quiet, False, samples)
    soak_samples = []
    soak, soak_p99 = phase("soak (mixed valid, malformed, abandoned)", server, a.clients, a.duration, True, soak_samples)
    alive = proc.poll() is None
    proc.terminate()
    rc = proc.wait(60)
    rss = [kb for _, kb in soak_samples]
    lost = soak.counts.get("valid", 0) - len(soak.latency)
    twice = sum(1 for v in soak.answered.values() if v > 1)
    print(f"== RSS during the soak: start {rss[0] / 1024:.1f} MiB, end {rss[-1] / 1024:.1f} MiB, peak {max(rss) / 1024:.1f} MiB "
          f"({len(rss)} samples, 5 s apart); each minute: " + " ".join(f"{kb / 1024:.1f}" for kb in rss[::12]))
    print(f"== valid requests lost {lost}, answered twice {twice}; malformed with a wrong code "
          f"{soak.counts.get('malformed WRONG CODE', 0)}; server alive at the end {alive}, exit {rc}")
    ratio = soak_p99 / quiet_p99
    print(f"== p99 during the soak {soak_p99:.2f} ms vs quiet {quiet_p99:.2f} ms = {ratio:.2f}x (target <= 2) "
          f"{'ok' if ratio <= 2 else 'MISSED'}")
    ok = alive and rc == 0 and lost == 0 and twice == 0 and not soak.counts.get("malformed WRONG CODE") and not soak.problems
    print("soak:", "ok" if ok else "PROBLEMS")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
