"""Fixing a graph's symbolic dimensions (``batch``, ``sequence``) to sizes, for static formats."""

from __future__ import annotations

from dataclasses import replace

from ..errors import GraphError
from .ir import Graph, Operand, resolve_dim


def _bind(value, sizes: dict[str, int]):
    if isinstance(value, str):
        return resolve_dim(value, sizes)
    if isinstance(value, (list, tuple)):
        return type(value)(_bind(v, sizes) for v in value)
    return value


def bind(graph: Graph, sizes: dict[str, int]) -> Graph:
    """A copy of ``graph`` with each symbol in ``sizes`` replaced by its size, in shapes and attributes."""
    unknown = sorted(set(sizes) - set(graph.symbols()))
    if unknown:
        raise GraphError(f"graph {graph.name!r} has no dimension {unknown[0]!r}; its symbols are {sorted(graph.symbols())}")
    operands = {k: Operand(o.name, o.dtype, _bind(o.shape, sizes)) for k, o in graph.operands.items()}
    nodes = [replace(n, attributes={k: _bind(v, sizes) for k, v in n.attributes.items()}) for n in graph.nodes]
    return Graph(graph.name, {k: operands[k] for k in graph.inputs}, dict(graph.constants), nodes,
                 dict(graph.outputs), operands)
