"""Concurrent clients get correct answers: 4 and 8 Python clients (built as tritonclient), each
synchronous (one request at a time) or asynchronous (several in flight), send requests of random
rows, lengths and encodings to a model with dynamic batching and two instances; every answer must
equal `bert infer --head qa` of its rows. Then `bert bench-serve` (SYNC and ASYNC at 4 and 8
clients, binary and JSON, against a running server and one it starts itself) passes its --check,
prints the reference's log lines, and fails the check against a different model."""
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

check = v2.Checks()


def request_inputs(rng, pool, binary):
    """1-4 random rows of the pool, padded to their longest plus 0-3 tokens."""
    picks = [int(i) for i in rng.integers(0, len(pool), size=int(rng.integers(1, 5)))]
    rows = [pool[i] for i in picks]
    ids, mask, types = v2.pad_rows(rows, max(len(r[0]) for r in rows) + int(rng.integers(0, 4)))
    inputs = []
    for name, arr in (("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types)):
        i = v2.InferInput(name, arr.shape, "INT32")
        i.set_data_from_numpy(arr, binary_data=binary)
        inputs.append(i)
    return picks, inputs


def verify(res, picks, expected, who):
    start, end = res.as_numpy("start_logits"), res.as_numpy("end_logits")
    for row, i in enumerate(picks):
        n = len(expected[i][0])
        ok = v2.close(start[row, :n], expected[i][0]) and v2.close(end[row, :n], expected[i][1])
        ok = ok and np.all(start[row, n:] == -10000) and np.all(end[row, n:] == -10000)
        if not check(ok, f"{who}: row {row} (pool {i}) differs from bert infer"):
            return


def client(url, seed, pool, expected, requests_per_client, in_flight, who):
    rng = np.random.default_rng(seed)
    local = threading.local()
    jobs = [request_inputs(rng, pool, bool(rng.integers(0, 2))) for _ in range(requests_per_client)]
    outputs = [v2.InferRequestedOutput("start_logits", bool(rng.integers(0, 2))), v2.InferRequestedOutput("end_logits")]

    def one(k):
        if not hasattr(local, "c"):
            local.c = v2.Client(url)
        picks, inputs = jobs[k]
        try:
            verify(local.c.infer("qa", inputs, outputs, request_id=f"{who}-{k}"), picks, expected, f"{who} request {k}")
        except Exception as e:  # noqa: BLE001
            check(False, f"{who} request {k}: {e}")

    if in_flight == 1:
        for k in range(requests_per_client):
            one(k)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=in_flight) as ex:
            list(ex.map(one, range(requests_per_client)))


def python_clients(url, pool, expected):
    for n in (4, 8):
        for mode, in_flight in (("sync", 1), ("async", 3)):
            t0 = time.time()
            threads = [threading.Thread(target=client, args=(url, 100 * n + i, pool, expected, 6, in_flight, f"{mode}-{n} client {i}"))
                       for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(f"python clients: {mode} x {n}: {time.time() - t0:.2f} s", flush=True)


REF_LINES = [r"qa-RequestType\.(SYNC|ASYNC)-\d+ results:", r"data_type: float32", r"throughput: *(.*?) samples\/sec",
             r"latency: *(.*?) ms \(mean\)", r"request latency: p50 [\d.]+ ms, p90 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms"]


def bench_serve(args, expect_ok=True):
    r = subprocess.run([v2.BERT, "bench-serve", *args], capture_output=True, text=True, timeout=300)
    if expect_ok:
        check(r.returncode == 0, f"bench-serve {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def c_clients(s, repo, root):
    common = ["--model", "qa", "--vocab-size", "512", "--seq-len", "64", "--lengths", "4:60", "--batches", "4",
              "--warmup", "1", "--batch-size", "3"]
    r = bench_serve(["--url", f"127.0.0.1:{s.port}", "--mode", "both", "--clients", "4,8", "--requests", "5",
                     "--check", os.path.join(repo, "qa"), *common])
    out = r.stdout
    check(len(re.findall(r"results:", out)) == 4, "bench-serve: not 4 result blocks")
    for pattern in REF_LINES:
        check(re.search(pattern, out), f"bench-serve: no line matching {pattern}")
    check(len(re.findall(r"throughput thread combined: .* samples/sec \(mean\)", out)) == 4, "combined throughput lines")
    table = [line.split() for line in out.splitlines() if re.match(r"^(SYNC|ASYNC) +\d", line)]
    check(len(table) == 4 and all(t[-1] == "ok" and t[-2] == "0" for t in table), f"sweep table {table}")
    check([int(t[2]) for t in table] == [16, 32, 16, 32], f"measured requests {[t[2] for t in table]}")
    # a server of its own, JSON tensors, a HuggingFace folder as the reference
    r = bench_serve(["--serve", repo, "--clients", "2", "--requests", "4", "--json", "--in-process", "--check",
                     os.path.join(repo, "qa", "1"), *common])
    check("SYNC-2 results" in r.stdout and "stopped" in r.stderr, "bench-serve --serve")
    check(re.search(r"in-process: [\d.e+]+ samples/sec", r.stdout) and "vs-local" in r.stdout, f"--in-process: {r.stdout}")
    # the check catches a different model
    other = os.path.join(root, "other")
    v2.write_model(other, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS), weights_seed=4)
    r = bench_serve(["--url", f"127.0.0.1:{s.port}", "--requests", "3", "--check", os.path.join(other, "qa"), *common], False)
    check(r.returncode == 1 and "FAILED" in r.stdout and "check failed" in r.stdout, f"wrong model passed the check: {r.stdout}")
    r = bench_serve(["--url", f"127.0.0.1:{s.port}", "--model", "nope"], False)
    check(r.returncode == 1 and "nope" in r.stderr, "unknown model")


def main():
    t0 = time.time()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as root:
        repo = os.path.join(root, "repo")
        v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                            "dynamic_batching { max_queue_delay_microseconds: 3000 }\n"
                                            "instance_group [ { count: 2 } ]\n"), weights_seed=3)
        pool = v2.random_rows(rng, 32, 2, 60)
        expected = v2.bert_infer_qa(os.path.join(repo, "qa", "1"), pool)
        with v2.Server(repo, "--threads", "2", "--http-threads", "2") as s:
            python_clients(s.url, pool, expected)
            stats = v2.Client(s.url).get("/v2/models/qa/stats").json()["model_stats"][0]
            sent = 2 * 6 * (4 + 8)
            check(stats["inference_stats"]["success"]["count"] == sent, f"success count {stats['inference_stats']['success']}")
            check(stats["execution_count"] < sent, "no request was batched with another")
            c_clients(s, repo, root)
            check(s.alive(), "server died")
            check(s.stop() == 0, "server exit code")
    check.finish("serve clients", t0)


if __name__ == "__main__":
    main()
