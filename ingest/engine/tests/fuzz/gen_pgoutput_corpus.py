#!/usr/bin/env python3
"""Write the seed corpus of fuzz_pgoutput (corpus/pgoutput/): pgoutput message sequences in the
fuzzer's framing (each message prefixed by a big-endian Int16 length), a walsender frame or two and
an LSN. The layouts are those of test_pgoutput.c (PostgreSQL 15's proto.c). Rerun after changing."""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "pgoutput")


def s(x):
    return x.encode() + b"\0"


def rel(relid, ncols, xid=None):
    cols = [(1, "id", 20, -1), (0, "amount", 1700, (18 << 16 | 2) + 4), (0, "note", 25, -1),
            (0, "at", 1184, -1)][:ncols]
    b = b"R" + (struct.pack(">I", xid) if xid else b"") + struct.pack(">I", relid)
    b += s("public") + s("loans") + b"d" + struct.pack(">H", ncols)
    for flags, name, oid, typmod in cols:
        b += struct.pack(">B", flags) + s(name) + struct.pack(">Ii", oid, typmod)
    return b


def tup(tail=b"n"):
    return (struct.pack(">H", 3) + b"b" + struct.pack(">I", 8) + struct.pack(">q", 42) + b"t" +
            struct.pack(">I", 5) + b"12.50" + tail)


def seq(*msgs):
    return b"".join(struct.pack(">H", len(m)) + m for m in msgs)


begin = b"B" + struct.pack(">QqI", 0x16B374D848, 700000000000, 777)
commit = b"C" + struct.pack(">BQQq", 0, 0x100, 0x128, 42)
seeds = {
    "txn": seq(begin, b"O" + struct.pack(">Q", 5) + s("node_a"), rel(16384, 3),
               b"Y" + struct.pack(">I", 16400) + s("public") + s("mood"),
               b"I" + struct.pack(">I", 16384) + b"N" + tup(b"n"),
               b"U" + struct.pack(">I", 16384) + b"N" + tup(b"u"),
               b"U" + struct.pack(">I", 16384) + b"K" + tup() + b"N" + tup(b"u"),
               b"D" + struct.pack(">I", 16384) + b"O" + tup(),
               b"T" + struct.pack(">IBII", 2, 3, 16384, 16390),
               b"M" + struct.pack(">BQ", 1, 0x99) + s("fh/test") + struct.pack(">I", 3) + b"a\0b",
               commit),
    "stream": seq(b"S" + struct.pack(">IB", 900, 1), rel(16500, 3, xid=901),
                  b"I" + struct.pack(">II", 900, 16500) + b"N" + tup(b"u"),
                  b"U" + struct.pack(">II", 901, 16500) + b"O" + tup() + b"N" + tup(),
                  b"D" + struct.pack(">II", 901, 16500) + b"K" + tup(),
                  b"T" + struct.pack(">IIBI", 900, 1, 0, 16500),
                  b"M" + struct.pack(">IBQ", 900, 1, 0x77) + s("p") + struct.pack(">I", 0),
                  b"E", b"A" + struct.pack(">II", 900, 901),
                  b"S" + struct.pack(">IB", 900, 0), b"E",
                  b"c" + struct.pack(">IBQQq", 900, 0, 0x500, 0x540, 99)),
    "reannounce": seq(rel(16384, 3), rel(16384, 4),
                      b"I" + struct.pack(">I", 16384) + b"N" + tup(b"n")[:0] +
                      struct.pack(">H", 4) + tup(b"n")[2:] + b"t" + struct.pack(">I", 2) + b"hi"),
    "frame_w": b"w" + struct.pack(">QQq", 0x1000, 0x2000, 123) + begin,
    "frame_k": b"k" + struct.pack(">QqB", 0xABCDEF, 5, 1),
    "lsn": b"16/B374D848",
}
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
