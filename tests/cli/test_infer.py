"""`bert infer` on the real HuggingFace token-classification model (tests/data/camphr_ner_bert):
reproduces expected_outputs.json within 1e-5 from model.safetensors and from pytorch_model.bin,
keeps input order whatever the batching, emits only the keys each head produces, runs int8
(quantized encoder: the same labels, outputs within 1 % of fp32 but not identical), and names the
line of a bad request."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

BERT = os.environ.get("BERT_BIN", "build/bert")
MODEL = "tests/data/camphr_ner_bert"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def run(args, **kw):
    return subprocess.run([BERT, "infer"] + args, capture_output=True, text=True, **kw)


def infer(model, lines, head="token-classification", extra=()):
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in.jsonl"), os.path.join(d, "out.jsonl")
        with open(inp, "w") as f:
            f.write("".join(lines))
        res = run(["--model", model, "--head", head, "--input", inp, "--output", out, *extra])
        if res.returncode != 0:
            failures.append(f"infer {head} {extra} failed: {res.stderr.strip()}")
            return [], res
        return [json.loads(x) for x in open(out)], res


def max_diff(got, want, mask):
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        if mask[i]:
            worst = max(worst, max(abs(a - b) for a, b in zip(g, w)))
    return worst


def expected_cases():
    cases = json.load(open(os.path.join(MODEL, "expected_outputs.json")))["cases"]
    lines = [json.dumps({k: c[k] for k in ("input_ids", "token_type_ids", "attention_mask")}) + "\n" for c in cases]
    return cases, lines


def check_against_expected(model, label, extra=()):
    cases, lines = expected_cases()
    outs, _ = infer(model, lines, extra=extra)
    check(len(outs) == len(cases), f"{label}: {len(outs)} outputs for {len(cases)} lines")
    for n, (case, out) in enumerate(zip(cases, outs), start=1):
        check(out.get("line") == n, f"{label}: output {n} has line {out.get('line')}")
        check(set(out) == {"line", "last_hidden_state", "logits"}, f"{label}: keys {sorted(out)}")
        mask = case["attention_mask"]
        for key in ("last_hidden_state", "logits"):
            e = max_diff(out[key], case[key], mask)
            check(e <= 1e-5, f"{label} {case['name']}: {key} differs by {e:.3g}")
    return outs


def main():
    a = check_against_expected(MODEL, "safetensors")
    with tempfile.TemporaryDirectory() as d:
        only_bin = os.path.join(d, "model")
        shutil.copytree(MODEL, only_bin)
        os.remove(os.path.join(only_bin, "model.safetensors"))
        b = check_against_expected(only_bin, "pytorch_model.bin")
        check(a == b, "safetensors and pytorch_model.bin give different outputs")

    # batching and threads change nothing, order is the input's
    cases, lines = expected_cases()
    many = lines * 3
    ref, _ = infer(MODEL, many, extra=("--batch-size", "1", "--threads", "1"))
    got, _ = infer(MODEL, many, extra=("--batch-size", "8", "--threads", "2"))
    # (not bit-identical: other GEMM shapes and thread counts round differently)
    worst = max((max_diff(g[k], r[k], [1] * len(r[k])) for g, r in zip(got, ref) for k in ("last_hidden_state", "logits")),
                default=1.0)
    check(len(got) == len(ref) and worst <= 1e-5, f"batch size / threads changed the outputs by {worst:.3g}")
    check([o["line"] for o in got] == list(range(1, len(many) + 1)), "outputs not in input order")

    # int8: the encoder's linear layers quantized; the labels stay, the numbers move a little
    q, _ = infer(MODEL, lines, extra=("--precision", "int8"))
    if len(q) == len(cases):
        num = den = 0.0
        same = total = 0
        for case, out in zip(cases, q):
            for i, m in enumerate(case["attention_mask"]):
                if m:
                    w, g = case["logits"][i], out["logits"][i]
                    same += w.index(max(w)) == g.index(max(g))
                    total += 1
                    for u, v in zip(case["last_hidden_state"][i], out["last_hidden_state"][i]):
                        num, den = num + (u - v) ** 2, den + u * u
        rel = math.sqrt(num / den)
        print(f"int8 vs fp32: hidden states {rel:.2e} relative, labels {same}/{total} agree")
        check(0 < rel < 1e-2, f"int8 hidden states differ from fp32 by {rel:.3g} (expected 0 < e < 1e-2)")
        check(same == total, f"int8 labels agree on {same}/{total} tokens only")
    res = run(["--model", MODEL, "--precision", "int4", "--input", "-", "--output", "-"])
    check(res.returncode == 2 and "int8" in res.stderr, f"bad --precision: {res.stderr!r}")

    # heads: base without a pooler has no pooler_output; qa gets fresh weights and says so
    outs, _ = infer(MODEL, lines[:1], head="base")
    check(outs and set(outs[0]) == {"line", "last_hidden_state"}, f"base keys {sorted(outs[0]) if outs else None}")
    outs, res = infer(MODEL, lines[:1], head="qa")
    check(outs and set(outs[0]) == {"line", "last_hidden_state", "start_logits", "end_logits"}, "qa keys")
    check("initialised" in res.stderr, "qa on a model without qa_outputs does not warn")
    pos_line = json.dumps({"input_ids": [101, 150, 160, 102], "masked_lm_positions": [1, 2]}) + "\n"
    outs, _ = infer(MODEL, [pos_line, lines[0]], head="pretraining")
    if len(outs) == 2:
        check(len(outs[0]["prediction_logits"]) == 2 and len(outs[0]["prediction_logits"][0]) == 402,
              "pretraining logits not at the masked positions")
        check(len(outs[1]["prediction_logits"]) == 9, "pretraining logits not at every position")
        check(len(outs[0]["seq_relationship_logits"]) == 2 and len(outs[0]["pooler_output"]) == 16, "NSP keys")
    else:
        failures.append("pretraining head: wrong output count")

    # bad lines: the error names the line, no output file is left behind
    bad = {
        "vocabulary": json.dumps({"input_ids": [101, 402, 102]}),
        "positions": json.dumps({"input_ids": list(range(1, 18))}),
        "not a JSON object": "{input_ids: [1, 2]",
        "token_type_ids": json.dumps({"input_ids": [1, 2], "token_type_ids": [0]}),
        "not an integer": json.dumps({"input_ids": [1, 2.5]}),
        "missing": json.dumps({"ids": [1, 2]}),
    }
    with tempfile.TemporaryDirectory() as d:
        for what, text in bad.items():
            inp, out = os.path.join(d, "in.jsonl"), os.path.join(d, "out.jsonl")
            with open(inp, "w") as f:
                f.write(lines[0] + "\n" + text + "\n")
            res = run(["--model", MODEL, "--head", "token-classification", "--input", inp, "--output", out])
            check(res.returncode == 1, f"bad line ({what}): exit {res.returncode}")
            check(f"in.jsonl:3:" in res.stderr and what in res.stderr, f"bad line ({what}): message {res.stderr!r}")
            check(not os.path.exists(out), f"bad line ({what}): output file left behind")
        res = run(["--model", os.path.join(d, "nowhere"), "--input", "-", "--output", "-"])
        check(res.returncode == 1 and "nowhere" in res.stderr, f"missing model: {res.stderr!r}")
        res = run(["--model", MODEL, "--head", "nope", "--input", "-", "--output", "-"])
        check(res.returncode == 2 and "--head" in res.stderr, "bad --head not a usage error")
        res = run(["--help"])
        check(res.returncode == 0 and res.stdout.startswith("usage: bert infer"), "--help")

    for f in failures:
        print("FAIL:", f)
    print(f"infer: {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
