"""Independent reader for the TFRecords `bert data create` writes (test-time only, no TensorFlow):
parses the framing with its own CRC-32C, the tf.train.Example protobuf wire format by hand, and the
.index file, and checks the unpacked pretraining schema (feature names, kinds, lengths).

usage: /usr/bin/python3 tfrecord_py_check.py L M FILE.tfrecord [FILE.index]
Prints the number of records; exits 1 with a message on any mismatch."""
import struct
import sys


def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def fields(buf):
    """Yields (field number, wire type, value) of a message; LEN values as bytes."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unexpected wire type %d" % wt)
        yield num, wt, v


def signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_example(payload):
    out = {}
    for num, _, features in fields(payload):
        assert num == 1, "Example field %d" % num
        for fnum, _, entry in fields(features):
            assert fnum == 1
            key, value = None, None
            for enum, _, ev in fields(entry):
                if enum == 1:
                    key = ev.decode()
                elif enum == 2:
                    value = ev
            for knum, _, lst in fields(value):
                values = []
                for vnum, wt, v in fields(lst):
                    assert vnum == 1 and wt == 2, "expected packed values"
                    if knum == 3:
                        j = 0
                        while j < len(v):
                            x, j = varint(v, j)
                            values.append(signed64(x))
                    elif knum == 2:
                        values.extend(struct.unpack("<%df" % (len(v) // 4), v))
                out[key] = ("int64" if knum == 3 else "float" if knum == 2 else "bytes", values)
    return out


def main():
    L, M, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    data = open(path, "rb").read()
    schema = {"input_ids": ("int64", L), "input_mask": ("int64", L), "segment_ids": ("int64", L),
              "masked_lm_positions": ("int64", M), "masked_lm_ids": ("int64", M),
              "masked_lm_weights": ("float", M), "next_sentence_labels": ("int64", 1)}
    offsets, off = [], 0
    while off < len(data):
        n, = struct.unpack_from("<Q", data, off)
        if struct.unpack_from("<I", data, off + 8)[0] != masked(crc32c(data[off:off + 8])):
            sys.exit("%s: byte offset %d: bad length CRC" % (path, off))
        payload = data[off + 12:off + 12 + n]
        if len(payload) != n or struct.unpack_from("<I", data, off + 12 + n)[0] != masked(crc32c(payload)):
            sys.exit("%s: byte offset %d: bad or truncated payload" % (path, off))
        ex = parse_example(payload)
        for name, (kind, length) in schema.items():
            if name not in ex or ex[name][0] != kind or len(ex[name][1]) != length:
                sys.exit("%s: record %d: feature %s is not %s[%d]" % (path, len(offsets), name, kind, length))
        if set(ex) != set(schema):
            sys.exit("%s: record %d: unexpected features %s" % (path, len(offsets), sorted(set(ex) - set(schema))))
        offsets.append((off, n + 16))
        off += n + 16
    if len(sys.argv) > 4:
        lines = open(sys.argv[4]).read().splitlines()
        if lines != ["%d %d" % o for o in offsets]:
            sys.exit("%s: does not list the records of %s" % (sys.argv[4], path))
    print(len(offsets))


main()
