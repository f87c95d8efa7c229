"""Table of bench/model.sh: reads the "RESULT key=value ..." lines that bench_model (impl=bertc),
bench/peers/torch_bert.py (impl=torch) and bench/peers/ort_bert.js (impl=ort) print, and prints our
figures beside the peers', the ratios, and the issue-2 speed targets (BERT-base) with a verdict.
  /usr/bin/python3 bench/model_report.py LOG...
"""
import sys

WORKLOADS = [("infer_b1", "inference b1"), ("infer_b8", "inference b8"), ("train_mb8", "training mb8")]
# Measured earlier on a different 2-core machine (issue 2), printed for orientation only.
PREVIOUS = ("previous machine (2 cores, for orientation): FMA peak 232 GFLOP/s fp32, oneDNN GEMM ~215, "
            "ONNX Runtime inference ~8.4 seq/s fp32 (b1 and b8), PyTorch training ~1.9 seq/s fp32")


def parse(paths):
    res = {}
    for p in paths:
        try:
            lines = open(p, encoding="utf-8", errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            if not line.startswith("RESULT "):
                continue
            kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
            key = (kv.get("impl"), kv.get("model"), kv.get("precision"), kv.get("workload"))
            res[key] = kv
    return res


def num(res, impl, model, prec, workload, field="seq_s"):
    kv = res.get((impl, model, prec, workload))
    if not kv or field not in kv:
        return None
    try:
        return float(kv[field])
    except ValueError:
        return None


def noisy(res, impl, model, prec, workload):
    """'*' when other processes used >= 10% of the machine's CPU time during the measurement."""
    o = num(res, impl, model, prec, workload, "others_cpu")
    return "*" if o is not None and o >= 0.10 else " "


def status(res, impl, model, prec):
    kv = res.get((impl, model, prec, "all"))
    return kv.get("status") if kv else None


def fmt(v, spec="8.2f"):
    width = spec.split(".")[0]
    if v is None:
        return "—".rjust(int(width) if width else 0)
    return format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def fx(v, spec="6.2f"):
    """A ratio with its x, or a dash."""
    return fmt(v, spec) + "x" if v is not None else fmt(None, spec) + " "


def main(paths):
    res = parse(paths)
    out = []
    fma = num(res, "bertc", "-", "fp32", "fma_peak", "gflops")
    peaks = {p: num(res, "bertc", "-", p, "gemm_peak", "gflops") for p in ("fp32", "bf16")}
    emulated = res.get(("bertc", "-", "bf16", "gemm_peak"), {}).get("emulated") == "1"
    out.append("bench/model.sh: sequences/s (higher is better), sequence length 128; ratios are ours / theirs")
    line = "machine: "
    line += f"theoretical FMA peak {fma:.0f} GFLOP/s fp32; " if fma else ""
    line += f"oneDNN GEMM peak fp32 {fmt(peaks['fp32'], '.0f')} GFLOP/s"
    if peaks["bf16"]:
        line += f", bf16 {peaks['bf16']:.0f} GFLOP/s" + (" (emulated: widened to f32)" if emulated else "")
    elif res.get(("bertc", "-", "bf16", "gemm_peak"), {}).get("status"):
        line += ", bf16 unsupported"
    out.append(line)
    out.append(PREVIOUS)
    out.append("")
    hdr = (f"{'model':5s} {'prec':4s} {'workload':13s} {'bertc':>8s}  {'GFLOP/s':>8s} {'%peak':>6s} "
           f"{'torch':>8s}  {'ort':>8s}  {'/torch':>7s} {'/ort':>7s}")
    out.append(hdr)
    out.append("-" * len(hdr))
    for model in ("base", "tiny"):
        for prec in ("fp32", "bf16"):
            if not any(k[1] == model and k[2] == prec for k in res):
                continue
            st = status(res, "bertc", model, prec)
            for wl, label in WORKLOADS:
                ours = num(res, "bertc", model, prec, wl)
                gf = num(res, "bertc", model, prec, wl, "gflops")
                frac = num(res, "bertc", model, prec, wl, "peak_frac")
                th = num(res, "torch", model, prec, wl)
                ort = num(res, "ort", model, prec, wl) if prec == "fp32" and wl != "train_mb8" else None
                note = ""
                if ours is None and st:
                    note = f"  (bertc: {st})"
                tst = status(res, "torch", model, prec)
                if th is None and tst:
                    note += f"  (torch: {tst})"
                n_us, n_th = noisy(res, "bertc", model, prec, wl), noisy(res, "torch", model, prec, wl)
                n_ort = noisy(res, "ort", model, prec, wl)
                out.append(f"{model:5s} {prec:4s} {label:13s} {fmt(ours)}{n_us} {fmt(gf, '8.1f')} "
                           f"{fmt(frac * 100 if frac else None, '5.0f')}% {fmt(th)}{n_th} {fmt(ort)}{n_ort} "
                           f"{fx(ratio(ours, th))} {fx(ratio(ours, ort))}{note}")
    if any(kv.get("others_cpu") and float(kv["others_cpu"]) >= 0.10 for kv in res.values()):
        out.append("* noisy: other processes used >= 10% of the machine's CPU time during that measurement")
    mem = num(res, "bertc", "base", "fp32", "train_peak_rss", "mib")
    if mem:
        out.append("")
        out.append(f"peak RSS, BERT-base fp32 training step at micro-batch 8 with AdamW: {mem:.0f} MiB "
                   f"({mem * 1048576 / 1e9:.2f} GB)")

    # Targets (issue 2, Speed), on BERT-base.
    out.append("")
    out.append("targets (BERT-base):")

    def target(text, ok, detail, inputs=()):
        verdict = "n/a" if ok is None else ("MET" if ok else "NOT MET")
        if ok is not None and any(noisy(res, *k) == "*" for k in inputs):
            verdict += " (noisy)"
        out.append(f"  {text:56s} {detail:22s} {verdict}")

    def geq(v, t):
        return None if v is None else v >= t

    b8 = num(res, "bertc", "base", "fp32", "infer_b8")
    b1 = num(res, "bertc", "base", "fp32", "infer_b1")
    ort8 = num(res, "ort", "base", "fp32", "infer_b8")
    f8 = num(res, "bertc", "base", "fp32", "infer_b8", "peak_frac")
    f1 = num(res, "bertc", "base", "fp32", "infer_b1", "peak_frac")
    r = ratio(b8, ort8)
    us8, us1 = ("bertc", "base", "fp32", "infer_b8"), ("bertc", "base", "fp32", "infer_b1")
    target("inference fp32 b8 >= ONNX Runtime", geq(r, 1.0), f"{fx(r, '.2f')} ORT",
           (us8, ("ort", "base", "fp32", "infer_b8")))
    target("inference fp32 b8 >= 85% of the GEMM peak", geq(f8, 0.85), f"{fmt(f8 and f8 * 100, '.0f')}%", (us8,))
    target("inference fp32 b1 >= 75% of the GEMM peak", geq(f1, 0.75), f"{fmt(f1 and f1 * 100, '.0f')}%", (us1,))
    tb = status(res, "torch", "base", "bf16")
    if tb:
        probe = num(res, "torch", "-", "bf16", "gemm_probe", "gflops")
        out.append(f"  (PyTorch BERT-base bf16: {tb}" + (f"; its bf16 GEMM runs at {probe:.1f} GFLOP/s here, without"
                   " native bf16; `torch_bert.py --force-bf16` runs it anyway)" if probe is not None else ")"))
    for wl, label in (("infer_b1", "b1"), ("infer_b8", "b8")):
        r = ratio(num(res, "bertc", "base", "bf16", wl), num(res, "torch", "base", "bf16", wl))
        target(f"inference bf16 {label} >= 1.2x PyTorch bf16", geq(r, 1.2), f"{fx(r, '.2f')} torch",
               (("bertc", "base", "bf16", wl), ("torch", "base", "bf16", wl)))
    ft = num(res, "bertc", "base", "fp32", "train_mb8", "peak_frac")
    rt = ratio(num(res, "bertc", "base", "fp32", "train_mb8"), num(res, "torch", "base", "fp32", "train_mb8"))
    target("training fp32 >= 80% of the GEMM peak (~1.3x PyTorch)", geq(ft, 0.80),
           f"{fmt(ft and ft * 100, '.0f')}%, {fx(rt, '.2f')} torch", (("bertc", "base", "fp32", "train_mb8"),))
    r = ratio(num(res, "bertc", "base", "bf16", "train_mb8"), num(res, "torch", "base", "bf16", "train_mb8"))
    target("training bf16 >= 1.5x PyTorch bf16", geq(r, 1.5), f"{fx(r, '.2f')} torch",
           (("bertc", "base", "bf16", "train_mb8"), ("torch", "base", "bf16", "train_mb8")))
    target("training fp32 mb8 peak memory <= 3 GB (AdamW incl.)", None if mem is None else mem * 1048576 <= 3e9,
           f"{fmt(mem and mem * 1048576 / 1e9, '.2f')} GB")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
