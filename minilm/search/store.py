"""The files of an index folder, written so that a kill at any moment leaves the old or the new index.

    INDEX/meta.json          the manifest: format, version, model (and every setting that shaped the vectors),
                             segments [{name, rows, crc32: {npy, jsonl}}], next segment number
    INDEX/seg-0000.npy       float32 [rows, dim] unit vectors (np.save; read memory-mapped)
    INDEX/seg-0000.jsonl     one {"id", "text", "metadata"} per row, in the same order
    INDEX/lock               fcntl.flock'ed by a writer, so two writers never interleave

A writer puts new segments under temporary names, fsyncs, renames them to names meta.json does not
list yet, then replaces meta.json with os.replace (atomic) and fsyncs the folder. Until that
replace, readers see the old manifest; files it does not list are strays of a killed writer and are
deleted by the next writer. Every read checks sizes against the manifest and says how to fix it.

Each segment's files have a CRC-32 in meta.json (zlib, ~3 GB/s here). A .jsonl is checked whenever
it is read (it is read whole); a .npy the first time a process searches it (docs/search.md has the
cost measured against a hash at open), and ``verify`` checks every file. A segment written before
checksums were recorded is checked for what unit vectors must be: finite, every value within ±1.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_write, is_temp
from ..errors import SearchIndexError

FORMAT, VERSION = "minilm-index", 1
SEGMENT = re.compile(r"seg-\d{4,}\.(npy|jsonl)$")
GRAPH = re.compile(r"ann-\d{4,}\.usearch$")
REBUILD = "rebuild it with `minilm index build` (or Index.build)"


def crc32(data) -> str:
    return f"{zlib.crc32(data):08x}"


def crc32_file(file: Path, block: int = 1 << 22) -> str:
    value, buffer = 0, bytearray(block)
    with open(file, "rb") as f:
        while n := f.readinto(buffer):
            value = zlib.crc32(memoryview(buffer)[:n], value)
    return f"{value:08x}"


def new_manifest(model: dict, ann: str | None = None) -> dict:
    manifest = {"format": FORMAT, "version": VERSION, "model": model, "count": 0, "segments": [], "next_segment": 0}
    return {**manifest, "ann": {"kind": ann, "file": None, "rows": 0}} if ann else manifest


def read_manifest(path: Path) -> dict:
    if not path.exists():
        raise SearchIndexError(f"{path}: no such index; create it with `minilm index build --input FILE --out {path}`")
    meta = path / "meta.json"
    if not path.is_dir() or not meta.is_file():
        raise SearchIndexError(f"{path}: not an index (no meta.json in it); build one with `minilm index build`")
    try:
        manifest = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SearchIndexError(f"{meta}: corrupt manifest ({exc}); {REBUILD}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SearchIndexError(f"{meta}: not a minilm index manifest (format is not {FORMAT!r}); {REBUILD}")
    if manifest.get("version") != VERSION:
        raise SearchIndexError(f"{meta}: index version {manifest.get('version')!r}, this minilm reads {VERSION}; {REBUILD}")
    try:
        segments, dim = manifest["segments"], int(manifest["model"]["dim"])
        if sum(int(s["rows"]) for s in segments) != manifest["count"] or dim < 1:
            raise ValueError("the segment rows do not add up to count")
        for s in segments:
            if not SEGMENT.match(s["name"] + ".npy"):
                raise ValueError(f"bad segment name {s['name']!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise SearchIndexError(f"{meta}: inconsistent manifest ({exc}); {REBUILD}") from exc
    return manifest


def write_manifest(path: Path, manifest: dict) -> None:
    """The commit point: meta.json replaced atomically, then the folder entry made durable."""
    data = json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8")
    with atomic_write(path / "meta.json") as f:
        f.write(data)


def write_segment(path: Path, name: str, vectors: np.ndarray, rows: list[dict]) -> dict:
    """SEG.jsonl and SEG.npy, each written to a temporary name, fsynced and renamed (not yet listed);
    returns their checksums, {"crc32": {"npy": ..., "jsonl": ...}}, for the segment's entry in meta.json."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vectors, np.float32))
    with atomic_write(path / f"{name}.jsonl") as f:
        f.write(lines)
    with atomic_write(path / f"{name}.npy") as f:
        f.write(buffer.getbuffer())
    return {"crc32": {"npy": crc32(buffer.getbuffer()), "jsonl": crc32(lines)}}


def open_vectors(path: Path, segment: dict, dim: int) -> np.ndarray:
    file = path / f"{segment['name']}.npy"
    try:
        vectors = np.load(file, mmap_mode="r")
    except FileNotFoundError as exc:
        raise SearchIndexError(f"{file}: missing segment listed in meta.json; {REBUILD}") from exc
    except Exception as exc:  # a truncated or garbled .npy: ValueError, tokenize.TokenError, OSError ...
        raise SearchIndexError(f"{file}: corrupt segment ({type(exc).__name__}: {exc}); {REBUILD}") from exc
    if vectors.dtype != np.float32 or vectors.shape != (segment["rows"], dim):
        raise SearchIndexError(f"{file}: holds {vectors.dtype} {vectors.shape}, meta.json says float32 "
                               f"({segment['rows']}, {dim}); {REBUILD}")
    return vectors


