"""The ONNX Runtime executor: lowers the graph to ONNX and runs it in an InferenceSession.

Speed (docs/notes/performance.md): the graph is lowered with fused attention (runtime/fusion.py), optionally
quantised to int8 (runtime/quantize.py), and the optimised model is kept in a cache
(runtime/model_cache.py) so a new process skips lowering and optimising. Batches run
``workers`` at a time on one session (``run_many``), which scales better on a few cores than one run
after another split over intra-op threads; a single batch still gets all ``threads``.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np

from .. import logs
from ..errors import BackendError
from ..graph import Graph
from .feeds import bind_symbols
from .pool import in_order
from .quantize import saturates  # light: onnxruntime.quantization is imported only to quantise

QUANTIZE = (None, "int8")
# ONNX Runtime graph optimizers turned off in every session (and in the cached model they write).
# SkipLayerNormFusion: its CPU kernel measured slower than the Add + Add + LayerNormalization it
# replaces (runtime/fusion.py). The fp32 lowering already gives it nothing to match, but the int8
# model does (quantize_dynamic adds shape information, which the fusion's checks need): there
# SkipLayerNormalization took 0.37 of 2.09 s kernel time against 0.08 s for the unfused ops, and
# turning the fusion off made int8 1.16-1.18x faster on short texts, 1.10-1.13x on long, at the
# same fidelity (AVX-512 machine, docs/notes/performance.md).
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
log = logs.get("runtime")


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _digest(feeds: list[dict[str, np.ndarray]]) -> str:
    import hashlib
    h = hashlib.sha256()
    for f in feeds:
        for name in sorted(f):
            h.update(name.encode() + np.ascontiguousarray(f[name]).tobytes())
    return h.hexdigest()


def check_quantize(quantize: str | None) -> str | None:
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {', '.join(map(str, QUANTIZE))}, got {quantize!r}")
    return quantize


def _session_options(threads: int, level: str = "ORT_ENABLE_ALL"):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.log_severity_level = 3
    return options


class OnnxRuntimeExecutor:
    """Fast path. ``threads``: intra-op threads (default: the cores this process may use). ``workers``:
    concurrent runs for ``run_many`` (default 1: one run after another, each on all intra-op threads; on a quiet
    2-core machine 2 concurrent runs were 1.1-1.3x slower, docs/notes/performance.md). ``fuse``: contrib-op lowering;
    ``quantize``: None or "int8"; ``calibration``: int8 only, feeds of calibration runs for the channel scales
    (runtime/smooth.py), which also turn on the per-row feed-forward input (runtime/per_row.py);
    None: neither;
    ``cache``: keep the optimised model on disk (see model_cache)."""

    name = "onnxruntime"

    def __init__(self, graph: Graph, threads: int | None = None, providers: list[str] | None = None,
                 fuse: bool = True, quantize: str | None = None, cache: bool = True, workers: int | None = None,
                 calibration: list[dict[str, np.ndarray]] | None = None):
        self.graph = graph
        self.threads = threads or default_threads()
        self.workers = max(1, min(workers or 1, self.threads))
        self.quantize = check_quantize(quantize)
        self.fuse = fuse or quantize is not None
        # 7-bit int8 weights where the int8 GEMM saturates (runtime/quantize.py); decided once, used by
        # the cache key (a cache copied to another CPU must not reuse the entry) and the quantisation
        self.reduce_range = saturates() if self.quantize else None
        self.calibration = calibration if self.quantize else None  # int8: feeds for the channel scales (smooth.py)
        self.providers_wanted = providers or ["CPUExecutionProvider"]
        self._pool = None
        try:
            self.session = self._build(self.threads, cache)
        except BackendError:
            raise
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph types
            raise BackendError(f"onnxruntime could not build the graph {graph.name!r}: {exc}") from exc
        self.providers = self.session.get_providers()
        missing = [p for p in self.providers_wanted if p not in self.providers]
        if missing:
            log.warning("onnxruntime: %s not available here; running on %s", ", ".join(missing), ", ".join(self.providers))
        log.info("onnxruntime %r: %s, %s, %d intra-op threads (%s), %d concurrent run%s%s", graph.name,
                 ", ".join(self.providers), f"int8 ({'7' if self.reduce_range else '8'}-bit weights)" if self.quantize else "float32",
                 self.threads, "asked for" if threads else "the cores this process may use", self.workers,
                 "s" if self.workers > 1 else "", ", fused attention" if self.fuse else "")

    def _build(self, intra: int, cache: bool):
        import onnxruntime as ort
        from . import model_cache

        def session(source):
            return ort.InferenceSession(source, _session_options(intra), providers=self.providers_wanted,
                                        disabled_optimizers=list(DISABLED_OPTIMIZERS))

        if not cache:
            return session(self._onnx_bytes())
        options = {"fuse": self.fuse, "quantize": self.quantize, "ort": ort.__version__, "providers": self.providers_wanted,
                   "disabled_optimizers": DISABLED_OPTIMIZERS}
        if self.quantize:
            options["reduce_range"] = self.reduce_range
        if self.calibration:
            from .smooth import VERSION
            options["smooth"] = [VERSION, _digest(self.calibration)]
        key = model_cache.key(self.graph, options)
        path = model_cache.lookup(key)
        if path is not None:
            try:
                return session(str(path))
            except Exception:  # a corrupt or foreign entry: drop it and rebuild
                model_cache.discard(key)

        def write(tmp):  # ORT writes its optimised model (extended level: no machine-specific layouts)
            options = _session_options(1, "ORT_ENABLE_EXTENDED")
            options.optimized_model_filepath = str(tmp)
            # weights beside it, memory-mapped when loaded (model_cache)
            options.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                             model_cache.data_name(tmp))
            options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
            ort.InferenceSession(self._onnx_bytes(), options, providers=self.providers_wanted,
                                 disabled_optimizers=list(DISABLED_OPTIMIZERS))
        path = model_cache.store(key, write)
        return session(str(path)) if path is not None else session(self._onnx_bytes())

    def _onnx_bytes(self) -> bytes:
        from .lowering import to_onnx
        model = to_onnx(self.graph, fuse=self.fuse)
        if self.quantize:
            from .quantize import quantize_int8
            model = quantize_int8(model, reduce_range=self.reduce_range, calibration=self.calibration)
        return model.SerializeToString()

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        bind_symbols(self.graph, feeds)
        names = outputs or list(self.graph.outputs)
        try:
            values = self.session.run(names, {k: feeds[k] for k in self.graph.inputs})
        except Exception as exc:
            raise BackendError(f"onnxruntime failed to run {self.graph.name!r}: {exc}") from exc
        return dict(zip(names, values))

    def run_many(self, batches: Iterable[dict[str, np.ndarray]], outputs: list[str] | None = None) -> Iterator[dict]:
        """``run`` over batches, ``workers`` at a time (ORT releases the GIL); results in order."""
        if self.workers == 1:
            yield from (self.run(feeds, outputs) for feeds in batches)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="minilm-ort")
        yield from in_order(self._pool, self.run, batches, outputs, self.workers)
