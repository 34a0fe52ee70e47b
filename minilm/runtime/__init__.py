"""Executors of a Graph, by backend name. Each has ``run(feeds, outputs=None) -> dict``."""

from __future__ import annotations

from ..errors import BackendError
from ..graph import Graph


def _numpy(graph, threads):
    from .interpreter import NumpyExecutor
    return NumpyExecutor(graph, threads)


def _onnxruntime(graph, threads):
    from .ort import OnnxRuntimeExecutor
    return OnnxRuntimeExecutor(graph, threads)


def _torch(graph, threads):
    from .torch_exec import TorchExecutor
    return TorchExecutor(graph, threads)


BACKENDS = {"numpy": _numpy, "onnxruntime": _onnxruntime, "torch": _torch}


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; valid backends: {', '.join(sorted(BACKENDS))}")
    return backend


def make_executor(backend: str, graph: Graph, threads: int | None = None):
    return BACKENDS[check_backend(backend)](graph, threads)


__all__ = ["BACKENDS", "check_backend", "make_executor"]
