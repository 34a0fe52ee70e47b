"""sentence-transformers' ``encode`` keywords, accepted by ``Embedder.encode`` with the same meaning.

Code written for ``SentenceTransformer.encode`` runs unchanged when it passes these by keyword:

    normalize_embeddings  True: L2-normalise (again); False: leave the output as the model gives it
    output_value          "sentence_embedding" or "token_embeddings"
    convert_to_numpy      True: one array (the default); False: a list of per-text arrays
    convert_to_tensor     True: a torch tensor (needs torch: pip install 'minilm[torch]')
    precision             "float32", "int8", "uint8", "binary", "ubinary" (as sentence_transformers'
                          quantize_embeddings: int8/uint8 calibrated on the batch's own min and max per dimension)
    truncate_dim          keep the first N dimensions (Matryoshka), before normalize_embeddings
    device                None or "cpu" (choose a GPU with minilm.load(backend="torch", device=...))

Differences: the second positional parameter is ``batch_size`` (sentence-transformers': ``prompt_name``),
and ``output_value=None`` (every output as dicts) is not offered.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import MissingDependencyError

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
KEYWORDS = ("normalize_embeddings", "output_value", "convert_to_numpy", "convert_to_tensor", "precision", "truncate_dim",
            "device")


def quantize(vectors: np.ndarray, precision: str) -> np.ndarray:
    if precision == "float32":
        return vectors.astype(np.float32, copy=False)
    if precision in ("binary", "ubinary"):  # one bit per dimension: positive or not, 8 to a byte
        bits = np.packbits(vectors > 0, axis=-1)
        return (bits.astype(np.int16) - 128).astype(np.int8) if precision == "binary" else bits
    low, high = vectors.min(0), vectors.max(0)  # 256 levels between each dimension's min and max in the batch
    step = (high - low) / 255
    level = np.clip(np.floor((vectors - low) / np.where(step == 0, 1, step)), 0, 255)
    return (level - 128).astype(np.int8) if precision == "int8" else level.astype(np.uint8)


def translate(options: dict, normalize: bool | None, output: str) -> tuple[bool | None, str, Callable]:
    """(normalize, output) for the model, and the function that finishes its result as asked."""
    unknown = sorted(set(options) - set(KEYWORDS))
    if unknown:
        raise TypeError(f"encode() got an unexpected keyword argument {unknown[0]!r} "
                        f"(sentence-transformers' keywords accepted: {', '.join(KEYWORDS)})")
    value = options.get("output_value", output)
    if value not in ("sentence_embedding", "token_embeddings", "pooler_output"):
        raise ValueError(f"output_value {value!r} is not offered; use 'sentence_embedding' or 'token_embeddings'")
    precision = options.get("precision", "float32")
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if options.get("device") not in (None, "cpu"):
        raise ValueError(f"device {options['device']!r}: encode runs where the model was loaded; "
                         "choose the device with minilm.load(backend='torch', device=...)")
    truncate = options.get("truncate_dim")
    if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, int) or truncate < 1):
        raise ValueError(f"truncate_dim must be a positive integer, got {truncate!r}")
    renormalize = bool(options.get("normalize_embeddings"))
    if renormalize and truncate is None:
        normalize = True  # the graph normalises; nothing left to do afterwards

    def finish(result):
        if value == "token_embeddings":
            return result
        array = result[..., :truncate] if truncate else result
        if renormalize and truncate:
            array = array / np.maximum(np.linalg.norm(array, axis=-1, keepdims=True), 1e-12)
        array = quantize(np.atleast_2d(array), precision)[0] if array.ndim == 1 else quantize(array, precision)
        if options.get("convert_to_tensor"):
            try:
                import torch
            except ImportError as exc:
                raise MissingDependencyError("convert_to_tensor=True needs torch: pip install 'minilm[torch]'") from exc
            return torch.from_numpy(np.ascontiguousarray(array))
        if options.get("convert_to_numpy", True) is False and array.ndim == 2:
            return list(array)
        return array

    return normalize, value, finish
