"""Byte sizes of operands, known before anything is allocated, and the limit a graph file must keep.

A graph read from a file (``minilm webnn check|run``, ``minilm.webnn.files.load``) is refused when a
run of it would hold more than ``max_bytes`` at once: the constants it fills (``@scalar`` and
``@bytes``: counted before they are filled; a ``.weights`` tensor is memory-mapped and not counted),
its inputs, and each node output from the node that makes it to its last use (a graph output to
the end), as the NumPy interpreter frees them. Shapes say all of this when the graph is built; an
operand with a symbolic dimension is counted when feeds bind it (``check`` with ``sizes``).
"""

from __future__ import annotations

from math import prod
from typing import Callable

from ..errors import GraphError
from .ir import DTYPES, Graph, format_shape, resolve_dim

DEFAULT_MAX_BYTES = 4 << 30  # 4 GiB
ITEM_BITS = {"int4": 4, "uint4": 4, **{name: dtype.itemsize * 8 for name, dtype in DTYPES.items()}}


def nbytes(dtype: str, shape) -> int | None:
    """Bytes of a tensor (int4 packs two per byte); None while a dimension is a symbol."""
    if not all(isinstance(d, int) for d in shape):
        return None
    return (prod(shape) * ITEM_BITS[dtype] + 7) // 8  # Python ints: no overflow at any size


def size_text(count: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def filled_bytes(constants: dict) -> int:
    """Bytes of the constants that hold their own memory (a memory-mapped .weights tensor does not)."""
    import mmap

    def mapped(array) -> bool:
        while getattr(array, "base", None) is not None:
            array = array.base
        return isinstance(array, mmap.mmap)
    return sum(a.nbytes for a in constants.values() if not mapped(a))


class Budget:
    """Bytes held at once; ``add`` raises GraphError naming the operand that goes over ``max_bytes``."""

    def __init__(self, max_bytes: int | None = DEFAULT_MAX_BYTES):
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1):
            raise ValueError(f"max_bytes must be a positive integer (or None for no limit), got {max_bytes!r}")
        self.max_bytes, self.held = max_bytes, 0

    def add(self, name: str, dtype: str, shape, what: str) -> None:
        size = nbytes(dtype, shape) or 0
        self.held += size
        if self.max_bytes is not None and self.held > self.max_bytes:
            others = self.held - size  # shown when they count (not a 4-byte input beside 3.6 TiB)
            beside = f", {size_text(self.held)} with the operands alive beside it" if others * 100 >= self.held else ""
            raise GraphError(f"{what} {name!r} is {dtype}{format_shape(tuple(shape))} = {size_text(size)}{beside}, "
                             f"above the limit of {size_text(self.max_bytes)} for a graph's operands; "
                             f"raise it with --max-bytes N (max_bytes= in Python) if the memory is there")

    def free(self, dtype: str, shape) -> None:
        self.held -= nbytes(dtype, shape) or 0


def check(graph: Graph, max_bytes: int | None = DEFAULT_MAX_BYTES, sizes: dict[str, int] | None = None,
          held: int = 0, where: Callable[[str], str] = lambda name: "") -> int:
    """Walk a run of ``graph`` in node order with ``held`` bytes of constants alive throughout and
    raise GraphError (prefixed by ``where(operand)``) where the operands alive at once pass
    ``max_bytes``; symbols are sized by ``sizes`` (unsized: not counted yet). Returns the bytes of
    the graph's outputs."""
    sizes = sizes or {}
    shape = {name: tuple(resolve_dim(d, sizes) for d in o.shape) for name, o in graph.operands.items()}
    budget, kept = Budget(max_bytes), set(graph.outputs.values())
    budget.held = held
    last = {name: i for i, node in enumerate(graph.nodes) for name in node.inputs}

    def add(name: str, what: str) -> None:
        try:
            budget.add(name, graph.operands[name].dtype, shape[name], what)
        except GraphError as exc:
            raise GraphError(f"{where(name)}{exc}") from exc

    for name in graph.inputs:
        add(name, "input")
    for i, node in enumerate(graph.nodes):
        for name in node.outputs:
            add(name, f"the output of {node.op}")
        done = {n for n in node.inputs if last[n] == i and n not in graph.inputs and n not in graph.constants}
        done |= {n for n in node.outputs if n not in last}  # never read: freed at once
        for name in done - kept:
            budget.free(graph.operands[name].dtype, shape[name])
    return sum(nbytes(graph.operands[o].dtype, shape[o]) or 0 for o in kept)
