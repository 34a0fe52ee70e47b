"""WebNN weights: the manifest JSON (``wg-weights-manifest`` v1) and the ``.weights`` file.

The ``.weights`` file is the 4 bytes ``WGWT``, a little-endian u32 version (1), then raw
little-endian row-major tensors at the manifest's ``byteOffset`` (the first at 8). Reading
memory-maps the file; every check failure is a CheckpointError naming the file, the key and what
is wrong. int4 / uint4 tensors are packed two per byte, low nibble first, and unpack to int8 / uint8.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import CheckpointError
from .document import ITEM_BITS, byte_length

MAGIC = b"WGWT"
VERSION = 1
FORMAT = "wg-weights-manifest"
HEADER = 8
NUMPY = {"float32": "<f4", "float16": "<f2", "int32": "<i4", "uint32": "<u4", "int64": "<i8", "uint64": "<u8",
         "int8": "i1", "uint8": "u1", "int4": "u1", "uint4": "u1"}
REGENERATE = "re-export it (minilm export MODEL --format webnn --out DIR)"


def read_manifest(path: str | os.PathLike) -> dict[str, dict]:
    """key -> {dataType, shape, byteOffset, byteLength}, every field checked."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path}: not UTF-8 text; is it the .weights file?") from exc
    except (ValueError, RecursionError) as exc:  # a 5000-digit integer, or nesting past Python's limit
        raise CheckpointError(f"{path}: not a JSON this reader takes ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: 'format' must be {FORMAT!r}; this is not a WebNN weights manifest")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path}: manifest version {data.get('version')!r} is not supported (only {VERSION})")
    if data.get("endianness", "little") != "little":
        raise CheckpointError(f"{path}: endianness {data.get('endianness')!r} is not supported; tensors must be little-endian")
    tensors = data.get("tensors")
    if not isinstance(tensors, dict):
        raise CheckpointError(f"{path}: 'tensors' must be an object of key -> tensor entry")
    for key, entry in tensors.items():
        _check_entry(path, key, entry)
    return tensors


def _check_entry(path: Path, key: str, entry) -> None:
    where = f"{path}: tensor {key!r}"
    if not isinstance(entry, dict):
        raise CheckpointError(f"{where}: entry must be an object")
    dtype, shape = entry.get("dataType"), entry.get("shape")
    if not isinstance(dtype, str) or dtype not in ITEM_BITS:
        raise CheckpointError(f"{where}: dataType {dtype!r} is not one of {sorted(ITEM_BITS)}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise CheckpointError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    for field in ("byteOffset", "byteLength"):
        if type(entry.get(field)) is not int or entry[field] < 0:
            raise CheckpointError(f"{where}: {field} must be a non-negative integer, got {entry.get(field)!r}")
    if entry["byteOffset"] < HEADER:
        raise CheckpointError(f"{where}: byteOffset {entry['byteOffset']} points into the 8-byte header")
    expected = byte_length(dtype, shape)
    if entry["byteLength"] != expected:
        raise CheckpointError(f"{where}: byteLength {entry['byteLength']} != {expected} "
                              f"({dtype} x {shape}); the manifest does not match its tensor")
    if entry.get("layout", "row-major") != "row-major":
        raise CheckpointError(f"{where}: layout {entry.get('layout')!r} is not supported (only row-major)")


def read_weights(path: str | os.PathLike, manifest: dict[str, dict]) -> dict[str, np.ndarray]:
    """key -> array (read-only views of the memory-mapped file)."""
    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < HEADER:
            raise CheckpointError(f"{path}: {size} bytes, too short for the WGWT header; the file is truncated; {REGENERATE}")
        buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    magic, version = buffer[:4], struct.unpack("<I", buffer[4:8])[0]
    if magic != MAGIC:
        raise CheckpointError(f"{path}: starts with {bytes(magic)!r}, not {MAGIC!r}: not a WebNN .weights file")
    if version != VERSION:
        raise CheckpointError(f"{path}: .weights version {version} is not supported (only {VERSION}); "
                              "a big-endian file would read as a huge version")
    arrays, spans = {}, []
    for key, entry in manifest.items():
        start, length = entry["byteOffset"], entry["byteLength"]
        if start + length > size:
            raise CheckpointError(f"{path}: tensor {key!r} ends at byte {start + length} but the file has {size} "
                                  f"bytes: the file is truncated or the manifest belongs to another file; {REGENERATE}")
        spans.append((start, start + length, key))
        raw = np.frombuffer(buffer, dtype=NUMPY[entry["dataType"]], count=length // np.dtype(NUMPY[entry["dataType"]]).itemsize,
                            offset=start)
        arrays[key] = unpack(raw, entry["dataType"], entry["shape"])
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        if start < end:
            raise CheckpointError(f"{path}: tensors {a!r} and {b!r} overlap in the file")
    return arrays


def unpack(raw: np.ndarray, dtype: str, shape: list) -> np.ndarray:
    """Raw little-endian values -> an array of ``shape`` (int4 / uint4 nibbles unpacked to 8 bits)."""
    if dtype in ("int4", "uint4"):
        count = int(np.prod(shape, dtype=np.int64))
        nibbles = np.stack([raw & 0x0F, raw >> 4], axis=-1).reshape(-1)[:count]
        if dtype == "int4":  # sign-extend: 8..15 -> -8..-1
            nibbles = (nibbles.astype(np.int8) ^ 8) - 8
        return nibbles.astype(np.int8 if dtype == "int4" else np.uint8).reshape(shape)
    return raw.reshape(shape).astype(raw.dtype.newbyteorder("="), copy=False)


def write_weights(arrays: dict[str, np.ndarray], weights_path: str | os.PathLike,
                  manifest_path: str | os.PathLike) -> None:
    """Write the ``.weights`` file and its manifest (tensors in the given order, contiguous from 8); both
    are complete under temporary names before either replaces an old file (minilm.atomic)."""
    tensors, offset = {}, HEADER
    with contextlib.ExitStack() as files:
        f = files.enter_context(atomic_write(weights_path))
        f.write(MAGIC + struct.pack("<I", VERSION))
        for key, array in arrays.items():
            array = np.ascontiguousarray(array)
            dtype = next((n for n, code in NUMPY.items() if np.dtype(code) == array.dtype.newbyteorder("<")
                          and n not in ("int4", "uint4")), None)
            if dtype is None:
                raise ValueError(f"tensor {key!r}: NumPy dtype {array.dtype} has no WebNN data type")
            data = array.astype(NUMPY[dtype], copy=False).tobytes()
            f.write(data)
            tensors[key] = {"dataType": dtype, "shape": list(array.shape), "byteOffset": offset,
                            "byteLength": len(data), "layout": "row-major"}
            offset += len(data)
        manifest = {"format": FORMAT, "version": VERSION, "endianness": "little", "tensors": tensors}
        f = files.enter_context(atomic_write(manifest_path, "w", encoding="utf-8"))
        f.write(json.dumps(manifest, indent=2) + "\n")
