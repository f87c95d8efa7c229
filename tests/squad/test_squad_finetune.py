"""`bert squad` end to end on real SQuAD text: a small randomly initialised model (2 layers, hidden
128, dropout 0) fine-tuned on 64 dev-v1.1 questions (the first question of each of the first 64
paragraphs) must answer those same questions with EM >= 90 — labels, offsets, post-processing and
evaluation fit together. Also: the reference's log lines, predictions.json / nbest_predictions.json
/ metrics.json, the saved HF model folder, evaluation alone from that folder giving the same
predictions (and close ones in bf16), `bert qa` (command line and JSON lines) agreeing with predictions.json in Unicode
code-point offsets and its --n-best list with nbest_predictions.json, bf16 fine-tuning close to fp32, int8 evaluation of the fine-tuned model against fp32
(answers agree on >= 97 % of 1,024 questions, EM/F1 within 1 point, start/end logits of the best span
close), `bert qa --precision int8`, and the data-parallel run with 2 MPI ranks matching 1 rank's losses."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BERT = os.environ.get("BERT_BIN", "build/bert")
SANITIZED = os.environ.get("BERT_SANITIZED", "0") == "1"
failures = []
TINY = ["--config", "demo_tiny_128", "--num-hidden-layers", "2", "--layers-per-ipu", "0", "1", "1", "0",
        "--hidden-size", "128", "--num-attention-heads", "4", "--hidden-dropout-prob", "0",
        "--gradient-accumulation", "1", "--micro-batch-size", "8", "--learning-rate", "1e-3", "--lr-warmup", "0.05",
        "--disable-progress-bar"]


def check(cond, what):
    if not cond:
        failures.append(what)


def subset(n):
    data = json.load(open("tests/data/squad/dev-v1.1.json", encoding="utf-8"))
    out, count = {"version": "1.1", "data": []}, 0
    for art in data["data"]:
        paras = []
        for p in art["paragraphs"]:
            if count < n:
                paras.append({"context": p["context"], "qas": p["qas"][:1]})
                count += 1
        if paras:
            out["data"].append({"title": art["title"], "paragraphs": paras})
        if count >= n:
            return out


def squad(args, **kw):
    return subprocess.run([BERT, "squad"] + args, capture_output=True, text=True, **kw)


def check_logs(log):
    check(re.search(r"^Epoch: 0, Step:0, LR=\d\.\d\de[-+]\d\d, loss: \d+\.\d{3}, throughput: \d+\.\d{3} samples/sec$",
                    log, re.M), "no training line in the reference's format")
    check(re.search(r"^Step:0, throughput: \d+(\.\d+)?(e[-+]\d+)? samples/sec$", log, re.M),
          "no inference line in the reference's format")
    check("Post-processing 64 example predictions split into 65 features." in log, "no post-processing line")


def check_outputs(out, data):
    ids = [qa["id"] for art in data["data"] for p in art["paragraphs"] for qa in p["qas"]]
    pred = json.load(open(os.path.join(out, "predictions.json"), encoding="utf-8"))
    nbest = json.load(open(os.path.join(out, "nbest_predictions.json"), encoding="utf-8"))
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    check(sorted(pred) == sorted(ids) and sorted(nbest) == sorted(ids), "predictions do not cover the questions")
    for qid in ids:
        lst = nbest[qid]
        check(0 < len(lst) <= 20 and lst[0]["text"] == pred[qid], f"{qid}: n-best does not start with the answer")
        check(abs(sum(x["probability"] for x in lst) - 1) < 1e-5, f"{qid}: n-best probabilities do not sum to 1")
        scores = [x["start_logit"] + x["end_logit"] for x in lst]
        check(scores == sorted(scores, reverse=True), f"{qid}: n-best not best first")
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"):
        check(os.path.exists(os.path.join(out, "model", name)), f"model/{name} missing")
    return pred, metrics


def check_qa(model, data, pred):
    paras = [(p["context"], qa) for art in data["data"] for p in art["paragraphs"] for qa in p["qas"]][:6]
    for context, qa in paras[:3]:
        r = subprocess.run([BERT, "qa", "--model", model, "--question", qa["question"], "--context", context],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"bert qa failed: {r.stderr}")
        if r.returncode:
            continue
        a = json.loads(r.stdout)
        check(a["answer"] == pred[qa["id"]], f"bert qa {qa['id']}: {a['answer']!r} vs predictions.json {pred[qa['id']]!r}")
        check(context[a["start"]:a["end"]] == a["answer"], f"bert qa {qa['id']}: start/end are not code points")
        check(isinstance(a["score"], float), "score is not a number")
    check_nbest(model, paras[0][0], paras[0][1])
    lines = "".join(json.dumps({"question": qa["question"], "context": c}) + "\n" for c, qa in paras[3:])
    r = subprocess.run([BERT, "qa", "--model", model], input=lines + '{"question": "no context"}\n',
                       capture_output=True, text=True)
    out = [json.loads(l) for l in r.stdout.splitlines()]
    check(r.returncode == 1 and len(out) == 4, f"bert qa JSON lines: status {r.returncode}, {len(out)} lines")
    for (c, qa), a in zip(paras[3:], out):
        check(a.get("answer") == pred[qa["id"]], f"bert qa stdin {qa['id']}")
    check(len(out) == 4 and "context" in out[3].get("error", ""), "the bad line's error does not name the field")


def check_nbest(model, context, qa):
    """`bert qa --n-best 20` lists nbest_predictions.json's candidates for the question."""
    r = subprocess.run([BERT, "qa", "--model", model, "--question", qa["question"], "--context", context, "--n-best", "20"],
                       capture_output=True, text=True)
    got = json.loads(r.stdout).get("nbest", []) if r.returncode == 0 else []
    want = json.load(open(os.path.join(os.path.dirname(model), "nbest_predictions.json"), encoding="utf-8"))[qa["id"]]
    check([c["answer"] for c in got] == [w["text"] for w in want], f"bert qa --n-best {qa['id']}: {got[:3]} vs {want[:3]}")
    for c, w in zip(got, want):
        check(abs(c["score"] - (w["start_logit"] + w["end_logit"])) < 1e-3 and abs(c["probability"] - w["probability"]) < 1e-4
              and context[c["start"]:c["end"]] == c["answer"], f"bert qa --n-best {qa['id']}: {c} vs {w}")


