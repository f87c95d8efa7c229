"""PyTorch peer of bench/pretrain.sh: the same pretraining step as `bert pretrain` — gradient
accumulation over GA micro-batches (forward + backward of MLM at the gathered positions + NSP,
dropout 0.1), then one AdamW or LAMB update — for the model of bench/peers/torch_bert.py, at the
same thread count, fp32 or bf16 (CPU autocast). Prints "RESULT <name> <samples/s>".

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/peers/torch_pretrain.py \
      --model tiny --micro-batch 1 --ga 16 --steps 5 --threads 2
"""
import argparse
import contextlib
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
import torch_bert  # noqa: E402


def lamb_step(params, state, lr, wd=0.01, b1=0.9, b2=0.999, eps=1e-6, cap=65500.0):
    """LAMBNoBiasCorrection as the reference states it (REFERENCE 4.3), in place."""
    with torch.no_grad():
        for p in params:
            m, v = state.setdefault(p, (torch.zeros_like(p), torch.zeros_like(p)))
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            u = m / (v.sqrt() + eps) + (wd * p if p.dim() > 1 else 0)
            r1, r2 = p.norm().clamp(max=cap), u.norm()
            trust = r1 / r2 if r1 > 0 and r2 > 0 else 1.0
            p.add_(u, alpha=-lr * float(trust))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["base", "tiny"], default="tiny")
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--ga", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--optimizer", choices=["AdamW", "LAMB"], default="AdamW")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(5)
    cfg = torch_bert.CONFIGS[args.model]
    model = torch_bert.Bert(cfg).train()
    params = [p for p in model.parameters()]
    adamw = torch.optim.AdamW(params, lr=1e-3, eps=1e-6, weight_decay=0.0) if args.optimizer == "AdamW" else None
    lamb_state = {}
    inputs = [torch_bert.make_inputs(cfg["vocab"], args.micro_batch, seed=s) for s in range(args.ga)]
    autocast = (torch.autocast(device_type="cpu", dtype=torch.bfloat16) if args.precision == "bf16"
                else contextlib.nullcontext())

    def step():
        for p in params:
            p.grad = None
        for ids, types, mask, mpos, mlab, nsp in inputs:
            with autocast:
                loss = model.pretraining_loss(ids, types, mask, mpos, mlab, nsp) / args.ga
            loss.backward()
        if adamw:
            adamw.step()
        else:
            lamb_step(params, lamb_state, 1e-3)

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    samples = args.micro_batch * args.ga / statistics.median(times)
    print(f"RESULT torch {args.model} {args.precision} {args.optimizer} {samples:.3f}")


if __name__ == "__main__":
    main()
