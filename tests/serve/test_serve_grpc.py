"""The gRPC front end (inference.GRPCInferenceService) driven by a real gRPC stack: Debian's
python3-grpcio, with stubs generated now by grpc_tools.protoc from the repository's
src/serve/proto/grpc_service.proto (what a user of tritonclient.grpc's stubs gets). Checks:
health, server/model metadata, model configuration and statistics against the HTTP front end;
ModelInfer with raw_input_contents and with typed contents (INT32 and BYTES) equal to HTTP's
answer for the same inputs; statistics shared by both front ends; ModelStreamInfer with 8
concurrent streaming clients, every response matched by id; and errors with Triton's status
codes: malformed protobuf, wrong data types / shapes / data sizes, an oversize message, unknown
models and versions, an unimplemented method, a stream request that fails (the stream goes on),
clients that cancel or are killed mid-stream — after which the server still answers; a taken
gRPC port is a clear start-up error, --no-grpc turns gRPC off, and a SIGTERM during a stream
lets its requests finish."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

import grpc  # noqa: E402

check = v2.Checks()
PROTO_DIR = "src/serve/proto"


def load_stubs():
    out = tempfile.mkdtemp(prefix="bertc_grpc_stubs_")
    from grpc_tools import protoc
    rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", f"--grpc_python_out={out}", "grpc_service.proto"])
    assert rc == 0, "grpc_tools.protoc failed on grpc_service.proto"
    sys.path.insert(0, out)
    import grpc_service_pb2 as pb
    import grpc_service_pb2_grpc as pbg
    return pb, pbg


pb, pbg = load_stubs()
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def qa_request(pb_mod, ids, mask, types, request_id="", typed=False, model="qa"):
    req = pb_mod.ModelInferRequest(model_name=model, id=request_id)
    for name, arr in zip(INPUTS, (ids, mask, types)):
        t = req.inputs.add(name=name, datatype="INT32", shape=list(arr.shape))
        if typed:
            t.contents.int_contents.extend(arr.reshape(-1).tolist())
    if not typed:
        req.raw_input_contents.extend([ids.tobytes(), mask.tobytes(), types.tobytes()])
    return req


def outputs_of(resp):
    got = {}
    for i, out in enumerate(resp.outputs):
        got[out.name] = np.frombuffer(resp.raw_output_contents[i], np.float32).reshape(list(out.shape))
    return got


def http_outputs(client, ids, mask, types):
    inputs = []
    for name, arr in zip(INPUTS, (ids, mask, types)):
        i = v2.InferInput(name, arr.shape, "INT32")
        i.set_data_from_numpy(arr)
        inputs.append(i)
    res = client.infer("qa", inputs)
    return {n: res.as_numpy(n) for n in ("start_logits", "end_logits")}


def code_of(fn):
    try:
        fn()
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


def make_rows(rng, b, length):
    rows = v2.random_rows(rng, b, 4, length)
    return v2.pad_rows(rows, length)


def test_metadata(stub, client):
    check(stub.ServerLive(pb.ServerLiveRequest()).live, "ServerLive is true")
    check(stub.ServerReady(pb.ServerReadyRequest()).ready, "ServerReady is true")
    check(stub.ModelReady(pb.ModelReadyRequest(name="qa")).ready, "ModelReady(qa) is true")
    check(not stub.ModelReady(pb.ModelReadyRequest(name="nope")).ready, "ModelReady(unknown) is false")
    meta = stub.ServerMetadata(pb.ServerMetadataRequest())
    http_meta = client.get("/v2").json()
    check(meta.name == http_meta["name"] and meta.version == http_meta["version"], f"server metadata {meta}")
    check(list(meta.extensions) == http_meta["extensions"], f"extensions {list(meta.extensions)}")
    mm = stub.ModelMetadata(pb.ModelMetadataRequest(name="qa"))
    http_mm = client.get("/v2/models/qa").json()
    check(mm.name == "qa" and list(mm.versions) == http_mm["versions"] and mm.platform == http_mm["platform"], f"model metadata {mm}")
    for kind in ("inputs", "outputs"):
        got = [(t.name, t.datatype, list(t.shape)) for t in getattr(mm, kind)]
        want = [(t["name"], t["datatype"], t["shape"]) for t in http_mm[kind]]
        check(got == want, f"metadata {kind}: {got} vs HTTP {want}")
    cfg = stub.ModelConfig(pb.ModelConfigRequest(name="qa")).config
    http_cfg = client.get("/v2/models/qa/config").json()
    check(cfg.name == "qa" and cfg.backend == "bertc" and cfg.max_batch_size == http_cfg["max_batch_size"], f"config {cfg}")
    check([i.name for i in cfg.input] == [i["name"] for i in http_cfg["input"]], "config inputs")
    check(all(pb.DataType.Name(i.data_type) == h["data_type"] for i, h in zip(cfg.input, http_cfg["input"])), "config input types")
    check([list(o.dims) for o in cfg.output] == [o["dims"] for o in http_cfg["output"]], "config output dims")
    check(cfg.HasField("dynamic_batching") and cfg.dynamic_batching.max_queue_delay_microseconds == 2000, "dynamic_batching")
    check(cfg.instance_group[0].count == 1 and cfg.instance_group[0].kind == pb.ModelInstanceGroup.KIND_CPU, "instance_group")
    check(dict((k, v.string_value) for k, v in cfg.parameters.items()) == {k: v["string_value"] for k, v in http_cfg.get("parameters", {}).items()},
          "config parameters")


def test_infer_equals_http(stub, client, rng):
    for b, length, typed in ((1, 16, False), (3, 24, False), (2, 20, True), (4, 32, True)):
        ids, mask, types = make_rows(rng, b, length)
        resp = stub.ModelInfer(qa_request(pb, ids, mask, types, request_id=f"req-{b}", typed=typed))
        got, want = outputs_of(resp), http_outputs(client, ids, mask, types)
        check(resp.model_name == "qa" and resp.model_version == "1" and resp.id == f"req-{b}", f"response header {resp.model_name} {resp.id}")
        check([o.datatype for o in resp.outputs] == ["FP32", "FP32"], "output datatypes")
        for name in want:
            check(got[name].shape == want[name].shape, f"{name} shape {got[name].shape} vs {want[name].shape}")
            check(got[name].shape == want[name].shape and np.allclose(got[name], want[name], rtol=1e-5, atol=1e-5),
                  f"b={b} L={length} typed={typed}: {name} over gRPC differs from HTTP")
    # one output requested by name
    ids, mask, types = make_rows(rng, 2, 16)
    req = qa_request(pb, ids, mask, types)
    req.outputs.add(name="end_logits")
    resp = stub.ModelInfer(req)
    check([o.name for o in resp.outputs] == ["end_logits"] and len(resp.raw_output_contents) == 1, "only the requested output")


def test_bytes_model(stub, client):
    question, context = "What is bertc?", "bertc trains and serves BERT in C on the CPU."
    raw = pb.ModelInferRequest(model_name="qa-text")
    for name, text in (("question", question), ("context", context)):
        raw.inputs.add(name=name, datatype="BYTES", shape=[1, 1])
        raw.raw_input_contents.append(v2.serialize_byte_tensor(np.array([[text.encode()]], dtype=object)))
    typed = pb.ModelInferRequest(model_name="qa-text")
    for name, text in (("question", question), ("context", context)):
        typed.inputs.add(name=name, datatype="BYTES", shape=[1, 1]).contents.bytes_contents.append(text.encode())
    answers = []
    for req in (raw, typed):
        resp = stub.ModelInfer(req)
        out = {o.name: (o, resp.raw_output_contents[i]) for i, o in enumerate(resp.outputs)}
        blob = out["answer"][1]
        n = int.from_bytes(blob[:4], "little")
        answers.append((blob[4:4 + n].decode(), float(np.frombuffer(out["score"][1], np.float32)[0])))
    inputs = []
    for name, text in (("question", question), ("context", context)):
        i = v2.InferInput(name, [1, 1], "BYTES")
        i.set_data_from_numpy(np.array([[text.encode()]], dtype=object))
        inputs.append(i)
    res = client.infer("qa-text", inputs)
    http_answer = res.get_response()
    score = float(res.as_numpy("score").reshape(-1)[0])
    start, size = res._offsets["answer"]
    blob = res._buffer[start:start + size]
    http = (blob[4:4 + int.from_bytes(blob[:4], "little")].decode(), score)
    check(answers[0] == answers[1], f"raw and typed BYTES give different answers: {answers}")
    check(answers[0][0] == http[0] and abs(answers[0][1] - http[1]) < 1e-5, f"BYTES answer over gRPC {answers[0]} vs HTTP {http} ({http_answer})")


def test_errors(stub, channel, rng):
    ids, mask, types = make_rows(rng, 1, 8)
    good = qa_request(pb, ids, mask, types)

    def variant(edit):
        r = pb.ModelInferRequest()
        r.CopyFrom(good)
        edit(r)
        return r

    cases = [
        ("unknown model", variant(lambda r: setattr(r, "model_name", "nope")), grpc.StatusCode.NOT_FOUND, "unknown model"),
        ("unknown version", variant(lambda r: setattr(r, "model_version", "7")), grpc.StatusCode.NOT_FOUND, "version 7"),
        ("wrong datatype", variant(lambda r: setattr(r.inputs[0], "datatype", "FP32")), grpc.StatusCode.INVALID_ARGUMENT, "datatype"),
        ("wrong rank", variant(lambda r: r.inputs[1].shape.append(1)), grpc.StatusCode.INVALID_ARGUMENT, "unexpected shape"),
        ("short raw data", variant(lambda r: r.raw_input_contents.__setitem__(0, b"\0" * 12)), grpc.StatusCode.INVALID_ARGUMENT, "need"),
        ("raw count", variant(lambda r: r.raw_input_contents.pop()), grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents"),
        ("unknown input", variant(lambda r: setattr(r.inputs[2], "name", "bogus")), grpc.StatusCode.INVALID_ARGUMENT, "bogus"),
        ("unknown output", variant(lambda r: r.outputs.add(name="bogus_out")), grpc.StatusCode.INVALID_ARGUMENT, "bogus_out"),
        ("token id outside vocab", variant(lambda r: r.raw_input_contents.__setitem__(0, np.full((1, 8), 99999, np.int32).tobytes())),
         grpc.StatusCode.INVALID_ARGUMENT, "99999"),
        ("batch too large", qa_request(pb, *make_rows(rng, 9, 8)), grpc.StatusCode.INVALID_ARGUMENT, "max_batch_size"),
        ("no inputs", pb.ModelInferRequest(model_name="qa"), grpc.StatusCode.INVALID_ARGUMENT, "inputs"),
    ]
    typed_short = variant(lambda r: None)
    del typed_short.raw_input_contents[:]
    for t in typed_short.inputs:
        t.contents.int_contents.extend([1, 1, 1])
    cases.append(("typed count", typed_short, grpc.StatusCode.INVALID_ARGUMENT, "contents hold 3"))
    for what, req, want, text in cases:
        code, details = code_of(lambda: stub.ModelInfer(req))
        check(code == want and text in details, f"{what}: got {code} {details!r}, expected {want} mentioning {text!r}")
    # bytes that are not a ModelInferRequest: the stubs cannot send them, a raw method can
    raw_infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer", request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
    for junk in (b"\xff\xff\xff\xff", b"\x0a\x80\x80\x80\x80\x10", bytes(range(256))):
        code, details = code_of(lambda: raw_infer(junk))
        check(code == grpc.StatusCode.INVALID_ARGUMENT, f"malformed protobuf {junk[:8]!r}: {code} {details}")
    raw_meta = channel.unary_unary("/inference.GRPCInferenceService/ModelMetadata", request_serializer=lambda b: b,
                                   response_deserializer=lambda b: b)
    code, _ = code_of(lambda: raw_meta(b"\x0a\xff"))
    check(code == grpc.StatusCode.INVALID_ARGUMENT, f"malformed ModelMetadataRequest: {code}")
    code, _ = code_of(lambda: stub.ModelMetadata(pb.ModelMetadataRequest(name="nope")))
    check(code == grpc.StatusCode.NOT_FOUND, f"metadata of an unknown model: {code}")
    code, _ = code_of(lambda: stub.ModelStatistics(pb.ModelStatisticsRequest(name="nope")))
    check(code == grpc.StatusCode.NOT_FOUND, f"statistics of an unknown model: {code}")
    unimplemented = channel.unary_unary("/inference.GRPCInferenceService/RepositoryIndex", request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
    code, details = code_of(lambda: unimplemented(b""))
    check(code == grpc.StatusCode.UNIMPLEMENTED and "RepositoryIndex" in details, f"unimplemented method: {code} {details}")
    # larger than --max-body-bytes (1 MiB here)
    big = variant(lambda r: r.raw_input_contents.__setitem__(0, b"\0" * (2 << 20)))
    code, details = code_of(lambda: stub.ModelInfer(big))
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED, f"oversize message: {code} {details}")
    # a failing request inside a stream is an error_message; the stream goes on
    bad_req = variant(lambda r: setattr(r.inputs[0], "datatype", "INT64"))
    bad_req.id = "bad"
    ok_req = variant(lambda r: setattr(r, "id", "ok"))
    replies = list(stub.ModelStreamInfer(iter([bad_req, ok_req])))
    by_id = {r.infer_response.id: r for r in replies}
    check(len(replies) == 2 and "bad" in by_id and "datatype" in by_id["bad"].error_message, f"stream error reply {replies}")
    check("ok" in by_id and not by_id["ok"].error_message and len(by_id["ok"].infer_response.raw_output_contents) == 2,
          "the stream carries on after a failed request")


def stream_client(stub, k, rng_seed, n, results):
    rng = np.random.default_rng(rng_seed)
    sent = {}

    def gen():
        for i in range(n):
            b = int(rng.integers(1, 4))
            ids, mask, types = make_rows(rng, b, 16)
            rid = f"c{k}-{i}"
            sent[rid] = (ids, mask, types)
            yield qa_request(pb, ids, mask, types, request_id=rid)

    got = {}
    for r in stub.ModelStreamInfer(gen()):
        got[r.infer_response.id] = r
    results[k] = (sent, got)


def test_streaming(stub, client):
    results, threads, n = {}, [], 12
    for k in range(8):
        t = threading.Thread(target=stream_client, args=(stub, k, 100 + k, n, results))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(120)
    for k in range(8):
        check(k in results, f"streaming client {k} did not finish")
        if k not in results:
            continue
        sent, got = results[k]
        check(sorted(got) == sorted(sent), f"client {k}: {len(got)} responses for {len(sent)} requests")
        for rid in list(sent)[:: max(1, n // 4)]:
            if rid not in got:
                continue
            r = got[rid]
            check(not r.error_message, f"{rid}: {r.error_message}")
            want = http_outputs(client, *sent[rid])
            have = outputs_of(r.infer_response)
            check(all(np.allclose(have[x], want[x], rtol=1e-5, atol=1e-5) for x in want), f"{rid}: stream output differs from HTTP")


def test_vanishing_clients(stub, channel, port, rng):
    ids, mask, types = make_rows(rng, 2, 16)
    # cancelled by the client mid-stream
    def endless():
        i = 0
        while True:
            yield qa_request(pb, ids, mask, types, request_id=f"x{i}")
            i += 1
            time.sleep(0.002)
    call = stub.ModelStreamInfer(endless())
    seen = 0
    for _ in call:
        seen += 1
        if seen == 5:
            call.cancel()
            break
    check(seen == 5, f"cancelled stream saw {seen} responses")
    # killed mid-stream (no goodbye at all)
    script = f"""
