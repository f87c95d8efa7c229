"""The C optimizers (src/train/optimizer.c, driven by tool_optimizer) against a float64 re-statement of
REFERENCE 4.1-4.3 written here from the reference text, on a real pretraining layout (HF names) with
random parameters, several steps of random gradients and a different LR every step:

* parameter groups (4.1): "bias" in the name -> no decay, max_weight_norm 0; other 1-D -> no decay;
  everything else -> weight decay; checked name by name against the tool's report;
* AdamW (4.2), LAMB and LAMBNoBiasCorrection (4.3) with weight decay 0.01: parameters, both moments and the
  step counter within 1e-6 relative (per tensor, against the tensor's largest magnitude), and the update
  itself within 1e-4;
* LAMB's trust ratio: the 65500 cap engages (an embedding with norm > 65500), a zero tensor (r1 = 0) and a
  tensor with zero gradients (r2 = 0) get trust 1;
* AdamW is also checked against torch.optim.AdamW where the semantics coincide: torch applies bias
  correction (1 - beta^t) and divides sqrt(v) by it, which both vanish for betas = (0, 0), so that
  configuration must agree exactly in meaning;
* the half first moment (--enable-half-first-order-momentum) within fp16 rounding.

Run with /usr/bin/python3 (Debian python3-torch). BERT_BUILD names the build tree."""
import json
import math
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import safetensors_py  # noqa: E402

TOOL = os.path.join(os.environ.get("BERT_BUILD", "build"), "tests", "tool_optimizer")
EPS, MAX_WEIGHT_NORM, WD = 1e-6, 65500.0, 0.01
LRS = [0.004, 0.006, 0.005, 0.003, 0.0045, 0.002, 0.0035, 0.001, 0.0025, 0.003]  # ten steps
GRAD_SCALE = 1.0 / 48.0  # e.g. GA 3 x loss scaling 16 folded into one factor
failures = []

CONFIG = {"vocab_size": 101, "hidden_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 96, "hidden_act": "gelu", "max_position_embeddings": 40, "type_vocab_size": 2,
          "layer_norm_eps": 1e-3, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.0,
          "initializer_range": 0.02}
