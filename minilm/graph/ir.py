"""The graph IR: operands, nodes and graphs, named after W3C WebNN.

A dimension is an ``int`` or a ``str`` symbol (``"batch"``, ``"sequence"``) whose value is bound
when the graph runs. Constants hold NumPy arrays under their checkpoint names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Union

import numpy as np

Dim = Union[int, str]
Shape = tuple[Dim, ...]

# WebNN MLOperandDataType -> NumPy dtype
DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "int32": np.dtype(np.int32),
    "uint32": np.dtype(np.uint32),
    "int64": np.dtype(np.int64),
    "uint64": np.dtype(np.uint64),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
}


def dtype_name(dtype: Any) -> str:
    """The WebNN data type name of a NumPy dtype."""
    dt = np.dtype(dtype)
    for name, value in DTYPES.items():
        if value == dt:
            return name
    raise ValueError(f"no WebNN data type for NumPy dtype {dt}")


def resolve_dim(dim, sizes: dict[str, int]):
    """A symbol's size (``"batch"`` -> 4), or a product's (``"batch*sequence"`` -> 40); unknown stays as is."""
    if not isinstance(dim, str):
        return dim
    parts = dim.split("*")
    if all(p in sizes for p in parts):
        return prod(sizes[p] for p in parts)
    return dim


def factors(shape: Shape) -> tuple[list[str], int]:
    """The symbols (products split into their factors, sorted) and the product of the static sizes."""
    symbols = sorted(p for d in shape if isinstance(d, str) for p in d.split("*"))
    return symbols, prod(d for d in shape if isinstance(d, int))


def format_shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class Operand:
    """A typed value in the graph (an input, a constant, or a node output)."""

    name: str
    dtype: str
    shape: Shape

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"{self.name}: {self.dtype}{format_shape(self.shape)}"


@dataclass(frozen=True)
class Node:
    """One WebNN operation: ``outputs = op(inputs, **attributes)``."""

    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """A built graph: inputs, constants, nodes in topological order, named outputs."""

    name: str
    inputs: dict[str, Operand]
    constants: dict[str, np.ndarray]
    nodes: list[Node]
    outputs: dict[str, str]  # public output name -> operand name
    operands: dict[str, Operand]

    def symbols(self) -> dict[str, tuple[str, int]]:
        """Each symbolic dimension -> the first (input name, axis) that carries it."""
        found: dict[str, tuple[str, int]] = {}
        for inp in self.inputs.values():
            for axis, dim in enumerate(inp.shape):
                if isinstance(dim, str) and dim not in found:
                    found[dim] = (inp.name, axis)
        return found

    def pruned(self, outputs: list[str]) -> "Graph":
        """The sub-graph computing only the given public outputs."""
        unknown = [o for o in outputs if o not in self.outputs]
        if unknown:
            raise KeyError(f"graph {self.name!r} has no output {unknown[0]!r}; it has {sorted(self.outputs)}")
        needed = {self.outputs[o] for o in outputs}
        kept: list[Node] = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.outputs):
                kept.append(node)
                needed.update(node.inputs)
        kept.reverse()
        needed.update(o for node in kept for o in node.outputs)  # a kept split's unused parts too
        return Graph(
            name=self.name,
            inputs={k: v for k, v in self.inputs.items() if k in needed},
            constants={k: v for k, v in self.constants.items() if k in needed},
            nodes=kept,
            outputs={o: self.outputs[o] for o in outputs},
            operands={k: v for k, v in self.operands.items() if k in needed},
        )
