"""SmoothQuant-style channel scales for the int8 model's attention MatMuls.

ONNX Runtime's CPU int8 kernels quantise an activation with one scale per tensor, and BERT's
LayerNorm outputs (the attention's input) carry a few outlier channels many times larger than the
rest, which take most of the 8 bits. Before quantisation each input channel j of the attention's
MatMuls (the QKV projection, fused ``Attention`` or three ``MatMul``; the attention output
projection) and of the feed-forward input projection is divided by s_j and the weight's row j multiplied by it (x W = (x / s)(s W)):
s = max(1, a / a_p90) ** 0.5, a = the channel's largest |x| over a calibration run of the float32
model, so only outlier channels shrink. The division is a ``Mul`` before the MatMul (the LayerNorm
output is also the residual, so it cannot be folded into the LayerNorm).

Calibration needs no texts: random token ids, seeded (``calibration_ids``); measured as good as
real texts (docs/notes/performance.md). On the attention alone, ``minilm.load(quantize="int8")`` on the
short corpus against float32: min cosine 0.99303 -> 0.99605, mean 0.99863 -> 0.99927, top-10
neighbour overlap 0.948 -> 0.963; the ``Mul``s are ~1% of the int8 kernel time. They also make the
per-row feed-forward input (runtime/per_row.py) precise enough to keep.
"""

from __future__ import annotations

import numpy as np

ALPHA, PERCENTILE = 0.5, 90
SEED, SEQUENCES, LENGTHS = 0, 64, (4, 60)  # calibration: 64 random texts of 4-59 tokens between [CLS] / [SEP]
VERSION = f"smooth-{ALPHA}-{PERCENTILE}-{SEED}-{SEQUENCES}-{LENGTHS}"  # part of the model-cache key


def calibration_ids(vocab_size: int, special: list[int], max_length: int | None = None) -> list[list[int]]:
    """Random token ids between the tokenizer's special tokens (``special``: what it makes of an empty
    text, e.g. [CLS] [SEP]), from the upper 97% of the vocabulary (past BERT's special and unused ones),
    each at most ``max_length`` tokens (the model's; None: no limit)."""
    rng = np.random.default_rng(SEED)
    head, tail = special[:1], special[1:]
    low = min(vocab_size - 1, vocab_size // 30)
    room = None if max_length is None else max(1, max_length - len(special))
    return [head + rng.integers(low, vocab_size, int(n)).tolist()[:room] + tail for n in rng.integers(*LENGTHS, SEQUENCES)]


def targets(model) -> list:
    """The nodes to smooth: fused Attention, MatMuls of an ``.attention.`` weight, and the feed-forward
    input projections (quantised per row, runtime/per_row.py)."""
    weights = {t.name for t in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "Attention" or
            (n.op_type == "MatMul" and (".attention." in n.name or n.name.endswith(".intermediate.dense"))
             and n.input[1] in weights)]


def input_amax(model, feeds: list[dict[str, np.ndarray]], names: list[str]) -> dict[str, np.ndarray]:
    """Largest |value| per last-axis channel of the tensors ``names`` over the float32 model's runs on ``feeds``
    (rows of padding included: their values are as bounded as real ones')."""
    import copy

    import onnx
    import onnxruntime as ort
    from onnx import helper

    probe = copy.deepcopy(model)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, None) for x in names)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the named tensors stay
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    amax = {x: 0.0 for x in names}
    for f in feeds:
        for x, v in zip(names, session.run(names, {k: f[k] for k in inputs})):
            amax[x] = np.maximum(amax[x], np.abs(v.reshape(-1, v.shape[-1])).max(0))
    return amax


def smooth(model, feeds: list[dict[str, np.ndarray]]):
    """``model`` (ModelProto, changed in place) with the ``targets``' outlier input channels scaled down
    and their weight rows up; ``feeds``: the calibration runs' inputs."""
    from onnx import helper, numpy_helper

    nodes = targets(model)
    amax = input_amax(model, feeds, sorted({n.input[0] for n in nodes}))
    scales = {x: (np.maximum(1.0, a / max(np.percentile(a, PERCENTILE), 1e-12)) ** ALPHA).astype(np.float32)
              for x, a in amax.items()}
    inits = {t.name: t for t in model.graph.initializer}
    for n in nodes:
        w = numpy_helper.to_array(inits[n.input[1]])
        inits[n.input[1]].CopyFrom(numpy_helper.from_array(w * scales[n.input[0]][:, None], n.input[1]))
    inserted, chosen, out = {}, {(n.op_type, n.name) for n in nodes}, []
    for n in model.graph.node:
        if (n.op_type, n.name) in chosen:
            x = n.input[0]
            if x not in inserted:  # Q, K and V of the packed graph share their input: one Mul
                inserted[x] = f"{x}.smoothed"
                model.graph.initializer.append(numpy_helper.from_array(1 / scales[x], f"{x}.smooth"))
                out.append(helper.make_node("Mul", [x, f"{x}.smooth"], [inserted[x]], name=f"{x}.smooth"))
            n.input[0] = inserted[x]
        out.append(n)
    del model.graph.node[:]
    model.graph.node.extend(out)
    return model
