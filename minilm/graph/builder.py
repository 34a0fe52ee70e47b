"""GraphBuilder: builds a Graph from WebNN operations, checking shapes as each node is added.

Method names and option names are those of the W3C WebNN ``MLGraphBuilder`` (camelCase), so a
model written against this builder reads like WebNN and lowers 1:1 to the ``.webnn`` text format.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import GraphError
from .ir import DTYPES, Graph, Node, Operand, Shape, dtype_name
from .shapes import infer

# ruff: noqa: N802  (WebNN spells its operations in camelCase)


class GraphBuilder:
    def __init__(self, name: str = "graph"):
        self.name = name
        self._inputs: dict[str, Operand] = {}
        self._constants: dict[str, np.ndarray] = {}
        self._nodes: list[Node] = []
        self._operands: dict[str, Operand] = {}
        self._counter = 0

    # -- operands ---------------------------------------------------------------------------
    def _new_name(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def _add_operand(self, name: str, dtype: str, shape: Shape) -> Operand:
        if name in self._operands:
            raise GraphError(f"operand name {name!r} is used twice")
        operand = Operand(name, dtype, tuple(shape))
        self._operands[name] = operand
        return operand

    def input(self, name: str, dtype: str, shape: Sequence) -> Operand:
        if dtype not in DTYPES:
            raise GraphError(f"input {name!r}: unknown data type {dtype!r}; use one of {sorted(DTYPES)}")
        operand = self._add_operand(name, dtype, tuple(shape))
        self._inputs[name] = operand
        return operand

    def constant(self, value: Any, dtype: str = "float32", name: str | None = None) -> Operand:
        """A constant tensor; ``name`` is its checkpoint key when it is a weight."""
        array = np.asarray(value, dtype=DTYPES[dtype]) if not isinstance(value, np.ndarray) else value
        if name is None:
            name = self._new_name("const")
        elif name in self._constants:
            return self._operands[name]
        operand = self._add_operand(name, dtype_name(array.dtype), array.shape)
        self._constants[name] = array
        return operand

    def _node(self, op: str, inputs: Sequence[Operand], name: str | Sequence[str] | None = None, **attributes):
        """Add one node; ``name`` names its output (a list of names for several outputs, e.g. split)."""
        for x in inputs:
            if not isinstance(x, Operand) or self._operands.get(x.name) is not x:
                raise GraphError(f"{op}: input {x!r} is not an operand of this graph")
        results = infer(op, list(inputs), attributes)
        names = [name] if isinstance(name, str) else list(name or [])
        if names and len(names) != len(results):
            raise GraphError(f"{op} gives {len(results)} outputs, {len(names)} names were given")
        names = names or [self._new_name(op) for _ in results]
        outputs = [self._add_operand(n, dtype, shape) for n, (dtype, shape) in zip(names, results)]
        self._nodes.append(Node(op, tuple(x.name for x in inputs), tuple(o.name for o in outputs), attributes))
        return outputs[0] if len(outputs) == 1 and op != "split" else outputs

    def build(self, outputs: dict[str, Operand]) -> Graph:
        """Freeze the graph; ``outputs`` maps public output names to operands."""
        graph = Graph(self.name, dict(self._inputs), dict(self._constants), list(self._nodes),
                      {k: v.name for k, v in outputs.items()}, dict(self._operands))
        return graph.pruned(list(outputs))

    # -- element-wise binary ----------------------------------------------------------------
    def add(self, a, b, name=None): return self._node("add", [a, b], name=name)
    def sub(self, a, b, name=None): return self._node("sub", [a, b], name=name)
    def mul(self, a, b, name=None): return self._node("mul", [a, b], name=name)
    def div(self, a, b, name=None): return self._node("div", [a, b], name=name)
    def max(self, a, b, name=None): return self._node("max", [a, b], name=name)
    def min(self, a, b, name=None): return self._node("min", [a, b], name=name)
    def pow(self, a, b, name=None): return self._node("pow", [a, b], name=name)
    def equal(self, a, b, name=None): return self._node("equal", [a, b], name=name)
    def greater(self, a, b, name=None): return self._node("greater", [a, b], name=name)
    def lesser(self, a, b, name=None): return self._node("lesser", [a, b], name=name)

    # -- element-wise unary -----------------------------------------------------------------
    def erf(self, x, name=None): return self._node("erf", [x], name=name)
    def gelu(self, x, name=None): return self._node("gelu", [x], name=name)
    def tanh(self, x, name=None): return self._node("tanh", [x], name=name)
    def sqrt(self, x, name=None): return self._node("sqrt", [x], name=name)
    def exp(self, x, name=None): return self._node("exp", [x], name=name)
    def relu(self, x, name=None): return self._node("relu", [x], name=name)
    def identity(self, x, name=None): return self._node("identity", [x], name=name)

    def clamp(self, x, minValue=None, maxValue=None, name=None):
        return self._node("clamp", [x], name=name, minValue=minValue, maxValue=maxValue)

    # -- tensor ops -------------------------------------------------------------------------
    def matmul(self, a, b, name=None): return self._node("matmul", [a, b], name=name)

    def reshape(self, x, newShape, name=None):
        return self._node("reshape", [x], name=name, newShape=list(newShape))

    def transpose(self, x, permutation=None, name=None):
        return self._node("transpose", [x], name=name, permutation=list(permutation) if permutation else None)

    def expand(self, x, newShape, name=None):
        return self._node("expand", [x], name=name, newShape=list(newShape))

    def slice(self, x, starts, sizes, name=None):
        return self._node("slice", [x], name=name, starts=list(starts), sizes=list(sizes))

    def concat(self, inputs, axis, name=None):
        return self._node("concat", list(inputs), name=name, axis=axis)

    def gather(self, x, indices, axis=0, name=None):
        return self._node("gather", [x, indices], name=name, axis=axis)

    def where(self, condition, a, b, name=None):
        return self._node("where", [condition, a, b], name=name)

    def cast(self, x, type, name=None):  # noqa: A002  (WebNN's parameter name)
        return self._node("cast", [x], name=name, type=type)

    # -- normalisation, activation, reduction -----------------------------------------------
    def softmax(self, x, axis, name=None):
        return self._node("softmax", [x], name=name, axis=axis)

    def layerNormalization(self, x, scale=None, bias=None, axes=(-1,), epsilon=1e-5, name=None):
        inputs = [x] + [p for p in (scale, bias) if p is not None]
        return self._node("layerNormalization", inputs, name=name, axes=list(axes), epsilon=float(epsilon),
                          hasScale=scale is not None, hasBias=bias is not None)

    def _reduce(self, op, x, axes, keepDimensions, name):
        return self._node(op, [x], name=name, axes=None if axes is None else list(axes), keepDimensions=keepDimensions)

    def reduceMean(self, x, axes=None, keepDimensions=False, name=None):
        return self._reduce("reduceMean", x, axes, keepDimensions, name)

    def reduceSum(self, x, axes=None, keepDimensions=False, name=None):
        return self._reduce("reduceSum", x, axes, keepDimensions, name)

    def reduceMax(self, x, axes=None, keepDimensions=False, name=None):
        return self._reduce("reduceMax", x, axes, keepDimensions, name)