BIG = "bert.embeddings.word_embeddings.weight"            # norm > 65500: the cap engages
ZERO_W = "cls.seq_relationship.weight"                     # all zero: r1 = 0 -> trust 1
ZERO_G = "bert.encoder.layer.0.output.LayerNorm.weight"    # zero gradients: u = 0 -> r2 = 0 -> trust 1


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def param_shapes(c):
    """The pretraining model's named_parameters() (HF BertForPreTraining, decoder tied to word embeddings)."""
    H, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    s = {"bert.embeddings.word_embeddings.weight": (V, H),
         "bert.embeddings.position_embeddings.weight": (c["max_position_embeddings"], H),
         "bert.embeddings.token_type_embeddings.weight": (c["type_vocab_size"], H),
         "bert.embeddings.LayerNorm.weight": (H,), "bert.embeddings.LayerNorm.bias": (H,)}
    for i in range(c["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        for n in ("query", "key", "value"):
            s[p + f"attention.self.{n}.weight"] = (H, H)
            s[p + f"attention.self.{n}.bias"] = (H,)
        s.update({p + "attention.output.dense.weight": (H, H), p + "attention.output.dense.bias": (H,),
                  p + "attention.output.LayerNorm.weight": (H,), p + "attention.output.LayerNorm.bias": (H,),
                  p + "intermediate.dense.weight": (I, H), p + "intermediate.dense.bias": (I,),
                  p + "output.dense.weight": (H, I), p + "output.dense.bias": (H,),
                  p + "output.LayerNorm.weight": (H,), p + "output.LayerNorm.bias": (H,)})
    s.update({"bert.pooler.dense.weight": (H, H), "bert.pooler.dense.bias": (H,),
              "cls.predictions.transform.dense.weight": (H, H), "cls.predictions.transform.dense.bias": (H,),
              "cls.predictions.transform.LayerNorm.weight": (H,), "cls.predictions.transform.LayerNorm.bias": (H,),
              "cls.predictions.bias": (V,), "cls.seq_relationship.weight": (2, H), "cls.seq_relationship.bias": (2,)})
    return s


def group(name, shape):
    """REFERENCE 4.1 -> (group id as the C enum orders them, weight decay, max_weight_norm)."""
    if "bias" in name:
        return 0, 0.0, 0.0
    if len(shape) == 1:
        return 1, 0.0, MAX_WEIGHT_NORM
    return 2, WD, MAX_WEIGHT_NORM


def make_case(gen):
    shapes = param_shapes(CONFIG)
    params = {}
    for name, shape in shapes.items():
        if name == BIG:
            t = 2000.0 * torch.randn(shape, generator=gen)
        elif name == ZERO_W:
            t = torch.zeros(shape)
        elif "LayerNorm.weight" in name:
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.05 * torch.randn(shape, generator=gen)
        params[name] = t.float()
    grads = []
    for step in range(len(LRS)):
        g = {}
        for name, shape in shapes.items():
            # summed over micro-batches and loss-scaled: GRAD_SCALE brings them to O(0.01 .. 1)
            t = torch.zeros(shape) if name == ZERO_G else 48.0 * (0.02 + step * 0.01) * torch.randn(shape, generator=gen)
            g[name] = t.float()
        grads.append(g)
    return shapes, params, grads


def run_tool(params, grads, spec):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(CONFIG, f)
        with open(os.path.join(d, "spec.json"), "w") as f:
            json.dump(spec, f)
        safetensors_py.save(os.path.join(d, "init.safetensors"), params)
        safetensors_py.save(os.path.join(d, "grads.safetensors"),
                            {f"grad.{s}.{n}": t for s, g in enumerate(grads) for n, t in g.items()})
        r = subprocess.run([TOOL, d], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"tool_optimizer failed: {r.stderr}")
        out = safetensors_py.load(os.path.join(d, "out.safetensors"))
        with open(os.path.join(d, "groups.txt")) as f:
            rows = [line.split() for line in f]
        return out, [(r[0], int(r[1]), float(r[2]), float(r[3])) for r in rows]


def reference(kind, shapes, params, grads, betas=(0.9, 0.999), half_m=False, cap=MAX_WEIGHT_NORM):
    """REFERENCE 4.2 / 4.3 in float64, one tensor at a time. Returns params, m, v, per-step trust, per-step
    ||w||, and the largest |m| each element had (the scale of fp16 rounding errors carried along)."""
    b1, b2 = betas
    w = {n: t.double() for n, t in params.items()}
    m = {n: torch.zeros(s, dtype=torch.float64) for n, s in shapes.items()}
    v = {n: torch.zeros(s, dtype=torch.float64) for n, s in shapes.items()}
    peak = {n: torch.zeros(s, dtype=torch.float64) for n, s in shapes.items()}
    trusts, norms = [], []
    for t, (lr, g_step) in enumerate(zip(LRS, grads), start=1):
        trust_t, norm_t = {}, {}
        for n, shape in shapes.items():
            _, wd, mwn = group(n, shape)
            if mwn > 0:
                mwn = cap
            g = g_step[n].double() * float(torch.tensor(GRAD_SCALE, dtype=torch.float32))
            m[n] = b1 * m[n] + (1 - b1) * g
            if half_m:  # stored in IEEE half; the stored value is the one the step uses
                m[n] = m[n].half().double()
            peak[n] = torch.maximum(peak[n], m[n].abs())
            v[n] = b2 * v[n] + (1 - b2) * g * g
            if kind == "AdamW":
                w[n] = w[n] - lr * wd * w[n] - lr * m[n] / (v[n].sqrt() + EPS)
                continue
            if kind == "LAMB":
                mh, vh = m[n] / (1 - b1 ** t), v[n] / (1 - b2 ** t)
            else:
                mh, vh = m[n], v[n]
            u = mh / (vh.sqrt() + EPS) + wd * w[n]
            wn = w[n].norm().item()
            r1, r2 = min(wn, mwn), u.norm().item()
            trust = 1.0 if r1 == 0 or r2 == 0 else r1 / r2
            w[n] = w[n] - lr * trust * u
            trust_t[n], norm_t[n] = trust, wn
        trusts.append(trust_t)
        norms.append(norm_t)
    return w, m, v, trusts, norms, peak


def max_rel(a, b):
    a, b = a.double(), b.double()
    scale = b.abs().max().item()
    return (a - b).abs().max().item() / (scale if scale > 0 else 1e-30)


def compare(label, shapes, params, out, ref, tol=1e-6, update_tol=1e-4, m_tol=None, half=False):
    """Per tensor: parameters within tol of the tensor's largest magnitude (with a half first moment also
    update_tol of the largest update), the update within update_tol, the moments within tol (m_tol)."""
    w, m, v = ref[:3]
    worst = (0.0, "")
    for n in shapes:
        got, want, init = out["param." + n].double(), w[n], params[n].double()
        d_got, d_want = got - init, want - init
        e = max_rel(got, want)
        worst = max(worst, (e, n))
        allowed = tol + (update_tol * d_want.abs().max().item() / max(want.abs().max().item(), 1e-30) if half else 0)
        check(e <= allowed, f"{label}: {n}: parameters differ by {e:.3g} relative (allowed {allowed:.3g})")
        # the update itself; fp32 storage of w costs about one ulp of w per step
        slack = len(LRS) * 2.0 ** -23 * init.abs().max().item()
        du = (d_got - d_want).abs().max().item()
        check(du <= update_tol * d_want.abs().max().item() + slack,
              f"{label}: {n}: update differs by {du:.3g} (max update {d_want.abs().max().item():.3g})")
        em = max_rel(out["exp_avg." + n], m[n])
        check(em <= (m_tol if m_tol is not None else tol), f"{label}: exp_avg.{n} differs by {em:.3g}")
        ev = max_rel(out["exp_avg_sq." + n], v[n])
        check(ev <= tol, f"{label}: exp_avg_sq.{n} differs by {ev:.3g}")
    check(int(out["step"].item()) == len(LRS), f"{label}: step {int(out['step'].item())} != {len(LRS)}")
    print(f"{label}: worst parameter difference {worst[0]:.2e} ({worst[1]})")


def check_groups(shapes, rows):
    check(sorted(r[0] for r in rows) == sorted(shapes), "layout names differ from the HF parameter list")
    for name, gid, wd, mwn in rows:
        want = group(name, shapes[name])
        check((gid, wd, mwn) == want, f"group of {name}: C says {(gid, wd, mwn)}, reference 4.1 says {want}")
    by_name = {r[0]: r for r in rows}
    # the cases 4.1 spells out
    check(by_name["cls.predictions.bias"][1:] == (0, 0.0, 0.0), "cls.predictions.bias must be in the bias group")
    check(by_name["bert.embeddings.LayerNorm.weight"][1:] == (1, 0.0, MAX_WEIGHT_NORM), "LayerNorm weight group")
    check(by_name[BIG][1:] == (2, WD, MAX_WEIGHT_NORM), "word embeddings (tied decoder) must decay")
    check(by_name["bert.encoder.layer.1.attention.self.value.bias"][2] == 0.0, "no decay on biases")


def check_trust(label, names, out, ref):
    """names: the parameters in layout order (the order of the tool's trust vectors)."""
    trusts, norms = ref[3], ref[4]
    for s, (tr, nr) in enumerate(zip(trusts, norms)):
        got = out[f"trust.{s}"].double()
        for i, n in enumerate(names):
            check(abs(got[i].item() - tr[n]) <= 1e-6 * abs(tr[n]), f"{label}: step {s} trust of {n}: "
                  f"{got[i].item():.9g} vs {tr[n]:.9g}")
        check(nr[BIG] > MAX_WEIGHT_NORM, f"{label}: step {s}: ||{BIG}|| = {nr[BIG]:.1f} should exceed 65500")
        check(tr[ZERO_G] == 1.0 and got[names.index(ZERO_G)].item() == 1.0, f"{label}: zero-gradient tensor trust")
        if s == 0:
            check(got[names.index(ZERO_W)].item() == 1.0, f"{label}: zero tensor trust at step 0")
        for n in names:
            if "bias" in n:
                check(got[names.index(n)].item() == 1.0, f"{label}: bias {n} must have trust 1")


def check_cap_matters(label, kind, shapes, params, grads, out):
    """Without the cap the word embeddings would move differently: the cap is what the C code applies."""
    uncapped = reference(kind, shapes, params, grads, cap=math.inf)
    e = max_rel(out["param." + BIG], uncapped[0][BIG])
    capped = max_rel(out["param." + BIG], reference(kind, shapes, params, grads)[0][BIG])
    check(e > 1000 * max(capped, 1e-9), f"{label}: the 65500 cap does not change the result ({e:.3g})")


def torch_adamw(shapes, params, grads):
    """torch.optim.AdamW with betas (0, 0): bias corrections are 1 - 0^t = 1, so it is REFERENCE 4.2."""
    ws = {n: params[n].double().clone().requires_grad_(True) for n in shapes}
    groups = {}
    for n, shape in shapes.items():
        groups.setdefault(group(n, shape)[1], []).append(ws[n])
    opt = torch.optim.AdamW([{"params": p, "weight_decay": wd} for wd, p in groups.items()],
                            lr=LRS[0], betas=(0.0, 0.0), eps=EPS)
    scale = float(torch.tensor(GRAD_SCALE, dtype=torch.float32))
    for lr, g in zip(LRS, grads):
        for pg in opt.param_groups:
            pg["lr"] = lr
        for n in shapes:
            ws[n].grad = g[n].double() * scale
        opt.step()
    return {n: t.detach() for n, t in ws.items()}


def main():
    gen = torch.Generator().manual_seed(1234)
    shapes, params, grads = make_case(gen)
    base = {"weight_decay": WD, "grad_scale": GRAD_SCALE, "lrs": LRS}

    for kind in ("AdamW", "LAMB", "LAMBNoBiasCorrection"):
        out, rows = run_tool(params, grads, dict(base, optimizer=kind))
        if kind == "AdamW":
            check_groups(shapes, rows)
        ref = reference(kind, shapes, params, grads)
        compare(kind, shapes, params, out, ref)
        check(out["exp_avg." + BIG].dtype == torch.float32, f"{kind}: fp32 first moment expected")
        if kind != "AdamW":
            check_trust(kind, [r[0] for r in rows], out, ref)
            check_cap_matters(kind, kind, shapes, params, grads, out)

    # LAMB and LAMBNoBiasCorrection must differ (bias correction matters in the first steps)
    a = run_tool(params, grads, dict(base, optimizer="LAMB"))[0]
    b = run_tool(params, grads, dict(base, optimizer="LAMBNoBiasCorrection"))[0]
    check(max_rel(a["param.bert.pooler.dense.bias"], b["param.bert.pooler.dense.bias"]) > 1e-3,
          "bias correction has no effect")

    # torch.optim.AdamW where the semantics coincide (betas 0, 0); also validates the re-statement
    out, _ = run_tool(params, grads, dict(base, optimizer="AdamW", beta1=0.0, beta2=0.0))
    tw = torch_adamw(shapes, params, grads)
    ref = reference("AdamW", shapes, params, grads, betas=(0.0, 0.0))
    for n in shapes:
        check(max_rel(ref[0][n], tw[n]) <= 1e-12, f"re-statement vs torch.optim.AdamW: {n}")
        e = max_rel(out["param." + n], tw[n])
        check(e <= 1e-6, f"AdamW(betas 0,0) vs torch.optim.AdamW: {n} differs by {e:.3g}")
    print("AdamW(betas 0, 0) matches torch.optim.AdamW")

    # half first moment: m is stored as IEEE fp16 (round to nearest even); C rounds its fp32 value, the
    # reference its float64 value, so they may land one half-ulp apart, and such a difference is carried
    # into later steps (scaled by beta1): m within 2^-10 of the largest |m| the element had (or the
    # smallest subnormal), the parameters within 2e-3 of the update on top of the fp32 tolerance
    for kind in ("AdamW", "LAMB", "LAMBNoBiasCorrection"):
        out, _ = run_tool(params, grads, dict(base, optimizer=kind, half_first_moment=1))
        check(out["exp_avg." + BIG].dtype == torch.float16, f"{kind} half: exp_avg should be F16")
        ref = reference(kind, shapes, params, grads, half_m=True)
        for n in shapes:
            got, want = out["exp_avg." + n].double(), ref[1][n]
            ok = ((got - want).abs() <= 2.0 ** -10 * ref[5][n] + 2.0 ** -24).all().item()
            check(ok, f"{kind} half: exp_avg.{n} beyond one fp16 rounding")
        compare(kind + " half", shapes, params, out, ref, update_tol=2e-3, m_tol=2e-3, half=True)
        full = reference(kind, shapes, params, grads)
        check(max_rel(out["exp_avg." + BIG], full[1][BIG]) > 1e-5, f"{kind} half: m is not rounded to fp16")

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all optimizer checks passed")


if __name__ == "__main__":
    main()
