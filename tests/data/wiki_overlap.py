"""Compares WikiExtractor-style output with a reference (tests/data/test_wikipedia.sh).

usage: wiki_overlap.py OURS REFERENCE MIN_MEAN [MIN_EACH]

Both files hold <doc id=.. url=.. title=..> ... </doc> documents. Checks that they hold the same
documents (id, url, title, in order) and that the mean word-set overlap of the bodies (Jaccard
index of the sets of lower-cased \\w+ words; 1 when both are empty) is at least MIN_MEAN, and
each document's at least MIN_EACH. Prints one line per document and the mean.
"""
import re
import sys

DOC = re.compile(r'<doc id="([^"]*)" url="([^"]*)" title="([^"]*)">\n(.*?)\n</doc>\n', re.S)


def docs(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = DOC.findall(text)
    if sum(len(m.group(0)) for m in DOC.finditer(text)) != len(text):
        sys.exit(f"{path}: text outside <doc> ... </doc>")
    return found


def words(body):
    return set(re.findall(r"\w+", body.lower()))


def main():
    ours, ref = docs(sys.argv[1]), docs(sys.argv[2])
    min_mean = float(sys.argv[3])
    min_each = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    if [d[:3] for d in ours] != [d[:3] for d in ref]:
        sys.exit(f"documents differ:\n ours {[d[:3] for d in ours]}\n  ref {[d[:3] for d in ref]}")
    scores = []
    for (doc_id, _, title, a), (_, _, _, b) in zip(ours, ref):
        wa, wb = words(a), words(b)
        score = 1.0 if not wa and not wb else len(wa & wb) / len(wa | wb)
        scores.append(score)
        print(f"  doc {doc_id:>4} {title[:30]:30} words {len(wa):5} / {len(wb):5}  overlap {score:.3f}")
    mean = sum(scores) / len(scores)
    print(f"  {len(scores)} documents, mean word-set overlap {mean:.3f} (minimum {min(scores):.3f})")
    if mean < min_mean or min(scores) < min_each:
        sys.exit(f"overlap too low: mean {mean:.3f} < {min_mean} or a document below {min_each}")


main()
