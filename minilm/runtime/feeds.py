"""Checking run-time feeds against a graph's inputs and binding its symbolic dimensions."""

from __future__ import annotations

import numpy as np

from ..errors import BackendError
from ..graph import Graph
from ..graph.ir import DTYPES, format_shape


def bind_symbols(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, int]:
    """Check every input is fed with the right dtype and rank; return symbol -> size."""
    sizes: dict[str, int] = {}
    for name, operand in graph.inputs.items():
        if name not in feeds:
            raise BackendError(f"missing input {name!r}; the graph needs {sorted(graph.inputs)}")
        array = feeds[name]
        if array.dtype != DTYPES[operand.dtype] or array.ndim != operand.rank:
            raise BackendError(f"input {name!r} must be {operand.dtype}{format_shape(operand.shape)}, "
                               f"got {array.dtype}{list(array.shape)}")
        for dim, size in zip(operand.shape, array.shape):
            if isinstance(dim, str):
                if sizes.setdefault(dim, size) != size:
                    raise BackendError(f"input {name!r}: dimension {dim!r} is {size} here but {sizes[dim]} elsewhere")
            elif dim != size:
                raise BackendError(f"input {name!r} must be {format_shape(operand.shape)}, got {list(array.shape)}")
    return sizes
