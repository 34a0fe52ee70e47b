"""int8 with one activation scale per token for the feed-forward input projection (intermediate.dense).

ONNX Runtime's int8 kernels take one activation scale per tensor (``DynamicQuantizeMatMul``), which
costs too much fidelity on the feed-forward (docs/notes/performance.md). Here each such MatMul becomes, in
standard ops: s = max |x| per row / 127; q = Round(x / s) + 128 as uint8; ``MatMulInteger(q, Wq,
128)`` with per-column int8 weights Wq = Round(W / w) (w = max |W| per column / 127, or / 63 where
7-bit weights are needed, runtime/quantize.py); then ``Cast`` and the two scales. Together with the
channel scales of runtime/smooth.py on its input (without them it is not precise enough, so it is
applied only with them), ``minilm.load(quantize="int8")`` ran 1.23x as fast on short texts and
1.19x on long ones as the int8 model that kept it float32 (2 threads, interleaved), at short-corpus
min cosine 0.99608, mean 0.99913, top-10 overlap 0.9585 against float32. The feed-forward output
projection stays float32 (per row there: top-10 0.9485; docs/notes/performance.md).
"""

from __future__ import annotations

import numpy as np


def targets(model) -> list:
    weights = {t.name for t in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.name.endswith(".intermediate.dense")
            and n.input[1] in weights]


def per_row_int8(model, seven_bits: bool = False):
    """``model`` (ModelProto, changed in place) with each feed-forward input MatMul quantised per row."""
    from onnx import TensorProto, helper, numpy_helper

    names = {n.name for n in targets(model)}
    if not names:
        return model
    inits = {t.name: t for t in model.graph.initializer}

    def const(name, value):
        model.graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    inv127 = const("_row.inv127", np.array(1 / 127, np.float32))
    offset, zero = const("_row.128", np.array(128, np.float32)), const("_row.zero_point", np.array(128, np.uint8))
    tiny, axes = const("_row.tiny", np.array(1e-12, np.float32)), const("_row.axes", np.array([-1], np.int64))
    levels = 63 if seven_bits else 127
    out = []
    for n in model.graph.node:
        if n.op_type != "MatMul" or n.name not in names:
            out.append(n)
            continue
        x, y, p = n.input[0], n.output[0], n.name
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        w_scale = (np.maximum(np.abs(w).max(0), 1e-12) / levels).astype(np.float32)
        wq = const(p + ".weight.q", np.clip(np.rint(w / w_scale), -levels, levels).astype(np.int8))
        ws = const(p + ".weight.scale", w_scale)

        def step(op, inputs, name, **attrs):  # one node, named after the MatMul; returns its output
            out.append(helper.make_node(op, inputs, [f"{p}.{name}"], **attrs))
            return f"{p}.{name}"

        amax = step("Max", [step("ReduceMax", [step("Abs", [x], "abs"), axes], "row_max", keepdims=1), tiny], "row_max_1")
        scale = step("Mul", [amax, inv127], "row_scale")
        q = step("Cast", [step("Add", [step("Round", [step("Div", [x, scale], "scaled")], "rounded"), offset], "shifted")],
                 "q", to=TensorProto.UINT8)
        acc = step("Cast", [step("MatMulInteger", [q, wq, zero], "acc_int")], "acc", to=TensorProto.FLOAT)
        out.append(helper.make_node("Mul", [step("Mul", [acc, scale], "row_scaled"), ws], [y]))
    from .rewrite import replace_nodes
    return replace_nodes(model, out)
