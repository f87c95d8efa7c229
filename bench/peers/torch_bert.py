"""PyTorch peer of bench/model.c: a plain BERT written with torch.nn modules (HuggingFace layout:
separate Q/K/V projections, post-LayerNorm, erf GELU, tied MLM decoder), timed on the same
workloads at the same thread count:
  - inference (encoder + pooler, eval mode, torch.inference_mode) at batch 1 and 8;
  - a training step at micro-batch 8: zero_grad + forward + backward of MLM at 20 gathered
    positions + NSP, dropout 0.1 on, no optimizer step;
in fp32 and in bf16 (torch.autocast(device_type="cpu", dtype=torch.bfloat16)), and inference only in
int8: PyTorch's dynamic quantization (torch.quantization.quantize_dynamic of every nn.Linear, qint8
weights per tensor, activations quantized per batch at run time; quantized engine fbgemm where this
build has it, else the best one it has, printed).
With --export-onnx DIR it also writes DIR/<model>.onnx (fp32 encoder + pooler, dynamic batch axis,
opset 14) for bench/peers/ort_bert.js.

Run it with Debian's torch (/usr/bin/python3) and the OpenMP OpenBLAS first in the library path:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/peers/torch_bert.py --threads 2
Lines starting with "RESULT " are read by bench/model_report.py.
"""
import argparse
import math
import os
import statistics
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

SEQ_LEN = 128
MASKED = 20

CONFIGS = {
    "base": dict(layers=12, hidden=768, heads=12, inter=3072, vocab=30522, title="BERT-base"),
    "tiny": dict(layers=3, hidden=64, heads=8, inter=256, vocab=30522, title="demo_tiny_128"),
}


class Layer(nn.Module):
    def __init__(self, H, nh, inter, p):
        super().__init__()
        self.nh, self.d = nh, H // nh
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.attn_out = nn.Linear(H, H)
        self.attn_ln = nn.LayerNorm(H, eps=1e-12)
        self.inter = nn.Linear(H, inter)
        self.out = nn.Linear(inter, H)
        self.out_ln = nn.LayerNorm(H, eps=1e-12)
        self.drop = nn.Dropout(p)

    def forward(self, x, mask_add):
        B, L, H = x.shape

        def heads(t):
            return t.view(B, L, self.nh, self.d).permute(0, 2, 1, 3)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d) + mask_add
        probs = self.drop(torch.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B, L, H)
        x = self.attn_ln(x + self.drop(self.attn_out(ctx)))
        h = F.gelu(self.inter(x))
        return self.out_ln(x + self.drop(self.out(h)))


def init_weights(module):
    """HF's initialisation: truncated normal (std 0.02) weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


class Bert(nn.Module):
    """heads=False leaves out the pooler and the pretraining heads (a task model such as
    bench/peers/torch_squad.py's BertForQuestionAnswering adds its own head on `sequence`)."""

    def __init__(self, cfg, p=0.1, heads=True):
        super().__init__()
        H, V = cfg["hidden"], cfg["vocab"]
        self.word = nn.Embedding(V, H)
        self.pos = nn.Embedding(512, H)
        self.token_type = nn.Embedding(2, H)
        self.emb_ln = nn.LayerNorm(H, eps=1e-12)
        self.drop = nn.Dropout(p)
        self.layers = nn.ModuleList(Layer(H, cfg["heads"], cfg["inter"], p) for _ in range(cfg["layers"]))
        if heads:
            self.pooler = nn.Linear(H, H)
            # pretraining heads: MLM transform + tied decoder, NSP
            self.mlm_dense = nn.Linear(H, H)
            self.mlm_ln = nn.LayerNorm(H, eps=1e-12)
            self.mlm_bias = nn.Parameter(torch.zeros(V))
            self.nsp = nn.Linear(H, 2)
        init_weights(self)

    def sequence(self, ids, types, mask):
        """The encoder's output [B, L, H]."""
        B, L = ids.shape
        pos = torch.arange(L, device=ids.device).unsqueeze(0).expand(B, L)
        x = self.drop(self.emb_ln(self.word(ids) + self.pos(pos) + self.token_type(types)))
        mask_add = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_add)
        return x

    def encode(self, ids, types, mask):
        x = self.sequence(ids, types, mask)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return x, pooled

    def pretraining_loss(self, ids, types, mask, mpos, mlab, nsp_lab):
        seq, pooled = self.encode(ids, types, mask)
        B, M = mpos.shape
        g = torch.gather(seq, 1, mpos.unsqueeze(-1).expand(B, M, seq.shape[-1]))
        # .float(): CPU autocast in torch 1.13 leaves layer_norm's bf16 input with fp32 weights
        t = self.mlm_ln(F.gelu(self.mlm_dense(g)).float())
        logits = F.linear(t, self.word.weight, self.mlm_bias)
        mlm = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), mlab.reshape(-1), ignore_index=0)
        nsp = F.cross_entropy(self.nsp(pooled).float(), nsp_lab)
        return mlm + nsp


