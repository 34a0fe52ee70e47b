"""What shaped a vector: the model's identity and every setting that changes an embedding.

A resumed ``minilm embed`` job and an index's ``add`` compare this record with the one they stored
and refuse to mix vectors made otherwise; ``Index.open`` loads the model with the recorded settings.
A new setting that changes vectors is one more line in ``vector_settings``.

    model      the model folder or file (resolved path)
    weights    sha256 of every weight tensor (name, dtype, shape, bytes): 0.1 s for all-MiniLM-L6-v2, once per model
    tokenizer  sha256 of the tokenizer's JSON (vocabulary, normaliser, pre-tokenizer): ~0.1 s
    max_length, pooling, normalize, output, prompt, backend, and the load options (precision /
    quantize / dtype / device) exactly as the embedder holds them
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


def vector_settings(embedder, normalize: bool | None = None, output: str = "sentence_embedding") -> dict:
    """The record of EMBEDDER's vectors for ``encode(..., normalize=NORMALIZE, output=OUTPUT)``."""
    pipe = embedder.pipeline
    return {
        "model": str(Path(embedder.path).resolve()),
        "weights": weights_fingerprint(embedder),
        "tokenizer": tokenizer_fingerprint(embedder.tokenizer),
        "dim": int(embedder.dim),
        "max_length": int(embedder.max_length),
        "pooling": pipe.pooling,
        "normalize": bool(pipe.normalize if normalize is None else normalize),
        "output": output,
        "prompt": getattr(pipe, "default_prompt_name", None),
        "backend": embedder.backend,
        "options": {k: str(v) for k, v in sorted(getattr(embedder, "options", {}).items()) if v is not None},
    }


def differences(old: dict, new: dict, keys=None) -> list[str]:
    """'name old -> new' for each of KEYS (default: all of both) whose values differ."""
    keys = list(dict.fromkeys([*old, *new])) if keys is None else keys
    return [f"{k} {_short(old.get(k))} -> {_short(new.get(k))}" for k in keys if old.get(k) != new.get(k)]


def _short(value) -> str:
    text = "unrecorded" if value is None else str(value)
    return text if len(text) <= 40 else text[:12] + "…"


def weights_fingerprint(embedder) -> str:
    """sha256 over the weight tensors in name order (cached on the embedder: the weights do not change)."""
    cached = getattr(embedder, "_weights_fingerprint", None)
    if cached:
        return cached
    digest = hashlib.sha256()
    weights = embedder.weights or _graph_constants(embedder)
    for name in sorted(weights):
        array = np.ascontiguousarray(weights[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}\n".encode())
        digest.update(array.data if array.size else b"")
    embedder._weights_fingerprint = digest.hexdigest()
    return embedder._weights_fingerprint


def _graph_constants(embedder) -> dict:
    """A WebNN export holds its weights as the graph's constants, not in ``weights``."""
    graph = getattr(embedder, "graph", None)
    constants = getattr(graph, "constants", None) or {}
    return {name: value for name, value in constants.items() if isinstance(value, np.ndarray)}


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 of the tokenizer's JSON less truncation and padding (max_length is recorded on its own)."""
    cached = getattr(tokenizer, "_fingerprint", None)
    if cached:
        return cached
    inner = getattr(tokenizer, "inner", None)
    if inner is None:
        return hashlib.sha256(repr(tokenizer).encode("utf-8")).hexdigest()
    spec = json.loads(inner.to_str())
    for key in ("truncation", "padding"):
        spec.pop(key, None)
    tokenizer._fingerprint = hashlib.sha256(json.dumps(spec).encode("utf-8")).hexdigest()
    return tokenizer._fingerprint