def evaluate(d, model, path, name, precision):
    out = os.path.join(d, name)
    r = squad(TINY + ["--squad-do-training", "False", "--checkpoint-input-dir", model, "--predict-file", path,
                      "--output-dir", out, "--precision", precision])
    check(r.returncode == 0, f"{precision} evaluation failed: {r.stderr[-1000:]}")
    if r.returncode:
        return None
    load = lambda f: json.load(open(os.path.join(out, f), encoding="utf-8"))
    return load("predictions.json"), load("nbest_predictions.json"), load("metrics.json")


def check_int8(d, model, data):
    """int8 (s8 weights per channel, dynamic u8 activations) against fp32 on the 64 questions trained on
    and 960 unseen ones: the same answers on >= 97 %, EM and F1 within 1 point, and the best span's
    start/end logits close (max and mean error reported). On unseen questions this small model has
    near ties, which int8 flips about 2 % of the time: 1,024 questions keep that well inside 3 %."""
    path = os.path.join(d, "eval1024.json")
    json.dump(data, open(path, "w", encoding="utf-8"), ensure_ascii=False)
    fp32, int8 = evaluate(d, model, path, "e32", "fp32"), evaluate(d, model, path, "e8", "int8")
    if not fp32 or not int8:
        return
    agree = sum(fp32[0][k] == int8[0].get(k) for k in fp32[0]) / len(fp32[0])
    errs, scale = [], []
    for k, best in fp32[1].items():
        mine = int8[1][k][0]
        if mine["text"] == best[0]["text"]:
            errs += [abs(mine["start_logit"] - best[0]["start_logit"]), abs(mine["end_logit"] - best[0]["end_logit"])]
            scale += [abs(best[0]["start_logit"]), abs(best[0]["end_logit"])]
    em, f1 = (int8[2][m] - fp32[2][m] for m in ("exact_match", "f1"))
    mean_err, mean_logit = sum(errs) / len(errs), sum(scale) / len(scale)
    p99 = sorted(errs)[int(0.99 * (len(errs) - 1))]  # the max is one question's: reported, not bounded
    print(f"int8 vs fp32 on {len(fp32[0])} questions: answers agree {agree:.1%}, EM {fp32[2]['exact_match']:.2f} -> "
          f"{int8[2]['exact_match']:.2f}, F1 {fp32[2]['f1']:.2f} -> {int8[2]['f1']:.2f}; best-span logits: max error "
          f"{max(errs):.3f}, 99th percentile {p99:.3f}, mean {mean_err:.4f} "
          f"(mean |logit| {mean_logit:.2f})")
    check(agree >= 0.97, f"int8 answers agree with fp32 on {agree:.1%} < 97 %")
    check(abs(em) <= 1 and abs(f1) <= 1, f"int8 EM/F1 differ from fp32 by {em:.2f} / {f1:.2f} points")
    check(mean_err <= 0.02 * mean_logit and p99 <= 0.1 * mean_logit,
          f"int8 logits off: mean {mean_err:.3f}, 99th percentile {p99:.3f} for logits of {mean_logit:.2f}")
    c = data["data"][0]["paragraphs"][0]
    r = subprocess.run([BERT, "qa", "--model", model, "--precision", "int8", "--question", c["qas"][0]["question"],
                        "--context", c["context"]], capture_output=True, text=True)
    # (int8 activation scales are per batch, so bert qa's windows need not round like the evaluation's:
    # compare with the fp32 answer to this trained question instead)
    check(r.returncode == 0 and json.loads(r.stdout)["answer"] == fp32[0][c["qas"][0]["id"]],
          f"bert qa --precision int8 disagrees with fp32 on a trained question: {r.stdout} {r.stderr[-300:]}")
    check(0 < mean_err, "int8 logits equal fp32's: int8 products did not run")
    r = squad(TINY + ["--train-file", path, "--squad-do-validation", "False", "--precision", "int8", "--num-epochs", "1",
                      "--max-train-samples", "8", "--output-dir", os.path.join(d, "t8")])
    check(r.returncode == 0 and "fine-tuning in fp32" in r.stderr, f"int8 fine-tuning does not train in fp32: {r.stderr[-500:]}")


