"""Search storage by measurement: exact NumPy over memory-mapped float32 vs HNSW (usearch, faiss).

    python benchmarks/search.py                       # 10k real vectors + 1M synthetic, exact + usearch
    python benchmarks/search.py --sizes 10k --ann usearch faiss

10k: the 10,000 texts of ../shared/bench-corpus/short.jsonl embedded by all-MiniLM-L6-v2 (cached in
--work), queries = 100 other real texts (long.jsonl's first sentences). 1M: Gaussian vectors,
unit-normalised, float32, generated in chunks; queries = 100 more such vectors. Every (method,
size) runs in its own process so RSS is its own. Latency: one query at a time (p50, p95, ms,
search only: embedding the query is measured once, separately) and 32 queries per call (ms per
query). recall@10: |ANN top 10 ∩ exact top 10| / 10, averaged. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "bench-corpus"
SIZES = {"10k": 10_000, "1M": 1_000_000}


def rss_mb() -> tuple[float, float]:
    """(VmRSS, RssAnon) in MB: RSS counts mapped file pages; RssAnon only the process's own memory."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon"))


def texts(name: str, n: int) -> list[str]:
    with open(CORPUS / name, encoding="utf-8") as f:
        return [json.loads(line)["text"] for _, line in zip(range(n), f)]


def data(size: str, work: Path) -> tuple[Path, np.ndarray]:
    """(the .npy of the base vectors, the query vectors), made once and cached in WORK."""
    base, queries = work / f"base-{size}.npy", work / f"queries-{size}.npy"
    if not base.exists():
        if size == "10k":
            import minilm
            model = minilm.load()
            t = time.perf_counter()
            np.save(base, model.encode(texts("short.jsonl", 10_000), batch_size=64))
            print(f"embedded 10k texts in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            np.save(queries, model.encode([p.split(". ")[0] for p in texts("long.jsonl", 100)]))
        else:
            rng = np.random.default_rng(0)
            out = np.lib.format.open_memmap(base, mode="w+", dtype=np.float32, shape=(SIZES[size], 384))
            for start in range(0, SIZES[size], 100_000):
                block = rng.standard_normal((min(100_000, SIZES[size] - start), 384), dtype=np.float32)
                out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
            out.flush()
            del out
            q = rng.standard_normal((100, 384), dtype=np.float32)
            np.save(queries, q / np.linalg.norm(q, axis=1, keepdims=True))
    return base, np.load(queries)


def exact_topk(base: Path, queries: np.ndarray, k: int = 10) -> np.ndarray:
    from minilm.search.store import top_k
    return top_k(queries, [np.load(base, mmap_mode="r")], k)[1]


def run_one(method: str, size: str, work: Path) -> dict:
    base, queries = data(size, work)
    truth_file = work / f"truth-{size}.npy"
    if method == "exact":
        from minilm.search.store import top_k
        before = rss_mb()
        t = time.perf_counter()
        vectors = np.load(base)  # the build is writing the matrix: np.save + fsync, as an index segment does
        with open(work / "copy.npy", "wb") as f:
            np.save(f, vectors)
            f.flush()
            os.fsync(f.fileno())
        build = time.perf_counter() - t
        del vectors
        matrix = np.load(work / "copy.npy", mmap_mode="r")
        search = lambda q: top_k(q, [matrix], 10)[1]  # noqa: E731
    else:
        vectors = np.load(base)
        before = rss_mb()
        t = time.perf_counter()
        if method == "usearch":
            from usearch.index import Index
            index = Index(ndim=vectors.shape[1], metric="ip", dtype="f32")
            index.add(np.arange(len(vectors)), vectors, threads=os.cpu_count())
            search = lambda q: np.atleast_2d(index.search(q, 10, threads=1).keys)  # noqa: E731
        else:
            import faiss
            index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            index.add(vectors)
            index.hnsw.efSearch = 64
            search = lambda q: index.search(q, 10)[1]  # noqa: E731
        build = time.perf_counter() - t
        del vectors
    search(queries[:1])  # warm up
    single = []
    for q in queries:
        t = time.perf_counter()
        search(q[None])
        single.append((time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    batched = np.concatenate([search(queries[i:i + 32]) for i in range(0, len(queries), 32)])
    per_query_batched = (time.perf_counter() - t) * 1e3 / len(queries)
    after = rss_mb()
    row = {"method": method, "size": size, "build_s": round(build, 2), "p50_ms": round(float(np.median(single)), 2),
           "p95_ms": round(float(np.percentile(single, 95)), 2), "batched_ms_per_query": round(per_query_batched, 2),
           "rss_mb": round(after[0]), "rss_anon_mb": round(after[1]), "rss_anon_growth_mb": round(after[1] - before[1])}
    if method == "exact":
        np.save(truth_file, batched)
        row["recall@10"] = 1.0
    elif truth_file.exists():
        truth = np.load(truth_file)
        row["recall@10"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(batched, truth)])), 3)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["10k", "1M"], choices=list(SIZES))
    ap.add_argument("--ann", nargs="*", default=["usearch"], choices=["usearch", "faiss"])
    ap.add_argument("--work", default="/tmp/minilm-search-bench", help="cache of vectors (1M: 1.5 GB)")
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], work)))
        return
    rows = []
    for size in args.sizes:
        for method in ["exact", *args.ann]:  # exact first: it writes the truth the others are scored against
            out = subprocess.run([sys.executable, __file__, "--work", str(work), "--one", method, size],
                                 check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr)
    import minilm
    model = minilm.load()
    model.encode(["warm up"])
    t = time.perf_counter()
    for q in texts("long.jsonl", 20):
        model.encode(q.split(". ")[0])
    print(f"\nembedding one query (all-MiniLM-L6-v2, onnxruntime): {(time.perf_counter() - t) / 20 * 1e3:.1f} ms\n")
    print("| method | vectors | build (s) | query p50 (ms) | p95 (ms) | 32 per call (ms/query) | RSS (MB) "
          "| RSS anon (MB) | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['size']} | {r['build_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['batched_ms_per_query']} | "
              f"{r['rss_mb']} | {r['rss_anon_mb']} | {r.get('recall@10', '')} |")


if __name__ == "__main__":
    main()
