"""The other writers under injected faults (tests/fault/faultlib.py): `bert data shuffle`,
`bert data wiki-extract`, `bert data wiki-preprocess`, `bert infer --output` and the resumable
`bert data wikipedia` pipeline. Every write, fsync, rename, close and allocation failing in turn
either leaves a complete output or a clear error with the previous output intact; after a failed
`bert data wikipedia`, a rerun completes it exactly as a fault-free run."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

faultlib.require_shim()
BERT = faultlib.BERT
DUMP = "tests/data/text/wikiextractor_vi_pair/test.xml"


def tfrecord_group(rel):
    """A TFRecord and its index belong together."""
    return re.sub(r"\.(tfrecord|index)$", "", rel)


def without_timing(rel, data):
    """A stage's .done file records how long the stage took."""
    return re.sub(rb"(?m)^seconds: .*$", b"", data) if rel.startswith(".stages/") else data


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="bertc-fault-pipeline.") as tmp:
        out = os.path.join(tmp, "shuffle")
        shuffle = [BERT, "data", "shuffle", "--input-files", "data/sample_text.tfrecord", "--records-per-file", "20",
                   "--buffer-size", "0", "--threads", "2", "--disable-progress-bar", "--output-dir", out]
        failures += faultlib.Sweep("data shuffle", shuffle, out, group=tfrecord_group,
                                   previous=shuffle + ["--random-seed", "7"]).sweep(tmp)

        out = os.path.join(tmp, "extract")
        extract = [BERT, "data", "wiki-extract", "--disable-progress-bar", "--threads", "2", DUMP, out]
        failures += faultlib.Sweep("data wiki-extract", extract, out,
                                   previous=extract[:-2] + ["--skip-redirects"] + extract[-2:]).sweep(tmp)

        sentences = os.path.join(tmp, "sentences")
        text = os.path.join(tmp, "extract.previous", "AA", "wiki_00")
        preprocess = [BERT, "data", "wiki-preprocess", text, sentences]
        failures += faultlib.Sweep("data wiki-preprocess", preprocess, sentences).sweep(tmp)

        out = os.path.join(tmp, "infer")
        infer = [BERT, "infer", "--model", "tests/data/camphr_ner_bert", "--threads", "2",
                 "--input", "data/demo_infer.jsonl", "--output", os.path.join(out, "out.jsonl")]
        failures += faultlib.Sweep("infer --output", infer, out,
                                   previous=infer + ["--head", "token-classification"]).sweep(tmp)

        out = os.path.join(tmp, "wikipedia")
        wikipedia = [BERT, "data", "wikipedia", DUMP, out, "--sequence-length", "128", "--mask-tokens", "20",
                     "--small-files", "--max-len", "20", "--pack", "--threads", "2", "--disable-progress-bar"]
        failures += faultlib.Sweep("data wikipedia", wikipedia, out, group=tfrecord_group, resume=True,
                                   normalize=without_timing).sweep(tmp)
    faultlib.finish(failures)


main()
