"""The ONNX Runtime executor: lowers the graph to ONNX and runs it in an InferenceSession."""

from __future__ import annotations

import os

import numpy as np

from ..errors import BackendError
from ..graph import Graph
from .feeds import bind_symbols
from .lowering import to_onnx


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class OnnxRuntimeExecutor:
    """Fast path. ``threads`` = intra-op threads (default: the cores this process may use)."""

    name = "onnxruntime"

    def __init__(self, graph: Graph, threads: int | None = None, providers: list[str] | None = None):
        import onnxruntime as ort

        self.graph = graph
        self.threads = threads or default_threads()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            model = to_onnx(graph).SerializeToString()
            self.session = ort.InferenceSession(model, options, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph types
            raise BackendError(f"onnxruntime could not build the graph {graph.name!r}: {exc}") from exc
        self.providers = self.session.get_providers()

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        bind_symbols(self.graph, feeds)
        names = outputs or list(self.graph.outputs)
        try:
            values = self.session.run(names, {k: feeds[k] for k in self.graph.inputs})
        except Exception as exc:
            raise BackendError(f"onnxruntime failed to run {self.graph.name!r}: {exc}") from exc
        return dict(zip(names, values))
