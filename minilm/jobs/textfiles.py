"""Texts from files, streamed: plain text (one per line), JSONL (a field), CSV (a column), Parquet (a column).

The format follows the name (.jsonl / .ndjson, .csv / .tsv, .parquet, anything else is plain text;
``field`` forces JSONL). Plain text: every line is a text, empty lines included, so row i is line
i+1; a final newline does not add an empty text; CRLF and a UTF-8 byte-order mark are accepted.
Bad input raises InputError naming the file and line.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Iterator

from ..errors import InputError, MissingDependencyError
from ..tokenizer import lone_surrogate


def kind(path: str, field: str | None = None, column: str | None = None) -> str:
    name = path.lower()
    if field is not None or name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    if column is not None:
        raise InputError(f"{path}: --column applies to .csv and .parquet files (use --field for JSONL)")
    return "text"


def _numbered(stream) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(stream, 1):
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark is not text
        yield number, raw.removesuffix(b"\n")


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    if path == "-":
        yield from _numbered(sys.stdin.buffer)
        return
    with open(path, "rb") as f:
        yield from _numbered(f)


def _decode(raw: bytes, number: int, path: str) -> str:
    try:
        return raw.decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError as exc:
        name = "<stdin>" if path == "-" else path
        raise InputError(f"{name}: line {number} is not valid UTF-8 (byte {exc.start + 1} of the line is "
                         f"0x{raw[exc.start]:02x}); re-encode the file, e.g. iconv -f latin1 -t utf-8 "
                         f"{'FILE' if path == '-' else path} > fixed.txt") from exc


def _jsonl(path: str, field: str | None) -> Iterator[str]:
    name, key = ("<stdin>" if path == "-" else path), field or "text"
    for number, raw in _lines(path):
        line = _decode(raw, number, path)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: line {number} is not JSON ({exc.msg} at column {exc.colno})") from exc
        except ValueError as exc:  # an integer of more than 4300 digits
            raise InputError(f"{name}: line {number} cannot be read as JSON ({exc})") from exc
        except RecursionError as exc:
            raise InputError(f"{name}: line {number} is JSON nested too deeply to read") from exc
        if not isinstance(record, dict) or key not in record:
            raise InputError(f"{name}: line {number} has no field {key!r}; choose one with --field")
        if not isinstance(record[key], str):
            raise InputError(f"{name}: line {number}: field {key!r} is {type(record[key]).__name__}, not a string")
        at = lone_surrogate(record[key])
        if at >= 0:
            raise InputError(f"{name}: line {number}: field {key!r} has a lone surrogate (U+{ord(record[key][at]):04X}) "
                             f"at character {at}, a \\u escape without its pair; fix the line")
        yield record[key]


def _csv(path: str, column: str | None) -> Iterator[str]:
    key = column or "text"
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.lower().endswith(".tsv") else ",")
        try:
            if reader.fieldnames is None or key not in reader.fieldnames:
                raise InputError(f"{path}: no column {key!r} in the header {reader.fieldnames}; choose one with --column")
            for row in reader:
                yield row[key] or ""
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not valid UTF-8 near line {reader.line_num + 1}; re-encode the file") from exc
        except csv.Error as exc:
            raise InputError(f"{path}: line {reader.line_num}: {exc}") from exc


def _parquet_file(path: str):
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError("reading .parquet needs pyarrow: pip install 'minilm[parquet]'") from exc
    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        if not Path(path).exists():
            raise
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc


def _parquet(path: str, column: str | None) -> Iterator[str]:
    key, file = column or "text", _parquet_file(path)
    if key not in file.schema_arrow.names:
        raise InputError(f"{path}: no column {key!r} (columns: {file.schema_arrow.names}); choose one with --column")
    for batch in file.iter_batches(batch_size=8192, columns=[key]):
        for value in batch.column(0).to_pylist():
            if value is not None and not isinstance(value, str):
                raise InputError(f"{path}: column {key!r} holds {type(value).__name__}, not strings")
            yield value or ""


def iter_texts(path: str, field: str | None = None, column: str | None = None) -> Iterator[str]:
    """Each text of the file in order, read lazily (``-`` is stdin: plain text or JSONL)."""
    form = kind(path, field, column)
    if form == "jsonl":
        return _jsonl(path, field)
    if form == "csv":
        return _csv(path, column)
    if form == "parquet":
        return _parquet(path, column)
    return (_decode(raw, number, path) for number, raw in _lines(path))


def count_texts(path: str, field: str | None = None, column: str | None = None) -> int | None:
    """How many texts the file holds, cheaply (for a progress bar's ETA); None when unknown."""
    form = kind(path, field, column)
    if path == "-" or form == "csv":
        return None
    if form == "parquet":
        return _parquet_file(path).metadata.num_rows
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n") if form == "text" else None
