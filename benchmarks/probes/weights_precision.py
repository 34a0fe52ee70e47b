"""Would float16 or bfloat16 weights hold the float32 fidelity bound? (batch-1 latency)

    MINILM_CACHE_DIR=off python benchmarks/probes/weights_precision.py [--short 3000] [--long 100]

A batch-1 query spends ~40% of its time reading the encoder's 42 MB of float32 weights
(benchmarks/probes/batch1_memory.py); half the bytes would need a kernel that reads 16-bit weights and
computes in float32. Before writing one, this measures its fidelity: the fused float32 model with
every encoder weight rounded to float16 (or to bfloat16, round to nearest even) and back, activations
and accumulation still float32, against the float32 model on the same texts (the bound is 0.99999).
A developer's probe: it checks nothing.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
from onnx import numpy_helper

import minilm
from minilm.models import bert
from minilm.runtime.lowering import to_onnx

from engine_probe import CORPUS, read  # noqa: E402  (this folder is on sys.path as a script)
from int8_probe import session, vectors  # noqa: E402


def rounded(w: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "float16":
        return w.astype(np.float16).astype(np.float32)
    bits = w.astype(np.float32).view(np.uint32)  # bfloat16: keep the top 16 bits, rounding to nearest even
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)


def with_weights(model, dtype: str):
    model = copy.deepcopy(model)
    for t in model.graph.initializer:
        if t.name.endswith(".weight.T") or t.name.startswith("_qkv_w"):  # the encoder's linear weights
            t.CopyFrom(numpy_helper.from_array(rounded(numpy_helper.to_array(t), dtype), t.name))
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=3000)
    ap.add_argument("--long", type=int, default=100)
    args = ap.parse_args()
    emb = minilm.load(threads=2)
    fp32 = to_onnx(bert.build(emb.config, emb.weights, emb.pipeline.pooling, True, outputs=("sentence_embedding",)), fuse=True)
    for corpus, n in (("short", args.short), ("long", args.long)):
        ids = emb.tokenize(read(CORPUS / f"{corpus}.jsonl", n))
        reference = vectors(emb, session(fp32, 2), ids)[0]
        for dtype in ("float16", "bfloat16"):
            cos = (vectors(emb, session(with_weights(fp32, dtype), 2), ids)[0] * reference).sum(1)  # both L2-normalised
            print(f"{corpus} {n} texts, {dtype} weights: min cosine {cos.min():.7f}, mean {cos.mean():.7f}", flush=True)


if __name__ == "__main__":
    main()
