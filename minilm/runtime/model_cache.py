"""A disk cache of optimised ONNX models, so a new process skips lowering, fusing, quantising and
ONNX Runtime's graph optimisation.

Where: ``$MINILM_CACHE_DIR``, else ``$XDG_CACHE_HOME/minilm``, else ``~/.cache/minilm``; set
``MINILM_CACHE_DIR=off`` to disable. Entry: ``models/<key>.onnx``. The key is a SHA-256 of
everything the model depends on: the graph (ops, attributes, shapes, every constant's bytes, so the
weights), the source of the code that lowers it (so editing the lowering invalidates), and the
options (fusion, quantisation, onnxruntime version, providers). A constant memory-mapped from a
weights file (safetensors) is keyed by that file's identity instead of its bytes (path, inode,
size, mtime in ns, offset): rewriting the file changes them, and a new process need not read
90 MB to find its entry. Entries are written to a temporary
folder and renamed into place, so a reader never sees half a file; an entry that fails to load is
deleted and rebuilt by the caller. Unwritable cache folders just mean no cache.

An entry's weights live beside it in ``models/<key>.data`` (ONNX external data), which ONNX Runtime
memory-maps instead of parsing a 90 MB protobuf and copying every tensor: the word-embedding rows
no token uses are never read, and weights it pre-packs are unmapped (peak RSS, docs/notes/performance.md).
An OpenVINO entry (runtime/openvino_exec.py) is ``models/<key>.xml`` with its weights in ``<key>.bin``,
and its compiled image (runtime/openvino_image.py) ``models/<key>.blob`` under a key of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from .. import logs
from ..atomic import fsync_file
from ..graph import Graph

log = logs.get("cache")

DISABLED = ("off", "0", "none", "")
DATA = ".data"  # suffix of an entry's weights file, written beside its .onnx
SOURCES = ("lowering.py", "lowering_nn.py", "fusion.py", "quantize.py", "smooth.py", "per_row.py", "rewrite.py", "ort.py",
           "openvino_exec.py", "openvino_image.py", "model_cache.py")


def cache_dir() -> Path | None:
    """The cache folder, or None when disabled (MINILM_CACHE_DIR=off)."""
    explicit = os.environ.get("MINILM_CACHE_DIR")
    if explicit is not None:
        return None if explicit.strip().lower() in DISABLED else Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minilm"


def _code_version() -> bytes:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in SOURCES:
        path = here / name
        h.update(name.encode() + (path.read_bytes() if path.exists() else b"-"))
    return h.digest()


def key(graph: Graph, options: dict) -> str:
    """SHA-256 (hex) of the graph, its constants' bytes, the lowering code and ``options``."""
    h = hashlib.sha256(_code_version())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    h.update(repr([(n.op, n.inputs, n.outputs, sorted(n.attributes.items())) for n in graph.nodes]).encode())
    h.update(repr([(o.name, o.dtype, o.shape) for o in graph.inputs.values()]).encode())
    h.update(repr(sorted(graph.outputs.items())).encode())
    for name in sorted(graph.constants):
        value = graph.constants[name]
        h.update(f"{name}|{value.dtype}|{value.shape}|{value.strides}|".encode())
        mapped = _file_identity(value)
        if mapped:
            h.update(mapped.encode())
        else:
            h.update(memoryview(value).cast("B") if value.flags.c_contiguous and value.size else value.tobytes())
    return h.hexdigest()


def _file_identity(value) -> str | None:
    """``path|inode|size|mtime_ns|offset`` of an array mapped read-only from a file, else None."""
    root = value
    while isinstance(getattr(root, "base", None), np.ndarray):
        root = root.base
    filename = getattr(root, "filename", None)
    if not isinstance(root, np.memmap) or not filename or root.flags.writeable or root.mode != "r":
        return None
    try:
        st = os.stat(filename)
    except OSError:
        return None
    offset = value.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return f"{filename}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{root.offset}|{offset}"


def _entry(key: str, suffix: str = ".onnx") -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / "models" / f"{key}{suffix}"


def lookup(key: str, suffix: str = ".onnx") -> Path | None:
    """The cached model file for ``key`` (``suffix``: ".onnx", or ".xml" for an OpenVINO model), or None."""
    path = _entry(key, suffix)
    if path is None:
        log.debug("cache disabled (MINILM_CACHE_DIR=off): the model is optimised in memory")
        return None
    if path.is_file() and path.stat().st_size > 0:
        log.info("cache hit: %s", path)
        try:
            os.utime(path)  # its last use, for `minilm cache prune` (runtime/cache_entries.py)
        except OSError:  # a read-only cache
            pass
        return path
    log.info("cache miss: %s (lowering and optimising; seconds)", path.name)
    return None


def data_name(model: Path) -> str:
    """The file name, beside ``model``, of its weights."""
    return model.stem + DATA


def discard(key: str, suffix: str = ".onnx") -> None:
    """Remove the entry ``key`` and the files beside it that share its name (its weights)."""
    path = _entry(key, suffix)
    if path is None:
        return
    log.warning("cache entry %s could not be loaded: removed, the model is rebuilt", path)
    for other in [path] + list(path.parent.glob(f"{key}.*")):
        try:
            other.unlink()
        except OSError:
            pass


def store(key: str, write: Callable[[Path], None], suffix: str = ".onnx") -> Path | None:
    """Have ``write(tmp_path)`` produce the model, with any files beside it (its weights, data_name;
    OpenVINO's ``.bin``), in a temporary folder, then fsync them and move them into place atomically,
    the model last (a reader that finds the model finds its weights); None when the cache is disabled
    or not writable (the caller then builds in memory)."""
    path = _entry(key, suffix)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=".tmp-"))
    except OSError as exc:
        log.info("cache folder %s not writable (%s): the model is optimised in memory", path.parent, exc.strerror or exc)
        return None
    try:
        model = tmp / path.name
        write(model)
        if not model.is_file() or model.stat().st_size == 0:
            return None
        for other in tmp.iterdir():
            fsync_file(other)
        for other in tmp.iterdir():
            if other != model:
                os.replace(other, path.parent / other.name)
        os.replace(model, path)
        log.info("cache entry written: %s", path)
        return path
    except OSError as exc:
        log.info("cache entry %s not written (%s): the model is optimised in memory", path.name, exc.strerror or exc)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
