"""bert serve around the edges of a request's life: a stop that races a request still being parsed
(the batchers stay allocated until the HTTP threads are gone: a 503, never a crash); clients that
close their connection while their request is queued (each request still freed and counted, as a
failure: success + fail = sent, RSS steady); SIGINT with requests in flight (all answered, exit
0); --drain-timeout as the whole budget of a stop even with a stalled upload; and a second SIGINT
that exits at once."""
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

check = v2.Checks()
SANITIZED = os.environ.get("BERT_SANITIZED") == "1"
NAMES = ("input_ids", "attention_mask", "token_type_ids")


def json_request(rows, length, request_id=None):
    """A valid JSON request of `rows` rows of `length` tokens."""
    rng = np.random.default_rng(rows * 1000 + length)
    body = {"inputs": [{"name": n, "shape": [rows, length], "datatype": "INT32", "data": d} for n, d in zip(
        NAMES, (rng.integers(1, 512, (rows, length)).tolist(), [[1] * length] * rows, [[0] * length] * rows))]}
    if request_id:
        body["id"] = request_id
    return json.dumps(body).encode()


def http_post(path, body):
    return b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (path.encode(), len(body)) + body


def send_raw(port, data):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(data)
    return sock


def pending(url, model):
    return v2.metric(requests.get(url + "/metrics", timeout=10).text, "nv_inference_pending_request_count", model)


def wait_for(cond, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def stalled_upload(port):
    """A call whose body never completes: it stays in flight until the server closes it."""
    return send_raw(port, b"POST /v2/models/qa/infer HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n{\"inputs\"")


def queued_requests(url, n, codes):
    """n single-row requests on threads; each appends its status (or the exception) to codes."""
    def one():
        try:
            r = requests.post(url + "/v2/models/qa/infer", data=json_request(1, 20), timeout=60)
            codes.append(r.status_code)
        except Exception as e:  # noqa: BLE001
            codes.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def test_stop_while_parsing(root):
    """SIGINT (--drain-timeout 0) while an HTTP thread still parses a large request: it then submits
    to a batcher that is stopping. Once that batcher was already freed (a SIGSEGV)."""
    repo = os.path.join(root, "big")
    v2.write_model(repo, "big", v2.pbtxt("big", v2.QA_INPUTS, v2.QA_OUTPUTS, 256, "dynamic_batching { }\n"),
                   dict(v2.TINY_CONFIG, max_position_embeddings=512))
    data = http_post("/v2/models/big/infer", json_request(256, 500))
    for delay in (0.03, 0.1):
        s = v2.Server(repo, "--drain-timeout", "0", "--threads", "1")
        sock = send_raw(s.port, data)
        time.sleep(delay)
        rc = s.stop(signal.SIGINT, timeout=30)
        check(rc == 0, f"stop {delay} s into a parse: exit code {rc} (-11 = SIGSEGV): {s.stderr()[-300:]}")
        sock.settimeout(10)
        try:
            reply = sock.recv(200)
        except OSError:
            reply = b""
        sock.close()
        check(reply == b"" or reply.startswith(b"HTTP/1.1 503") or reply.startswith(b"HTTP/1.1 200"),
              f"reply to the request caught by the stop: {reply[:100]!r}")


def test_disconnects(root):
    """Rounds of 100 requests that wait in the queue (60 s delay) and whose clients then close; one
    normal request fills the batch so it runs. Every request must be counted and freed."""
    repo = os.path.join(root, "gone")
    v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 128,
                                        "dynamic_batching { max_queue_delay_microseconds: 60000000 }\n"))
    per, rounds = 100, 5
    # a 16 KB id makes each lost request cost ~50 KB (body and id), plain in RSS
    abandoned = http_post("/v2/models/qa/infer", json_request(1, 64, request_id="x" * 16384))
    with v2.Server(repo, "--threads", "1") as s:
        c = v2.Client(s.url)
        rss, sent = [], 0
        for rnd in range(rounds):
            socks = [send_raw(s.port, abandoned) for _ in range(per)]
            if not check(wait_for(lambda: pending(s.url, "qa") == per), f"round {rnd}: requests not queued"):
                break
            for sock in socks:
                sock.close()
            r = c.session.post(s.url + "/v2/models/qa/infer", data=json_request(128 - per, 64), timeout=60)
            check(r.status_code == 200, f"round {rnd}: the request filling the batch: {r.status_code} {r.text[:200]}")
            sent += per + 1

            def counted():
                st = c.get("/v2/models/qa/stats").json()["model_stats"][0]["inference_stats"]
                return st["success"]["count"] + st["fail"]["count"] == sent
            check(wait_for(counted, 5), f"round {rnd}: requests of closed connections are neither success nor fail")
            rss.append(s.rss_kb())
        st = c.get("/v2/models/qa/stats").json()["model_stats"][0]["inference_stats"]
        check(st["success"]["count"] + st["fail"]["count"] == per * rounds + rounds,
              f"success {st['success']['count']} + fail {st['fail']['count']} != {per * rounds + rounds} sent")
        check(st["fail"]["count"] > 0, "no request of a closed connection counted as a failure")
        # AddressSanitizer's quarantine makes RSS meaningless; LeakSanitizer checks the exit instead
        if not SANITIZED and len(rss) == rounds:
            check(rss[-1] - rss[0] < 4096, f"RSS grew {rss[-1] - rss[0]} kB over {per * (rounds - 1)} abandoned requests")
        check(s.stop(signal.SIGINT) == 0, f"exit code: {s.stderr()[-300:]}")
        print(f"{per * rounds} abandoned requests: success {st['success']['count']}, fail {st['fail']['count']}, "
              f"RSS {rss[0] if rss else 0} -> {rss[-1] if rss else 0} kB")


