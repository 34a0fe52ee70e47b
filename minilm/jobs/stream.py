"""Embedding a file of any size into .npy / .parquet / .jsonl: bounded memory, resumable, atomic.

The input is read in chunks of ``chunk_size`` texts; each chunk's vectors go to
``OUT.partial/part-NNNNNN.npy`` (written to a temporary name, then renamed). A rerun after a kill
finds the finished parts, skips that many texts and goes on. At the end the parts are joined into
``OUT`` (written beside it, then renamed over it) in input order, and ``OUT.partial`` is removed.
``OUT.partial/job.json`` records the input file (size, mtime), the model and the settings; a rerun
with anything changed refuses to mix old and new vectors unless told to ``restart``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError, MissingDependencyError
from .textfiles import count_texts, iter_texts

FORMATS = (".npy", ".parquet", ".jsonl")
STEP = 1024  # texts per encode call inside a chunk (the progress bar moves this often)


def _format(output: Path) -> str:
    suffix = output.suffix.lower()
    return suffix if suffix in FORMATS else ".jsonl"  # any other name: JSON lines, as `minilm embed` always did


def _job(model, input: str, output: Path, field, column, chunk_size: int, normalize, kind: str) -> dict:
    stat = os.stat(input) if input != "-" else None
    return {"input": os.path.abspath(input), "size": stat and stat.st_size, "mtime_ns": stat and stat.st_mtime_ns,
            "field": field, "column": column, "model": str(model.path), "output": kind, "normalize": normalize,
            "chunk_size": chunk_size, "format": _format(output)}


def _parts(partial: Path) -> list[Path]:
    found = []
    for i in itertools.count():
        part = partial / f"part-{i:06d}.npy"
        if not part.exists():
            return found
        found.append(part)


def _start(partial: Path, job: dict, restart: bool) -> int:
    """Prepare the work folder; return how many parts are already done."""
    if partial.exists():
        try:
            previous = json.loads((partial / "job.json").read_text())
        except (OSError, ValueError):
            previous = None
        if restart or job["input"] == os.path.abspath("-") or previous is None:
            shutil.rmtree(partial)
        elif previous != job:
            changed = [k for k in job if previous.get(k) != job[k]]
            raise InputError(f"{partial} holds a run with other settings ({', '.join(changed)} changed); "
                             "rerun with --restart to start over, or delete that folder")
    partial.mkdir(parents=True, exist_ok=True)
    (partial / "job.json").write_text(json.dumps(job, indent=1))
    return len(_parts(partial))


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def embed_file(model, input: str, output: str | os.PathLike, field: str | None = None, column: str | None = None,
               batch_size: int = 32, chunk_size: int = 10_000, normalize: bool | None = None,
               output_kind: str = "sentence_embedding", progress: bool = False, restart: bool = False,
               log=None) -> int:
    """Embed every text of ``input`` into ``output``; return the number of texts."""
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    job = _job(model, input, output, field, column, chunk_size, normalize, output_kind)
    done = _start(partial, job, restart)
    texts = iter_texts(input, field, column)
    if done and log:
        log(f"resuming: {done} parts ({done * chunk_size} texts) already done in {partial}")
    skipped = sum(1 for _ in itertools.islice(texts, done * chunk_size))
    bar = _bar(progress, count_texts(input, field, column) if input != "-" else None, skipped)
    index = done
    while chunk := list(itertools.islice(texts, chunk_size)):
        rows = []
        for start in range(0, len(chunk), STEP):
            rows.append(model.encode(chunk[start:start + STEP], batch_size=batch_size, normalize=normalize, output=output_kind))
            bar.update(len(chunk[start:start + STEP]))
        _save_atomic(partial / f"part-{index:06d}.npy", np.concatenate(rows))
        index += 1
    bar.close()
    total = _join(_parts(partial), iter_texts(input, field, column), output, model.dim)
    shutil.rmtree(partial)
    return total


def _bar(progress: bool, total: int | None, initial: int):
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="text", desc="embed", disable=not progress, smoothing=0.1)


def _join(parts: list[Path], texts: Iterator[str], output: Path, dim: int) -> int:
    tmp = output.with_name(output.name + ".tmp")
    arrays = [np.load(p, mmap_mode="r") for p in parts]
    total = sum(len(a) for a in arrays)
    kind = _format(output)
    if kind == ".npy":
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, dim))
        row = 0
        for a in arrays:
            out[row:row + len(a)] = a
            row += len(a)
        out.flush()
        del out
    elif kind == ".parquet":
        _join_parquet(arrays, texts, tmp, dim)
    else:
        with open(tmp, "w", encoding="utf-8") as f:
            index = 0
            for a in arrays:
                for vector, text in zip(a, itertools.islice(texts, len(a))):  # 9 significant digits round-trip float32
                    row = {"index": index, "text": text, "embedding": [float(f"{x:.9g}") for x in vector.tolist()]}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    index += 1
    os.replace(tmp, output)
    return total


def _join_parquet(arrays: list[np.ndarray], texts: Iterator[str], tmp: Path, dim: int) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError("writing .parquet needs pyarrow: pip install 'minilm[parquet]'") from exc
    schema = pa.schema([("index", pa.int64()), ("text", pa.string()), ("embedding", pa.list_(pa.float32(), dim))])
    index = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for a in arrays:
            flat = pa.array(np.ascontiguousarray(a, np.float32).reshape(-1))
            table = pa.table({"index": pa.array(np.arange(index, index + len(a))),
                              "text": pa.array(list(itertools.islice(texts, len(a))), pa.string()),
                              "embedding": pa.FixedSizeListArray.from_arrays(flat, dim)}, schema=schema)
            writer.write_table(table)
            index += len(a)
