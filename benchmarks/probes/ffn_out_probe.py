"""The feed-forward output projection in int8 with its outlier channels kept float32.

    MINILM_CACHE_DIR=off python benchmarks/probes/ffn_out_probe.py "0/;4/;16/;4/3,4"

Each variant "K/L,L": minilm's int8 model (runtime/quantize.py with calibration: channel scales,
feed-forward input per row) with the feed-forward output MatMuls quantised as well, per tensor
(ORT's DynamicQuantizeMatMul, the cheap fused kernel), except those of layers L (kept float32). With
K > 0 each layer's feed-forward is split LLM.int8-style: the K channels of the GELU output with the
largest |value| on the calibration run (random token ids, runtime/smooth.py) get their own float32
path (K columns of the input projection, GELU, K rows of the output projection, added back), so the
per-tensor range no longer covers them. Prints, against our float32 vectors, the min / mean cosine on
the 10,000 short and 300 long texts and the top-10 overlap of 200 short queries (as benchmarks/perf.py).
A developer's probe: it checks nothing.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
from onnx import helper, numpy_helper

import minilm
from minilm.models import bert
from minilm.runtime.lowering import to_onnx
from minilm.runtime.quantize import quantize_int8
from minilm.runtime.smooth import input_amax

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the harness's perf.py
from engine_probe import CORPUS, read  # noqa: E402  (this folder is on sys.path as a script)
from int8_probe import session, vectors  # noqa: E402
from perf import overlap10, query_indices  # noqa: E402


def feed_forwards(model) -> list[tuple]:
    """(intermediate MatMul, its bias Add, Gelu, output MatMul) of each layer, as the fused lowering writes them."""
    nodes = list(model.graph.node)
    return [tuple(nodes[i:i + 4]) for i, n in enumerate(nodes)
            if n.op_type == "MatMul" and n.name.endswith(".intermediate.dense")]


def split_outliers(model, k: int, calibration: list) -> tuple:
    """A copy of ``model`` whose feed-forwards each send their ``k`` largest GELU channels through a float32
    side path; and the names of that path's MatMuls (to keep out of quantisation)."""
    model = copy.deepcopy(model)
    inits = {t.name: t for t in model.graph.initializer}
    quads = feed_forwards(model)
    amax = input_amax(model, calibration, [gelu.output[0] for _, _, gelu, _ in quads])
    after, names = {}, []
    for up, add, gelu, down in quads:
        outliers = np.argsort(-amax[gelu.output[0]])[:k]
        keep = np.setdiff1d(np.arange(len(amax[gelu.output[0]])), outliers)
        w1, b1, w2 = (numpy_helper.to_array(inits[x]) for x in (up.input[1], add.input[1], down.input[1]))
        for name, value in ((up.input[1], w1[:, keep]), (add.input[1], b1[keep]), (down.input[1], w2[keep])):
            inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), name))
        p = up.name + ".outliers"
        for name, value in ((p + ".w1", w1[:, outliers]), (p + ".b1", b1[outliers]), (p + ".w2", w2[outliers])):
            model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        y = down.output[0]
        down.output[0] = y + ".main"
        after[down.name] = [helper.make_node("MatMul", [up.input[0], p + ".w1"], [p + ".h"], name=p),
                            helper.make_node("Add", [p + ".h", p + ".b1"], [p + ".hb"]),
                            helper.make_node("Gelu", [p + ".hb"], [p + ".g"], domain=gelu.domain),
                            helper.make_node("MatMul", [p + ".g", p + ".w2"], [p + ".y"], name=p + ".down"),
                            helper.make_node("Add", [y + ".main", p + ".y"], [y])]
        names += [p, p + ".down"]
    nodes = []
    for n in model.graph.node:
        nodes += [n] + after.get(n.name, [])
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model, names


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", help='";"-separated K/L,L: K outlier channels per layer, layers L kept float32')
    args = ap.parse_args()
    emb = minilm.load(threads=1)
    fp32 = to_onnx(bert.build(emb.config, emb.weights, emb.pipeline.pooling, True, outputs=("sentence_embedding",)), fuse=True)
    calibration = emb._calibration(False)
    corpora = {"short": emb.tokenize(read(CORPUS / "short.jsonl", 10_000)), "long": emb.tokenize(read(CORPUS / "long.jsonl", 300))}
    reference = {c: vectors(emb, session(fp32, 2), ids)[0] for c, ids in corpora.items()}
    queries = query_indices(len(corpora["short"]), 200)
    for spec in args.variants.split(";"):
        k, layers = spec.split("/")
        model, names = split_outliers(fp32, int(k), calibration) if int(k) else (copy.deepcopy(fp32), [])
        names += [f"encoder.layer.{i}.output.dense" for i in layers.split(",") if i]
        s = session(quantize_int8(model, calibration=calibration, exclude=names), 2)
        row = [spec]
        for c, ids in corpora.items():
            v = vectors(emb, s, ids)[0]
            cos = (v * reference[c]).sum(1) / np.linalg.norm(v, axis=1) / np.linalg.norm(reference[c], axis=1)
            row.append(f"{c} min {cos.min():.5f} mean {cos.mean():.5f}")
            if c == "short":
                row.append(f"top-10 {overlap10(v, reference[c], queries):.4f}")
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
