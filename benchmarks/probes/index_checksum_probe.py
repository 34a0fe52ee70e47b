"""Where should an index check its segment checksums: a streaming hash at open, or on first search?

    python benchmarks/probes/index_checksum_probe.py [--rows 100000 1000000] [--dim 384] [--dir /tmp]

Writes an index of random unit vectors (no model: store.write_segment, 10,000 rows a segment) and
times, warm page cache, best of three: a streaming hash of every .npy (CRC-32 / SHA-1 / SHA-256, as
``open`` would pay on every start), one exact search of one query without any check, the first
search with the CRC-32 check (minilm's choice: store.verify_vectors before a segment's first read;
later searches cost what the unchecked one does), and ``minilm index verify`` (every file, rows parsed).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from minilm.search import store
from minilm.search.verify import verify


def best(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def hash_files(files: list[Path], name: str) -> None:
    for file in files:
        if name == "crc32":
            store.crc32_file(file)
        else:
            digest, buffer = hashlib.new(name), bytearray(1 << 22)
            with open(file, "rb") as f:
                while n := f.readinto(buffer):
                    digest.update(memoryview(buffer)[:n])


def build(folder: Path, rows: int, dim: int) -> dict:
    rng = np.random.default_rng(0)
    manifest = store.new_manifest({"path": "-", "name": "random", "dim": dim}, None)
    for number, start in enumerate(range(0, rows, 10_000)):
        n = min(10_000, rows - start)
        vectors = rng.standard_normal((n, dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        name = f"seg-{number:04d}"
        checks = store.write_segment(folder, name, vectors, [{"id": start + i, "text": "", "metadata": None} for i in range(n)])
        manifest["segments"].append({"name": name, "rows": n, **checks})
    manifest.update(count=rows, next_segment=len(manifest["segments"]))
    store.write_manifest(folder, manifest)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    query = np.ones((1, args.dim), np.float32) / np.sqrt(args.dim)
    print(f"{'rows':>9} {'MB':>6} {'crc32':>7} {'sha1':>7} {'sha256':>7} {'search':>7} {'1st+crc':>8} {'verify':>7}")
    for rows in args.rows:
        folder = Path(tempfile.mkdtemp(prefix="checksum-probe-", dir=args.dir))
        try:
            manifest = build(folder, rows, args.dim)
            segments = manifest["segments"]
            files = [folder / f"{s['name']}.npy" for s in segments]
            size = sum(f.stat().st_size for f in files) / 1e6
            hashes = {name: best(lambda: hash_files(files, name)) for name in ("crc32", "sha1", "sha256")}
            mats = [store.open_vectors(folder, s, args.dim) for s in segments]
            plain = best(lambda: store.top_k(query, mats, 10))
            first = best(lambda: store.top_k(query, [store.verify_vectors(folder, s, args.dim) for s in segments], 10))
            whole = best(lambda: verify(folder), rounds=1)
            print(f"{rows:>9} {size:>6.0f} {hashes['crc32']:>7.3f} {hashes['sha1']:>7.3f} {hashes['sha256']:>7.3f} "
                  f"{plain:>7.3f} {first:>8.3f} {whole:>7.3f}")
        finally:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