def check_mpi(d, path):
    mpirun = shutil.which("mpirun")
    if not mpirun:
        return
    common = TINY + ["--train-file", path, "--squad-do-validation", "False", "--num-epochs", "1",
                     "--micro-batch-size", "2", "--hidden-dropout-prob", "0.1", "--threads", "1"]
    one = squad(common + ["--gradient-accumulation", "2", "--output-dir", os.path.join(d, "one")])
    env = dict(os.environ)
    if SANITIZED:
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    two = subprocess.run([mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2", BERT, "squad"] + common +
                         ["--gradient-accumulation", "2", "--output-dir", os.path.join(d, "two")],
                         capture_output=True, text=True, env=env)
    check(one.returncode == 0 and two.returncode == 0, f"MPI comparison failed: {one.stderr[-300:]} {two.stderr[-300:]}")
    losses = [re.findall(r"loss: (\d+\.\d+)", r.stderr) for r in (one, two)]
    check(len(losses[0]) > 3 and losses[0] == losses[1], f"1 rank x 2 vs 2 ranks x 1 losses differ: {losses}")
    bf16 = squad(common + ["--gradient-accumulation", "2", "--precision", "bf16", "--output-dir", os.path.join(d, "b")])
    got = [float(x) for x in re.findall(r"loss: (\d+\.\d+)", bf16.stderr)]
    check(bf16.returncode == 0 and len(got) == len(losses[0]) and
          all(abs(g - float(w)) <= 0.05 * float(w) + 0.01 for g, w in zip(got, losses[0])),
          f"bf16 fine-tuning losses {got} far from fp32 {losses[0]}: {bf16.stderr[-300:]}")


def main():
    data = subset(64)
    with tempfile.TemporaryDirectory() as d:
        path, out = os.path.join(d, "train.json"), os.path.join(d, "out")
        json.dump(data, open(path, "w", encoding="utf-8"), ensure_ascii=False)
        epochs = "2" if SANITIZED else "30"
        t0 = time.time()
        r = squad(TINY + ["--train-file", path, "--predict-file", path, "--output-dir", out, "--num-epochs", epochs])
        seconds = time.time() - t0
        check(r.returncode == 0, f"bert squad failed: {r.stderr[-2000:]}")
        if r.returncode == 0:
            check_logs(r.stderr)
            pred, metrics = check_outputs(out, data)
            print(f"fine-tuned in {seconds:.1f} s: {metrics}")
            if not SANITIZED:
                check(metrics["exact_match"] >= 90, f"EM {metrics['exact_match']} < 90 after fine-tuning")
            again = squad(TINY + ["--squad-do-training", "False", "--checkpoint-input-dir", os.path.join(out, "model"),
                                  "--predict-file", path, "--output-dir", os.path.join(d, "eval")])
            check(again.returncode == 0, f"evaluation alone failed: {again.stderr[-1000:]}")
            if again.returncode == 0:
                check(json.load(open(os.path.join(d, "eval", "predictions.json"), encoding="utf-8")) == pred,
                      "evaluating the saved model gives other predictions")
            bf16 = squad(TINY + ["--squad-do-training", "False", "--checkpoint-input-dir", os.path.join(out, "model"),
                                 "--predict-file", path, "--output-dir", os.path.join(d, "bf16"), "--precision", "bf16"])
            check(bf16.returncode == 0, f"bf16 evaluation failed: {bf16.stderr[-1000:]}")
            if bf16.returncode == 0:
                em = json.load(open(os.path.join(d, "bf16", "metrics.json")))["exact_match"]
                check(em >= metrics["exact_match"] - 10, f"bf16 EM {em} far below fp32 {metrics['exact_match']}")
            check_qa(os.path.join(out, "model"), data, pred)
            if not SANITIZED:
                check_int8(d, os.path.join(out, "model"), subset(1024))
        check_mpi(d, path)
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("squad fine-tuning: all checks passed")


main()