class EncoderPooler(nn.Module):
    """What is exported to ONNX: (input_ids, token_type_ids, attention_mask) -> (sequence, pooled)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, token_type_ids, attention_mask):
        return self.bert.encode(input_ids, token_type_ids, attention_mask)


def make_inputs(vocab, B, seed=1234):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab, (B, SEQ_LEN), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    types = (torch.arange(SEQ_LEN) >= SEQ_LEN // 2).long().unsqueeze(0).expand(B, SEQ_LEN).contiguous()
    mask = torch.ones(B, SEQ_LEN, dtype=torch.long)
    stride = (SEQ_LEN - 2) // MASKED
    mpos = 1 + torch.arange(MASKED) * stride + torch.randint(0, stride, (B, MASKED), generator=g)
    mlab = torch.randint(1000, vocab, (B, MASKED), generator=g)
    nsp = torch.randint(0, 2, (B,), generator=g)
    return ids, types, mask, mpos, mlab, nsp


def forward_flops(cfg, pretraining):
    """Same analytic count as bench/model.c (2·m·n·k per product, attention included)."""
    H, I, V, L = cfg["hidden"], cfg["inter"], cfg["vocab"], SEQ_LEN
    layer = 2 * L * H * 3 * H + 2 * L * H * H + 2 * 2 * L * H * I + 2 * 2 * L * L * H
    total = cfg["layers"] * layer + 2 * H * H
    if pretraining:
        total += 2 * H * 2 + MASKED * (2 * H * H + 2 * H * V)
    return total


def cpu_snap():
    """(busy, total) CPU seconds of the machine (/proc/stat, steal included) and ours."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        v = [0] * 8
    hz = os.sysconf("SC_CLK_TCK")
    t = os.times()
    return (sum(v) - v[3] - v[4]) / hz, sum(v) / hz, t.user + t.system


def cpu_others(a, b):
    """Fraction of the machine's CPU time other processes used between two snapshots."""
    total = b[1] - a[1]
    if total <= 0:
        return 0.0
    return min(1.0, max(0.0, ((b[0] - a[0]) - (b[2] - a[2])) / total))


def time_it(fn, warmup, iters, budget):
    for _ in range(warmup):
        fn()
    times, start, c0 = [], time.perf_counter(), cpu_snap()
    while len(times) < iters:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget:
            break
    return statistics.median(times), len(times), cpu_others(c0, cpu_snap())


def report(model, prec, workload, seqs, flops, med, n, others):
    seq_s = seqs / med
    noisy = f"  NOISY: other processes used {others:.0%} of the CPU time" if others >= 0.10 else ""
    print(f"  {workload:10s} {seq_s:8.2f} seq/s  {med * 1e3:9.1f} ms/batch (median of {n})  "
          f"{flops * seq_s * 1e-9:6.1f} GFLOP/s{noisy}", flush=True)
    print(f"RESULT impl=torch model={model} precision={prec} workload={workload} seq_s={seq_s:.4f} "
          f"gflops={flops * seq_s * 1e-9:.2f} iters={n} others_cpu={others:.3f}", flush=True)


