"""Table of bench/model.sh: reads the "RESULT key=value ..." lines that bench_model (impl=bertc),
bench/peers/torch_bert.py (impl=torch) and bench/peers/ort_bert.js (impl=ort) print, and the oneDNN
verbose lines of bench/model.sh's probe run (onednn_verbose.txt), and prints which ISA oneDNN
dispatched, our figures beside the peers' in the same precision (fp32, bf16 = PyTorch autocast,
int8 = PyTorch / ONNX Runtime dynamic quantization), the share of our time outside the matrix
products, the ratios, and the speed targets of issues 2 and 11 (BERT-base) with a verdict.
  /usr/bin/python3 bench/model_report.py LOG... [onednn_verbose.txt]
  /usr/bin/python3 bench/model_report.py --onednn onednn_verbose.txt   (the oneDNN lines only)
Other lines (including oneDNN verbose lines inside a log) are ignored by the RESULT parser.
"""
import re
import sys
from collections import Counter

WORKLOADS = [("infer_b1", "inference b1"), ("infer_b8", "inference b8"), ("train_mb8", "training mb8")]
PRECISIONS = ("fp32", "bf16", "int8")
# Measured earlier on a different 2-core machine (issue 2), printed for orientation only.
PREVIOUS = ("previous machine (2 cores, for orientation): FMA peak 232 GFLOP/s fp32, oneDNN GEMM ~215, "
            "ONNX Runtime inference ~8.4 seq/s fp32 (b1 and b8), PyTorch training ~1.9 seq/s fp32")
VERBOSE = re.compile(r"^(onednn|dnnl)_verbose,")


def read_lines(paths):
    for p in paths:
        try:
            yield from open(p, encoding="utf-8", errors="replace").read().splitlines()
        except OSError:
            continue


def parse(paths):
    res = {}
    for line in read_lines(paths):
        if not line.startswith("RESULT "):
            continue
        kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        key = (kv.get("impl"), kv.get("model"), kv.get("precision"), kv.get("workload"))
        res[key] = kv
    return res


def parse_onednn(paths):
    """oneDNN verbose lines -> (version, isa, {data type: Counter of 'primitive impl'}).
    Handles oneDNN 2.x ("onednn_verbose,exec,cpu,matmul,gemm:jit,...") and 3.x
    ("onednn_verbose,[v1,]primitive,exec,cpu,matmul,brg:avx512_core_amx,...") lines."""
    version, isa, impls = None, None, {}
    for line in read_lines(paths):
        if not VERBOSE.match(line):
            continue
        f = line.split(",")
        for field in f[1:4]:
            if field.startswith("oneDNN v") or field.startswith("DNNL v"):
                version = field.split(" (")[0]
        if ",isa:" in line:  # the rest of the line: the ISA's name may contain commas
            isa = line.split(",isa:", 1)[1].strip()
            continue
        if "exec" not in f[1:4]:
            continue
        i = f.index("exec")
        if len(f) < i + 6:
            continue
        prim, impl, mds = f[i + 2], f[i + 3], f[i + 5]
        types = {}
        for md in mds.split():
            m = re.match(r"(src|wei|dst)[_:]([a-z0-9]+)", md)
            if m and m.group(1) not in types:
                types[m.group(1)] = m.group(2)
        if "wei" in types:
            dt = types.get("src", "?") if types.get("src") == types["wei"] else f"{types.get('src', '?')}:{types['wei']}"
        elif "src" in types and "dst" in types and types["src"] != types["dst"]:
            dt = f"{types['src']}->{types['dst']}"
        else:
            dt = types.get("src", "?")
        impls.setdefault(dt, Counter())[f"{prim} {impl}"] += 1
    return version, isa, impls


def isa_native_bf16(isa):
    """True/False from oneDNN's isa line (AVX-512 bf16, AVX2-VNNI-2 or AMX), None if unknown."""
    if not isa:
        return None
    return bool(re.search(r"bf16|bfloat16|amx", isa, re.IGNORECASE))


