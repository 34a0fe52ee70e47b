"""The NumPy interpreter: runs a Graph node by node with the kernels in kernels.py."""

from __future__ import annotations

import numpy as np

from ..errors import BackendError
from ..graph import Graph
from ..graph.ir import resolve_dim
from .feeds import bind_symbols
from .kernels import KERNELS


def _resolve(value, sizes: dict[str, int]):
    if isinstance(value, str):
        return resolve_dim(value, sizes)
    if isinstance(value, list):
        return [_resolve(v, sizes) for v in value]
    return value


class NumpyExecutor:
    """Reference executor. ``run(feeds, outputs)`` returns the named outputs as NumPy arrays."""

    name = "numpy"

    def __init__(self, graph: Graph, threads: int | None = None):
        missing = sorted({n.op for n in graph.nodes} - set(KERNELS))
        if missing:
            raise BackendError(f"numpy executor has no kernel for {missing}; supported: {sorted(KERNELS)}")
        self.graph = graph
        self.threads = threads

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        graph = self.graph if outputs is None else self.graph.pruned(outputs)
        sizes = bind_symbols(graph, feeds)
        values: dict[str, np.ndarray] = dict(graph.constants)
        values.update({k: feeds[k] for k in graph.inputs})
        # a node output is dropped after its last use (what minilm.graph.limits counts), outputs kept
        last = {name: i for i, node in enumerate(graph.nodes) for name in node.inputs}
        kept = set(graph.outputs.values()) | set(graph.inputs) | set(graph.constants)
        for step, node in enumerate(graph.nodes):
            attrs = {k: _resolve(v, sizes) for k, v in node.attributes.items()}
            args = [values[i] for i in node.inputs]
            if node.op != "cast":  # float16 math runs in float32, rounded once at the end
                args = [a.astype(np.float32) if a.dtype == np.float16 else a for a in args]
            try:
                result = KERNELS[node.op](*args, **attrs)
            except (ValueError, TypeError, IndexError, OverflowError, ZeroDivisionError, KeyError) as exc:
                raise BackendError(f"numpy executor: {node.op} -> {node.outputs[0]} failed: {exc}") from exc
            results = result if isinstance(result, list) else [result]
            for name, value in zip(node.outputs, results):
                values[name] = np.asarray(value, dtype=graph.operands[name].dtype)
            for name in {n for n in (*node.inputs, *node.outputs) if last.get(n, -1) <= step} - kept:
                del values[name]
        return {name: values[operand] for name, operand in graph.outputs.items()}
