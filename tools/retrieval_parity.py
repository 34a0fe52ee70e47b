"""Retrieval parity: top-10 neighbours by our vectors vs by sentence-transformers' (needs torch; tests do not).

    python tools/retrieval_parity.py [--corpus DIR] [--queries 200] [--k 10] [--out FILE]

Embeds the short corpus (10,000 PyPI summaries) with minilm (onnxruntime) and with the real
sentence-transformers on the same all-MiniLM-L6-v2 folder. The queries are every 50th text (ids 0,
50, ..., 9950 for 200 queries): a fixed, evenly spread selection. For each query, its k nearest
corpus texts other than itself (cosine, ties to the lower index, minilm.search.pairs.top_k for both sides)
by each side's vectors. overlap@k = |ours & theirs| / k. Texts that occur many times ("UNKNOWN" x 23)
tie exactly, and rounding noise picks among them, so a tie-aware overlap is reported too: one of our
neighbours counts when its score by sentence-transformers is within 1e-6 of their k-th best.

Writes tests/fixtures/use/retrieval_parity.json: the numbers, the query ids, sentence-transformers'
neighbour ids and scores per query, and the texts of every id involved (so the test needs no corpus).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import fixture_json  # noqa: E402  (tools/, on the path as this script's folder)
import minilm  # noqa: E402
from minilm.search.pairs import top_k  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "use" / "retrieval_parity.json"


def overlaps(ours: np.ndarray, theirs: np.ndarray, their_vectors: np.ndarray, queries: np.ndarray, kth: np.ndarray):
    strict = np.array([len(set(a) & set(b)) for a, b in zip(ours.tolist(), theirs.tolist())]) / ours.shape[1]
    unit = their_vectors / np.linalg.norm(their_vectors, axis=1, keepdims=True)
    scores = np.einsum("qd,qkd->qk", unit[queries], unit[ours])  # their score of each of our neighbours
    tied = (scores >= kth[:, None] - 1e-6).mean(1)
    return strict, tied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "bench-corpus"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT.relative_to(REPO)}")
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in Path(args.corpus, "short.jsonl").read_text(encoding="utf-8").splitlines()]
    step = len(texts) // args.queries
    queries = np.arange(0, len(texts), step)[: args.queries]
    model = minilm.load()
    started = time.perf_counter()
    ours = model.encode(texts, batch_size=64)
    ours_s = time.perf_counter() - started
    from sentence_transformers import SentenceTransformer
    import sentence_transformers
    import torch
    reference = SentenceTransformer(str(model.path), device="cpu")
    started = time.perf_counter()
    theirs = reference.encode(texts, batch_size=64, convert_to_numpy=True)
    theirs_s = time.perf_counter() - started
    our_ids, _ = top_k(ours[queries], ours, args.k, exclude=queries)
    their_ids, their_scores = top_k(theirs[queries], theirs, args.k, exclude=queries)
    strict, tied = overlaps(our_ids, their_ids, theirs, queries, their_scores[:, -1])
    cos = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    involved = sorted(set(queries.tolist()) | set(their_ids.ravel().tolist()))
    result = {
        "corpus": "short.jsonl", "corpus_size": len(texts), "k": args.k, "model": minilm.sources.hub_id_of(model.path),
        "query_selection": f"every {step}th text: ids 0, {step}, ..., {int(queries[-1])}",
        "overlap_mean": round(float(strict.mean()), 6), "overlap_min": round(float(strict.min()), 6),
        "queries_not_identical": int((strict < 1).sum()),
        "tie_aware_overlap_mean": round(float(tied.mean()), 6), "tie_aware_overlap_min": round(float(tied.min()), 6),
        "vector_cosine_min": round(float(cos.min()), 8), "vector_cosine_mean": round(float(cos.mean()), 8),
        "seconds": {"minilm_onnxruntime": round(ours_s, 1), "sentence_transformers_torch": round(theirs_s, 1)},
        "versions": {"sentence-transformers": sentence_transformers.__version__, "torch": torch.__version__,
                     "onnxruntime": __import__("onnxruntime").__version__},
        "queries": queries.tolist(),
        "neighbours": their_ids.tolist(),
        "scores": [[round(float(s), 7) for s in row] for row in their_scores],
        "differing": [{"query": int(q), "ours": o, "theirs": t} for q, o, t, s in
                      zip(queries, our_ids.tolist(), their_ids.tolist(), strict) if s < 1],
        "texts": {str(i): texts[i] for i in involved},
    }
    fixture_json.write(args.out, result)
    summary = {k: v for k, v in result.items() if k not in ("queries", "neighbours", "scores", "texts", "differing")}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
