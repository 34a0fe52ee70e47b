"""One method on one corpus, in its own process (so its peak RSS is its own). Run by perf.py.

    python benchmarks/perf_child.py --method minilm --texts short.jsonl --n 10000 --threads 2 \\
        --model-dir DIR [--workdir DIR] [--queries 200] [--vectors out.npy]

Loads the method (timed), warms it up on 8 texts, embeds the texts once (timed), optionally times
batch-1 queries (a fixed, evenly spaced selection of the texts, tokenization included) and writes
one JSON object to stdout: seconds, load_s, rss_mb (this process's peak), p50_ms / p95_ms, or
``{"skipped": reason}`` when the method cannot run here.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import METHODS, Unavailable  # noqa: E402


def read_texts(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line, _ in zip(f, range(n))]


def query_indices(n_texts: int, n_queries: int) -> np.ndarray:
    """The fixed, deterministic query selection: evenly spaced over the corpus."""
    return np.unique(np.linspace(0, n_texts - 1, min(n_queries, n_texts)).astype(int))


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb * (1 if sys.platform == "darwin" else 1024) / 2 ** 20


def run(args) -> dict:
    workdir = args.workdir
    files = None
    if workdir and (workdir / "bert-fp32.onnx").exists():
        files = {"fp32": workdir / "bert-fp32.onnx", "int8": workdir / "bert-int8.onnx",
                 "fastembed": workdir / "fastembed", "st-openvino": workdir / "st-openvino", "st-onnx": workdir / "st-onnx"}
    ctx = SimpleNamespace(model_dir=args.model_dir, files=files, threads=args.threads, max_length=args.max_length)
    texts = read_texts(args.texts, args.n)
    start = time.perf_counter()
    try:
        encode, encode_one = METHODS[args.method](ctx)
    except Unavailable as exc:
        return {"skipped": str(exc)}
    load_s = time.perf_counter() - start
    encode(texts[:8])  # warm-up: first-run allocations, thread pools
    start = time.perf_counter()
    vectors = np.asarray(encode(texts), np.float32)
    seconds = time.perf_counter() - start
    result = {"texts": len(texts), "seconds": seconds, "load_s": load_s, "rss_mb": peak_rss_mb()}
    if args.vectors:
        np.save(args.vectors, vectors)
    if args.queries:
        queries = [texts[i] for i in query_indices(len(texts), args.queries)]
        for q in queries[:5]:
            encode_one(q)
        times = []
        for q in queries:
            start = time.perf_counter()
            encode_one(q)
            times.append(time.perf_counter() - start)
        result["p50_ms"] = 1e3 * float(np.percentile(times, 50))
        result["p95_ms"] = 1e3 * float(np.percentile(times, 95))
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=sorted(METHODS))
    p.add_argument("--texts", type=Path, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--model-dir", type=Path, required=True)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--queries", type=int, default=0)
    p.add_argument("--vectors", type=Path)
    args = p.parse_args()
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
