"""A load of 8 clients x 500 requests against one server, half over HTTP and half over gRPC, where
clients abandon requests at random: an HTTP client that leaves mid-body, one that leaves right
after sending (before the reply), a gRPC call cancelled in flight. Every request that was not
abandoned is answered exactly once with the right outputs (matched by id, compared with a
reference answer of the same rows), the server stays up, its statistics count every answered
request as a success, and it stops cleanly. Under `make check TSAN=1` this is the ThreadSanitizer
load (HTTP threads, gRPC threads, sender, batcher and instance threads all busy at once)."""
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402
import grpc  # noqa: E402

from test_serve_grpc import load_stubs  # noqa: E402  (stubs generated from the repo's proto)

check = v2.Checks()
pb, pbg = load_stubs()
CLIENTS = 8
REQUESTS = int(os.environ.get("BERT_LOAD_REQUESTS", "500"))
LENGTH = 16
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def rows_for(rid):
    rng = np.random.default_rng(rid)
    n = int(rng.integers(4, LENGTH + 1))
    ids = np.zeros((1, LENGTH), np.int32)
    ids[0, :n] = rng.integers(1, 500, size=n)
    mask = (ids > 0).astype(np.int32)
    types = np.zeros((1, LENGTH), np.int32)
    return ids, mask, types


def http_body(rid):
    tensors = rows_for(rid)
    header = json.dumps({"id": str(rid), "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, LENGTH], "parameters": {"binary_data_size": t.nbytes}}
        for n, t in zip(INPUTS, tensors)], "parameters": {"binary_data_output": True}}).encode()
    return header + b"".join(t.tobytes() for t in tensors), len(header)


def abandon_http(port, rid, mid_body):
    body, hlen = http_body(rid)
    head = (f"POST /v2/models/qa/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Inference-Header-Content-Length: {hlen}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head + (body[: len(body) // 2] if mid_body else body))
    s.close()


def http_client(k, port, answers, reference):
    import requests
    session = requests.Session()
    rnd = random.Random(k)
    for i in range(REQUESTS):
        rid = k * 100000 + i
        r = rnd.random()
        if r < 0.05:
            abandon_http(port, rid, mid_body=rnd.random() < 0.5)
            continue
        body, hlen = http_body(rid)
        resp = session.post(f"http://127.0.0.1:{port}/v2/models/qa/infer", data=body,
                            headers={"Inference-Header-Content-Length": str(hlen)}, timeout=120)
        if not check(resp.status_code == 200, f"HTTP request {rid}: {resp.status_code} {resp.text[:200]}"):
            continue
        res = v2.InferResult(resp)
        answers.append((res.get_response().get("id"), res.as_numpy("start_logits")))


def grpc_client(k, port, answers, reference):
    stub = pbg.GRPCInferenceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    rnd = random.Random(k)
    for i in range(REQUESTS):
        rid = k * 100000 + i
        req = pb.ModelInferRequest(model_name="qa", id=str(rid))
        for n, t in zip(INPUTS, rows_for(rid)):
            req.inputs.add(name=n, datatype="INT32", shape=[1, LENGTH])
            req.raw_input_contents.append(t.tobytes())
        if rnd.random() < 0.05:
            stub.ModelInfer.future(req).cancel()
            continue
        try:
            resp = stub.ModelInfer(req, timeout=120)
        except grpc.RpcError as e:
            check(False, f"gRPC request {rid}: {e.code()} {e.details()}")
            continue
        out = dict((o.name, i) for i, o in enumerate(resp.outputs))
        logits = np.frombuffer(resp.raw_output_contents[out["start_logits"]], np.float32).reshape(1, LENGTH)
        answers.append((resp.id, logits))


def main():
    t0 = time.time()
    repo = tempfile.mkdtemp(prefix="bertc_load_")
    v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                        "dynamic_batching { max_queue_delay_microseconds: 500 }\n"
                                        "instance_group [ { kind: KIND_CPU count: 2 } ]\n"), weights_seed=21)
    with v2.Server(repo, "--http-threads", "4") as s:
        client = v2.Client(s.url)
        answers = {k: [] for k in range(CLIENTS)}
        threads = [threading.Thread(target=http_client if k % 2 == 0 else grpc_client,
                                    args=(k, s.port if k % 2 == 0 else s.grpc_port, answers[k], None)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(s.alive(), "the server is up after the load")
        total, seen = 0, set()
        ref_ids = []
        for k in range(CLIENTS):
            for rid, logits in answers[k]:
                check(rid not in seen, f"request {rid} answered twice")
                seen.add(rid)
                total += 1
                ref_ids.append((rid, logits))
        # spot-check outputs against the same rows sent alone, over HTTP, after the load
        for rid, logits in ref_ids[:: max(1, len(ref_ids) // 40)]:
            tensors = rows_for(int(rid))
            inputs = []
            for n, t in zip(INPUTS, tensors):
                x = v2.InferInput(n, t.shape, "INT32")
                x.set_data_from_numpy(t)
                inputs.append(x)
            want = client.infer("qa", inputs).as_numpy("start_logits")
            check(np.allclose(logits, want, rtol=1e-5, atol=1e-5), f"request {rid}: logits differ from the same rows alone")
        expected = CLIENTS * REQUESTS * 0.95
        check(total > expected * 0.9, f"{total} requests answered, about {expected:.0f} expected")
        stats = client.get("/v2/models/qa/stats").json()["model_stats"][0]["inference_stats"]
        succeeded = stats["success"]["count"]
        check(succeeded >= total, f"statistics: {succeeded} successes for {total} answered requests")
        rc = s.stop()
        check(rc == 0, f"exit code {rc}: {s.stderr()[-1500:]}")
        print(f"{total} answered, {succeeded} successes counted, {stats['fail']['count']} failures counted")
    check.finish("test_serve_load_disconnect", t0)


if __name__ == "__main__":
    main()
