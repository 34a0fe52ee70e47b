"""The OpenVINO executor (optional extra ``minilm[openvino]``): minilm's own ONNX lowering on OpenVINO's
CPU plugin, in bfloat16 (``precision="bf16"``) or float32.

Why this engine (benchmarks/probes/bf16_engine.py, docs/performance.md): on the same lowering,
OpenVINO's Python runtime at INFERENCE_PRECISION_HINT=bf16 keeps min cosine 0.99995 to fp32, while
ONNX Runtime's OpenVINO execution provider at the same hint returned wrong vectors (min cosine 0.09),
and its plugin form offers no device on a non-Intel CPU. With the bf16 hint the CPU plugin runs the
36 linears (FullyConnected) and each layer's attention (one fused subgraph: products and softmax) in
bfloat16, and the layer norms (MVN), pooling, L2 norm and the other element-wise ops in float32
(the compiled model's runtime precisions, OpenVINO 2026.4).

The graph is the one every executor runs, lowered unfused (OpenVINO does its own fusion) with the
weights' transposes folded in, read by OpenVINO's ONNX reader and kept as an OpenVINO model
(``.xml`` + ``.bin``) in runtime/model_cache.py's cache, keyed like ONNX Runtime's entries (graph,
weights, lowering code, OpenVINO version, precision). At bf16 the weights are stored float16
(``compress_to_fp16``; float16 weights alone keep cosine 0.9999996 to fp32,
benchmarks/probes/weights_precision.py), so no float32 copy of them is held beside the bfloat16 ones.

The compiled image: the model compiled once and exported (OpenVINO's ``export_model``) is the cache's
``<key>.blob``, keyed by the model's key, the threads and the CPU (its name and flags; OpenVINO's own
compiled-blob cache keys only the name, "AMD EPYC" for AVX2-only and AVX-512 parts alike), with a
trailer (length, CRC-32) checked on every load, so an image cut short or altered is rebuilt, not run.
A new process memory-maps it and imports each compiled form from that one mapping without copying
(``import_model`` of a tensor over it): importing from a file, as OpenVINO's CACHE_DIR does, maps it
once per form, and a process holding both forms held the weights twice (peak RSS 315 -> 282 MB on
1,000 short texts, docs/performance.md); the import takes 0.2 s where compiling the model takes 0.4.

Threads: two compiled forms of the one model, each compiled when first needed. THROUGHPUT, one
stream per thread, for batches in flight together (1.30x / 1.62x one LATENCY stream of all threads
on short / long texts, bf16_engine.py): ``run_many`` keeps ``workers`` calls in flight, one per
stream. LATENCY, one stream of all threads, for a call that runs alone: ``run_many`` of a single
batch, and ``run`` while no other call is in flight (a query, a server's batch at low load; at high
load a server's two batches overlap and so run on THROUGHPUT streams). A
one-text query took 8.5 ms on one thread of the THROUGHPUT form and 6.1 ms on the LATENCY form
against ONNX Runtime fp32's 4.6 ms (bf16, 2-core AMD EPYC with AVX512_BF16, no AMX); so
``minilm embed --precision bf16 hello`` compiles only the LATENCY form, and embedding a corpus only
the THROUGHPUT one. Several threads may call ``run`` at once (a server's
batches), each on its own infer request.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import BackendError, MissingDependencyError
from ..graph import Graph
from . import openvino_image
from .feeds import bind_symbols
from .pool import in_order
from .precision import INSTALL

HINTS = {"bf16": "bf16", "fp32": "f32"}
CONVERTER = "openvino.tools.ovc"  # OpenVINO's model converter: not needed to run a model


def _openvino():
    """The ``openvino`` module. Imported first here, it comes without its model converter (``openvino.tools.ovc``,
    and the telemetry that starts): that import took 0.17 s, this one 0.06 s (docs/notes/performance.md).
    ``openvino.convert_model`` still works: it imports the converter when called."""
    if sys.modules.get("openvino") is not None:
        return sys.modules["openvino"]
    blocked = sys.modules.setdefault(CONVERTER, None) is None  # a None entry: `from openvino.tools.ovc import` fails
    try:
        import openvino
    except ImportError as exc:
        raise MissingDependencyError(f"precision='bf16' (and backend='openvino') needs OpenVINO: {INSTALL} "
                                     "(or pip install openvino)") from exc
    finally:
        if blocked and sys.modules.get(CONVERTER, 0) is None:
            del sys.modules[CONVERTER]
    if not hasattr(openvino, "convert_model"):
        openvino.convert_model = _convert_model
    return openvino


def _convert_model(*args, **kwargs):
    from openvino.tools.ovc import convert_model
    return convert_model(*args, **kwargs)


def lowered(graph: Graph):
    """The ONNX model OpenVINO reads: the unfused lowering, weight transposes folded."""
    from .lowering import to_onnx
    from .rewrite import fold_weight_transposes
    return fold_weight_transposes(to_onnx(graph, fuse=False))


def cache_key(graph: Graph, precision: str, version: str) -> str:
    """The model cache's key of ``graph``'s OpenVINO model at ``precision`` on OpenVINO ``version`` (model_cache.key:
    the graph, its weights or their file's identity, the lowering code and these options)."""
    from . import model_cache
    return model_cache.key(graph, {"engine": "openvino", "openvino": version, "lowering": "unfused+folded",
                                   "float16_weights": precision == "bf16"})


def image_key(graph: Graph, precision: str, version: str, threads: int) -> str:
    """The model cache's key of the compiled image: the model's key, the CPU (its name and flags: OpenVINO's
    own compiled-blob cache keys only the name) and the compile options."""
    identity = f"{cache_key(graph, precision, version)}|{threads}|{openvino_image.cpu_identity()}"
    return hashlib.sha256(identity.encode()).hexdigest()


class OpenVinoExecutor:
    """``precision``: "fp32" (default) or "bf16" (OpenVINO's INFERENCE_PRECISION_HINT); ``threads``: CPU threads
    (default: the cores this process may use), one stream each; ``workers``: calls in flight in
    ``run_many`` (default: one per stream); ``cache``: keep the lowered model on disk (model_cache)."""

    name = "openvino"

    def __init__(self, graph: Graph, threads: int | None = None, precision: str = "fp32", cache: bool = True,
                 workers: int | None = None):
        from .ort import default_threads
        if precision not in HINTS:
            raise ValueError(f"the openvino backend runs precision 'bf16' or 'fp32', got {precision!r}")
        ov = _openvino()
        self.graph, self.precision = graph, precision
        self.threads = threads or default_threads()
        self.workers = max(1, min(workers or self.threads, self.threads))
        self._ov, self._cache, self._compiled, self._compiling = ov, cache, {}, threading.Lock()
        self._core, self._image = ov.Core(), None  # the compiled image every form is imported from
        self._lock, self._in_flight = threading.Lock(), 0  # calls in flight: a call alone runs on LATENCY
        self.providers = [f"OpenVINO {ov.__version__} CPU ({precision}; {self.threads} streams, or one of "
                          f"{self.threads} threads for a call alone)"]
        self._local = threading.local()
        self._pool = None

    def _compiled_form(self, hint: str):
        """The model compiled for ``hint``: THROUGHPUT (a stream per thread) or LATENCY (one stream), imported
        from the one compiled image (``_image``) without copying it."""
        compiled = self._compiled.get(hint)
        if compiled is None:
            with self._compiling:
                compiled = self._compiled.get(hint)
                if compiled is None:
                    streams = self.threads if hint == "THROUGHPUT" else 1
                    config = self._config() | {"PERFORMANCE_HINT": hint, "NUM_STREAMS": streams}
                    try:
                        compiled = self._compiled[hint] = self._import(config)
                    except (BackendError, MissingDependencyError):
                        raise
                    except Exception as exc:  # OpenVINO raises RuntimeError with its own message
                        raise BackendError(f"OpenVINO could not compile the graph {self.graph.name!r}: {exc}") from exc
        return compiled

    def _config(self) -> dict:
        return {"INFERENCE_PRECISION_HINT": HINTS[self.precision], "INFERENCE_NUM_THREADS": self.threads}

    def _import(self, config: dict):
        """A compiled form imported from the image, in place; a cached image that passes its check but does not
        import (another build of OpenVINO's plugin wrote it) is discarded and rebuilt once."""
        fresh = self._image is None
        if fresh:
            self._image = self._load_image()
        try:
            return self._core.import_model(self._ov.Tensor(self._image, shared_memory=True), "CPU", config)
        except Exception:
            if not (fresh and isinstance(self._image, np.memmap)):
                raise
        self._image = self._load_image(rebuild=True)
        return self._core.import_model(self._ov.Tensor(self._image, shared_memory=True), "CPU", config)

    def _load_image(self, rebuild: bool = False) -> np.ndarray:
        """The compiled image: the cache's ``.blob`` entry memory-mapped (checked against its trailer; a bad
        one, or any with ``rebuild``, is discarded), else compiled here, stored, and mapped; in memory when the
        cache is off."""
        from . import model_cache
        folder = model_cache.cache_dir()
        if not self._cache or folder is None:
            return np.frombuffer(bytearray(self._export(None)), np.uint8)
        key = image_key(self.graph, self.precision, self._ov.__version__, self.threads)
        path = model_cache.lookup(key, openvino_image.SUFFIX)
        if path is not None:
            image = None if rebuild else openvino_image.read(path)
            if image is not None:
                return image
            model_cache.discard(key, openvino_image.SUFFIX)
        data = self._export(cache_key(self.graph, self.precision, self._ov.__version__))
        path = model_cache.store(key, lambda tmp: openvino_image.write(tmp, data), openvino_image.SUFFIX)
        image = openvino_image.read(path) if path is not None else None
        return image if image is not None else np.frombuffer(bytearray(data), np.uint8)

    def _export(self, key: str | None) -> bytes:
        """The graph compiled from its OpenVINO model (the cache's ``.xml`` entry under ``key``, rebuilt when
        it does not compile; a temporary one when ``key`` is None) and exported."""
        from . import model_cache
        config = self._config() | {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        if key is not None:
            path = model_cache.lookup(key, ".xml")
            if path is not None:
                try:
                    return openvino_image.exported(self._core.compile_model(str(path), "CPU", config))
                except Exception:  # a corrupt or foreign entry: drop it and rebuild
                    model_cache.discard(key, ".xml")
            path = model_cache.store(key, lambda tmp: self._write(self._ov, tmp), ".xml")
            if path is not None:
                return openvino_image.exported(self._core.compile_model(str(path), "CPU", config))
        with tempfile.TemporaryDirectory(prefix="minilm-ov-") as tmp:  # cache off or not writable
            path = Path(tmp) / "model.xml"
            self._write(self._ov, path)
            return openvino_image.exported(self._core.compile_model(str(path), "CPU", config))

    def _write(self, ov, path: Path) -> None:
        """The OpenVINO model at ``path`` (.xml, weights in .bin beside it), read from the ONNX lowering."""
        import onnx
        with tempfile.TemporaryDirectory(prefix="minilm-ov-") as tmp:
            source = Path(tmp) / "model.onnx"
            onnx.save(lowered(self.graph), str(source), save_as_external_data=True, location="model.data", size_threshold=1024)
            ov.save_model(ov.Core().read_model(str(source)), str(path), compress_to_fp16=self.precision == "bf16")

    def _request(self, hint: str):
        hint = "THROUGHPUT" if self.threads == 1 else hint  # one thread: the two forms are the same one-stream model
        requests = self._local.__dict__.setdefault("requests", {})  # this thread's infer request per form
        if hint not in requests:
            requests[hint] = self._compiled_form(hint).create_infer_request()
        return requests[hint]

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None, hint: str | None = None) -> dict[str, np.ndarray]:
        """One call; ``hint`` the compiled form (default: LATENCY when no other call is in flight, else THROUGHPUT)."""
        bind_symbols(self.graph, feeds)
        names = outputs or list(self.graph.outputs)
        with self._lock:
            alone = self._in_flight == 0
            self._in_flight += 1
        try:
            values = self._request(hint or ("LATENCY" if alone else "THROUGHPUT")).infer({k: feeds[k] for k in self.graph.inputs})
            return {name: values[name] for name in names}
        except Exception as exc:
            raise BackendError(f"OpenVINO failed to run {self.graph.name!r}: {exc}") from exc
        finally:
            with self._lock:
                self._in_flight -= 1

    def run_many(self, batches: Iterable[dict[str, np.ndarray]], outputs: list[str] | None = None) -> Iterator[dict]:
        """``run`` over batches, in order: a single batch alone on the LATENCY form; more, ``workers`` at a
        time on the THROUGHPUT form (one per stream; OpenVINO releases the GIL)."""
        batches = iter(batches)
        first = next(batches, None)
        if first is None:
            return
        second = next(batches, None)
        if second is None:
            yield self.run(first, outputs, "LATENCY")
            return
        batches = itertools.chain((first, second), batches)
        if self.workers == 1:
            yield from (self.run(feeds, outputs, "THROUGHPUT") for feeds in batches)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="minilm-ov")
        yield from in_order(self._pool, functools.partial(self.run, hint="THROUGHPUT"), batches, outputs, self.workers)
