"""int8 variants of the fused model: fidelity to float32 and single-thread CPU time.

    python benchmarks/probes/int8_probe.py [--short 1000] [--long 40] [--variants fp32,int8,int8-all,...]

Every variant is the fused ONNX model of all-MiniLM-L6-v2 (runtime/fusion.py) changed one way, run on one
intra-op thread over the same token ids (length-sorted, 1024-token batches); time is this thread's CPU
time, so a loaded machine inflates it less than wall time (it still does: compare within one run).
Cosine is to the float32 model (itself within 1e-6 of sentence-transformers on these texts).

Variants: fp32 | int8 (minilm's quantize="int8": channel scales, runtime/smooth.py; the feed-forward
input per row, runtime/per_row.py; its output float32) | int8-attention (the attention int8 without
channel scales, the feed-forward float32: minilm's int8 before 2026-12-02) | int8-all (every MatMul
and the attention int8) | weights-only (int8 per-channel weights de-quantised into a float32 model:
the weight share of the loss) | nbits8 (MatMulNBits, 8-bit weights, block 32, accuracy_level 4: int8
activations per row and block). (A "smooth" variant of this probe, since dropped, was the first
form of runtime/smooth.py: attention only, calibrated on the golden texts.)
A developer's probe: it reports, it checks nothing.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import onnxruntime as ort
from onnx import helper, numpy_helper

import minilm
from minilm.batching import batches
from minilm.models import bert
from minilm.runtime.lowering import to_onnx
from minilm.runtime.quantize import quantize_int8

from engine_probe import CORPUS, read  # noqa: E402  (this folder is on sys.path when run as a script)



def session(model, threads: int = 1) -> ort.InferenceSession:
    """An ONNX Runtime session of ``model`` (a ModelProto or a file path) on ``threads`` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run(emb, sess, ids, outputs=None):
    """(vectors or named outputs' per-chunk values, CPU seconds of this thread)."""
    names = [i.name for i in sess.get_inputs()]
    out, start = [], time.thread_time()
    for chunk in batches([len(x) for x in ids], 32, 1024):
        feeds = emb._feeds([ids[i] for i in chunk])
        out.append((chunk, feeds["attention_mask"], sess.run(outputs, {k: feeds[k] for k in names})))
    return out, time.thread_time() - start


def vectors(emb, sess, ids):
    parts, seconds = run(emb, sess, ids)
    v = np.zeros((len(ids), emb.dim), np.float32)
    for chunk, _, (y,) in parts:
        v[chunk] = y
    return v, seconds


def weight_matmuls(model):
    return [n for n in model.graph.node if n.op_type == "Attention" or
            (n.op_type == "MatMul" and n.input[1].endswith(".weight.T"))]


def weights_only(model):
    model = copy.deepcopy(model)
    for t in model.graph.initializer:
        if t.name.endswith(".weight.T") or t.name.startswith("_qkv_w"):
            w = numpy_helper.to_array(t)
            s = np.abs(w).max(0, keepdims=True) / 127
            t.CopyFrom(numpy_helper.from_array((np.rint(w / s) * s).astype(np.float32), t.name))
    return model


def nbits8(model, block: int = 32):
    model = copy.deepcopy(model)
    inits = {t.name: t for t in model.graph.initializer}
    for n in weight_matmuls(model):
        if n.op_type != "MatMul":
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)  # (K, N)
        k, cols = w.shape
        blocks = np.pad(w, ((0, -k % block), (0, 0))).T.reshape(cols, -1, block)
        scale = np.abs(blocks).max(-1) / 127
        scale = np.where(scale == 0, 1, scale).astype(np.float32)
        q = np.clip(np.rint(blocks / scale[..., None]) + 128, 0, 255).astype(np.uint8)
        model.graph.initializer.extend([numpy_helper.from_array(q, n.input[1] + ".q8"),
                                        numpy_helper.from_array(scale.reshape(-1), n.input[1] + ".s8")])
        n.op_type, n.domain = "MatMulNBits", "com.microsoft"
        n.input[1:] = [n.input[1] + ".q8", n.input[1] + ".s8"]
        n.attribute.extend([helper.make_attribute(a, v) for a, v in
                            (("K", k), ("N", cols), ("bits", 8), ("block_size", block), ("accuracy_level", 4))])
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=1000)
    ap.add_argument("--long", type=int, default=40)
    ap.add_argument("--variants", default="fp32,int8,int8-attention,int8-all,weights-only,nbits8")
    args = ap.parse_args()
    emb = minilm.load(threads=1)
    graph = bert.build(emb.config, emb.weights, emb.pipeline.pooling, True, outputs=("sentence_embedding",))
    fp32 = to_onnx(graph, fuse=True)
    make = {"fp32": lambda: fp32, "int8": lambda: quantize_int8(copy.deepcopy(fp32), calibration=emb._calibration(False)),
            "int8-attention": lambda: quantize_int8(fp32), "int8-all": lambda: quantize_int8(fp32, exclude=[]),
            "weights-only": lambda: weights_only(fp32), "nbits8": lambda: nbits8(fp32)}
    corpora = {c: emb.tokenize(read(CORPUS / f"{c}.jsonl", n)) for c, n in (("short", args.short), ("long", args.long))}
    reference = {c: vectors(emb, session(fp32), ids)[0] for c, ids in corpora.items()}
    print("| variant | corpus | CPU s (1 thread) | real tokens/s | x fp32 | min / mean cosine to fp32 |\n|---|---|---|---|---|---|")
    base = {}
    for name in args.variants.split(","):
        sess = session(make[name]())
        for c, ids in corpora.items():
            v, seconds = vectors(emb, sess, ids)
            base.setdefault(c, seconds)
            cos = (v * reference[c]).sum(1) / np.linalg.norm(v, axis=1) / np.linalg.norm(reference[c], axis=1)
            print(f"| {name} | {c} | {seconds:.2f} | {sum(map(len, ids)) / seconds:.0f} | {base[c] / seconds:.2f} | "
                  f"{cos.min():.5f} / {cos.mean():.5f} |", flush=True)


if __name__ == "__main__":
    main()
