"""Fields beside the text of each input row (ids and metadata for ``minilm index``), read lazily.

JSONL: fields of each object (blank lines skipped, as minilm.jobs.textfiles does); CSV / TSV and Parquet:
columns. Row i here is text i of ``textfiles.iter_texts`` on the same file, so the two zip.
A row without a requested field raises InputError naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import json
from typing import Iterator

from ..errors import InputError
from .textfiles import _parquet_file, kind


def iter_fields(path: str, names: list[str], field: str | None = None, column: str | None = None) -> Iterator[dict]:
    """{name: value} for NAMES, per row of the file."""
    names = list(dict.fromkeys(names))
    form = kind(path, field, column)
    if form == "text":
        raise InputError(f"{path}: a plain-text file has no fields; --id-field / --meta need JSONL, CSV or Parquet")
    if form == "jsonl":
        return _jsonl(path, names)
    if form == "csv":
        return _csv(path, names)
    return _parquet(path, names)


def _jsonl(path: str, names: list[str]) -> Iterator[dict]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            record = json.loads(raw)  # textfiles already checked the line is a JSON object
            missing = [n for n in names if n not in record]
            if missing:
                raise InputError(f"{path}: line {number} has no field {missing[0]!r} (fields: {', '.join(record)})")
            yield {n: record[n] for n in names}


def _csv(path: str, names: list[str]) -> Iterator[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.lower().endswith(".tsv") else ",")
        missing = [n for n in names if n not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: no column {missing[0]!r} in the header {reader.fieldnames}")
        for row in reader:
            yield {n: row[n] for n in names}


def _parquet(path: str, names: list[str]) -> Iterator[dict]:
    file = _parquet_file(path)
    missing = [n for n in names if n not in file.schema_arrow.names]
    if missing:
        raise InputError(f"{path}: no column {missing[0]!r} (columns: {file.schema_arrow.names})")
    for batch in file.iter_batches(batch_size=8192, columns=names):
        yield from batch.to_pylist()
