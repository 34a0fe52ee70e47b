"""Similarity over many unit vectors in bounded memory: pairs above a threshold, top-k neighbours.

Everything here walks the ``n x n`` cosine matrix one block of rows at a time (at most
``MAX_CELLS`` scores live at once, whatever ``n`` is), so 1M texts need ~128 MB of scratch, never
the 4 TB a full matrix would. Vectors are L2-normalised here (a zero vector stays zero), so the dot
product is the cosine. A score counts as ``>= threshold`` within ``TOLERANCE``: float32 puts a
vector's dot with itself (or with an identical copy) a few 1e-8 below 1, and threshold 1.0 should
mean "identical".
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ..errors import InputError

MAX_CELLS = 1 << 25  # scores per block: 32M float32 = 128 MB
TOLERANCE = 1e-6


def unit_rows(vectors) -> np.ndarray:
    """float32 ``[n, dim]`` with unit rows; InputError for a wrong shape or non-finite values."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise InputError(f"vectors must be a 2-D array [n, dim], got shape {array.shape}; "
                         "pass model.encode(list_of_texts), not a single vector")
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise InputError(f"vectors[{row}] holds NaN or infinity; re-embed that text")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.maximum(norms, 1e-12)


def check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
        raise ValueError(f"threshold must be a cosine similarity from -1 to 1, got {threshold!r}")
    return float(threshold)


def block_rows(n: int, limit: int = 1024) -> int:
    """Rows per block so that a block of scores ``[rows, n]`` holds at most MAX_CELLS values."""
    return max(1, min(limit, MAX_CELLS // max(n, 1)))


def row_blocks(unit: np.ndarray, rows=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(row indices, their scores against all vectors ``[len(block), n]``), one bounded block at a time."""
    rows = np.arange(len(unit)) if rows is None else np.asarray(rows, dtype=np.int64)
    step = block_rows(len(unit))
    for start in range(0, len(rows), step):
        block = rows[start:start + step]
        yield block, unit[block] @ unit.T


def similar_pairs(vectors, threshold: float) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every pair ``i < j`` with cosine >= threshold, as arrays (i, j, score) per block, in (i, j) order.

    Only the upper triangle is computed: block rows ``[a, b)`` are multiplied with vectors ``a..n``.
    """
    limit = check_threshold(threshold) - TOLERANCE
    unit = unit_rows(vectors)
    n = len(unit)
    step = block_rows(n)
    for start in range(0, n, step):
        stop = min(start + step, n)
        scores = unit[start:stop] @ unit[start:].T  # (rows, n - start)
        rows, cols = np.nonzero(scores >= limit)
        keep = cols > rows  # column c is vector start + c, row r is start + r: keep j > i
        rows, cols = rows[keep], cols[keep]
        yield rows + start, cols + start, np.minimum(scores[rows, cols], 1.0)


def top_k(queries, vectors, k: int, exclude=None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest vectors of each query: (indices ``[q, k]``, scores ``[q, k]``), best first.

    Ties go to the lower index. ``exclude[r]`` (an index into vectors, or -1) is left out of row r's
    answer, e.g. the query itself when the queries are rows of ``vectors``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    base, probe = unit_rows(vectors), unit_rows(queries)
    k = min(k, len(base) - (exclude is not None))
    if k < 1:
        return np.zeros((len(probe), 0), np.int64), np.zeros((len(probe), 0), np.float32)
    ids, best = np.empty((len(probe), k), np.int64), np.empty((len(probe), k), np.float32)
    step = block_rows(len(base))
    for start in range(0, len(probe), step):
        scores = probe[start:start + step] @ base.T
        if exclude is not None:
            skip = np.asarray(exclude[start:start + step])
            rows = np.nonzero(skip >= 0)[0]
            scores[rows, skip[rows]] = -math.inf
        kth = np.partition(scores, scores.shape[1] - k, axis=1)[:, scores.shape[1] - k]  # each row's k-th best
        for r in range(len(scores)):
            # every score equal to the k-th best competes, so ties go to the lower index whatever partition did
            cand = np.nonzero(scores[r] >= kth[r])[0]
            order = np.lexsort((cand, -scores[r, cand]))[:k]
            ids[start + r], best[start + r] = cand[order], scores[r, cand[order]]
    return ids, best
