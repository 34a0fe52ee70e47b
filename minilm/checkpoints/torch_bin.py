"""Reading ``pytorch_model.bin`` without torch and without running pickle code.

Both formats of ``torch.save`` are read: the zip format (torch >= 1.6: ``<archive>/data.pkl`` plus one
``<archive>/data/<key>`` file per storage) and the legacy stream (magic number, protocol, sys_info,
the pickled object, the list of storage keys, then each storage as an int64 count and raw bytes).
The pickle is read by an Unpickler that knows only the few globals a state dict needs (tensor
rebuilders, storage types, OrderedDict, Size), each mapped to a small function of ours; any other
global (``os.system``, ``builtins.eval``, ...) is refused before anything is called.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

STORAGES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
            "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
            "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor(storage, offset: int, size, stride, *_ignored):
    if storage is None:  # first pass over a legacy file: the storages come after the pickle
        return None
    if not size:
        return np.array(storage[offset])
    end = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if min(size) > 0 and (end > storage.size or min(stride) < 0):
        raise ValueError(f"a tensor of size {tuple(size)} and stride {tuple(stride)} at offset {offset} "
                         f"runs past its storage of {storage.size} elements")
    strides = tuple(s * storage.itemsize for s in stride)
    return np.ascontiguousarray(np.lib.stride_tricks.as_strided(storage[offset:], tuple(size), strides))


def _rebuild_parameter(data, *_ignored):
    return data


ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch", "Size"): tuple,
    **{("torch", name): _StorageType(name) for name in STORAGES},
}


def _decode(raw: bytes, name: str, order: str) -> np.ndarray:
    """A storage's bytes as a 1-D array; bfloat16 (the top half of a float32) becomes float32."""
    dtype = np.dtype(np.uint16 if name == "BFloat16Storage" else STORAGES[name])
    if len(raw) % dtype.itemsize:
        raise ValueError(f"a {name} of {len(raw)} bytes is not a whole number of elements")
    array = np.frombuffer(raw, dtype.newbyteorder(order)).astype(dtype, copy=False)
    return (array.astype(np.uint32) << 16).view(np.float32) if name == "BFloat16Storage" else array


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, path: Path, storage):
        super().__init__(file)
        self.path, self.storage = path, storage  # storage(key, type name, view_metadata) -> array or None

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise CheckpointError(f"{self.path}: refusing to load: the pickle asks for global '{module}.{name}', "
                                  "which is not a tensor; only tensor data is read from pytorch_model.bin (no code is run). "
                                  "Convert the checkpoint to safetensors if it is trusted.")
        return ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.path}: unexpected persistent id {pid!r} in the pickle")
        return self.storage(str(pid[2]), pid[1].name, pid[5] if len(pid) > 5 else None)


def _read_zip(path: Path) -> object:
    archive = zipfile.ZipFile(path)
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
    if not pickles:
        raise CheckpointError(f"{path}: no data.pkl inside; not a torch.save zip checkpoint")
    prefix = pickles[0][: -len("data.pkl")]
    order = "<"
    if f"{prefix}byteorder" in archive.namelist():
        order = ">" if archive.read(f"{prefix}byteorder").strip() == b"big" else "<"
    cache: dict[str, np.ndarray] = {}

    def storage(key: str, name: str, _view) -> np.ndarray:
        if key not in cache:
            try:
                raw = archive.read(f"{prefix}data/{key}")
            except (KeyError, zipfile.BadZipFile, OSError) as exc:
                raise CheckpointError(f"{path}: storage {key!r} is missing or corrupt ({exc})") from exc
            cache[key] = _decode(raw, name, order)
        return cache[key]

    with archive.open(pickles[0]) as f:
        return _Unpickler(f, path, storage).load()


def _read_legacy(path: Path) -> object:
    with open(path, "rb") as f:
        if _Unpickler(f, path, None).load() != LEGACY_MAGIC:
            raise CheckpointError(f"{path}: neither a zip archive nor a legacy torch.save file (bad magic number)")
        protocol, sys_info = _Unpickler(f, path, None).load(), _Unpickler(f, path, None).load()
        if protocol != 1001 or not isinstance(sys_info, dict):
            raise CheckpointError(f"{path}: unsupported legacy torch.save protocol {protocol!r}")
        order = "<" if sys_info.get("little_endian", True) else ">"
        types: dict[str, str] = {}

        def note(key: str, name: str, _view) -> None:
            types[key] = name

        start = f.tell()
        _Unpickler(f, path, note).load()  # first pass: learn which storages there are, build nothing
        keys = _Unpickler(f, path, None).load()
        storages = {}
        for key in keys:
            name = types.get(str(key))
            if name is None:
                raise CheckpointError(f"{path}: storage {key!r} is listed but never used by the pickle")
            head = f.read(8)
            count = struct.unpack(order + "q", head)[0] if len(head) == 8 else -1
            itemsize = 2 if name == "BFloat16Storage" else np.dtype(STORAGES[name]).itemsize
            raw = f.read(count * itemsize) if count >= 0 else b""
            if count < 0 or len(raw) != count * itemsize:
                raise CheckpointError(f"{path}: truncated: storage {key!r} should hold {count} elements")
            storages[str(key)] = _decode(raw, name, order)

        def storage(key: str, name: str, view) -> np.ndarray:
            if key not in storages:
                raise CheckpointError(f"{path}: storage {key!r} is used by the pickle but not stored")
            if view is not None:  # (view_key, offset, size): a slice of the root storage
                return storages[key][view[1]: view[1] + view[2]]
            return storages[key]

        f.seek(start)
        return _Unpickler(f, path, storage).load()


def read_torch_bin(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a torch.save'd state dict (zip or legacy format), by name, as numpy arrays."""
    try:
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"
        state = _read_zip(path) if is_zip else _read_legacy(path)
    except CheckpointError:
        raise
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path}: zip archive truncated or corrupt ({exc})") from exc
    except (pickle.UnpicklingError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a torch.save checkpoint, or truncated or corrupt "
                              f"({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # struct/value errors on damaged data, OSError
        raise CheckpointError(f"{path}: cannot read the pickled state dict ({type(exc).__name__}: {exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, np.ndarray)}
