#!/usr/bin/env python3
"""Generate the trees of `make bench-scale` (deterministic: fixed seed, fixed mtimes).

Usage: gen-scale.py LAYOUT DIR [FILES]

  empty  the layout of anchors-results.md: 1,000 directories d000..d999 of 1,000 empty
         files each, plus one directory "flat" of 100,000 empty files (1,100,000 files in
         1,002 directories; the label "files=1101000" below counts the directories too).
         FILES is ignored.
  deep   FILES (default 1,000,000) small files of 1-4 KiB in a tree 6 levels deep
         (fan-out 5: 15,625 leaf directories of 64 files each for 1M files).
  flat   FILES small files of 1-4 KiB, all in the one directory "flat".

Contents: slices of a 64 MiB pool (half random bytes, half base64 text, so about half of
the bytes compress), at pseudo-random offsets: files are distinct.
Idempotent: DIR.done holds the parameters; if they match, nothing is done.
"""
import base64
import os
import random
import shutil
import sys

SEED = 20261125
MTIME = 1704067200  # 2024-01-01 00:00:00 UTC
FANOUT, DEPTH = 5, 6


def pool():
    rng = random.Random(SEED)
    half = 32 << 20
    text = base64.b64encode(rng.randbytes(half * 3 // 4))
    return rng.randbytes(half) + text[:half]


def write_files(dirpath, names, sizes_rng, data, empty):
    os.makedirs(dirpath, exist_ok=True)
    n = len(data)
    for name in names:
        p = os.path.join(dirpath, name)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if not empty:
            size = sizes_rng.randint(1024, 4096)
            off = sizes_rng.randrange(0, n - size)
            os.write(fd, data[off:off + size])
        os.close(fd)
        os.utime(p, (MTIME, MTIME))
    os.utime(dirpath, (MTIME, MTIME))


def leaves(prefix, depth):
    if depth == 0:
        yield prefix
        return
    for i in range(FANOUT):
        yield from leaves(os.path.join(prefix, "l%d-%d" % (DEPTH - depth + 1, i)), depth - 1)


def main():
    layout, root = sys.argv[1], sys.argv[2]
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 1000000
    if layout == "empty":
        files = 1101000
    params = "layout=%s files=%d seed=%d v1" % (layout, files, SEED)
    done = root.rstrip("/") + ".done"
    if os.path.exists(done) and open(done).read().strip() == params and os.path.isdir(root):
        print("gen-scale: %s already generated (%s)" % (root, params), file=sys.stderr)
        return
    if os.path.exists(done):
        os.remove(done)
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(SEED + 1)
    if layout == "empty":
        for d in range(1000):
            write_files(os.path.join(root, "d%03d" % d), ["f%03d" % i for i in range(1000)], rng, b"", True)
        write_files(os.path.join(root, "flat"), ["f%06d" % i for i in range(100000)], rng, b"", True)
    elif layout == "deep":
        data = pool()
        ls = list(leaves(root, DEPTH))
        per, extra = divmod(files, len(ls))
        for k, leaf in enumerate(ls):
            n = per + (1 if k < extra else 0)
            write_files(leaf, ["file%04d.dat" % i for i in range(n)], rng, data, False)
        # directories bottom-up, so their mtimes stay fixed
        for dirpath, _, _ in sorted(os.walk(root), key=lambda t: -t[0].count(os.sep)):
            os.utime(dirpath, (MTIME, MTIME))
    elif layout == "flat":
        data = pool()
        write_files(os.path.join(root, "flat"), ["f%07d.dat" % i for i in range(files)], rng, data, False)
    else:
        sys.exit("gen-scale: unknown layout %r (empty, deep, flat)" % layout)
    os.utime(root, (MTIME, MTIME))
    os.sync()
    with open(done, "w") as f:
        f.write(params + "\n")
    print("gen-scale: generated %s (%s)" % (root, params), file=sys.stderr)


if __name__ == "__main__":
    main()
