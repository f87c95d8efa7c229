"""PyTorch peer of bench/squad.c: BertForQuestionAnswering re-stated in plain torch (the encoder of
bench/peers/torch_bert.py without pooler or pretraining heads, plus HF's `qa_outputs` Linear(H, 2)
and its loss: start/end positions clamped to [0, L], cross-entropy with ignore_index L, mean of
the two), BERT-base at sequence 384, timed on the same workloads at the same thread count:
  - inference features/s at batch 1 and 16 (eval mode, torch.inference_mode);
  - fine-tuning samples/s at micro-batch N (default 4): zero_grad + forward + backward with start
    and end labels (dropout 0.1 on) + torch.optim.AdamW step (lr 3e-5, eps 1e-6, no weight decay);
in fp32 and bf16 (torch.autocast(device_type="cpu", dtype=torch.bfloat16)). Without native bf16
PyTorch's bf16 matmul is a slow fallback; then bf16 is skipped unless --force-bf16 (hours at 384).
With --export-onnx DIR it writes DIR/base.onnx (fp32, (input_ids, token_type_ids, attention_mask)
-> (start_logits, end_logits), dynamic batch axis, opset 14) for bench/peers/ort_bert.js.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/peers/torch_squad.py --threads 2
Lines starting with "RESULT " are read by bench/squad_report.py (bench/squad.sh).
"""
import argparse
import contextlib
import os
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bert  # noqa: E402

SEQ = 384
QUESTION = 24  # [CLS] + 22 question tokens + [SEP], token type 0; the context is type 1
CFG = torch_bert.CONFIGS["base"]


class BertForQuestionAnswering(nn.Module):
    def __init__(self, cfg, p=0.1):
        super().__init__()
        self.bert = torch_bert.Bert(cfg, p, heads=False)  # HF's QA model has no pooler
        self.qa_outputs = nn.Linear(cfg["hidden"], 2)
        torch_bert.init_weights(self.qa_outputs)

    def forward(self, input_ids, token_type_ids, attention_mask):
        logits = self.qa_outputs(self.bert.sequence(input_ids, token_type_ids, attention_mask))
        start, end = logits.split(1, dim=-1)
        return start.squeeze(-1).contiguous(), end.squeeze(-1).contiguous()

    def loss(self, ids, types, mask, start_positions, end_positions):
        start, end = self(ids, types, mask)
        L = start.shape[1]
        s, e = start_positions.clamp(0, L), end_positions.clamp(0, L)
        # .float(): under autocast the logits are bf16
        return (F.cross_entropy(start.float(), s, ignore_index=L) + F.cross_entropy(end.float(), e, ignore_index=L)) / 2


def real_length(f, padded):
    """Real tokens of feature f: all, or bench/squad.c's --padded spread 150 + (97 f mod 235)."""
    return min(SEQ, 150 + (97 * f) % 235) if padded else SEQ


def make_features(B, padded, seed=1234):
    """[CLS] question [SEP] context [SEP] (padding), answers of 1-10 tokens inside the context."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, CFG["vocab"], (B, SEQ), generator=g)
    types = torch.zeros(B, SEQ, dtype=torch.long)
    mask = torch.zeros(B, SEQ, dtype=torch.long)
    start, end = torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long)
    for f in range(B):
        n = real_length(f, padded)
        ids[f, 0], ids[f, QUESTION - 1], ids[f, n - 1], ids[f, n:] = 101, 102, 102, 0
        types[f, QUESTION:n] = 1
        mask[f, :n] = 1
        start[f] = QUESTION + int(torch.randint(0, n - QUESTION - 11, (1,), generator=g))
        end[f] = start[f] + int(torch.randint(0, 10, (1,), generator=g))
    return ids, types, mask, start, end


def forward_flops():
    """bench/squad.c's count: 2·m·n·k per product (attention included) + the QA head 2·L·H·2."""
    H, I, L = CFG["hidden"], CFG["inter"], SEQ
    layer = 2 * L * H * 3 * H + 2 * L * H * H + 2 * 2 * L * H * I + 2 * 2 * L * L * H
    return CFG["layers"] * layer + 2 * L * H * 2


def report(prec, workload, batch, unit, med, n, others):
    per_s = batch / med
    noisy = f"  NOISY: other processes used {others:.0%} of the CPU time" if others >= 0.10 else ""
    flops = forward_flops() * (3 if workload == "train" else 1)
    label = ("fine-tune" if workload == "train" else "inference") + f" b{batch}"
    print(f"  {label:14s} {per_s:8.3f} {unit}/s  {med:8.2f} s/batch (median of {n})  "
          f"{flops * per_s * 1e-9:6.1f} GFLOP/s{noisy}", flush=True)
    print(f"RESULT impl=torch precision={prec} workload={workload} "
          f"batch={batch} per_s={per_s:.4f} gflops={flops * per_s * 1e-9:.2f} iters={n} others_cpu={others:.3f}",
          flush=True)


