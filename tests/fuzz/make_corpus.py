#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from the repository's real
files: small excerpts, or files derived from them as each function says (provenance in
tests/fuzz/corpus/PROVENANCE.md). Deterministic; run from the repository root with Debian's
python3 (torch and grpc_tools for two seeds). The outputs are committed: run it only to change them."""
import bz2
import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

OUT = "tests/fuzz/corpus"


def put(target, name, data):
    os.makedirs(f"{OUT}/{target}", exist_ok=True)
    with open(f"{OUT}/{target}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def tfrecords(path, n):
    """The first n framed records of a TFRecord file, and their payloads."""
    raw = open(path, "rb").read()
    framed, payloads, pos = [], [], 0
    for _ in range(n):
        (length,) = struct.unpack_from("<Q", raw, pos)
        framed.append(raw[pos:pos + length + 16])
        payloads.append(raw[pos + 12:pos + 12 + length])
        pos += length + 16
    return framed, payloads


def records():
    framed, payloads = tfrecords("data/sample_text.tfrecord", 2)
    pframed, ppayloads = tfrecords("data/packing/sample_text_packed.tfrecord", 1)
    index = b"".join(open("data/sample_text.index", "rb").readlines()[:2])
    put("tfrecord", "sample_text_2records_indexed", b"".join(framed) + b"#IDX\n" + index)
    put("tfrecord", "sample_text_packed_1record", pframed[0])
    for target in ("example", "pretraining"):
        put(target, "sample_text_record0", payloads[0])
        put(target, "sample_text_record1", payloads[1])
        put(target, "sample_text_packed_record0", ppayloads[0])


def safetensors():
    """camphr's model.safetensors cut to its small tensors (same header conventions), and the same
    tensors as F16 / BF16 / I64."""
    raw = open("tests/data/camphr_ner_bert/model.safetensors", "rb").read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    keep = sorted(k for k, v in header.items() if k != "__metadata__" and v["data_offsets"][1] - v["data_offsets"][0] <= 64)
    def write(name, convert):
        out, body = {"__metadata__": header["__metadata__"]}, b""
        for k in keep:
            v = header[k]
            dtype, blob = convert(v["dtype"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            out[k] = {"dtype": dtype, "shape": v["shape"], "data_offsets": [len(body), len(body) + len(blob)]}
            body += blob
        text = json.dumps(out, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        put("safetensors", name, struct.pack("<Q", len(text)) + text + body)
    write("camphr_small_tensors_f32", lambda d, b: (d, b))
    def half(d, b, kind):
        if d != "F32":
            return d, b
        floats = struct.unpack(f"<{len(b) // 4}f", b)
        if kind == "F16":
            return "F16", struct.pack(f"<{len(floats)}e", *floats)
        return "BF16", b"".join(struct.pack("<f", x)[2:] for x in floats)
    write("camphr_small_tensors_f16", lambda d, b: half(d, b, "F16"))
    write("camphr_small_tensors_bf16", lambda d, b: half(d, b, "BF16"))


def torch_seeds():
    """A torch.save state dict whose storages 0..3 have 16 x (key + 1) bytes (what the harness's
    wrapping zip provides): float32, float16 (transposed view), float64 with a storage offset,
    int64; its data.pkl alone; camphr's data.pkl (real: 24 storages)."""
    import torch
    import zipfile
    a = torch.arange(4, dtype=torch.float32)
    b = torch.arange(16, dtype=torch.float16).reshape(4, 4).t()
    c = torch.arange(6, dtype=torch.float64)[2:]
    d = torch.arange(8, dtype=torch.int64)
    sd = {"a.weight": a, "b.weight": b, "c.bias": c, "d.position_ids": d}
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/small.bin"
        torch.save(sd, path)
        raw = open(path, "rb").read()
    put("torch", "torch_save_small.bin", raw)
    with zipfile.ZipFile("tests/data/camphr_ner_bert/pytorch_model.bin") as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        put("torch", "camphr_data.pkl", z.read(pkl))
    import io
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        put("torch", "torch_save_small_data.pkl", z.read(pkl))


