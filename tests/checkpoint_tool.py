"""ag's safetensors files for the test scripts, with the standard library
only: the checksum ("ag.crc32c" in the metadata: the CRC-32C of the whole
file taken with its 8 hex digits read as "00000000"; see
framework/src/safetensors.h), written here independently of ag's C code.

    checkpoint_tool.py check FILE...     exit 1 unless each has a checksum and it matches
    checkpoint_tool.py sign FILE...      recompute the checksum of each (after an edit)
    checkpoint_tool.py strip FILE KEY... remove metadata entries (as an older ag wrote it)
    checkpoint_tool.py same A B          exit 0 if A and B are byte for byte equal but for
                                         their run ids ("ag.run_id") and hence checksums,
                                         both checksums are right and both run ids present
    checkpoint_tool.py get FILE KEY      print a metadata value

tests/bad_input.sh imports it to re-sign its edits; tests/resume.sh and
bench/kill_loop.sh compare two runs' checkpoints with `same`.
"""
import json
import re
import struct
import sys

CRC_KEY = "ag.crc32c"
RUN_ID_KEY = "ag.run_id"
_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli) of bytes, continuing from crc."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _value_at(raw, key, length):
    """Where the `length`-character value of metadata `key` lies in the
    header text (as ag writes it: "key":"value"), or None."""
    n = struct.unpack("<Q", bytes(raw[:8]))[0] if len(raw) >= 8 else 0
    found = re.search(re.escape(('"%s":"' % key).encode()) + b'[^"]{%d}"' % length, bytes(raw[8:8 + n]))
    return None if found is None else 8 + found.start() + len(key) + 4


def sign(raw):
    """raw (bytes) with its checksum recomputed; unchanged if it has none."""
    raw = bytearray(raw)
    at = _value_at(raw, CRC_KEY, 8)
    if at is not None:
        raw[at:at + 8] = b"00000000"
        raw[at:at + 8] = b"%08x" % crc32c(raw)
    return bytes(raw)


def check(raw):
    """None if raw's checksum is there and right, else what is wrong."""
    at = _value_at(raw, CRC_KEY, 8)
    if at is None:
        return "no %s entry" % CRC_KEY
    stored = bytes(raw[at:at + 8]).decode("ascii", "replace")
    computed = "%08x" % crc32c(raw[:at] + b"00000000" + raw[at + 8:])
    return None if stored == computed else "checksum %s, computed %s" % (stored, computed)


def header(raw):
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), n


def strip(raw, keys):
    """raw without the metadata entries `keys` (the header rewritten as ag
    writes it, padded to 8); the checksum is not recomputed."""
    h, n = header(raw)
    for key in keys:
        del h["__metadata__"][key]
    text = json.dumps(h, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + raw[8 + n:]


def same(a, b):
    """None if a and b are equal but for their run ids and checksums, both
    right; else what differs."""
    for name, raw in (("first", a), ("second", b)):
        problem = check(raw)
        if problem:
            return "%s file: %s" % (name, problem)
        if _value_at(raw, RUN_ID_KEY, 16) is None:
            return "%s file: no %s entry" % (name, RUN_ID_KEY)
    def normal(raw):
        raw = bytearray(raw)
        for key, length in ((CRC_KEY, 8), (RUN_ID_KEY, 16)):
            at = _value_at(raw, key, length)
            raw[at:at + length] = b"0" * length
        return bytes(raw)
    a, b = normal(a), normal(b)
    if a == b:
        return None
    first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    return "they differ from byte %d on (%d and %d bytes)" % (first, len(a), len(b))


def main(argv):
    def read(path):
        with open(path, "rb") as f:
            return f.read()

    def write(path, raw):
        with open(path, "wb") as f:
            f.write(raw)

    command, args = argv[1], argv[2:]
    if command == "check":
        problems = ["%s: %s" % (p, check(read(p))) for p in args if check(read(p))]
        print("\n".join(problems) or "ok")
        return 1 if problems else 0
    if command == "sign":
        for path in args:
            write(path, sign(read(path)))
        return 0
    if command == "strip":
        write(args[0], strip(read(args[0]), args[1:]))
        return 0
    if command == "same":
        problem = same(read(args[0]), read(args[1]))
        if problem:
            print("%s vs %s: %s" % (args[0], args[1], problem))
        return 1 if problem else 0
    if command == "get":
        value = header(read(args[0]))[0].get("__metadata__", {}).get(args[1])
        if value is None:
            return 1
        print(value)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
