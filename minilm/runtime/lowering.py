"""Lowering a Graph of WebNN operations to an ONNX model with dynamic (symbolic) axes."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import BackendError
from ..graph import Graph, Node
from ..graph.ir import DTYPES

OPSET = 20  # Gelu arrived in opset 20; opset 18 moved reduce axes to an input
INT64_MAX = np.iinfo(np.int64).max
ONNX_TYPES = {name: helper.np_dtype_to_tensor_dtype(dtype) for name, dtype in DTYPES.items()}

SAME_NAME = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min", "pow": "Pow",
    "erf": "Erf", "tanh": "Tanh", "sqrt": "Sqrt", "exp": "Exp", "log": "Log", "reciprocal": "Reciprocal",
    "sigmoid": "Sigmoid", "abs": "Abs", "neg": "Neg", "relu": "Relu", "identity": "Identity",
    "matmul": "MatMul", "reduceMean": "ReduceMean", "reduceSum": "ReduceSum", "reduceMax": "ReduceMax",
    "reduceMin": "ReduceMin",
}
COMPARISONS = {"equal": "Equal", "greater": "Greater", "greaterOrEqual": "GreaterOrEqual",
               "lesser": "Less", "lesserOrEqual": "LessOrEqual"}


class _Lowering:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.symbols = graph.symbols()
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.counter = 0

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"_{hint}_{self.counter}"

    def const(self, value, hint="c") -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def emit(self, op: str, inputs: list[str], outputs: list[str] | None = None, **attrs) -> str:
        outputs = outputs or [self.fresh(op.lower())]
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))
        return outputs[0]

    def dims(self, dims: list, like: str | None = None) -> str:
        """A 1-D int64 shape tensor; symbols come from a graph input's shape (or 0 = copy from ``like``)."""
        if all(isinstance(d, int) for d in dims):
            return self.const(np.array(dims, np.int64), "shape")
        like_shape = self.graph.operands[like].shape if like else ()
        if like and all(isinstance(d, int) or (i < len(like_shape) and like_shape[i] == d) for i, d in enumerate(dims)):
            return self.const(np.array([d if isinstance(d, int) else 0 for d in dims], np.int64), "shape")
        parts = []
        for d in dims:
            if isinstance(d, int):
                parts.append(self.const(np.array([d], np.int64), "dim"))
            elif d in self.symbols:
                source, axis = self.symbols[d]
                parts.append(self.emit("Shape", [source], start=axis, end=axis + 1))
            else:
                raise BackendError(f"onnx lowering: dimension {d!r} is not the size of any graph input")
        return self.emit("Concat", parts, axis=0)

    def node(self, n: Node) -> None:
        op, ins, out, a = n.op, list(n.inputs), list(n.outputs), n.attributes
        if op in SAME_NAME and not op.startswith("reduce"):
            self.emit(SAME_NAME[op], ins, out)
        elif op.startswith("reduce"):
            if a.get("axes") is not None:
                ins = ins + [self.const(np.array(a["axes"], np.int64), "axes")]
            self.emit(SAME_NAME[op], ins, out, keepdims=int(a.get("keepDimensions", False)))
        elif op in COMPARISONS:
            self.emit("Cast", [self.emit(COMPARISONS[op], ins)], out, to=TensorProto.UINT8)
        elif op == "gelu":
            self.emit("Gelu", ins, out)
        elif op == "clamp":
            dtype = DTYPES[self.graph.operands[ins[0]].dtype]
            bounds = [self.const(np.asarray(a[k], dtype)) if a.get(k) is not None else "" for k in ("minValue", "maxValue")]
            self.emit("Clip", ins + bounds, out)
        elif op == "reshape":
            self.emit("Reshape", [ins[0], self.dims(a["newShape"], like=ins[0])], out)
        elif op == "expand":
            self.emit("Expand", [ins[0], self.dims(a["newShape"])], out)
        elif op == "transpose":
            perm = a.get("permutation") or list(reversed(range(self.graph.operands[ins[0]].rank)))
            self.emit("Transpose", ins, out, perm=list(perm))
        elif op == "slice":
            shape = self.graph.operands[ins[0]].shape
            ends = [(INT64_MAX if n_ == d else n_) if isinstance(n_, str) else s + n_
                    for s, n_, d in zip(a["starts"], a["sizes"], shape)]
            self.emit("Slice", ins + [self.const(np.array(a["starts"], np.int64)), self.dims(ends)], out)
        elif op == "concat":
            self.emit("Concat", ins, out, axis=a["axis"])
        elif op == "gather":
            self.emit("Gather", ins, out, axis=a.get("axis", 0))
        elif op == "where":
            self.emit("Where", [self.emit("Cast", [ins[0]], to=TensorProto.BOOL)] + ins[1:], out)
        elif op == "cast":
            self.emit("Cast", ins, out, to=ONNX_TYPES[a["type"]])
        elif op == "softmax":
            self.emit("Softmax", ins, out, axis=a["axis"])
        elif op == "layerNormalization":
            self.layer_norm(n)
        else:
            raise BackendError(f"onnx lowering has no rule for {op!r}")

    def layer_norm(self, n: Node) -> None:
        x = self.graph.operands[n.inputs[0]]
        a = n.attributes
        axes = sorted(ax % x.rank for ax in a["axes"])
        if axes != list(range(axes[0], x.rank)):
            raise BackendError(f"onnx lowering: layerNormalization over axes {a['axes']} (not trailing) is not supported")
        params = list(n.inputs[1:])
        norm_shape = x.shape[axes[0]:]
        dtype = DTYPES[x.dtype]
        scale = params.pop(0) if a.get("hasScale", True) else self.const(np.ones(norm_shape, dtype))
        ins = [n.inputs[0], scale] + ([params.pop(0)] if a.get("hasBias", True) else [])
        self.emit("LayerNormalization", ins, list(n.outputs), axis=axes[0], epsilon=a["epsilon"])


def _value_info(name: str, dtype: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, ONNX_TYPES[dtype], list(shape))


def to_onnx(graph: Graph) -> onnx.ModelProto:
    """The ONNX model computing ``graph``; graph outputs keep their public names."""
    low = _Lowering(graph)
    for node in graph.nodes:
        low.node(node)
    for public, operand in graph.outputs.items():
        if public != operand:
            low.emit("Identity", [operand], [public])
    low.initializers += [numpy_helper.from_array(np.array(v, order="C", copy=not v.flags.c_contiguous), k) for k, v in graph.constants.items()]
    onnx_graph = helper.make_graph(
        low.nodes, graph.name,
        [_value_info(o.name, o.dtype, o.shape) for o in graph.inputs.values()],
        [_value_info(public, graph.operands[op].dtype, graph.operands[op].shape) for public, op in graph.outputs.items()],
        initializer=low.initializers,
    )
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="minilm")
    model.ir_version = 10
    return model