def slow_repo(root):
    repo = os.path.join(root, "slow")
    if not os.path.isdir(repo):
        v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                            "dynamic_batching { max_queue_delay_microseconds: 30000000 }\n"))
    return repo


def test_sigint_in_flight(root):
    s = v2.Server(slow_repo(root), "--threads", "1")
    codes = []
    threads = queued_requests(s.url, 4, codes)
    check(wait_for(lambda: pending(s.url, "qa") == 4), "requests not queued")
    rc = s.stop(signal.SIGINT)
    for t in threads:
        t.join()
    check(rc == 0 and codes == [200] * 4, f"SIGINT with 4 requests queued: exit {rc}, replies {codes}")


def test_drain_budget(root):
    """--drain-timeout 1 with a request queued behind a 30 s delay and an upload that never ends:
    the queued request is answered and the whole stop takes about 1 s (it once took 6)."""
    s = v2.Server(slow_repo(root), "--threads", "1", "--drain-timeout", "1")
    codes = []
    threads = queued_requests(s.url, 1, codes)
    check(wait_for(lambda: pending(s.url, "qa") == 1), "request not queued")
    stalled = stalled_upload(s.port)
    t0 = time.time()
    rc = s.stop(signal.SIGINT, timeout=20)
    took = time.time() - t0
    for t in threads:
        t.join()
    stalled.close()
    check(rc == 0 and codes == [200], f"exit {rc}, reply {codes}")
    check(took < 2.5, f"--drain-timeout 1 stop took {took:.1f} s")


def test_second_signal(root):
    s = v2.Server(slow_repo(root), "--threads", "1", "--drain-timeout", "30")
    stalled = stalled_upload(s.port)
    time.sleep(0.1)
    s.proc.send_signal(signal.SIGINT)
    check(wait_for(lambda: "SIGINT received" in s.stderr(), 5), "first SIGINT not seen")
    t0 = time.time()
    rc = s.stop(signal.SIGINT, timeout=5)
    took = time.time() - t0
    stalled.close()
    check(rc == 1 and took < 2, f"second SIGINT: exit {rc} after {took:.1f} s (-999: still draining)")
    check("second signal" in s.stderr(), f"no message: {s.stderr()[-300:]}")


def main():
    t0 = time.time()
    with tempfile.TemporaryDirectory() as root:
        test_stop_while_parsing(root)
        test_disconnects(root)
        test_sigint_in_flight(root)
        test_drain_budget(root)
        test_second_signal(root)
    check.finish("serve lifecycle", t0)


if __name__ == "__main__":
    main()