import sys, time
sys.path.insert(0, {os.path.dirname(pb.__file__)!r})
import grpc, grpc_service_pb2 as pb, grpc_service_pb2_grpc as pbg, numpy as np
stub = pbg.GRPCInferenceServiceStub(grpc.insecure_channel("127.0.0.1:{port}"))
def gen():
    i = 0
    while True:
        r = pb.ModelInferRequest(model_name="qa", id=str(i))
        for n in ("input_ids", "attention_mask", "token_type_ids"):
            r.inputs.add(name=n, datatype="INT32", shape=[1, 8])
            r.raw_input_contents.append(np.ones((1, 8), np.int32).tobytes())
        i += 1
        yield r
for k, _ in enumerate(stub.ModelStreamInfer(gen())):
    if k == 3:
        print("streaming", flush=True)
"""
    victims = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    for p in victims:
        line = p.stdout.readline()
        check(line.strip() == "streaming", f"victim client did not stream: {line!r}")
        p.kill()
        p.wait()
    # and one that leaves a unary call before its answer
    fut = stub.ModelInfer.future(qa_request(pb, ids, mask, types))
    fut.cancel()
    time.sleep(0.3)
    resp = stub.ModelInfer(qa_request(pb, ids, mask, types, request_id="after"))
    check(resp.id == "after", "the server answers after clients vanished")


def test_statistics(stub, client, before):
    after = stub.ModelStatistics(pb.ModelStatisticsRequest(name="qa")).model_stats[0]
    http = client.get("/v2/models/qa/stats").json()["model_stats"][0]
    check(after.inference_stats.success.count == http["inference_stats"]["success"]["count"],
          f"gRPC and HTTP statistics disagree: {after.inference_stats.success.count} vs {http['inference_stats']['success']['count']}")
    check(after.inference_stats.success.count > before, "successful gRPC requests are counted")
    check(after.inference_stats.fail.count >= 9, f"failed requests counted: {after.inference_stats.fail.count}")
    check(after.execution_count == http["execution_count"] and after.inference_count == http["inference_count"], "counts equal HTTP's")
    check(sum(b.compute_infer.count for b in after.batch_stats) == after.execution_count, "batch_stats add up")
    every = stub.ModelStatistics(pb.ModelStatisticsRequest()).model_stats
    check(sorted(m.name for m in every) == ["qa", "qa-text"], f"all-model statistics: {[m.name for m in every]}")


def test_startup_options(repo, taken_port):
    r = subprocess.run([v2.BERT, "serve", "--model-repository", repo, "--http-port", "0", "--grpc-port", str(taken_port)],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and "--grpc-port" in r.stderr and str(taken_port) in r.stderr,
          f"a taken gRPC port must stop the start: rc={r.returncode} {r.stderr.strip()[:300]}")
    with v2.Server(repo, "--no-grpc") as s:
        check(s.grpc_port is None, "--no-grpc prints no gRPC port")
        r = subprocess.run([v2.BERT, "serve", "--help"], capture_output=True, text=True)
        check("--grpc-port" in r.stdout and "--no-grpc" in r.stdout, "help names the gRPC options")


def test_graceful_stop(repo, rng):
    s = v2.Server(repo, "--max-body-bytes", "1048576")
    stub = pbg.GRPCInferenceServiceStub(grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}"))
    ids, mask, types = make_rows(rng, 4, 32)
    futures = [stub.ModelInfer.future(qa_request(pb, ids, mask, types, request_id=str(i))) for i in range(16)]
    time.sleep(0.05)
    rc = s.stop(signal.SIGTERM)
    answered = sum(1 for f in futures if f.exception() is None)
    codes = {f.exception().code() for f in futures if f.exception() is not None}
    check(rc == 0, f"SIGTERM with gRPC calls in flight: exit code {rc}; {s.stderr()[-500:]}")
    # calls that had not reached the server when it stopped accepting are refused (UNAVAILABLE) or,
    # when gRPC had them queued but no call was requested for them yet, cancelled
    check(answered >= 1 and codes <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, f"in-flight calls at stop: {answered} answered, others {codes}")


def main():
    t0 = time.time()
    rng = np.random.default_rng(7)
    repo = tempfile.mkdtemp(prefix="bertc_grpc_")
    v2.write_model(repo, "qa", v2.pbtxt("qa", v2.QA_INPUTS, v2.QA_OUTPUTS, 8,
                                        'dynamic_batching { max_queue_delay_microseconds: 2000 }\n'
                                        'parameters [ { key: "packing" value: { string_value: "true" } } ]\n'),
                   weights_seed=3)
    text_cfg = v2.pbtxt("qa-text", [("question", "TYPE_STRING", [1]), ("context", "TYPE_STRING", [1])],
                        [("answer", "TYPE_STRING", [1]), ("score", "TYPE_FP32", [1]), ("start", "TYPE_INT32", [1]),
                         ("end", "TYPE_INT32", [1])], 4,
                        'parameters [ { key: "max_seq_length" value: { string_value: "64" } },\n'
                        '  { key: "doc_stride" value: { string_value: "16" } } ]\n').replace('backend: "bertc"', 'backend: "bertc-qa-text"')
    v2.write_model(repo, "qa-text", text_cfg, dict(v2.TINY_CONFIG, vocab_size=30522), weights_seed=4)
    with v2.Server(repo, "--max-body-bytes", "1048576") as s:
        check(s.grpc_port and s.grpc_port != s.port, f"gRPC port printed: {s.grpc_port}")
        channel = grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}")
        stub = pbg.GRPCInferenceServiceStub(channel)
        client = v2.Client(s.url)
        test_metadata(stub, client)
        test_infer_equals_http(stub, client, rng)
        test_bytes_model(stub, client)
        before = stub.ModelStatistics(pb.ModelStatisticsRequest(name="qa")).model_stats[0].inference_stats.success.count
        test_errors(stub, channel, rng)
        test_streaming(stub, client)
        test_vanishing_clients(stub, channel, s.grpc_port, rng)
        test_statistics(stub, client, before)
        check(s.alive(), "the server is still up")
        test_startup_options(repo, s.grpc_port)
        rc = s.stop()
        check(rc == 0, f"server exit code {rc}: {s.stderr()[-800:]}")
    test_graceful_stop(repo, rng)
    check.finish("test_serve_grpc", t0)


if __name__ == "__main__":
    main()
