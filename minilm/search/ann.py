"""Optional approximate search for an index: one usearch HNSW graph over all its vectors (pip install 'minilm[ann]').

meta.json's ``"ann": {"kind": "usearch", "file": "ann-0003.usearch", "rows": N}`` names the graph of
the first N rows (all of them: every add extends it). An add loads the graph, adds the new rows
(keys = row positions), saves it under a new name (minilm.atomic) and lists that name and its
CRC-32 (checked before the graph is first searched) in the new meta.json, so a kill leaves the old
graph with the old manifest. Scores are cosine similarities, as exact search gives (usearch's "ip"
distance is 1 - dot).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import MissingDependencyError, SearchIndexError
from .store import crc32_file

KINDS = ("usearch",)


def _usearch():
    try:
        from usearch.index import Index
    except ImportError as exc:
        raise MissingDependencyError("approximate search needs usearch: pip install 'minilm[ann]'") from exc
    return Index


def extend(path: Path, ann: dict, dim: int, new: list[np.ndarray], start: int, number: int) -> dict:
    """The graph of ANN plus the NEW vectors (rows from START on), saved as ann-NUMBER.usearch; its record."""
    Index = _usearch()
    index = Index(ndim=dim, metric="ip", dtype="f32")
    if ann.get("file"):
        index.load(str(path / ann["file"]))
    vectors = np.concatenate(new) if new else np.zeros((0, dim), np.float32)
    if len(vectors):
        index.add(np.arange(start, start + len(vectors)), vectors, threads=os.cpu_count() or 1)
    name = f"ann-{number:04d}.usearch"
    with atomic_path(path / name) as tmp:
        index.save(str(tmp))
        checksum = crc32_file(tmp)
    return {"kind": "usearch", "file": name, "rows": start + len(vectors), "crc32": checksum}


def open_graph(path: Path, ann: dict, count: int):
    """The saved graph, memory-mapped; checked against the manifest."""
    Index = _usearch()
    file = path / str(ann.get("file"))
    if ann.get("kind") not in KINDS or ann.get("rows") != count or not file.is_file():
        raise SearchIndexError(f"{path}: the approximate-search graph {ann.get('file')!r} is missing or does not cover "
                               f"the {count} rows; rebuild it with `minilm index build --ann usearch`")
    if ann.get("crc32") and crc32_file(file) != ann["crc32"]:
        raise SearchIndexError(f"{file}: corrupt graph: its CRC-32 differs from the one meta.json recorded when it was "
                               "written; rebuild it with `minilm index build --ann usearch`")
    try:
        graph = Index.restore(str(file), view=True)
    except Exception as exc:  # usearch raises RuntimeError / ValueError on a bad file
        raise SearchIndexError(f"{file}: corrupt graph ({exc}); rebuild it with `minilm index build --ann usearch`") from exc
    if graph is None or len(graph) != count:
        raise SearchIndexError(f"{file}: holds {0 if graph is None else len(graph)} vectors, meta.json says {count}; "
                               "rebuild it with `minilm index build --ann usearch`")
    return graph


def search(graph, queries: np.ndarray, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(scores, rows) per query, best first, as exact search returns them."""
    matches = graph.search(queries, k)
    keys, distances = np.atleast_2d(matches.keys), np.atleast_2d(matches.distances)
    counts = np.atleast_1d(getattr(matches, "counts", len(matches.keys)))  # one query gives Matches, not BatchMatches
    return ([1.0 - distances[i, :counts[i]] for i in range(len(queries))],
            [keys[i, :counts[i]].astype(np.int64) for i in range(len(queries))])
