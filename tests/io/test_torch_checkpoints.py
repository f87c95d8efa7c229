"""The C torch.save reader against PyTorch itself: state dicts saved by torch.save with every
storage type BERT checkpoints use (float32/16, bfloat16, float64, int64, ...), strided and offset
views (transposed, sliced, permuted, expanded), parameters, 0-d and empty tensors are read by
tests/io/tool_dump_checkpoint, which writes each tensor's raw bytes and its fp32 conversion to a
safetensors file; both must match PyTorch bit for bit. Also: archives re-written by Python's
zipfile (stored: read; deflated: refused), the legacy format, pickled modules and non-tensor
values (refused with clear messages), and safetensors written by an independent writer."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import safetensors_py  # noqa: E402

TOOL = os.path.join(os.environ.get("BERT_BUILD", "build"), "tests", "tool_dump_checkpoint")
NP = {"F32": np.float32, "F16": np.float16, "BF16": np.int16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
      "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
failures = []


def read_safetensors(path):
    """name -> (dtype name, shape, numpy array of the raw elements); an independent reader."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=NP[info["dtype"]])
        out[name] = (info["dtype"], list(info["shape"]), raw)
    return out


def raw_of(t):
    """The elements of t in row-major order as numpy (bfloat16 as its int16 bits)."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().reshape(-1)
    return t.numpy().reshape(-1)


def run_tool(src):
    out = src + ".dump.safetensors"
    res = subprocess.run([TOOL, src, out], capture_output=True, text=True)
    return res, (read_safetensors(out) if res.returncode == 0 else None)


def compare(label, tensors, dumped):
    expected = {f"raw.{k}" for k in tensors} | {f"f32.{k}" for k, t in tensors.items() if t.is_floating_point()}
    if set(dumped) != expected:
        failures.append(f"{label}: names differ: {sorted(set(dumped) ^ expected)}")
    for name, t in tensors.items():
        got = dumped.get("raw." + name)
        if got is None:
            continue
        dtype, shape, raw = got
        if shape != list(t.shape):
            failures.append(f"{label}: {name}: shape {shape} vs {list(t.shape)}")
            continue
        want = raw_of(t)
        if raw.dtype != want.dtype or raw.tobytes() != want.tobytes():
            failures.append(f"{label}: {name}: raw {dtype} bytes differ")
        if t.is_floating_point():
            f32 = dumped["f32." + name][2]
            ref = raw_of(t.detach().float())
            if f32.view(np.int32).tobytes() != ref.view(np.int32).tobytes():
                failures.append(f"{label}: {name}: fp32 conversion differs")


def state_dict():
    g = torch.Generator().manual_seed(1)
    big = torch.randn(4, 3, generator=g)
    base = torch.randn(20, generator=g)
    return {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(5, generator=g).half(),
        "f16_special": torch.tensor([1, -2, 65504, 6e-8, 1e-5, float("inf"), float("-inf"), float("nan"), -0.0],
                                    dtype=torch.float16),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "bf16_special": torch.tensor([float("inf"), -0.0, 1e-40, 3.0e38, 1.0 / 3.0]).bfloat16(),
        "f64": torch.randn(4, generator=g).double(),
        "i64": torch.arange(10),
        "i32": torch.arange(6, dtype=torch.int32).reshape(2, 3),
        "i16": torch.tensor([-3, 7], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 9], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "big": big,
        "transposed": big.t(),                                        # shares big's storage
        "slice": base[5:11],                                          # storage offset
        "col_slice": torch.randn(5, 6, generator=g)[:, 2:4],          # strided + offset
        "permuted": torch.randn(2, 3, 4, generator=g).permute(2, 0, 1),
        "step": torch.randn(10, generator=g)[1::3],
        "half_t": torch.randn(3, 5, generator=g).half().t(),
        "bf16_slice": torch.randn(4, 4, generator=g).bfloat16()[1:3, ::2],
        "expanded": torch.randn(3, 1, generator=g).expand(3, 4),      # stride 0
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "param": torch.nn.Parameter(torch.randn(2, 2, generator=g)),  # _rebuild_parameter
    }


def rezip(src, dst, compression):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


def expect_refusal(label, path, message):
    res, _ = run_tool(path)
    if res.returncode != 1 or message not in res.stderr or os.path.basename(path) not in res.stderr:
        failures.append(f"{label}: expected exit 1 with '{message}', got {res.returncode}: {res.stderr.strip()}")


def main():
    if not os.path.exists(TOOL):
        print(f"missing {TOOL}")
        return 1
    sd = state_dict()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "state.bin")
        torch.save(sd, path)
        res, dumped = run_tool(path)
        if res.returncode != 0:
            failures.append(f"torch.save zip: tool failed: {res.stderr.strip()}")
        else:
            compare("torch.save zip", sd, dumped)

        stored = os.path.join(d, "stored.bin")
        rezip(path, stored, zipfile.ZIP_STORED)
        res, dumped = run_tool(stored)
        if res.returncode != 0:
            failures.append(f"zipfile stored: tool failed: {res.stderr.strip()}")
        else:
            compare("zipfile stored", sd, dumped)

        deflated = os.path.join(d, "deflated.bin")
        rezip(path, deflated, zipfile.ZIP_DEFLATED)
        expect_refusal("deflated", deflated, "compressed")

        legacy = os.path.join(d, "legacy.bin")
        torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
        expect_refusal("legacy", legacy, "legacy torch.save format")

        module = os.path.join(d, "module.bin")
        torch.save(torch.nn.Linear(2, 2), module)
        expect_refusal("pickled module", module, "forbidden global")

        mixed = os.path.join(d, "mixed.bin")
        torch.save({"w": torch.ones(2), "step": 3}, mixed)
        expect_refusal("non-tensor value", mixed, "'step' is a int, not a tensor")

        st = os.path.join(d, "python.safetensors")
        st_tensors = {k: sd[k].contiguous() for k in ("f32", "f16_special", "bf16", "bf16_special", "f64", "i64")}
        safetensors_py.save(st, st_tensors, {"format": "pt"})
        res, dumped = run_tool(st)
        if res.returncode != 0:
            failures.append(f"python safetensors: tool failed: {res.stderr.strip()}")
        else:
            compare("python safetensors", st_tensors, dumped)
    for f in failures:
        print("FAIL", f)
    print(f"torch checkpoints: {len(sd)} tensors, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
