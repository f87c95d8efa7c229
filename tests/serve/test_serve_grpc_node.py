"""The gRPC front end against a second, independent gRPC stack: Node's @grpc/grpc-js and
@grpc/proto-loader (tests/node, installed by `make check`) run grpc_node_client.mjs against a
running `bert serve`: health, metadata, config, ModelInfer (raw and typed contents) equal to the
HTTP answer, 8 concurrent streaming clients, error codes (unknown model, wrong data type or
shape, oversize and malformed messages) and a client that cancels mid-stream."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

check = v2.Checks()


def main():
    t0 = time.time()
    node = shutil.which("node")
    check(node is not None, "node is not installed (Node.js 20 comes with the machine)")
    check(os.path.isdir("tests/node/node_modules/@grpc/grpc-js"),
          "tests/node/node_modules is missing: run `bash scripts/install-deps.sh --test` (make check does)")
    if check.failures:
        check.finish("test_serve_grpc_node", t0)
    with tempfile.TemporaryDirectory() as repo:
        v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                            "dynamic_batching { max_queue_delay_microseconds: 1000 }\n"), weights_seed=11)
        with v2.Server(repo, "--max-body-bytes", "1048576") as s:
            r = subprocess.run([node, "tests/serve/grpc_node_client.mjs", str(s.grpc_port), str(s.port)],
                               capture_output=True, text=True, timeout=300)
            print(r.stdout.strip())
            check(r.returncode == 0, f"the grpc-js client failed (exit {r.returncode}): {r.stderr.strip()[-1500:]}")
            check(s.alive(), "the server is still up after the grpc-js client")
            rc = s.stop()
            check(rc == 0, f"server exit code {rc}: {s.stderr()[-800:]}")
    check.finish("test_serve_grpc_node", t0)


if __name__ == "__main__":
    main()
