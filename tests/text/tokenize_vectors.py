"""Helper of tests/text/test_tokenize_vectors.sh (run as /usr/bin/python3, standard library only).

  inputs VECTORS.jsonl OUT          the vectors' "text" fields as JSON-string lines
  bge INP OUT                       llama.cpp's .inp inputs as JSON-string lines
  compare VECTORS.jsonl GOT VOCAB MODE [--hf]
                                    ids and tokens must equal the vectors' (hf_ids/hf_tokens where
                                    present with --hf); MODE is uncased or cased
  compare-bge INPUTS OUT GOT VOCAB  ids must equal llama.cpp's .out lines

Every compare also checks the offsets: consecutive tokens whose spans overlap (pieces of one
decomposed character) form a group; the input bytes of each group, cleaned and, when uncased,
lower-cased and accent-stripped, must equal the group's pieces joined without "##". [UNK] only
needs a non-empty span inside the text.
"""
import json
import sys
import unicodedata


def read_lines(path):
    # Vectors hold raw U+2028/U+2029 inside strings: split on "\n" only.
    with open(path, encoding="utf-8", newline="") as f:
        return [line for line in f.read().split("\n") if line]


def write_json_strings(texts, out):
    with open(out, "w", encoding="utf-8") as f:
        for text in texts:
            f.write(json.dumps(text) + "\n")


def bge_inputs(path):
    with open(path, encoding="utf-8", newline="") as f:
        parts = f.read().split("\n__ggml_vocab_test__\n")
    # Every input is followed by the separator, so the text after the last one is empty.
    if parts[-1] != "":
        sys.exit(f"{path}: does not end with the separator")
    return parts[:-1]


def normalise(text, uncased):
    """Google's _clean_text (as the tokenizer applies it) plus the uncased steps."""
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r":
            kept.append(" ")
        elif ch in ("\0", "\ufffd") or cat in ("Cc", "Cf"):
            continue
        else:
            kept.append(ch)
    text = "".join(kept)
    if uncased:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return text


def check_offsets(text, got, uncased, where):
    data = text.encode("utf-8")
    tokens, spans = got["tokens"], got["offsets"]
    errors = []
    if len(spans) != len(tokens):
        return [f"{where}: {len(spans)} offsets for {len(tokens)} tokens"]
    i = 0
    while i < len(tokens):
        j = i + 1
        while j < len(tokens) and spans[j][0] < spans[j - 1][1]:
            j += 1
        start, end = spans[i][0], spans[j - 1][1]
        if not (0 <= start < end <= len(data)) or (i and start < spans[i - 1][1]):
            errors.append(f"{where}: bad span {spans[i]} for {tokens[i]!r}")
        elif tokens[i:j] != ["[UNK]"]:
            pieces = "".join(t[2:] if t.startswith("##") else t for t in tokens[i:j])
            source = normalise(data[start:end].decode("utf-8", "ignore"), uncased)
            # str.lower() picks final sigma from the word around it, which a slice lacks.
            if source.replace("\u03c2", "\u03c3") != pieces.replace("\u03c2", "\u03c3"):
                errors.append(f"{where}: tokens {tokens[i:j]} at [{start}, {end}) but the text "
                              f"there is {source!r}")
        i = j
    return errors


def load_vocab(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read().split("\n")


def compare(vectors, got_path, vocab_path, mode, hf):
    expected = [json.loads(line) for line in read_lines(vectors)]
    got = [json.loads(line) for line in read_lines(got_path)]
    vocab = load_vocab(vocab_path)
    if len(got) != len(expected):
        return [f"{got_path}: {len(got)} lines for {len(expected)} vectors"]
    errors = []
    for n, (e, g) in enumerate(zip(expected, got), 1):
        where = f"{vectors}:{n}"
        ids = e.get("hf_ids", e["ids"]) if hf else e["ids"]
        tokens = e.get("hf_tokens", e["tokens"]) if hf else e["tokens"]
        if g["ids"] != ids or g["tokens"] != tokens:
            errors.append(f"{where}: {e['text'][:60]!r}\n  expected {tokens}\n  got      {g['tokens']}")
        if any(vocab[i] != t for i, t in zip(g["ids"], g["tokens"])):
            errors.append(f"{where}: tokens do not match their ids")
        errors += check_offsets(e["text"], g, mode == "uncased", where)
    return errors


def compare_bge(inputs_path, out_path, got_path, vocab_path):
    with open(inputs_path, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    with open(out_path, encoding="utf-8") as f:
        expected = [[int(x) for x in line.split()] for line in f.read().split("\n")[:-1]]
    got = [json.loads(line) for line in read_lines(got_path)]
    vocab = load_vocab(vocab_path)
    if not (len(texts) == len(expected) == len(got)):
        return [f"{len(texts)} inputs, {len(expected)} expected lines, {len(got)} outputs"]
    errors = []
    for n, (text, e, g) in enumerate(zip(texts, expected, got), 1):
        if g["ids"] != e:
            errors.append(f"bge input {n}: {text[:60]!r}\n  expected {e}\n  got      {g['ids']}")
        if any(vocab[i] != t for i, t in zip(g["ids"], g["tokens"])):
            errors.append(f"bge input {n}: tokens do not match their ids")
        errors += check_offsets(text, g, True, f"bge input {n}")
    return errors


def main(argv):
    cmd = argv[1]
    if cmd == "inputs":
        write_json_strings([json.loads(line)["text"] for line in read_lines(argv[2])], argv[3])
        return 0
    if cmd == "bge":
        write_json_strings(bge_inputs(argv[2]), argv[3])
        return 0
    if cmd == "compare":
        errors = compare(argv[2], argv[3], argv[4], argv[5], "--hf" in argv)
    elif cmd == "compare-bge":
        errors = compare_bge(argv[2], argv[3], argv[4], argv[5])
    else:
        sys.exit(f"unknown command {cmd}")
    for e in errors[:20]:
        print(e, file=sys.stderr)
    if errors:
        print(f"{len(errors)} mismatches", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