def bench(prec, args):
    torch.manual_seed(0)
    net = BertForQuestionAnswering(CFG)
    mb, big = args.micro_batch, max(16, args.micro_batch)
    ids, types, mask, start, end = make_features(big, args.padded)
    autocast = (lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)) if prec == "bf16" \
        else contextlib.nullcontext
    iters = {1: args.iters or (3 if args.quick else 10), 16: args.iters or (1 if args.quick else 3)}
    print(f"\n[{prec}] BERT-base QA, sequence {SEQ}, PyTorch {torch.__version__}", flush=True)

    net.eval()
    for bs in (1, 16):
        def infer():
            with torch.inference_mode(), autocast():
                net(ids[:bs], types[:bs], mask[:bs])
        med, n, others = torch_bert.time_it(infer, 1 + (bs == 1), iters[bs], args.budget)
        report(prec, f"infer_b{bs}", bs, "features", med, n, others)
    if args.skip_train:
        return

    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-5, eps=1e-6, weight_decay=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = net.loss(ids[:mb], types[:mb], mask[:mb], start[:mb], end[:mb])
        loss.backward()
        opt.step()
        step.loss = float(loss)

    med, n, others = torch_bert.time_it(step, 1, args.iters or (1 if args.quick else 3), args.budget)
    report(prec, "train", mb, "samples", med, n, others)
    print(f"             last loss {step.loss:.3f}", flush=True)


def export_onnx(directory, padded):
    torch.manual_seed(0)
    net = BertForQuestionAnswering(CFG).eval()
    ids, types, mask, *_ = make_features(2, padded)
    path = os.path.join(directory, "base.onnx")
    t0 = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = ["input_ids", "token_type_ids", "attention_mask", "start_logits", "end_logits"]
        torch.onnx.export(net, (ids, types, mask), path, opset_version=14, input_names=names[:3],
                          output_names=names[3:], dynamic_axes={n: {0: "batch"} for n in names})
    print(f"exported {path} in {time.perf_counter() - t0:.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--precision", choices=["fp32", "bf16", "all"], default="all")
    ap.add_argument("--iters", type=int, default=0, help="timed iterations of every workload")
    ap.add_argument("--budget", type=float, default=-1, help="seconds of timed iterations per workload")
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--padded", action="store_true")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--force-bf16", action="store_true",
                    help="run bf16 even when PyTorch's bf16 matmul is a slow fallback on this CPU")
    ap.add_argument("--export-onnx", metavar="DIR")
    args = ap.parse_args()
    if args.budget < 0:
        args.budget = 15.0 if args.quick else 45.0
    if args.threads:
        torch.set_num_threads(args.threads)
    precs = ["fp32", "bf16"] if args.precision == "all" else [args.precision]
    print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} thread(s), sequence {SEQ}, micro-batch "
          f"{args.micro_batch}, {'padded' if args.padded else 'full'} windows", flush=True)
    start = time.perf_counter()
    probe = {p: torch_bert.gemm_probe(torch.float32 if p == "fp32" else torch.bfloat16) for p in precs}
    for p, g in probe.items():
        print(f"PyTorch {p} GEMM probe 256 x 768 x 768: {g:.1f} GFLOP/s", flush=True)
    slow_bf16 = "bf16" in probe and probe["bf16"] < 0.25 * probe.get("fp32", torch_bert.gemm_probe(torch.float32))
    for prec in precs:
        if prec == "bf16" and slow_bf16 and not args.force_bf16:
            print(f"\n[{prec}] skipped: PyTorch's bf16 matmul is a slow fallback on this CPU "
                  f"({probe['bf16']:.1f} GFLOP/s; --force-bf16 runs it anyway, for hours)", flush=True)
            print(f"RESULT impl=torch precision={prec} workload=all status=slow_bf16_skipped", flush=True)
            continue
        try:
            bench(prec, args)
        except RuntimeError as e:  # e.g. an op without a bf16 kernel
            print(f"  {prec}: failed: {e}", flush=True)
            print(f"RESULT impl=torch precision={prec} workload=all status=error", flush=True)
    if args.export_onnx:
        export_onnx(args.export_onnx, args.padded)
    print(f"\ntorch_squad: done in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
