"""Executors of a Graph, by backend name. Each has ``run(feeds, outputs=None) -> dict``."""

from __future__ import annotations

from ..errors import BackendError
from ..graph import Graph


def _numpy(graph, threads, **options):
    from .interpreter import NumpyExecutor
    return NumpyExecutor(graph, threads)


def _onnxruntime(graph, threads, **options):
    from .ort import OnnxRuntimeExecutor
    return OnnxRuntimeExecutor(graph, threads, **options)


def _torch(graph, threads, **options):
    from .torch_exec import TorchExecutor
    return TorchExecutor(graph, threads, **options)


def _openvino(graph, threads, **options):
    from .openvino_exec import OpenVinoExecutor
    return OpenVinoExecutor(graph, threads, **options)


BACKENDS = {"numpy": _numpy, "onnxruntime": _onnxruntime, "openvino": _openvino, "torch": _torch}


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; valid backends: {', '.join(sorted(BACKENDS))}")
    return backend


THREADS_PER_CORE = 4  # above this many threads per core, a thread count is a mistake (10,000 took minutes to stop)


def max_threads() -> int:
    """The most threads a run may ask for: THREADS_PER_CORE x the cores this process may use."""
    from .ort import default_threads
    return THREADS_PER_CORE * default_threads()


def check_threads(threads, what: str = "threads") -> int | None:
    """``threads`` (None: the default) if it is a positive integer within ``max_threads()``, else ValueError."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{what} must be a positive integer, got {threads!r}")
    if threads > max_threads():
        from .ort import default_threads
        raise ValueError(f"{what} must be at most {max_threads()} ({THREADS_PER_CORE} x the {default_threads()} cores "
                         f"this process may use), got {threads}")
    return threads


OPTIONS = {"numpy": (), "onnxruntime": ("quantize", "workers", "fuse", "cache", "calibration"),
           "openvino": ("precision", "workers", "cache"), "torch": ("device", "dtype")}


def make_executor(backend: str, graph: Graph, threads: int | None = None, **options):
    """``options``: device= and dtype= for the torch backend; quantize=, workers=, fuse=, cache=, calibration= for
    onnxruntime; precision= ("bf16" | "fp32"), workers=, cache= for openvino (minilm[openvino], imported only here)."""
    wrong = sorted(k for k in options if k not in OPTIONS[check_backend(backend)])
    if wrong:
        owners = [b for b, names in OPTIONS.items() if wrong[0] in names]
        raise BackendError(f"{', '.join(wrong)}= applies to the {owners[0] if owners else 'no'} backend only, not {backend!r}")
    return BACKENDS[check_backend(backend)](graph, check_threads(threads), **options)


__all__ = ["BACKENDS", "check_backend", "check_threads", "make_executor", "max_threads"]
