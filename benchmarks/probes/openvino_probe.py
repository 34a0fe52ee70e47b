"""OpenVINO as a runtime for minilm's graph, against minilm and plain ONNX Runtime.

    pip install openvino   # not a minilm dependency; this probe installs nothing
    python benchmarks/probes/openvino_probe.py [--short 2000] [--long 150] [--threads 2] [--repeat 4]

Every OpenVINO variant runs minilm's own unfused ONNX lowering of all-MiniLM-L6-v2 (pooling and L2
inside), on the same token ids in length-sorted batches of 32, 2 streams of 1 thread (THROUGHPUT,
an AsyncInferQueue of 2: the form that measured fastest; LATENCY with 2 threads was slower):
f32 | bf16 (INFERENCE_PRECISION_HINT) | w8 (each linear weight int8 per output channel through a
DequantizeLinear, which OpenVINO's CPU plugin runs as int8 GEMMs with activations quantised per group
of 32 on the fly) | w8-bf16. Interleaved with minilm (fp32 and int8) and plain ONNX Runtime (the
torch.onnx export, fp32 and quantize_dynamic int8, as engine_probe.py); best of --repeat; cosine to
minilm's fp32 vectors (equal to sentence-transformers' within 1e-6 here). Reports, checks nothing.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

import minilm
from minilm.runtime.lowering import to_onnx
from minilm.runtime.rewrite import fold_weight_transposes

from engine_probe import CORPUS, export_plain, interleave, plain_ort, read  # noqa: E402 (this folder is on sys.path)


def weights_int8(model):
    """``model`` with every 2-D constant MatMul weight stored int8 (symmetric, per output channel)."""
    inits = {t.name: t for t in model.graph.initializer}
    nodes = []
    for n in model.graph.node:
        w = numpy_helper.to_array(inits[n.input[1]]) if n.op_type == "MatMul" and n.input[1] in inits else None
        if w is not None and w.ndim == 2:
            scale = (np.abs(w).max(0) / 127).astype(np.float32)
            q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            model.graph.initializer.extend([numpy_helper.from_array(q, n.input[1] + ".q"),
                                            numpy_helper.from_array(scale, n.input[1] + ".s")])
            nodes.append(helper.make_node("DequantizeLinear", [n.input[1] + ".q", n.input[1] + ".s"], [n.input[1] + ".dq"], axis=1))
            n.input[1] = n.input[1] + ".dq"
        nodes.append(n)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {x for n in nodes for x in n.input}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    return model


def openvino(path: Path, emb, precision: str):
    import openvino as ov
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": 2, "PERFORMANCE_HINT": "THROUGHPUT",
                                                          "NUM_STREAMS": 2, "INFERENCE_PRECISION_HINT": precision})
    queue = ov.AsyncInferQueue(compiled, 2)

    def encode(ids: list[list[int]], batch: int = 32) -> np.ndarray:
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.zeros((len(ids), emb.dim), np.float32)
        queue.set_callback(lambda request, chunk: out.__setitem__(chunk, request.get_output_tensor(0).data))
        for s in range(0, len(order), batch):
            chunk = order[s:s + batch]
            queue.start_async(emb._feeds([ids[i] for i in chunk]), chunk)
        queue.wait_all()
        return out
    return encode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=2000)
    ap.add_argument("--long", type=int, default=150)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=4)
    args = ap.parse_args()
    ours, ours8 = minilm.load(threads=args.threads), minilm.load(threads=args.threads, quantize="int8")
    model = fold_weight_transposes(to_onnx(ours.executor("sentence_embedding", True).graph))
    folder = Path(tempfile.mkdtemp(prefix="minilm-ov-"))
    onnx.save(copy.deepcopy(model), folder / "f32.onnx", save_as_external_data=True, location="f32.data")
    onnx.save(weights_int8(model), folder / "w8.onnx", save_as_external_data=True, location="w8.data")
    methods = {"minilm": ours.encode_ids, "minilm-int8": ours8.encode_ids,
               "plain-ort": plain_ort(export_plain(False), args.threads), "plain-ort-int8": plain_ort(export_plain(True), args.threads)}
    for name, file, precision in (("ov-f32", "f32", "f32"), ("ov-bf16", "f32", "bf16"), ("ov-w8", "w8", "f32"), ("ov-w8-bf16", "w8", "bf16")):
        methods[name] = openvino(folder / f"{file}.onnx", ours, precision)
    print("| corpus | method | seconds | x plain-ort | x plain-ort-int8 | min cosine | mean cosine |\n|---|---|---|---|---|---|---|")
    for corpus, n in (("short", args.short), ("long", args.long)):
        ids = ours.tokenize(read(CORPUS / f"{corpus}.jsonl", n))
        for encode in methods.values():  # warm-up: shapes compiled, arenas grown
            encode(ids[:256])
        best, outs = interleave(methods, ids, args.repeat)
        for k in methods:
            cos = (outs[k] * outs["minilm"]).sum(1)
            print(f"| {corpus} {n} | {k} | {best[k]:.3f} | {best['plain-ort'] / best[k]:.2f} | {best['plain-ort-int8'] / best[k]:.2f} | "
                  f"{cos.min():.6f} | {cos.mean():.6f} |", flush=True)


if __name__ == "__main__":
    main()
