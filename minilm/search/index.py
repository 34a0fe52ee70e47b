"""An embedded on-disk vector index: texts, ids, metadata and unit vectors, cosine search, no server.

    >>> from minilm.search.index import Index
    >>> index = Index.build("docs.idx", ["a cat", "a dog"], ids=["c", "d"])
    >>> index.add(["a fish"], ids=["f"], metadata=[{"lang": "en"}])
    >>> index.search("kitten", k=1)[0]
    Result(id='c', score=0.7032135725021362, text='a cat', metadata=None)
    >>> index.search("salmon", k=1)[0]
    Result(id='f', score=0.6324771642684937, text='a fish', metadata={'lang': 'en'})

The index records the model it was built with (path, hub id, dim, normalize) and opens it when no
embedder is given. Scores are cosine similarities (vectors are stored L2-normalised). Ids are
unique within an index: ``add`` refuses an id already present or repeated (no upsert); without ids,
rows are numbered from the index's count on. Search is exact, or approximate over a usearch HNSW
graph for an index built with ``ann="usearch"`` (minilm.search.ann). Storage and crash safety:
minilm.search.store; why exact search by default: docs/search.md.
"""

from __future__ import annotations

import itertools
import os
import signal
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import numpy as np

from . import store
from ..errors import BackendError, InputError, SearchIndexError
from .ann import KINDS
from .model_record import check, load_recorded, model_record

CHUNK = 10_000  # texts embedded and written per segment during one add


class Result(NamedTuple):
    id: Any
    score: float
    text: str
    metadata: dict | None


def _crash_point(stage: str) -> None:
    """Test hook: MINILM_INDEX_CRASH_AT=STAGE kills this process with SIGKILL at STAGE (see tests/test_index_kill.py)."""
    if os.environ.get("MINILM_INDEX_CRASH_AT") == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def _check_id(value, where: str):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(f"{where}: id {value!r} is {type(value).__name__}; ids are strings or integers")
    return value


