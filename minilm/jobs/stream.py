"""Embedding a file of any size into .npy / .parquet / .jsonl: bounded memory, resumable, atomic.

The input is read in chunks of ``chunk_size`` texts; each chunk's vectors go to
``OUT.partial/part-NNNNNN.npy`` (written to a temporary name, then renamed). A rerun after a kill
finds the finished parts, skips that many texts and goes on. At the end the parts are joined into
``OUT`` (written beside it, then renamed over it) in input order, and ``OUT.partial`` is removed.
``OUT.partial/job.json`` records the input file (size, mtime), how it is read and every setting that
shapes a vector (minilm.provenance: model and weights fingerprint, tokenizer, max length, pooling,
normalisation, output kind, backend, precision); a rerun with anything changed names what differs
and refuses to mix old and new vectors unless told to ``restart``. Every file is written through
minilm.atomic; an input with no texts writes nothing.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import logs
from ..atomic import atomic_path, atomic_write, is_temp, output_file, remove_temps
from ..errors import InputError, MissingDependencyError
from ..provenance import differences, vector_settings
from .textfiles import count_texts, iter_texts

_log = logs.get("jobs")

FORMATS = (".npy", ".parquet", ".jsonl")
STEP = 1024  # texts per encode call inside a chunk (the progress bar moves this often)


def _format(output: Path) -> str:
    suffix = output.suffix.lower()
    return suffix if suffix in FORMATS else ".jsonl"  # any other name: JSON lines, as `minilm embed` always did


def _job(model, input: str, output: Path, field, column, chunk_size: int, normalize, kind: str) -> dict:
    """The input file (size, mtime), how it is read and cut into parts, and everything that shaped its vectors."""
    stat = os.stat(input) if input != "-" else None
    return {"input": os.path.abspath(input), "size": stat and stat.st_size, "mtime_ns": stat and stat.st_mtime_ns,
            "field": field, "column": column, "chunk_size": chunk_size, "format": _format(output),
            **vector_settings(model, normalize, kind)}


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
        if restart or job["input"] == os.path.abspath("-") or not isinstance(previous, dict):
            shutil.rmtree(partial)
        elif previous != job:
            raise InputError(f"{partial} holds an unfinished run made with other settings "
                             f"({'; '.join(differences(previous, job))}): its vectors would not match this run's. "
                             "Rerun with --restart to discard it and start over, or with the same settings to resume")
        else:
            for stray in partial.iterdir():  # a part being written when the last run was killed
                if is_temp(stray.name):
                    stray.unlink()
    partial.mkdir(parents=True, exist_ok=True)
    with atomic_write(partial / "job.json", "w", encoding="utf-8") as f:
        f.write(json.dumps(job, indent=1))
    return len(_parts(partial))


def _save_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_write(path) as f:
        np.save(f, array)


def embed_file(model, input: str, output: str | os.PathLike, field: str | None = None, column: str | None = None,
               batch_size: int = 32, chunk_size: int = 10_000, normalize: bool | None = None,
               output_kind: str = "sentence_embedding", progress: bool = False, restart: bool = False,
               log=None) -> int:
    """Embed every text of ``input`` into ``output``; return the number of texts.

    An input with no texts raises InputError and writes nothing."""
    output = output_file(output)  # a symlink's target; a folder or a device refused before any work
    if _format(output) == ".parquet":
        _pyarrow()
    partial = output.with_name(output.name + ".partial")
    job = _job(model, input, output, field, column, chunk_size, normalize, output_kind)
    done = _start(partial, job, restart)
    remove_temps(output)  # a join killed half way
    texts = iter_texts(input, field, column)
    if done:  # the caller's callback (the command line prints it), else the log
        (log or _log.info)(f"resuming: {done} parts ({done * chunk_size} texts) already done in {partial}")
    skipped = sum(1 for _ in itertools.islice(texts, done * chunk_size))
    bar = _bar(progress, count_texts(input, field, column) if input != "-" else None, skipped)
    index = done
    try:
        while chunk := list(itertools.islice(texts, chunk_size)):
            rows = []
            for start in range(0, len(chunk), STEP):
                rows.append(model.encode(chunk[start:start + STEP], batch_size=batch_size, normalize=normalize, output=output_kind))
                bar.update(len(chunk[start:start + STEP]))
            _save_atomic(partial / f"part-{index:06d}.npy", np.concatenate(rows))
            _log.debug("part %d written: %d texts", index, len(chunk))
            index += 1
        bar.close()
        parts = _parts(partial)
        if not parts:
            raise InputError(f"{'<stdin>' if input == '-' else input}: no texts in it; nothing written")
        total = _join(parts, iter_texts(input, field, column), output, model.dim)
        _log.info("%s: %d texts from %d parts (%d resumed)", output, total, len(parts), done)
    except InputError:  # the file must change before a rerun can pass this point, which voids the parts
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC or not _parts(partial):
            raise
        raise OSError(exc.errno, f"{exc.strerror}; the {len(_parts(partial))} finished parts are kept in {partial}: "
                                 "the same command resumes from them", exc.filename) from exc
    finally:
        if not _parts(partial):
            shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(partial)
    return total


def _bar(progress: bool, total: int | None, initial: int):
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="text", desc="embed", disable=not progress, smoothing=0.1)


def _join(parts: list[Path], texts: Iterator[str], output: Path, dim: int) -> int:
    arrays = [np.load(p, mmap_mode="r") for p in parts]
    total = sum(len(a) for a in arrays)
    kind = _format(output)
    if kind == ".npy":
        with atomic_write(output) as f:  # plain writes, not a memory map: a full disk is an error, not SIGBUS
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (total, dim)})
            for a in arrays:
                for start in range(0, len(a), 65536):
                    f.write(np.ascontiguousarray(a[start:start + 65536], "<f4").data)
    elif kind == ".parquet":
        with atomic_path(output) as tmp:
            _join_parquet(arrays, texts, tmp, dim)
    else:
        with atomic_write(output, "w", encoding="utf-8") as f:
            index = 0
            for a in arrays:
                for vector, text in zip(a, itertools.islice(texts, len(a))):  # 9 significant digits round-trip float32
                    row = {"index": index, "text": text, "embedding": [float(f"{x:.9g}") for x in vector.tolist()]}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    index += 1
    return total


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError("writing .parquet needs pyarrow: pip install 'minilm[parquet]'") from exc
    return pa, pq


def _join_parquet(arrays: list[np.ndarray], texts: Iterator[str], tmp: Path, dim: int) -> None:
    pa, pq = _pyarrow()
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
