"""Lowering a Graph of WebNN operations to an ONNX model with dynamic (symbolic) axes."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import BackendError
from ..graph import Graph, Node
from ..graph.ir import DTYPES
from . import fusion
from . import lowering_nn as nn

OPSET = 20  # Gelu arrived in opset 20; opset 18 moved reduce axes to an input
INT64_MAX = np.iinfo(np.int64).max
ONNX_TYPES = {name: helper.np_dtype_to_tensor_dtype(dtype) for name, dtype in DTYPES.items()}

SAME_NAME = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min", "pow": "Pow",
    "erf": "Erf", "tanh": "Tanh", "sqrt": "Sqrt", "exp": "Exp", "log": "Log", "reciprocal": "Reciprocal",
    "sigmoid": "Sigmoid", "abs": "Abs", "neg": "Neg", "relu": "Relu", "identity": "Identity",
    "matmul": "MatMul", "ceil": "Ceil", "floor": "Floor", "hardSwish": "HardSwish", "softplus": "Softplus",
    "softsign": "Softsign", "cos": "Cos", "sin": "Sin",
}
REDUCTIONS = {"reduceMean": "ReduceMean", "reduceSum": "ReduceSum", "reduceMax": "ReduceMax", "reduceMin": "ReduceMin",
              "reduceL1": "ReduceL1", "reduceL2": "ReduceL2", "reduceLogSum": "ReduceLogSum",
              "reduceLogSumExp": "ReduceLogSumExp", "reduceProduct": "ReduceProd", "reduceSumSquare": "ReduceSumSquare"}
WITH_ALPHA = {"elu": ("Elu", {"alpha": 1.0}), "leakyRelu": ("LeakyRelu", {"alpha": 0.01}),
              "hardSigmoid": ("HardSigmoid", {"alpha": 0.2, "beta": 0.5})}
RULES = {"layerNormalization": nn.layer_normalization, "batchNormalization": nn.batch_normalization,
         "instanceNormalization": nn.instance_normalization, "conv2d": nn.conv, "convTranspose2d": nn.conv,
         "split": nn.split, "triangular": nn.triangular, "logicalNot": nn.logical_not, "linear": nn.linear,
         "gemm": nn.gemm}
F32 = "float32"  # float16 operands are computed in float32 (ONNX Runtime's CPU kernels are float32)
COMPARISONS = {"equal": "Equal", "greater": "Greater", "greaterOrEqual": "GreaterOrEqual",
               "lesser": "Less", "lesserOrEqual": "LessOrEqual"}


class _Lowering:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.symbols = graph.symbols()
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.counter = 0
        self._shared: dict = {}
        self.aliases: dict[str, str] = {}  # operand -> ONNX value computing it (set by fusion)

    def shared(self, key, make) -> str:
        """A value emitted once and reused (e.g. the int32 mask every fused attention reads)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

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

    def name(self, operand: str) -> str:
        """The ONNX value of an operand: float16 operands live as float32 under another name."""
        if operand in self.aliases:
            return self.aliases[operand]
        return operand + "__f32" if self.graph.operands[operand].dtype == "float16" else operand

    def np_dtype(self, operand: str) -> np.dtype:
        dtype = self.graph.operands[operand].dtype
        return DTYPES[F32 if dtype == "float16" else dtype]

    def node(self, n: Node) -> None:
        op, a = n.op, n.attributes
        ins, out = [self.name(i) for i in n.inputs], [self.name(o) for o in n.outputs]
        if op in SAME_NAME:
            self.emit(SAME_NAME[op], ins, out)
        elif op in REDUCTIONS:
            nn.reduce(self, n, REDUCTIONS[op], ins, out)
        elif op in RULES:
            RULES[op](self, n, ins, out)
        elif op in WITH_ALPHA:
            onnx_op, defaults = WITH_ALPHA[op]
            self.emit(onnx_op, ins, out, **{k: float(a.get(k, v)) for k, v in defaults.items()})
        elif op in COMPARISONS:
            self.emit("Cast", [self.emit(COMPARISONS[op], ins)], out, to=TensorProto.UINT8)
        elif op == "gelu":
            self.emit("Gelu", ins, out)
        elif op == "clamp":
            self.clamp(n, ins, out)
        elif op == "reshape":
            self.emit("Reshape", [ins[0], self.dims(a["newShape"], like=n.inputs[0])], out)
        elif op == "expand":
            self.emit("Expand", [ins[0], self.dims(a["newShape"])], out)
        elif op in ("transpose", "slice") and not self.graph.operands[n.inputs[0]].rank:  # a scalar: nothing to do
            self.emit("Identity", ins, out)
        elif op == "transpose":
            perm = a.get("permutation") or list(reversed(range(self.graph.operands[n.inputs[0]].rank)))
            self.emit("Transpose", ins, out, perm=list(perm))
        elif op == "slice":
            shape = self.graph.operands[n.inputs[0]].shape
            ends = [(INT64_MAX if n_ == d else n_) if isinstance(n_, str) else s + n_
                    for s, n_, d in zip(a["starts"], a["sizes"], shape)]
            steps = [self.const(np.array(a["strides"], np.int64))] if a.get("strides") else []
            self.emit("Slice", ins + [self.const(np.array(a["starts"], np.int64)), self.dims(ends), self.const(
                np.arange(len(ends), dtype=np.int64))] + steps, out)
        elif op == "concat":
            self.emit("Concat", ins, out, axis=a["axis"])
        elif op == "scatterND":
            self.emit("ScatterND", [ins[0], self.emit("Cast", [ins[1]], to=TensorProto.INT64), ins[2]], out)
        elif op == "gather":
            self.gather(n, ins, out)
        elif op == "where":
            self.emit("Where", [self.emit("Cast", [ins[0]], to=TensorProto.BOOL)] + ins[1:], out)
        elif op == "cast" and a["type"] == "float16":  # round to half, carry on in float32
            self.emit("Cast", [self.emit("Cast", ins, to=TensorProto.FLOAT16)], out, to=TensorProto.FLOAT)
        elif op == "cast":
            self.emit("Cast", ins, out, to=ONNX_TYPES[a["type"]])
        elif op == "softmax":
            self.emit("Softmax", ins, out, axis=a["axis"])
        else:
            raise BackendError(f"onnx lowering has no rule for {op!r}")

    def clamp(self, n: Node, ins: list[str], out: list[str]) -> None:
        """Integers: Clip with bounds saturated to the type. Floats: Max / Min, since Clip's missing bound is
        the largest finite float (it would clamp infinities); a NaN bound is no bound."""
        dtype = self.np_dtype(n.inputs[0])
        lo, hi = n.attributes.get("minValue"), n.attributes.get("maxValue")
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            lo, hi = (info.min if lo is None else lo), (info.max if hi is None else hi)
            bounds = [self.const(np.asarray(int(min(max(v, info.min), info.max)), dtype)) for v in (lo, hi)]
            self.emit("Clip", ins + bounds, out)
            return
        y = ins[0]
        steps = [(k, v) for k, v in (("Max", lo), ("Min", hi)) if v is not None and not np.isnan(v)]
        for i, (kind, value) in enumerate(steps):
            y = self.emit(kind, [y, self.const(np.asarray(value, dtype))], out if i == len(steps) - 1 else None)
        if not steps:
            self.emit("Identity", ins, out)

    def gather(self, n: Node, ins: list[str], out: list[str]) -> None:
        """WebNN clamps out-of-range indices; ONNX Gather wants int32/int64 indices in range."""
        dim = self.graph.operands[n.inputs[0]].shape[n.attributes.get("axis", 0)]
        idx = self.emit("Cast", [ins[1]], to=TensorProto.INT64)
        if isinstance(dim, int):
            wrapped = self.emit("Where", [self.emit("Less", [idx, self.const(np.array(0, np.int64))]),
                                          self.emit("Add", [idx, self.const(np.array(dim, np.int64))]), idx])
            idx = self.emit("Clip", [wrapped, self.const(np.array(0, np.int64)), self.const(np.array(dim - 1, np.int64))])
        self.emit("Gather", [ins[0], idx], out, axis=n.attributes.get("axis", 0))


