"""Server and client options the other tests do not reach: --host binds only the address given
(a server on 127.0.0.2 is not reachable on 127.0.0.1); instance_group count 4 shares one copy of
the weights (its resident memory stays well below four copies); `bert bench-serve --duration`
sends for the given time and passes its --check."""
import os
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

check = v2.Checks()
QA = v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS)
# ~23 MB of weights: the word embeddings dominate
BIG = dict(v2.TINY_CONFIG, vocab_size=30522, hidden_size=192, num_attention_heads=3, intermediate_size=384)


def host_option(repo):
    with v2.Server(repo, "--host", "127.0.0.2") as s:
        ok = requests.get(f"http://127.0.0.2:{s.port}/v2/health/live", timeout=10).status_code == 200
        check(ok, "--host 127.0.0.2: not reachable on 127.0.0.2")
        try:
            requests.get(f"http://127.0.0.1:{s.port}/v2/health/live", timeout=5)
            check(False, "--host 127.0.0.2: the server also answers on 127.0.0.1")
        except requests.ConnectionError:
            pass


def shared_weights(d):
    rss = {}
    for count in (1, 4):
        repo = os.path.join(d, f"repo{count}")
        extra = f"instance_group [ {{ kind: KIND_CPU count: {count} }} ]\n"
        v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, extra=extra), BIG, weights_seed=3)
        with v2.Server(repo) as s:
            time.sleep(0.5)
            rss[count] = s.rss_kb()
    weights_kb = 30522 * 192 * 4 / 1024
    print(f"RSS with 1 and 4 instances: {rss[1]} kB, {rss[4]} kB (weights {weights_kb:.0f} kB)")
    check(rss[4] - rss[1] < 1.5 * weights_kb,
          f"4 instances use {rss[4] - rss[1]} kB more than 1: more than the weights ({weights_kb:.0f} kB) were copied")


def duration(repo):
    t0 = time.time()
    r = subprocess.run([v2.BERT, "bench-serve", "--serve", repo, "--model", "qa", "--duration", "1", "--clients", "2",
                        "--random", "--check", os.path.join(repo, "qa", "1")], capture_output=True, text=True)
    out = r.stdout + r.stderr
    check(r.returncode == 0 and " ok" in out, f"bench-serve --duration failed: {out[-800:]}")
    check(time.time() - t0 < 60, "bench-serve --duration 1 ran for over a minute")


def main():
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        repo = os.path.join(d, "repo")
        v2.write_model(repo, "qa", QA, weights_seed=1)
        host_option(repo)
        duration(repo)
        shared_weights(d)
    check.finish("serve options", t0)


main()
