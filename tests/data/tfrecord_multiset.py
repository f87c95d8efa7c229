"""Compares two groups of TFRecord files of tf.train.Example as multisets of records, each record
decoded by name (feature order does not matter), with tests/data/tfrecord_py_check.py's
independent parser (test-time only).

usage: /usr/bin/python3 tfrecord_multiset.py A.tfrecord... -- B.tfrecord...
Prints "same N" when both hold the same records the same number of times; exits 1 otherwise."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NS = {"__name__": "tfrecord_py_check"}
with open(os.path.join(HERE, "tfrecord_py_check.py")) as f:
    exec(compile(f.read().replace("\nmain()\n", "\n"), "tfrecord_py_check.py", "exec"), NS)


def records(paths):
    out = []
    for path in paths:
        data, off = open(path, "rb").read(), 0
        while off < len(data):
            n, = struct.unpack_from("<Q", data, off)
            if struct.unpack_from("<I", data, off + 8)[0] != NS["masked"](NS["crc32c"](data[off:off + 8])):
                sys.exit("%s: byte offset %d: bad length CRC" % (path, off))
            out.append(repr(sorted(NS["parse_example"](data[off + 12:off + 12 + n]).items())))
            off += n + 16
    return sorted(out)


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    cut = args.index("--")
    a, b = records(args[:cut]), records(args[cut + 1:])
    if a != b:
        sys.exit("differ: %d records vs %d, %d in common positions of the sorted lists" %
                 (len(a), len(b), sum(x == y for x, y in zip(a, b))))
    print("same %d" % len(a))


main()
