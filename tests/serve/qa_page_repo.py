"""Writes the repository of test_qa_page.sh (not a test itself) into argv[1]: "qa", a bertc-qa-text
model with the 5-long n-best outputs on a tiny random-weight checkpoint (BERT-base's vocabulary),
and "qa-plain", the same checkpoint with only the outputs of before (answer, score, start, end)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2_client as v2  # noqa: E402

repo = sys.argv[1]
v2.write_model(repo, "qa", v2.qa_text_pbtxt("qa", {n: 5 for n in v2.QA_TEXT_NBEST}),
               dict(v2.TINY_CONFIG, vocab_size=30522), weights_seed=5)
os.makedirs(os.path.join(repo, "qa-plain"))
with open(os.path.join(repo, "qa-plain", "config.pbtxt"), "w") as f:
    f.write(v2.qa_text_pbtxt("qa-plain"))
os.symlink(os.path.join("..", "qa", "1"), os.path.join(repo, "qa-plain", "1"))