def configs():
    put("hf_config", "camphr_config.json", open("tests/data/camphr_ner_bert/config.json", "rb").read())
    put("hf_config", "models_bert_config.json", open("models/bert/1/config.json", "rb").read())
    put("hf_config", "models_bert_qa_text_config.json", open("models/bert-qa-text/1/config.json", "rb").read())
    put("model_config", "bert.pbtxt", open("models/bert/config.pbtxt", "rb").read())
    put("model_config", "bert-qa-text.pbtxt", open("models/bert-qa-text/config.pbtxt", "rb").read())
    pre = open("configs/pretraining.yml", "rb").read()
    # the defaults and demo_tiny_128 sections (inheritance through an anchor and `<<:`)
    cut = pre.index(b"\n#---", pre.index(b"demo_tiny_128:"))
    put("yaml_options", "pretraining_demo_tiny_128.yml", pre[:cut + 1])
    put("yaml_options", "pretraining_demo_tiny_128_args.yml",
        pre[:cut + 1] + b"\0--micro-batch-size\0" + b"2\0--packed-data\0--learning-rate\0" + b"0.001")
    squad = open("configs/squad.yml", "rb").read()
    put("yaml_options", "squad.yml", squad + b"\0--config\0squad_base_384\0--num-epochs\0" + b"1")
    bench = open("benchmarks.yml", "rb").read()
    put("yaml_options", "benchmarks_head.yml", bench[:bench.index(b"\n", 3000) + 1])


def tokenizer():
    put("tokenizer", "camphr_vocab.txt", open("tests/data/camphr_ner_bert/vocab.txt", "rb").read())
    put("tokenizer", "sample_text_head.txt", open("data/sample_text.txt", "rb").read()[:1500])
    inputs = open("tests/data/tokenizer/ggml-vocab-bert-bge.gguf.inp", "rb").read().split(b"\n__ggml_vocab_test__\n")
    put("tokenizer", "ggml_vocab_inputs_0_23.txt", b"\n".join(inputs[:23]))
    put("tokenizer", "ggml_vocab_inputs_23_46.txt", b"\n".join(inputs[23:]))


def squad():
    put("squad_dataset", "unicode-v1.1.json", open("tests/data/squad/unicode-v1.1.json", "rb").read())
    put("squad_dataset", "handmade-v2.0.json", open("tests/data/squad/handmade-v2.0.json", "rb").read())
    sample = json.load(open("data/squad_sample.json", encoding="utf-8"))
    sample["data"] = sample["data"][:1]
    sample["data"][0]["paragraphs"] = sample["data"][0]["paragraphs"][:3]
    put("squad_dataset", "squad_sample_3_paragraphs.json", json.dumps(sample, ensure_ascii=False, indent=1))
    preds = json.load(open("tests/data/squad/predictions/explorer-bert-ensemble-google.json", encoding="utf-8"))
    put("squad_predictions", "explorer_bert_ensemble_first40.json",
        json.dumps(dict(list(preds.items())[:40]), ensure_ascii=False, indent=1))
    hand = json.load(open("tests/data/squad/handmade-v2.0.json", encoding="utf-8"))
    uni = json.load(open("tests/data/squad/unicode-v1.1.json", encoding="utf-8"))
    for name, data in (("handmade", hand), ("unicode", uni)):
        # each question answered with its first gold answer (or "" when impossible)
        ans = {q["id"]: (q["answers"][0]["text"] if q["answers"] else "")
               for a in data["data"] for p in a["paragraphs"] for q in p["qas"]}
        put("squad_predictions", f"{name}_gold_answers.json", json.dumps(ans, ensure_ascii=False, indent=1))


