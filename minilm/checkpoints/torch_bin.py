"""Reading ``pytorch_model.bin`` (torch.save zip format) without torch and without running pickle code.

The pickle inside is read by an Unpickler that knows only the few globals a state dict needs
(tensor rebuilders, storage types, OrderedDict), each mapped to a small function of ours; any other
global (``os.system``, ``builtins.eval``, ...) is refused before anything is called.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

STORAGES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
            "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
            "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_ignored) -> np.ndarray:
    if not size:
        return np.array(storage[offset])
    itemsize = storage.itemsize
    end = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if end > storage.size:
        raise CheckpointError(f"a tensor of size {tuple(size)} runs past its storage of {storage.size} elements")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride))
    return np.ascontiguousarray(view)


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


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: Path):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise CheckpointError(f"{self.path}: refusing to load: the pickle asks for global '{module}.{name}', "
                                  "which is not tensor data; only tensors are read from pytorch_model.bin (no code is run). "
                                  "Convert the checkpoint to safetensors if you trust it.")
        return ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.path}: unexpected persistent id {pid!r} in the pickle")
        dtype = STORAGES[pid[1].name]
        try:
            raw = self.archive.read(f"{self.prefix}data/{pid[2]}")
        except (KeyError, zipfile.BadZipFile, OSError) as exc:
            raise CheckpointError(f"{self.path}: storage {pid[2]!r} is missing or corrupt ({exc})") from exc
        if dtype == "bfloat16":  # bfloat16 is the top half of a float32
            return (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        return np.frombuffer(raw, dtype)


def read_torch_bin(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a torch.save'd state dict (zip format), by name."""
    try:
        archive = zipfile.ZipFile(path)
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if not pickles:
            raise CheckpointError(f"{path}: no data.pkl inside; not a torch.save zip checkpoint")
        prefix = pickles[0][: -len("data.pkl")]
        with archive.open(pickles[0]) as f:
            state = _Unpickler(f, archive, prefix, path).load()
    except CheckpointError:
        raise
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path}: not a zip archive, truncated or corrupt ({exc}); the legacy (pre-1.6) "
                              "torch format is not read: re-save it with torch.save or convert it to safetensors") from exc
    except Exception as exc:  # pickle.UnpicklingError, EOFError, struct errors on damaged data
        raise CheckpointError(f"{path}: cannot read the pickled state dict ({type(exc).__name__}: {exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