def _value_info(name: str, dtype: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, ONNX_TYPES[dtype], list(shape))


def to_onnx(graph: Graph, fuse: bool = False) -> onnx.ModelProto:
    """The ONNX model computing ``graph``; graph outputs keep their public names.

    ``fuse``: lower BERT attention / residual layer norms to ONNX Runtime contrib ops (runtime/fusion.py);
    the model then needs ONNX Runtime."""
    low = _Lowering(graph)
    for name, operand in graph.inputs.items():
        if operand.dtype == "float16":
            low.emit("Cast", [name], [low.name(name)], to=TensorProto.FLOAT)
    plan = fusion.plan(graph) if fuse else fusion.Plan()
    for i, node in enumerate(graph.nodes):
        if i in plan.emit:
            plan.emit[i](low)
        elif i not in plan.skip:
            low.node(node)
    for public, operand in graph.outputs.items():
        if graph.operands[operand].dtype == "float16":
            low.emit("Cast", [low.name(operand)], [public], to=TensorProto.FLOAT16)
        elif public != operand:
            low.emit("Identity", [operand], [public])
    for key, value in graph.constants.items():
        value = value.astype(np.float32) if value.dtype == np.float16 else value
        low.initializers.append(numpy_helper.from_array(np.array(value, order="C", copy=not value.flags.c_contiguous),
                                                        low.name(key)))
    if plan.emit:
        low.nodes, low.initializers = fusion.prune(low.nodes, low.initializers, list(graph.outputs))
    onnx_graph = helper.make_graph(
        low.nodes, graph.name,
        [_value_info(o.name, o.dtype, o.shape) for o in graph.inputs.values()],
        [_value_info(public, graph.operands[op].dtype, graph.operands[op].shape) for public, op in graph.outputs.items()],
        initializer=low.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(fusion.MS, 1)] if plan.emit else [])
    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="minilm")
    model.ir_version = 10
    return model
