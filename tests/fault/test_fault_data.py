"""`bert data create` and `bert data pack` under injected faults (tests/fault/faultlib.py): every
write, fsync, rename, close and allocation failing in turn either leaves a complete output or a
clear error with the previous output intact."""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402

faultlib.require_shim()
BERT = faultlib.BERT


def tfrecord_group(rel):
    """A TFRecord and its index belong together."""
    return re.sub(r"\.(tfrecord|index)$", "", rel)


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="bertc-fault-data.") as tmp:
        out = os.path.join(tmp, "create")
        create = [BERT, "data", "create", "--vocab", "data/vocab.txt", "--input-file", "data/sample_text.txt",
                  "--do-lower-case", "--duplication-factor", "2", "--disable-progress-bar", "--threads", "2"]
        prev = create + ["--seed", "7", "--output-file", os.path.join(out, "s.tfrecord")]
        sweep = faultlib.Sweep("data create", create + ["--output-file", os.path.join(out, "s.tfrecord")], out,
                               group=tfrecord_group, previous=prev)
        failures += sweep.sweep(tmp)

        out = os.path.join(tmp, "pack")
        pack = [BERT, "data", "pack", "--input-files", "data/sample_text.tfrecord", "--packs-per-file", "20",
                "--disable-progress-bar", "--threads", "2", "--output-dir", out]
        sweep = faultlib.Sweep("data pack", pack, out, group=tfrecord_group,
                               previous=pack + ["--random-seed", "7"])
        failures += sweep.sweep(tmp)
        shutil.rmtree(out, ignore_errors=True)
    faultlib.finish(failures)


main()
