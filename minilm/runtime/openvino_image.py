"""The compiled image of an OpenVINO model (runtime/openvino_exec.py): the model compiled once and exported
(OpenVINO's ``export_model``), stored in the model cache with a trailer (magic, length, CRC-32) so that an
image cut short or altered is found on reading, and read back memory-mapped so that every compiled form
is imported from one mapping without a copy."""

from __future__ import annotations

import io
import platform
import struct
import zlib
from pathlib import Path

import numpy as np

SUFFIX = ".blob"  # the model cache's suffix of a compiled image
TRAILER, MAGIC = struct.Struct("<8sQI"), b"minilmOV"


def cpu_identity() -> str:
    """This CPU's model name and full flags line from /proc/cpuinfo ("" where it cannot be read)."""
    found = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() in ("model name", "flags") and name.strip() not in found:
                    found[name.strip()] = value.strip()
                if len(found) == 2:
                    break
    except OSError:
        pass
    return f"{found.get('model name', '')}|{found.get('flags', '')}|{platform.machine()}"


def exported(compiled) -> bytes:
    """The compiled model as OpenVINO exports it."""
    stream = io.BytesIO()
    compiled.export_model(stream)
    return stream.getvalue()


def write(path: Path, data: bytes) -> None:
    """``data`` then its trailer: magic, length and CRC-32, so a cut or altered image is found on reading."""
    with open(path, "wb") as f:
        f.write(data)
        f.write(TRAILER.pack(MAGIC, len(data), zlib.crc32(data)))


def read(path: Path) -> np.ndarray | None:
    """The image at ``path`` memory-mapped copy-on-write (OpenVINO imports it in place and never writes the
    file), or None when its trailer does not match it (cut short, altered, not an image)."""
    try:
        mapped = np.memmap(path, np.uint8, "c")
    except (OSError, ValueError):
        return None
    if mapped.size < TRAILER.size:
        return None
    magic, length, crc = TRAILER.unpack(mapped[-TRAILER.size:].tobytes())
    image = mapped[:-TRAILER.size]
    if magic != MAGIC or length != image.size or zlib.crc32(image) != crc:
        return None
    return image
