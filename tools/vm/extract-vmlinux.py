#!/usr/bin/env python3
"""extract-vmlinux.py VMLINUZ OUT: the uncompressed vmlinux ELF inside a bzImage (boots ~2x faster under TCG)."""
import sys, lzma, gzip, zlib, subprocess
data = open(sys.argv[1], "rb").read()
def tries():
    for magic, kind in ((b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\x1f\x8b\x08", "gz")):
        i = data.find(magic)
        while i >= 0:
            yield kind, i
            i = data.find(magic, i + 1)
for kind, i in tries():
    try:
        if kind == "xz": out = lzma.LZMADecompressor().decompress(data[i:])
        elif kind == "gz": out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[i:])
        else: out = subprocess.run(["zstd", "-dc"], input=data[i:], capture_output=True).stdout
    except Exception:
        continue
    if out[:4] == b"\x7fELF":
        open(sys.argv[2], "wb").write(out); sys.exit(0)
sys.exit("no ELF payload found in " + sys.argv[1])
