"""ONNX lowering rules for the WebNN operations that need more than a renamed ONNX node:
convolutions in any layout, the normalizations, reductions over no axes, split and triangular."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from ..graph.ir import Node
from ..graph.shapes_nn import FILTER_LAYOUTS, TRANSPOSE_FILTER_LAYOUTS

# reduction over an empty axis list: the element-wise function the reduction leaves
EMPTY_REDUCTION = {"reduceL1": "Abs", "reduceL2": "Abs", "reduceLogSum": "Log", "reduceSumSquare": "Square"}
NCHW_FROM_NHWC, NHWC_FROM_NCHW = [0, 3, 1, 2], [0, 2, 3, 1]


def reduce(low, n: Node, onnx_op: str, ins: list[str], out: list[str]) -> None:
    axes, keep = n.attributes.get("axes"), int(n.attributes.get("keepDimensions", False))
    if axes is not None and len(axes) == 0:
        kind = EMPTY_REDUCTION.get(n.op, "Identity")
        if kind == "Square":
            low.emit("Mul", ins + ins, out)
        else:
            low.emit(kind, ins, out)
        return
    if axes is not None:
        ins = ins + [low.const(np.array(axes, np.int64), "axes")]
    low.emit(onnx_op, ins, out, keepdims=keep)


def _params_along(low, name: str, rank: int, axis: int) -> str:
    """A 1-D parameter reshaped to broadcast along ``axis`` of a rank-``rank`` tensor."""
    shape = [1] * rank
    shape[axis] = -1
    return low.emit("Reshape", [name, low.const(np.array(shape, np.int64), "shape")])


def _normalize(low, x: str, axes: list[int], epsilon: float, dtype, scale: str | None, bias: str | None, out: list[str]):
    axes_c = low.const(np.array(axes, np.int64), "axes")
    mean = low.emit("ReduceMean", [x, axes_c], keepdims=1, noop_with_empty_axes=1)
    centred = low.emit("Sub", [x, mean])
    variance = low.emit("ReduceMean", [low.emit("Mul", [centred, centred]), axes_c], keepdims=1, noop_with_empty_axes=1)
    std = low.emit("Sqrt", [low.emit("Add", [variance, low.const(np.asarray(epsilon, dtype))])])
    y = low.emit("Div", [centred, std], None if scale or bias else out)
    if scale:
        y = low.emit("Mul", [y, scale], None if bias else out)
    if bias:
        low.emit("Add", [y, bias], out)


def layer_normalization(low, n: Node, ins: list[str], out: list[str]) -> None:
    x = low.graph.operands[n.inputs[0]]
    a = n.attributes
    axes = [ax % x.rank for ax in a["axes"]]
    params = ins[1:]
    scale = params.pop(0) if a.get("hasScale") else None
    bias = params.pop(0) if a.get("hasBias") else None
    dtype = low.np_dtype(n.inputs[0])
    if axes and axes == list(range(axes[0], x.rank)):  # trailing axes in order: ONNX's own LayerNormalization
        scale = scale or low.const(np.ones(x.shape[axes[0]:], dtype))
        low.emit("LayerNormalization", [ins[0], scale] + ([bias] if bias else []), out, axis=axes[0], epsilon=a["epsilon"])
        return
    shape = [x.shape[i] if i in axes else 1 for i in range(x.rank)]
    order = [int(i) for i in np.argsort(axes)]
    place = lambda p: low.emit("Reshape", [low.emit("Transpose", [p], perm=order) if len(order) > 1 else p,  # noqa: E731
                                           low.const(np.array(shape, np.int64), "shape")])
    _normalize(low, ins[0], axes, a["epsilon"], dtype, scale and place(scale), bias and place(bias), out)


def batch_normalization(low, n: Node, ins: list[str], out: list[str]) -> None:
    x = low.graph.operands[n.inputs[0]]
    a = n.attributes
    axis = a.get("axis", 1) % x.rank
    mean, variance, *params = [_params_along(low, p, x.rank, axis) for p in ins[1:]]
    dtype = low.np_dtype(n.inputs[0])
    std = low.emit("Sqrt", [low.emit("Add", [variance, low.const(np.asarray(a.get("epsilon", 1e-5), dtype))])])
    scale = params.pop(0) if a.get("hasScale") else None
    bias = params.pop(0) if a.get("hasBias") else None
    y = low.emit("Div", [low.emit("Sub", [ins[0], mean]), std], None if scale or bias else out)
    if scale:
        y = low.emit("Mul", [y, scale], None if bias else out)
    if bias:
        low.emit("Add", [y, bias], out)


def instance_normalization(low, n: Node, ins: list[str], out: list[str]) -> None:
    a = n.attributes
    nhwc = a.get("layout", "nchw") == "nhwc"
    params = [_params_along(low, p, 4, 3 if nhwc else 1) for p in ins[1:]]
    scale = params.pop(0) if a.get("hasScale") else None
    bias = params.pop(0) if a.get("hasBias") else None
    _normalize(low, ins[0], [1, 2] if nhwc else [2, 3], a.get("epsilon", 1e-5), low.np_dtype(n.inputs[0]), scale, bias, out)


def _conv_common(a: dict) -> dict:
    pad = list(a.get("padding") or [0, 0, 0, 0])
    return {"pads": [pad[0], pad[2], pad[1], pad[3]], "strides": list(a.get("strides") or [1, 1]),
            "dilations": list(a.get("dilations") or [1, 1]), "group": a.get("groups", 1)}


def conv(low, n: Node, ins: list[str], out: list[str]) -> None:
    a = n.attributes
    transposed = n.op == "convTranspose2d"
    layouts, default = (TRANSPOSE_FILTER_LAYOUTS, "iohw") if transposed else (FILTER_LAYOUTS, "oihw")
    perm = list(layouts[a.get("filterLayout", default)])
    w = ins[1] if perm == [0, 1, 2, 3] else low.emit("Transpose", [ins[1]], perm=perm)
    nhwc = a.get("inputLayout", "nchw") == "nhwc"
    x = low.emit("Transpose", [ins[0]], perm=NCHW_FROM_NHWC) if nhwc else ins[0]
    attrs = _conv_common(a)
    if transposed:
        attrs["output_padding"] = list(a.get("outputPadding") or [0, 0])
        if a.get("outputSizes"):
            attrs["output_padding"] = _output_padding(low, n, a)
    y = low.emit("ConvTranspose" if transposed else "Conv", [x, w] + ins[2:], None if nhwc else out, **attrs)
    if nhwc:
        low.emit("Transpose", [y], out, perm=NHWC_FROM_NCHW)


def _output_padding(low, n: Node, a: dict) -> list[int]:
    """outputSizes -> ONNX output_padding (what the sizes add to the unpadded result)."""
    x = low.graph.operands[n.inputs[0]].shape
    nhwc = a.get("inputLayout", "nchw") == "nhwc"
    h, w = (x[1], x[2]) if nhwc else (x[2], x[3])
    f = low.graph.operands[n.inputs[1]].shape
    perm = TRANSPOSE_FILTER_LAYOUTS[a.get("filterLayout", "iohw")]
    kh, kw = f[perm[2]], f[perm[3]]
    pad = list(a.get("padding") or [0, 0, 0, 0])
    s, d = list(a.get("strides") or [1, 1]), list(a.get("dilations") or [1, 1])
    base = [(h - 1) * s[0] + (kh - 1) * d[0] + 1 - pad[0] - pad[1], (w - 1) * s[1] + (kw - 1) * d[1] + 1 - pad[2] - pad[3]]
    return [z - b for z, b in zip(a["outputSizes"], base)]


def split(low, n: Node, ins: list[str], out: list[str]) -> None:
    sizes = [low.graph.operands[o].shape[n.attributes.get("axis", 0) % low.graph.operands[o].rank] for o in n.outputs]
    low.emit("Split", [ins[0], low.const(np.array(sizes, np.int64), "splits")], out, axis=n.attributes.get("axis", 0))


def triangular(low, n: Node, ins: list[str], out: list[str]) -> None:
    k = low.const(np.array(n.attributes.get("diagonal", 0), np.int64), "k")
    low.emit("Trilu", [ins[0], k], out, upper=int(n.attributes.get("upper", True)))


def logical_not(low, n: Node, ins: list[str], out: list[str]) -> None:
    as_bool = low.emit("Cast", ins, to=TensorProto.BOOL)
    low.emit("Cast", [low.emit("Not", [as_bool])], out, to=TensorProto.UINT8)


def linear(low, n: Node, ins: list[str], out: list[str]) -> None:
    dtype = low.np_dtype(n.inputs[0])
    a = n.attributes
    scaled = low.emit("Mul", [ins[0], low.const(np.asarray(a.get("alpha", 1.0), dtype))])
    low.emit("Add", [scaled, low.const(np.asarray(a.get("beta", 0.0), dtype))], out)


def gemm(low, n: Node, ins: list[str], out: list[str]) -> None:
    a = n.attributes
    low.emit("Gemm", ins, out, alpha=float(a.get("alpha", 1.0)), beta=float(a.get("beta", 1.0)),
             transA=int(bool(a.get("aTranspose"))), transB=int(bool(a.get("bTranspose"))))