def serve():
    """Requests for the harness's fixed model (tests/fuzz/harness.c), written by the protocol's
    rules; a 2-byte little-endian Inference-Header-Content-Length first (0xffff: no header)."""
    ids = list(range(101, 109))
    plain = {"id": "q1", "inputs": [{"name": "input_ids", "shape": [1, 8], "datatype": "INT32", "data": ids},
                                    {"name": "text", "shape": [1, 1], "datatype": "BYTES", "data": ["what is bert?"]},
                                    {"name": "flags", "shape": [1, 2, 2], "datatype": "BOOL", "data": [[True, False], [False, True]]}],
             "outputs": [{"name": "logits"}, {"name": "answer", "parameters": {"binary_data": True}}]}
    put("kserve_request", "json_request", b"\xff\xff" + json.dumps(plain).encode())
    binary = struct.pack("<8i", *ids) + struct.pack("<3f", 0.5, -1.0, 2.0)
    text = b"context"
    hdr = {"inputs": [{"name": "input_ids", "shape": [1, 8], "datatype": "INT32", "parameters": {"binary_data_size": 32}},
                      {"name": "weights", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}},
                      {"name": "text", "shape": [1, 1], "datatype": "BYTES",
                       "parameters": {"binary_data_size": 4 + len(text)}},
                      {"name": "mask", "shape": [1, 2], "datatype": "INT64", "data": [1, 0]}],
           "parameters": {"binary_data_output": True}}
    h = json.dumps(hdr).encode()
    put("kserve_request", "binary_request", struct.pack("<H", len(h)) + h + binary + struct.pack("<I", len(text)) + text)
    put("kserve_request", "raw_request", b"\x00\x00" + struct.pack("<8i", *ids))

    from grpc_tools import protoc
    with tempfile.TemporaryDirectory() as tmp:
        proto = "src/serve/proto"
        if protoc.main(["protoc", f"-I{proto}", f"--python_out={tmp}", f"{proto}/grpc_service.proto"]) != 0:
            sys.exit("protoc failed")
        sys.path.insert(0, tmp)
        import grpc_service_pb2 as pb
        r = pb.ModelInferRequest(model_name="fuzz", model_version="1", id="g1")
        t = r.inputs.add(name="input_ids", datatype="INT32", shape=[1, 8])
        t.contents.int_contents.extend(ids)
        t = r.inputs.add(name="text", datatype="BYTES", shape=[1, 1])
        t.contents.bytes_contents.append(b"what is bert?")
        t = r.inputs.add(name="weights", datatype="FP32", shape=[1, 3])
        t.contents.fp32_contents.extend([0.5, -1.0, 2.0])
        r.outputs.add(name="logits")
        put("grpc_infer", "typed_contents", r.SerializeToString())
        r = pb.ModelInferRequest(model_name="fuzz", id="g2")
        r.inputs.add(name="input_ids", datatype="INT32", shape=[2, 8])
        r.inputs.add(name="scale", datatype="FP16", shape=[2, 2])
        r.raw_input_contents.append(struct.pack("<16i", *(ids + ids)))
        r.raw_input_contents.append(struct.pack("<4e", 1.0, 0.5, -2.0, 0.25))
        put("grpc_infer", "raw_contents", r.SerializeToString())


def wiki():
    xml = open("tests/data/text/wikiextractor_vi_pair/test.xml", "rb").read()
    lines = xml.split(b"\n")
    head = b"\n".join(lines[:38]) + b"\n"          # <mediawiki> and <siteinfo>
    redirect = b"\n".join(lines[38:58]) + b"\n"    # the first page: a redirect
    put("wiki_dump", "viwiki_siteinfo_redirect.xml", head + redirect + b"</mediawiki>\n")
    put("wiki_dump", "viwiki_siteinfo_redirect.xml.bz2", bz2.compress(head + redirect + b"</mediawiki>\n", 9))
    text = xml.decode("utf-8")
    pages = re.findall(r'<text bytes="\d+" xml:space="preserve">(.*?)</text>', text, re.S)
    article = html.unescape(pages[2])               # Internet Society: templates, tables, refs, links
    put("wiki_clean", "viwiki_internet_society_head.txt", article[:3000])
    put("wiki_clean", "viwiki_internet_society_tail.txt", article[-3000:])


def main():
    for sub in ("tfrecord", "example", "pretraining", "safetensors", "torch", "hf_config", "tokenizer",
                "yaml_options", "model_config", "kserve_request", "grpc_infer", "squad_dataset",
                "squad_predictions", "wiki_dump", "wiki_clean"):
        shutil.rmtree(f"{OUT}/{sub}", ignore_errors=True)
    records(); safetensors(); torch_seeds(); configs(); tokenizer(); squad(); serve(); wiki()


if __name__ == "__main__":
    main()
