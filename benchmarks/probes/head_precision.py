"""Question: how close are the heads' scores at bf16 and int8 to fp32 on a full-size MiniLM, and how fast?

No cross-encoder or masked-LM weights can be downloaded here, so the heads sit on the real
all-MiniLM-L6-v2 encoder and pooler (the bundled model) with seeded random head weights: a one-label
classifier (a cross-encoder's shape) and a masked-LM transform with the decoder tied to the real word
embeddings. The queries are short texts of ../shared/bench-corpus, each reranking 30 documents (long
texts, cut at 256 tokens). For each precision: the max abs logit difference to fp32 over the logits'
standard deviation, the mean Spearman correlation of each query's 30 scores, the overlap of the top 10
of 30, the masked LM's top-1 token agreement and top-5 overlap, and pairs/s (one run, same threads).

    python benchmarks/probes/head_precision.py [--queries 40] [--corpus ../shared/bench-corpus]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

import minilm
from minilm.runtime.precision import cpu_flags

SEED = 20261203


def synthetic(base: minilm.Embedder, kind: str, folder: Path) -> Path:
    """``base``'s encoder with a seeded head of ``kind`` ("rerank" | "mlm"), as a Hugging Face folder."""
    rng = np.random.default_rng(SEED)
    D, V = base.config.hidden_size, base.config.vocab_size
    out = folder / kind
    out.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (base.path / name).exists():
            shutil.copy(base.path / name, out / name)
    config = json.loads((base.path / "config.json").read_text(encoding="utf-8"))
    weights = {k: np.ascontiguousarray(v, np.float32) for k, v in base.weights.items()}
    if kind == "rerank":
        config |= {"architectures": ["BertForSequenceClassification"], "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
        weights |= {"classifier.weight": rng.normal(0, 1, (1, D)).astype(np.float32), "classifier.bias": np.zeros(1, np.float32)}
    else:
        config |= {"architectures": ["BertForMaskedLM"]}
        p = "cls.predictions."
        weights |= {p + "transform.dense.weight": rng.normal(0, D ** -0.5, (D, D)).astype(np.float32),
                    p + "transform.dense.bias": np.zeros(D, np.float32), p + "transform.LayerNorm.weight": np.ones(D, np.float32),
                    p + "transform.LayerNorm.bias": np.zeros(D, np.float32), p + "bias": np.zeros(V, np.float32)}
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    save_file(weights, str(out / "model.safetensors"))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "bench-corpus")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--precisions", default="fp32,bf16,int8")
    args = parser.parse_args()
    read = lambda name: [json.loads(line)["text"] for line in (args.corpus / name).read_text(encoding="utf-8").splitlines()]
    short, long = read("short.jsonl"), read("long.jsonl")
    queries = [t for t in short if len(t.split()) >= 4][: args.queries]
    rng = np.random.default_rng(SEED)
    docs = [[long[i] for i in rng.choice(len(long), 30, replace=False)] for _ in queries]
    masked = [t.split() for t in short if 6 <= len(t.split()) <= 40][:200]
    masked = [" ".join(w[:len(w) // 2] + ["[MASK]"] + w[len(w) // 2 + 1:]) for w in masked]
    print("CPU flags:", " ".join(sorted(cpu_flags())) or "-")
    with tempfile.TemporaryDirectory() as tmp:
        base = minilm.load()  # the bundled all-MiniLM-L6-v2
        rerank, mlm = synthetic(base, "rerank", Path(tmp)), synthetic(base, "mlm", Path(tmp))
        ref_scores = ref_tokens = None
        for precision in args.precisions.split(","):
            ce = minilm.CrossEncoder(rerank, precision=precision, max_length=256)
            ce.predict([(queries[0], d) for d in docs[0][:4]])  # warm
            start = time.perf_counter()
            scores = np.stack([ce.predict([(q, d) for d in ds], activation_fn="identity") for q, ds in zip(queries, docs)])
            rate = scores.size / (time.perf_counter() - start)
            lm = minilm.MaskedLM(mlm, precision=precision)
            tokens = [[x["token"] for x in found] for found in lm.fill_mask(masked, top_k=5)]
            if ref_scores is None:
                ref_scores, ref_tokens = scores, tokens
            worst = float(np.abs(scores - ref_scores).max() / ref_scores.std())
            rho = float(np.mean([spearman(a, b) for a, b in zip(scores, ref_scores)]))
            top10 = float(np.mean([len(set(np.argsort(-a)[:10]) & set(np.argsort(-b)[:10])) / 10 for a, b in zip(scores, ref_scores)]))
            top1 = float(np.mean([a[0] == b[0] for a, b in zip(tokens, ref_tokens)]))
            top5 = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(tokens, ref_tokens)]))
            print(f"{precision:5} rerank: max|d|/std {worst:.4f}  spearman {rho:.5f}  top-10 of 30 {top10:.3f}  "
                  f"{rate:6.1f} pairs/s   fill-mask top-1 same {top1:.3f}, top-5 overlap {top5:.3f}")


if __name__ == "__main__":
    main()