def verify_vectors(path: Path, segment: dict, dim: int) -> np.ndarray:
    """The segment's vectors, after checking its file against meta.json's checksum (or, for a segment
    written without one, that every row is a finite vector with values within ±1)."""
    vectors, file = open_vectors(path, segment, dim), path / f"{segment['name']}.npy"
    expected = (segment.get("crc32") or {}).get("npy")
    if expected:
        found = crc32_file(file)
        if found != expected:
            raise SearchIndexError(f"{file}: corrupt segment: its CRC-32 is {found}, meta.json recorded {expected} when "
                                   f"it was written (the file changed since); {REBUILD}")
        return vectors
    for start in range(0, len(vectors), 65536):
        block = np.asarray(vectors[start:start + 65536])
        bad = ~(np.isfinite(block) & (np.abs(block) <= 1.0 + 1e-4)).all(axis=1)
        if bad.any():
            raise SearchIndexError(f"{file}: corrupt segment: row {start + int(np.argmax(bad))} is not a unit vector "
                                   f"(NaN, inf or a value beyond ±1); {REBUILD}")
    return vectors


def read_rows(path: Path, segment: dict) -> list[dict]:
    file = path / f"{segment['name']}.jsonl"
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise SearchIndexError(f"{file}: missing segment listed in meta.json; {REBUILD}") from exc
    expected = (segment.get("crc32") or {}).get("jsonl")
    if expected and crc32(data) != expected:
        raise SearchIndexError(f"{file}: corrupt segment: its CRC-32 is {crc32(data)}, meta.json recorded {expected} "
                               f"when it was written (the file changed since); {REBUILD}")
    rows = []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            row = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SearchIndexError(f"{file}: line {number}: corrupt segment ({exc}); {REBUILD}") from exc
        problem = _row_problem(row)
        if problem:
            raise SearchIndexError(f"{file}: line {number}: corrupt segment ({problem}); {REBUILD}")
        rows.append(row)
    if len(rows) != segment["rows"]:
        raise SearchIndexError(f"{file}: {len(rows)} rows, meta.json says {segment['rows']}; {REBUILD}")
    return rows


def _row_problem(row) -> str | None:
    """What is wrong with a row of a .jsonl segment, or None: {"id": str | int, "text": str, "metadata": dict | None}."""
    if not isinstance(row, dict):
        return f"a row is a JSON object, not {type(row).__name__}"
    if "id" not in row:
        return "the row has no \"id\""
    if isinstance(row["id"], bool) or not isinstance(row["id"], (int, str)):
        return f"\"id\" is {type(row['id']).__name__}, not a string or an integer"
    if not isinstance(row.get("text"), str):
        return f"\"text\" is {type(row.get('text')).__name__}, not a string"
    if row.get("metadata") is not None and not isinstance(row["metadata"], dict):
        return f"\"metadata\" is {type(row['metadata']).__name__}, not an object or null"
    return None


def remove_strays(path: Path, manifest: dict) -> list[str]:
    """Delete what a killed writer left: temporary files, segments and graphs meta.json does not list."""
    listed = {s["name"] for s in manifest["segments"]}
    graph = (manifest.get("ann") or {}).get("file")
    removed = []
    for file in path.iterdir():
        stray = (file.name.endswith(".tmp") or is_temp(file.name) or (SEGMENT.match(file.name) and file.name.rsplit(".", 1)[0] not in listed)
                 or (GRAPH.match(file.name) and file.name != graph))
        if stray:
            file.unlink(missing_ok=True)
            removed.append(file.name)
    return removed


@contextlib.contextmanager
def writer_lock(path: Path):
    """Hold INDEX/lock exclusively (fcntl.flock, released by the OS if the process dies)."""
    import fcntl
    with open(path / "lock", "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SearchIndexError(f"{path}: another process is writing this index (it holds {path / 'lock'}); "
                                   "wait for it to finish") from exc
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def top_k(queries: np.ndarray, matrices: list[np.ndarray], k: int, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top k over memory-mapped matrices, CHUNK rows at a time.

    Returns (scores, rows), each [queries, min(k, total)], best first; rows count across matrices.
    Memory stays at about chunk x queries floats whatever the index size.
    """
    q = queries.shape[0]
    best_s, best_i = np.empty((q, 0), np.float32), np.empty((q, 0), np.int64)
    offset = 0
    for matrix in matrices:
        for start in range(0, matrix.shape[0], chunk):
            block = np.asarray(matrix[start:start + chunk])
            scores = (block @ queries.T).T  # (Q, rows); block @ q.T is the fast order for a C-contiguous block
            if scores.shape[1] > k:
                part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                scores = np.take_along_axis(scores, part, axis=1)
            else:
                part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
            best_s = np.concatenate([best_s, scores], axis=1)
            best_i = np.concatenate([best_i, part + offset + start], axis=1)
            if best_s.shape[1] > k:
                keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
                best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
        offset += matrix.shape[0]
    order = np.lexsort((best_i, -best_s), axis=1) if best_s.size else np.zeros_like(best_i)
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)
