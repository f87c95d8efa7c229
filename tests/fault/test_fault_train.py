"""`bert pretrain` checkpoints and `bert squad` outputs under injected faults
(tests/fault/faultlib.py): every write, fsync, rename, close and allocation failing in turn either
leaves complete outputs or a clear error with no broken checkpoint and the previous outputs intact."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

faultlib.require_shim()
BERT = faultlib.BERT
TINY = ["--config", "demo_tiny_128", "--num-hidden-layers", "1", "--layers-per-ipu", "0", "1", "0", "0",
        "--hidden-size", "32", "--num-attention-heads", "2", "--gradient-accumulation", "1",
        "--micro-batch-size", "2", "--disable-progress-bar"]


def checkpoint_group(rel):
    """A checkpoint folder (step_N/, model/) is one whole; the metrics log is not an output to check."""
    return rel.split("/")[0] if "/" in rel else rel


def squad_sample(path, n=4):
    data = json.load(open("data/squad_sample.json", encoding="utf-8"))
    out, count = {"version": "1.1", "data": []}, 0
    for art in data["data"]:
        paras = [{"context": p["context"], "qas": p["qas"][:1]} for p in art["paragraphs"]][:max(0, n - count)]
        count += len(paras)
        if paras:
            out["data"].append({"title": art.get("title", "t"), "paragraphs": paras})
    json.dump(out, open(path, "w"))


def predictions_load(out_dir):
    for name in ("predictions.json", "nbest_predictions.json", "metrics.json"):
        try:
            json.load(open(os.path.join(out_dir, name)))
        except (OSError, ValueError) as e:
            return f"{name}: {e}"
    return None


class PretrainSweep(faultlib.Sweep):
    """metrics.jsonl is a log appended step by step (not replaced): left out of the comparison."""

    def judge(self, op, k, rc, err, injected):
        metrics = os.path.join(self.out, "metrics.jsonl")
        if os.path.exists(metrics):
            os.unlink(metrics)
        return super().judge(op, k, rc, err, injected)

    def baseline(self, report):
        counts = super().baseline(report)
        self.good.pop("metrics.jsonl", None)
        return counts


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="bertc-fault-train.") as tmp:
        out = os.path.join(tmp, "run")
        pretrain = [BERT, "pretrain", *TINY, "--training-steps", "1", "--checkpoint-steps", "1",
                    "--input-files", "data/sample_text.tfrecord", "--checkpoint-output-dir", out]
        failures += PretrainSweep("pretrain", pretrain, out, group=checkpoint_group).sweep(tmp)

        sample = os.path.join(tmp, "squad.json")
        squad_sample(sample)
        out = os.path.join(tmp, "squad")
        squad = [BERT, "squad", *TINY, "--num-epochs", "1", "--train-file", sample, "--predict-file", sample,
                 "--output-dir", out]
        sweep = faultlib.Sweep("squad", squad, out, group=checkpoint_group, check_success=predictions_load,
                               previous=squad + ["--random-seed", "7"])
        failures += sweep.sweep(tmp)
    faultlib.finish(failures)


main()
