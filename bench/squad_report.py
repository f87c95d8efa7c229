"""Table of bench/squad.sh: reads the "RESULT key=value ..." lines of bench_squad (impl=bertc),
bench/peers/torch_squad.py (impl=torch) and bench/peers/ort_bert.js (impl=ort, run on the QA
model with --seq 384 --batches 1,16) and prints our figures beside the peers', the ratios, and
the issue-6 speed targets with a verdict:
  inference (batch 1 and 16) >= 1.2x PyTorch and >= ONNX Runtime; fine-tuning >= 1.3x PyTorch;
  each in fp32 and bf16 (ONNX Runtime: fp32 only).
  /usr/bin/python3 bench/squad_report.py LOG...
"""
import sys

WORKLOADS = [("infer_b1", "inference b1"), ("infer_b16", "inference b16"), ("train", "fine-tune")]
NOISY = 0.10  # share of the machine's CPU time other processes used during a measurement


def parse(paths):
    res = {}
    for p in paths:
        try:
            lines = open(p, encoding="utf-8", errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("RESULT "):
                kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
                res[(kv.get("impl"), kv.get("precision"), kv.get("workload"))] = kv
    return res


def num(res, impl, prec, wl, field=None):
    kv = res.get((impl, prec, wl))
    if not kv:
        return None
    field = field or ("seq_s" if impl == "ort" else "per_s")  # ort_bert.js says seq_s
    try:
        return float(kv[field])
    except (KeyError, ValueError):
        return None


def noisy(res, *keys):
    return any((num(res, *k, "others_cpu") or 0) >= NOISY for k in keys)


def fmt(v, spec="8.3f"):
    width = int(spec.split(".")[0] or 0)
    return "—".rjust(width) if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def fx(v):
    return (fmt(v, "6.2f") + "x") if v is not None else fmt(None, "6") + " "


def status(res, impl, prec):
    kv = res.get((impl, prec, "all"))
    return kv.get("status") if kv else None


def table(res, out):
    batch = res.get(("bertc", "fp32", "train"), res.get(("bertc", "bf16", "train"), {})).get("batch", "?")
    hdr = (f"{'prec':4s} {'workload':13s} {'bertc':>8s}  {'GFLOP/s':>7s} {'oneDNN':>6s} {'attn':>5s} "
           f"{'torch':>8s}  {'ort':>8s}  {'/torch':>7s} {'/ort':>7s}")
    out += [f"fine-tune = zero grads + forward + backward + AdamW at micro-batch {batch}", "", hdr, "-" * len(hdr)]
    for prec in ("fp32", "bf16"):
        if not any(k[1] == prec for k in res):
            continue
        for wl, label in WORKLOADS:
            ours, th = num(res, "bertc", prec, wl), num(res, "torch", prec, wl)
            ort = num(res, "ort", prec, wl) if prec == "fp32" and wl != "train" else None
            share = [num(res, "bertc", prec, wl, f) for f in ("gemm_share", "attn_share")]
            marks = ["*" if noisy(res, (i, prec, wl)) else " " for i in ("bertc", "torch", "ort")]
            note = "".join(f"  ({i}: {status(res, i, prec)})" for i in ("bertc", "torch") if status(res, i, prec)
                           and num(res, i, prec, wl) is None)
            out.append(f"{prec:4s} {label:13s} {fmt(ours)}{marks[0]} {fmt(num(res, 'bertc', prec, wl, 'gflops'), '7.1f')} "
                       f"{fmt(share[0] and share[0] * 100, '5.0f')}% {fmt(share[1] and share[1] * 100, '4.0f')}% "
                       f"{fmt(th)}{marks[1]} {fmt(ort)}{marks[2]} {fx(ratio(ours, th))} {fx(ratio(ours, ort))}{note}")
    if any((float(kv.get("others_cpu", 0)) >= NOISY) for kv in res.values()):
        out.append(f"* noisy: other processes used >= {NOISY:.0%} of the machine's CPU time during that measurement")


def targets(res, out):
    out += ["", "targets (issue 6):"]

    def target(text, ours_key, peer_key, need):
        r = ratio(num(res, *ours_key), num(res, *peer_key))
        if r is None:
            st = status(res, peer_key[0], peer_key[1])
            verdict, detail = "n/a", f"({peer_key[0]}: {st or 'no figure'})"
        else:
            verdict = ("MET" if r >= need else "NOT MET") + (" (noisy)" if noisy(res, ours_key, peer_key) else "")
            detail = f"{r:.2f}x"
        out.append(f"  {text:46s} {detail:30s} {verdict}")

    for prec in ("fp32", "bf16"):
        if not any(k[0] == "bertc" and k[1] == prec for k in res):
            continue
        for wl, label in WORKLOADS[:2]:
            target(f"{label} {prec} >= 1.2x PyTorch {prec}", ("bertc", prec, wl), ("torch", prec, wl), 1.2)
        for wl, label in WORKLOADS[:2]:
            if prec == "fp32":
                target(f"{label} fp32 >= ONNX Runtime", ("bertc", prec, wl), ("ort", prec, wl), 1.0)
            else:
                out.append(f"  {label + ' bf16 >= ONNX Runtime':46s} {'(ONNX Runtime CPU: fp32 only)':30s} n/a")
        target(f"fine-tune {prec} >= 1.3x PyTorch {prec}", ("bertc", prec, "train"), ("torch", prec, "train"), 1.3)
    ours = [num(res, "bertc", "bf16", wl) for wl, _ in WORKLOADS]
    theirs = [num(res, "torch", "fp32", wl) for wl, _ in WORKLOADS]
    if any(o is not None for o in ours) and any(t is not None for t in theirs):
        rs = " / ".join(fmt(ratio(o, t), ".2f") for o, t in zip(ours, theirs))
        out.append(f"  (orientation, not a target: our bf16 / PyTorch fp32, b1 / b16 / fine-tune: {rs})")


def main(paths):
    res = parse(paths)
    out = ["bench/squad.sh: BERT-base QA, sequence 384; inference features/s and fine-tuning samples/s "
           "(higher is better); ratios are ours / theirs; oneDNN and attn = share of our time in oneDNN products, "
           "and in the per-head attention products among them"]
    table(res, out)
    targets(res, out)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
