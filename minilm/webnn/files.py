"""WebNN graph files on disk: ``load`` a ``.webnn`` (or JSON form) graph with its weights, ``save`` one.

A graph ``model.webnn`` finds its weights beside it: ``model.weights`` and ``model.manifest.json``
(else ``manifest.json`` in the same folder), unless paths are given.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import atomic_write
from ..errors import CheckpointError, ParseError
from ..graph import Graph
from ..graph.limits import DEFAULT_MAX_BYTES
from .build import from_graph, to_graph
from .document import Document
from .json_form import from_json
from .text import parse, write
from .weights import read_manifest, read_weights, write_weights


def read_document(path: str | os.PathLike) -> Document:
    """Parse a `.webnn` text file, or a JSON-form graph (first non-space character ``{``)."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ParseError(f"byte 0x{data[exc.start]:02x} is not UTF-8; .webnn files are UTF-8 text",
                         str(path), line, column) from exc
    if text.lstrip().startswith("{"):
        return from_json(text, str(path))
    return parse(text, str(path))


def weight_files(path: Path, weights=None, manifest=None) -> tuple[Path, Path]:
    weights = Path(weights) if weights else path.with_suffix(".weights")
    if manifest is None:
        beside = path.with_suffix(".manifest.json")
        manifest = beside if beside.exists() else path.parent / "manifest.json"
    return weights, Path(manifest)


def load(path: str | os.PathLike, weights: str | os.PathLike | None = None,
         manifest: str | os.PathLike | None = None, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Graph:
    """The checked Graph of a WebNN graph file; weights are memory-mapped. Its other operands may take
    ``max_bytes`` in all (default 4 GiB; None: no limit), counted before anything is allocated."""
    path = Path(path)
    doc = read_document(path)
    arrays = None
    if doc.weight_keys():
        weights_path, manifest_path = weight_files(path, weights, manifest)
        for p, what in ((weights_path, "--weights"), (manifest_path, "--manifest")):
            if not p.exists():
                raise CheckpointError(f"{path} needs weights ({doc.weight_keys()[0]!r}, ...) but {p} does not exist; "
                                      f"give it with {what}")
        arrays = read_weights(weights_path, read_manifest(manifest_path))
    return to_graph(doc, arrays, str(path), max_bytes)


def save(graph: Graph, folder: str | os.PathLike, stem: str = "model", name: str | None = None) -> Path:
    """Write ``stem.webnn``, ``stem.weights`` and ``manifest.json`` into ``folder``; return the .webnn path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc, arrays = from_graph(graph, name)
    write_weights(arrays, folder / f"{stem}.weights", folder / "manifest.json")
    path = folder / f"{stem}.webnn"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(write(doc))
    return path