class Index:
    """Open with ``Index.open(path)``, create with ``Index.build(path, texts)``."""

    def __init__(self, path: Path, manifest: dict, embedder):
        self.path, self.manifest, self.embedder = path, manifest, embedder
        self._rows: dict[str, list[dict]] = {}
        self._graph = None
        self._verified: set[str] = set()  # segments whose .npy matched its checksum in this process

    # -- creating and opening ---------------------------------------------------------------------------
    @classmethod
    def build(cls, path, texts: Iterable[str], ids: Iterable | None = None, metadata: Iterable | None = None,
              embedder=None, batch_size: int = 32, chunk_size: int = CHUNK, ann: str | None = None) -> Index:
        """A new index at PATH (a folder that must not exist yet, or be empty) holding TEXTS.

        ``ann="usearch"`` also keeps an HNSW graph for approximate search (minilm.search.ann).
        """
        path = Path(path)
        if ann is not None and ann not in KINDS:
            raise InputError(f"ann must be one of {', '.join(KINDS)} (or None for exact search only), got {ann!r}")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise SearchIndexError(f"{path}: already exists; add to it with `minilm index add` (Index.open(path).add) "
                                   "or remove it first")
        embedder = embedder if embedder is not None else load_recorded(None)
        path.mkdir(parents=True, exist_ok=True)
        index = cls(path, store.new_manifest(model_record(embedder), ann), embedder)
        try:
            index.add(texts, ids, metadata, batch_size=batch_size, chunk_size=chunk_size, _first=True)
        except BaseException:
            for file in path.iterdir():  # a build that failed leaves nothing that looks like an index
                file.unlink()
            path.rmdir()
            raise
        return index

    @classmethod
    def open(cls, path, embedder=None) -> Index:
        """The index at PATH. EMBEDDER (default: the model it was built with, loaded with the max length,
        tokenizer and precision it was built with) must make vectors as the index's were made
        (minilm.search.model_record), else SearchIndexError names the settings that differ."""
        path = Path(path)
        manifest = store.read_manifest(path)
        if embedder is None:
            embedder = load_recorded(manifest["model"])
        check(path, manifest["model"], embedder)
        return cls(path, manifest, embedder)

    # -- reading ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.manifest["count"])

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, {len(self)} texts, {self.manifest['model'].get('name')}, dim {self.dim})"

    @property
    def dim(self) -> int:
        return int(self.manifest["model"]["dim"])

    def _segment_rows(self, segment: dict) -> list[dict]:
        if segment["name"] not in self._rows:
            self._rows[segment["name"]] = store.read_rows(self.path, segment)
        return self._rows[segment["name"]]

    def _row(self, position: int) -> dict:
        for segment in self.manifest["segments"]:
            if position < segment["rows"]:
                return self._segment_rows(segment)[position]
            position -= segment["rows"]
        raise IndexError(position)

    def ids(self) -> list:
        """Every id, in insertion order."""
        return [row["id"] for s in self.manifest["segments"] for row in self._segment_rows(s)]

    def vectors(self) -> np.ndarray:
        """All vectors, float32 [len, dim] (a copy in memory)."""
        mats = [self._vectors(s) for s in self.manifest["segments"]]
        return np.concatenate(mats) if mats else np.zeros((0, self.dim), np.float32)

    def _vectors(self, segment: dict) -> np.ndarray:
        """A segment's vectors, memory-mapped; checked against meta.json the first time (store.verify_vectors)."""
        if segment["name"] in self._verified:
            return store.open_vectors(self.path, segment, self.dim)
        vectors = store.verify_vectors(self.path, segment, self.dim)
        self._verified.add(segment["name"])
        return vectors

    def search(self, query: str | list[str], k: int = 10, exact: bool | None = None) -> list[Result] | list[list[Result]]:
        """The K rows most similar to QUERY, best first; a list of queries gives a list of lists.

        Exact unless the index keeps an approximate graph (built with ``ann=``) and ``exact`` is not True.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}")
        single = isinstance(query, str)
        queries = [query] if single else list(query)
        if not all(isinstance(q, str) for q in queries):
            raise InputError("search takes a string or a list of strings")
        vectors = self.embedder.encode(queries, normalize=True) if queries else np.zeros((0, self.dim), np.float32)
        if self.manifest.get("ann") and not exact and len(queries):
            from . import ann as indexann
            if self._graph is None:
                self._graph = indexann.open_graph(self.path, self.manifest["ann"], len(self))
            scores, rows = indexann.search(self._graph, vectors.astype(np.float32), k)
        else:
            mats = [self._vectors(s) for s in self.manifest["segments"]]
            scores, rows = store.top_k(vectors.astype(np.float32), mats, k)
        results = [[self._result(int(r), float(s)) for s, r in zip(srow, rrow)] for srow, rrow in zip(scores, rows)]
        return results[0] if single else results

    def _result(self, position: int, score: float) -> Result:
        row = self._row(position)
        return Result(row["id"], score, row["text"], row.get("metadata"))

    # -- writing ----------------------------------------------------------------------------------------
    def add(self, texts: Iterable[str], ids: Iterable | None = None, metadata: Iterable | None = None,
            batch_size: int = 32, chunk_size: int = CHUNK, _first: bool = False) -> int:
        """Embed and append TEXTS (read lazily, CHUNK_SIZE per segment); all of them appear at once, or none.

        Returns how many were added. Raises InputError (and changes nothing) on an empty input, a
        duplicate id, or ids / metadata that do not pair one to one with the texts.
        """
        with store.writer_lock(self.path):
            manifest = self.manifest if _first else store.read_manifest(self.path)  # another writer may have added
            store.remove_strays(self.path, manifest)
            try:
                segments = self._write_segments(manifest, texts, ids, metadata, batch_size, chunk_size)
                updated = {**manifest, "count": manifest["count"] + sum(s["rows"] for s in segments),
                           "next_segment": manifest["next_segment"] + len(segments), "segments": manifest["segments"] + segments}
                if manifest.get("ann"):  # the graph extended by the new rows, under a new name
                    from . import ann as indexann
                    new = [store.open_vectors(self.path, seg, self.dim) for seg in segments]
                    updated["ann"] = indexann.extend(self.path, manifest["ann"], self.dim, new, manifest["count"],
                                                     updated["next_segment"])
            except BaseException:
                store.remove_strays(self.path, manifest)  # what this add wrote, never listed: gone
                raise
            _crash_point("before-commit")
            store.write_manifest(self.path, updated)
            _crash_point("after-commit")
            self.manifest, self._graph = updated, None
            self._verified.update(s["name"] for s in segments)  # written and checksummed by this process
            store.remove_strays(self.path, updated)  # the graph this add replaced (open readers keep their mapping)
        return updated["count"] - manifest["count"]

    def _write_segments(self, manifest: dict, texts, ids, metadata, batch_size: int, chunk_size: int) -> list[dict]:
        """New segment files (not yet listed in meta.json), CHUNK_SIZE texts each."""
        seen = {row["id"] for s in manifest["segments"] for row in self._segment_rows(s)}
        count, number, segments, written = manifest["count"], manifest["next_segment"], [], {}
        ids_it = iter(ids) if ids is not None else None
        meta_it = iter(metadata) if metadata is not None else None
        texts_it = iter(texts)
        while chunk := list(itertools.islice(texts_it, chunk_size)):
            rows = self._rows_of(chunk, ids_it, meta_it, count, seen)
            vectors = self.embedder.encode(chunk, batch_size=batch_size, normalize=True)
            name = f"seg-{number:04d}"
            finite = np.isfinite(vectors).all(axis=1)
            if not finite.all():
                bad = int(np.argmin(finite))
                raise BackendError(f"row {count + bad} (id {rows[bad]['id']!r}): the model gave NaN or inf for this text, "
                                   "so nothing was added; check the model (minilm compare --against-fixtures) or its "
                                   "precision settings")
            checksums = store.write_segment(self.path, name, vectors, rows)
            _crash_point("segment-written")
            segments.append({"name": name, "rows": len(rows), **checksums})
            written[name] = rows
            count, number = count + len(rows), number + 1
        self._check_exhausted(ids_it, "ids"), self._check_exhausted(meta_it, "metadata")
        if not segments:
            raise InputError("no texts to add: the input is empty")
        self._rows.update(written)
        return segments

    @staticmethod
    def _rows_of(chunk: list[str], ids_it, meta_it, start: int, seen: set) -> list[dict]:
        rows = []
        for i, text in enumerate(chunk):
            where = f"row {start + i}"
            if not isinstance(text, str):
                raise InputError(f"{where}: text is {type(text).__name__}, not a string")
            rid = next(ids_it, _MISSING) if ids_it is not None else start + i
            if rid is _MISSING:
                raise InputError(f"fewer ids than texts (ran out at {where})")
            _check_id(rid, where)
            if rid in seen:
                raise InputError(f"{where}: duplicate id {rid!r}; ids must be unique within an index")
            seen.add(rid)
            meta = next(meta_it, _MISSING) if meta_it is not None else None
            if meta is _MISSING:
                raise InputError(f"fewer metadata entries than texts (ran out at {where})")
            if meta is not None and not isinstance(meta, dict):
                raise InputError(f"{where}: metadata is {type(meta).__name__}; give a dict (JSON object) or None")
            rows.append({"id": rid, "text": text, "metadata": meta})
        return rows

    @staticmethod
    def _check_exhausted(it, what: str) -> None:
        if it is not None and next(it, _MISSING) is not _MISSING:
            raise InputError(f"more {what} than texts")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()