def pick_quantized_engine():
    """fbgemm (x86) if this build has it, else x86 / onednn / qnnpack, whichever comes first.
    Returns (engine, supported engines)."""
    supported = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    for e in ("fbgemm", "x86", "onednn", "qnnpack"):
        if e in supported:
            torch.backends.quantized.engine = e
            return e, supported
    return torch.backends.quantized.engine, supported


def quantize_int8(net):
    """A copy of `net` with every nn.Linear replaced by a dynamically quantized one (qint8)."""
    return torch.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8)


def gemm_probe(prec):
    """GFLOP/s of one [256 x 768] x [768 x 768] product (small: bf16 may run at ~1 GFLOP/s); int8
    is a dynamically quantized nn.Linear (activation quantization included). `prec` is "fp32", "bf16",
    "int8" or a torch dtype (as bench/peers/torch_squad.py passes)."""
    if isinstance(prec, torch.dtype):
        prec = "bf16" if prec == torch.bfloat16 else "fp32"
    if prec == "int8":
        lin = quantize_int8(nn.Sequential(nn.Linear(768, 768, bias=False)).eval())
        x = torch.randn(256, 768)
        fn = lambda: lin(x)  # noqa: E731
    else:
        dtype = torch.float32 if prec == "fp32" else torch.bfloat16
        x, w = torch.randn(256, 768).to(dtype), torch.randn(768, 768).to(dtype)
        fn = lambda: F.linear(x, w)  # noqa: E731
    with torch.inference_mode():
        fn()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return 2 * 256 * 768 * 768 / statistics.median(times) * 1e-9


def bench(model, prec, args, slow_bf16=False):
    cfg = CONFIGS[model]
    torch.manual_seed(0)
    net = Bert(cfg)
    big = model == "base"
    it1 = args.iters or (3 if args.quick else 10) if big else args.iters or (10 if args.quick else 50)
    it8 = args.iters or (2 if args.quick else 5) if big else args.iters or (5 if args.quick else 20)
    itt = args.iters or (1 if args.quick else 3) if big else args.iters or (3 if args.quick else 10)
    wu = 1 if big or slow_bf16 else 3
    ids, types, mask, mpos, mlab, nsp = make_inputs(cfg["vocab"], 8)
    f_inf, f_pre = forward_flops(cfg, False), forward_flops(cfg, True)
    autocast = (lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)) if prec == "bf16" else None
    what = f", dynamic int8 ({torch.backends.quantized.engine} engine)" if prec == "int8" else ""
    print(f"\n[{model} {prec}] {cfg['title']} in PyTorch {torch.__version__}{what}", flush=True)

    net.eval()
    if prec == "int8":
        fp32_net, net = net, quantize_int8(net)
        with torch.inference_mode():  # how far the int8 outputs are from fp32 (printed, not checked)
            ref, out = fp32_net.encode(ids, types, mask), net.encode(ids, types, mask)
        fields = []
        for name, r, o in zip(("sequence_output", "pooled_output"), ref, out):
            d, rel = (o - r).abs().max(), (o - r).norm() / r.norm()
            print(f"  int8 vs fp32 {name} (batch 8): max |diff| {d:.4f} (max |fp32| {r.abs().max():.3f}), "
                  f"relative L2 error {rel:.2%}", flush=True)
            fields.append(f"{name}_max_abs={d:.5f} {name}_rel_l2={rel:.5f}")
        print(f"RESULT impl=torch model={model} precision=int8 workload=accuracy_vs_fp32 {' '.join(fields)}", flush=True)
        del fp32_net
    for bs in (1, 8):
        def infer():
            with torch.inference_mode():
                if autocast:
                    with autocast():
                        net.encode(ids[:bs], types[:bs], mask[:bs])
                else:
                    net.encode(ids[:bs], types[:bs], mask[:bs])
        med, n, others = time_it(infer, wu + (bs == 1), it1 if bs == 1 else it8, args.budget)
        report(model, prec, f"infer_b{bs}", bs, f_inf, med, n, others)

    if args.skip_train or prec == "int8":  # int8 is inference only
        return
    net.train()

    def step():
        net.zero_grad(set_to_none=True)
        if autocast:
            with autocast():
                loss = net.pretraining_loss(ids, types, mask, mpos, mlab, nsp)
        else:
            loss = net.pretraining_loss(ids, types, mask, mpos, mlab, nsp)
        loss.backward()
        step.loss = float(loss)

    med, n, others = time_it(step, wu, itt, args.budget)
    report(model, prec, "train_mb8", 8, 3 * f_pre, med, n, others)
    print(f"             last loss {step.loss:.3f}", flush=True)