def onednn_summary(paths):
    """Lines saying which ISA and which implementations (per data type) oneDNN dispatched."""
    version, isa, impls = parse_onednn(paths)
    if not isa and not impls:
        return []
    v = f" {version[7:]}" if version and version.startswith("oneDNN v") else ""
    bf16 = "" if isa_native_bf16(isa) in (None, True) else " (no native bf16: bf16 products are emulated)"
    lines = [f"oneDNN{v} dispatched: isa {isa or '? (no isa line)'}{bf16}; executions by data type:"]
    for dt in sorted(impls):
        lines.append(f"  {dt:9s} " + ", ".join(f"{k} x {n}" for k, n in impls[dt].most_common()))
    return lines


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


def outside(res, model, prec, wl):
    """Share of our time outside oneDNN's matrix products: 1 - gemm_share (None if not printed)."""
    g = num(res, "bertc", model, prec, wl, "gemm_share")
    return None if g is None else 1.0 - g


def main(paths):
    if paths[:1] == ["--onednn"]:
        print("\n".join(onednn_summary(paths[1:]) or ["oneDNN: no verbose lines (no isa line)"]))
        return
    res = parse(paths)
    isa = parse_onednn(paths)[1]
    out = []
    fma = num(res, "bertc", "-", "fp32", "fma_peak", "gflops")
    peaks = {p: num(res, "bertc", "-", p, "gemm_peak", "gflops") for p in PRECISIONS}
    emulated_peak = res.get(("bertc", "-", "bf16", "gemm_peak"), {}).get("emulated") == "1"
    out.append("bench/model.sh: sequences/s (higher is better), sequence length 128; ratios are ours / theirs "
               "in the same precision")
    out += onednn_summary(paths)
    line = "machine: "
    line += f"theoretical FMA peak {fma:.0f} GFLOP/s fp32; " if fma else ""
    line += f"oneDNN GEMM peak fp32 {fmt(peaks['fp32'], '.0f')} GFLOP/s"
    if peaks["bf16"]:
        line += f", bf16 {peaks['bf16']:.0f} GFLOP/s" + (" (emulated: widened to f32)" if emulated_peak else "")
    elif res.get(("bertc", "-", "bf16", "gemm_peak"), {}).get("status"):
        line += ", bf16 unsupported"
    if peaks["int8"]:
        line += f", int8 {peaks['int8']:.0f} GOP/s"
    out.append(line)
    out.append(PREVIOUS)
    out.append("")
    hdr = (f"{'model':5s} {'prec':4s} {'workload':13s} {'bertc':>8s}  {'GFLOP/s':>8s} {'%peak':>6s} {'outside':>7s} "
           f"{'torch':>8s}  {'ort':>8s}  {'/torch':>7s} {'/ort':>7s} {'/bf16':>7s} {'/fp32':>7s}")
    out.append(hdr)
    out.append("-" * len(hdr))
    for model in ("base", "tiny"):
        for prec in PRECISIONS:
            if not any(k[1] == model and k[2] == prec for k in res):
                continue
            st = status(res, "bertc", model, prec)
            for wl, label in WORKLOADS:
                if prec == "int8" and wl == "train_mb8":
                    continue  # int8 is inference only, ours and the peers'
                ours = num(res, "bertc", model, prec, wl)
                gf = num(res, "bertc", model, prec, wl, "gflops")
                frac = num(res, "bertc", model, prec, wl, "peak_frac")
                osh = outside(res, model, prec, wl)
                th = num(res, "torch", model, prec, wl)
                ort = num(res, "ort", model, prec, wl) if prec != "bf16" and wl != "train_mb8" else None
                vs_bf16 = vs_fp32 = None
                if prec == "int8":
                    vs_bf16 = ratio(ours, num(res, "bertc", model, "bf16", wl))
                    vs_fp32 = ratio(ours, num(res, "bertc", model, "fp32", wl))
                note = ""
                if ours is None and st:
                    note = f"  (bertc: {st})"
                for impl, v in (("torch", th), ("ort", ort)):
                    pst = status(res, impl, model, prec)
                    if v is None and pst:
                        note += f"  ({impl}: {pst})"
                n_us, n_th = noisy(res, "bertc", model, prec, wl), noisy(res, "torch", model, prec, wl)
                n_ort = noisy(res, "ort", model, prec, wl)
                out.append(f"{model:5s} {prec:4s} {label:13s} {fmt(ours)}{n_us} {fmt(gf, '8.1f')} "
                           f"{fmt(frac * 100 if frac else None, '5.0f')}% {fmt(osh and osh * 100, '6.0f')}% "
                           f"{fmt(th)}{n_th} {fmt(ort)}{n_ort} {fx(ratio(ours, th))} {fx(ratio(ours, ort))} "
                           f"{fx(vs_bf16)} {fx(vs_fp32)}{note}")
    out.append("outside = share of our step outside oneDNN's matrix products (1 - gemm_share); torch / ort = the "
               "peer in the row's precision (bf16: PyTorch autocast, int8: dynamic quantization); /bf16, /fp32 = our "
               "int8 / our bf16, fp32")
    if any(kv.get("others_cpu") and float(kv["others_cpu"]) >= 0.10 for kv in res.values()):
        out.append("* noisy: other processes used >= 10% of the machine's CPU time during that measurement")
    for impl, who in (("torch", "PyTorch"), ("ort", "ONNX Runtime")):
        acc = []
        for model in ("base", "tiny"):
            kv = res.get((impl, model, "int8", "accuracy_vs_fp32"))
            if kv:
                parts = [f"{o.split('_')[0]} {100 * float(kv[o + '_rel_l2']):.2f}%" for o in
                         ("sequence_output", "pooled_output") if o + "_rel_l2" in kv]
                acc.append(f"{model} " + ", ".join(parts))
        if acc:
            out.append(f"{who} int8 vs its fp32 outputs (batch 8, relative L2 error): " + "; ".join(acc))
    mem = num(res, "bertc", "base", "fp32", "train_peak_rss", "mib")
    if mem:
        out.append("")
        out.append(f"peak RSS, BERT-base fp32 training step at micro-batch 8 with AdamW: {mem:.0f} MiB "
                   f"({mem * 1048576 / 1e9:.2f} GB)")

    # Targets (issue 2, Speed), on BERT-base.
    out.append("")
    out.append("targets (BERT-base):")

    def target(text, ok, detail, inputs=(), why_not=None):
        """A verdict line: MET / NOT MET / n/a, or `why_not` (e.g. not measurable) when given."""
        verdict = why_not or ("n/a" if ok is None else ("MET" if ok else "NOT MET"))
        if not why_not and ok is not None and any(noisy(res, *k) == "*" for k in inputs):
            verdict += " (noisy)"
        out.append(f"  {text:56s} {detail:22s} {verdict}")

    def geq(v, t):
        return None if v is None else v >= t

    def leq(v, t):
        return None if v is None else v <= t

    def pct(v):
        return f"{fmt(v and v * 100, '.0f')}%"

    b8 = num(res, "bertc", "base", "fp32", "infer_b8")
    ort8 = num(res, "ort", "base", "fp32", "infer_b8")
    f8 = num(res, "bertc", "base", "fp32", "infer_b8", "peak_frac")
    f1 = num(res, "bertc", "base", "fp32", "infer_b1", "peak_frac")
    r = ratio(b8, ort8)
    us8, us1 = ("bertc", "base", "fp32", "infer_b8"), ("bertc", "base", "fp32", "infer_b1")
    target("inference fp32 b8 >= ONNX Runtime", geq(r, 1.0), f"{fx(r, '.2f')} ORT",
           (us8, ("ort", "base", "fp32", "infer_b8")))
    target("inference fp32 b8 >= 85% of the GEMM peak", geq(f8, 0.85), pct(f8), (us8,))
    target("inference fp32 b1 >= 75% of the GEMM peak", geq(f1, 0.75), pct(f1), (us1,))
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
           f"{pct(ft)}, {fx(rt, '.2f')} torch", (("bertc", "base", "fp32", "train_mb8"),))
    r = ratio(num(res, "bertc", "base", "bf16", "train_mb8"), num(res, "torch", "base", "bf16", "train_mb8"))
    target("training bf16 >= 1.5x PyTorch bf16", geq(r, 1.5), f"{fx(r, '.2f')} torch",
           (("bertc", "base", "bf16", "train_mb8"), ("torch", "base", "bf16", "train_mb8")))
    target("training fp32 mb8 peak memory <= 3 GB (AdamW incl.)", None if mem is None else mem * 1048576 <= 3e9,
           f"{fmt(mem and mem * 1048576 / 1e9, '.2f')} GB")

    # Targets of issue 11 (int8 inference; time outside the matrix products; bf16 against PyTorch),
    # on BERT-base. The bf16 ones cannot be judged where our bf16 is emulated (no native bf16).
    emulated = (emulated_peak or isa_native_bf16(isa) is False
                or any(kv.get("emulated") == "1" for k, kv in res.items() if k[0] == "bertc" and k[2] == "bf16"))
    no_bf16 = "not measurable: emulated bf16" if emulated else None
    out.append("")
    out.append("targets of issue 11 (BERT-base):")

    def ours(prec, wl, field="seq_s"):
        return num(res, "bertc", "base", prec, wl, field)

    def key(impl, prec, wl):
        return (impl, "base", prec, wl)

    i8 = ours("int8", "infer_b8")
    r = ratio(i8, ours("bf16", "infer_b8"))
    target("inference int8 b8 >= 1.5x our bf16", geq(r, 1.5), f"{fx(r, '.2f')} our bf16",
           (key("bertc", "int8", "infer_b8"), key("bertc", "bf16", "infer_b8")), no_bf16)
    peers = [(num(res, impl, "base", "int8", "infer_b8"), name, impl) for impl, name in (("torch", "torch"), ("ort", "ORT"))]
    peers = [p for p in peers if p[0] is not None]
    best = max(peers) if peers else None
    r = ratio(i8, best[0]) if best else None
    target("inference int8 b8 >= 1.5x the best int8 peer", geq(r, 1.5),
           f"{fx(r, '.2f')} {best[1] if best else 'peer'} int8",
           (key("bertc", "int8", "infer_b8"),) + ((key(best[2], "int8", "infer_b8"),) if best else ()))
    for prec, limit in (("fp32", 0.10), ("bf16", 0.20)):
        for wl, label in (("infer_b1", "b1"), ("infer_b8", "b8")):
            o = outside(res, "base", prec, wl)
            target(f"inference {prec} {label}: time outside matrix products <= {limit:.0%}", leq(o, limit), pct(o),
                   (key("bertc", prec, wl),), no_bf16 if prec == "bf16" else None)
    tk = (key("bertc", "fp32", "train_mb8"), key("torch", "fp32", "train_mb8"))
    target("training fp32 >= 80% of the fp32 GEMM peak", geq(ft, 0.80), pct(ft), tk[:1])
    target("training fp32 >= 1.3x PyTorch", geq(rt, 1.3), f"{fx(rt, '.2f')} torch", tk)
    r = ratio(ours("bf16", "infer_b8"), num(res, "torch", "base", "bf16", "infer_b8"))
    target("inference bf16 b8 >= 1.6x PyTorch bf16", geq(r, 1.6), f"{fx(r, '.2f')} torch",
           (key("bertc", "bf16", "infer_b8"), key("torch", "bf16", "infer_b8")), no_bf16)
    fb = ours("bf16", "infer_b8", "peak_frac")
    target("inference bf16 b8 >= 75% of the bf16 GEMM peak", geq(fb, 0.75), pct(fb),
           (key("bertc", "bf16", "infer_b8"),), no_bf16)
    r = ratio(ours("bf16", "train_mb8"), num(res, "torch", "base", "bf16", "train_mb8"))
    target("training bf16 >= 2x PyTorch bf16", geq(r, 2.0), f"{fx(r, '.2f')} torch",
           (key("bertc", "bf16", "train_mb8"), key("torch", "bf16", "train_mb8")), no_bf16)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
