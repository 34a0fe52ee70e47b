"""Throughput and fidelity of minilm against sentence-transformers, in one run, same texts and threads.

    python benchmarks/bench.py [--corpus ../shared/bench-corpus] [--short N] [--long N] [--threads T]

A script, not a test: it prints a Markdown table of texts/s, real (non-padding) tokens/s, the ratio
to sentence-transformers (the 1.00x baseline, when installed) and the per-text cosine to its vectors.
The NumPy reference runs on a subset (--numpy-short / --numpy-long), labelled as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

import minilm  # noqa: E402
from minilm.runtime.ort import default_threads  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FLOP_PER_TOKEN, ATTN_FLOP_PER_TOKEN_LEN, PEAK_GFLOPS = 21.2e6, 9216, 150  # DESIGN.md §5


def read(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line, _ in zip(f, range(n))]


def timed(encode, texts, repeat):
    encode(texts[:8])  # warm-up
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = encode(texts)
        best = min(best, time.perf_counter() - start)
    return best, np.asarray(out, np.float32)


def cosine(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def methods(names, threads, batch):
    found = {}
    if "minilm-ort" in names:
        m = minilm.load(backend="onnxruntime", threads=threads)
        found["minilm-ort"] = lambda t: m.encode(t, batch_size=batch)
    if "minilm-numpy" in names:
        n = minilm.load(backend="numpy")
        found["minilm-numpy"] = lambda t: n.encode(t, batch_size=batch)
    if "sentence-transformers" in names:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError:
            print("sentence-transformers not installed: ratios are relative to minilm-ort")
        else:
            torch.set_num_threads(threads)
            st = SentenceTransformer(str(minilm.load(backend="numpy").path), device="cpu")
            found["sentence-transformers"] = lambda t: st.encode(t, batch_size=batch, convert_to_numpy=True)
    return found


def machine(threads):
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    versions = {"minilm": minilm.__version__}
    for mod in ("onnxruntime", "torch", "sentence_transformers"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return f"{cpu}, {os.cpu_count()} cores, threads={threads}; " + ", ".join(f"{k} {v}" for k, v in versions.items())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "bench-corpus")
    p.add_argument("--short", type=int, default=10_000)
    p.add_argument("--long", type=int, default=1_000)
    p.add_argument("--numpy-short", type=int, default=500)
    p.add_argument("--numpy-long", type=int, default=50)
    p.add_argument("--threads", type=int, default=default_threads())
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--methods", default="minilm-ort,minilm-numpy,sentence-transformers")
    p.add_argument("--json", type=Path, help="write the raw results here")
    args = p.parse_args()

    runners = methods(args.methods.split(","), args.threads, args.batch_size)
    tokenizer = minilm.load(backend="numpy")
    baseline = "sentence-transformers" if "sentence-transformers" in runners else "minilm-ort"
    results = []
    for corpus, n, n_numpy in (("short", args.short, args.numpy_short), ("long", args.long, args.numpy_long)):
        texts_all = read(args.corpus / f"{corpus}.jsonl", n)
        vectors, rates = {}, {}
        for name, encode in runners.items():
            texts = texts_all[:n_numpy] if name == "minilm-numpy" else texts_all
            lengths = np.array([len(ids) for ids in tokenizer.tokenize(texts)])
            seconds, vectors[name] = timed(encode, texts, args.repeat)
            tokens_per_s = lengths.sum() / seconds
            gflops = (FLOP_PER_TOKEN * lengths.sum() + ATTN_FLOP_PER_TOKEN_LEN * (lengths ** 2).sum()) / seconds / 1e9
            rates[name] = len(texts) / seconds
            results.append({"method": name, "corpus": corpus, "texts": len(texts), "seconds": seconds,
                            "texts_per_s": rates[name], "tokens_per_s": tokens_per_s, "gflops": gflops})
        for r in results[-len(runners):]:  # the NumPy subset's ratio compares rates on different text sets
            r["ratio"] = r["texts_per_s"] / rates[baseline]
            if r["method"] != baseline and baseline in vectors:
                cos = cosine(vectors[r["method"]], vectors[baseline][: r["texts"]])
                r["min_cosine"], r["mean_cosine"] = float(cos.min()), float(cos.mean())

    print(f"\nmachine: {machine(args.threads)}")
    print(f"command: python benchmarks/bench.py --short {args.short} --long {args.long} --threads {args.threads}\n")
    print(f"| method | corpus | texts | texts/s | real tokens/s | vs {baseline} | GFLOP/s (% of ~{PEAK_GFLOPS}) | min / mean cosine vs {baseline} |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        cos = f"{r['min_cosine']:.7f} / {r['mean_cosine']:.7f}" if "min_cosine" in r else "(baseline)"
        label = r["method"] + (" (subset)" if r["method"] == "minilm-numpy" else "")
        print(f"| {label} | {r['corpus']} | {r['texts']} | {r['texts_per_s']:.1f} | {r['tokens_per_s']:.0f} | "
              f"{r['ratio']:.2f}x | {r['gflops']:.0f} ({100 * r['gflops'] / PEAK_GFLOPS:.0f}%) | {cos} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(args.threads), "results": results}, indent=2))


if __name__ == "__main__":
    main()