def export_onnx(model, directory):
    cfg = CONFIGS[model]
    torch.manual_seed(0)
    net = EncoderPooler(Bert(cfg)).eval()
    ids, types, mask, *_ = make_inputs(cfg["vocab"], 2)
    path = f"{directory}/{model}.onnx"
    t0 = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (ids, types, mask), path, opset_version=14,
                          input_names=["input_ids", "token_type_ids", "attention_mask"],
                          output_names=["sequence_output", "pooled_output"],
                          dynamic_axes={n: {0: "batch"} for n in
                                        ["input_ids", "token_type_ids", "attention_mask", "sequence_output",
                                         "pooled_output"]})
    print(f"exported {path} in {time.perf_counter() - t0:.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", choices=["base", "tiny", "all"], default="all")
    ap.add_argument("--precision", choices=["fp32", "bf16", "int8", "all"], default="all",
                    help="all = fp32, bf16 and int8 (int8: inference only)")
    ap.add_argument("--iters", type=int, default=0)
    ap.add_argument("--budget", type=float, default=-1, help="seconds of timed iterations per workload")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--force-bf16", action="store_true",
                    help="run BERT-base bf16 even when PyTorch's bf16 matmul is a slow fallback on this CPU")
    ap.add_argument("--export-onnx", metavar="DIR")
    args = ap.parse_args()
    if args.budget < 0:
        args.budget = 12.0 if args.quick else 40.0
    if args.threads:
        torch.set_num_threads(args.threads)
    models = ["base", "tiny"] if args.model == "all" else [args.model]
    precs = ["fp32", "bf16", "int8"] if args.precision == "all" else [args.precision]
    blas = "?"
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line}
        blas = ", ".join(sorted(libs)) or "none loaded"
    except OSError:
        pass
    print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} thread(s), mkldnn "
          f"{torch.backends.mkldnn.is_available()}, BLAS {blas}", flush=True)
    if "int8" in precs:
        engine, supported = pick_quantized_engine()
        print(f"PyTorch int8: dynamic quantization on the {engine} quantized engine (this build has: "
              f"{', '.join(supported) or 'none'})", flush=True)
    start = time.perf_counter()
    probe = {p: gemm_probe(p) for p in precs}
    for p, g in probe.items():
        print(f"PyTorch {p} GEMM probe 256 x 768 x 768: {g:.1f} GFLOP/s", flush=True)
        print(f"RESULT impl=torch model=- precision={p} workload=gemm_probe gflops={g:.2f}", flush=True)
    slow_bf16 = "bf16" in probe and probe["bf16"] < 0.25 * probe.get("fp32", gemm_probe("fp32"))
    if slow_bf16:
        print("PyTorch bf16 has no fast kernel on this CPU (its bf16 matmul is a slow fallback): BERT-base bf16 "
              "would take many minutes and is skipped unless --force-bf16", flush=True)
    for model in models:
        for prec in precs:
            if prec == "bf16" and slow_bf16 and model == "base" and not args.force_bf16:
                print(f"\n[{model} {prec}] skipped: PyTorch bf16 GEMM {probe['bf16']:.1f} GFLOP/s on this CPU", flush=True)
                print(f"RESULT impl=torch model={model} precision={prec} workload=all status=slow_bf16_skipped",
                      flush=True)
                continue
            try:
                bench(model, prec, args, slow_bf16 and prec == "bf16")
            except RuntimeError as e:  # e.g. an op without a bf16 kernel
                print(f"  {prec}: failed: {e}", flush=True)
                print(f"RESULT impl=torch model={model} precision={prec} workload=all status=error", flush=True)
    if args.export_onnx:
        for model in models:
            export_onnx(model, args.export_onnx)
    print(f"\ntorch_bert: done in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
