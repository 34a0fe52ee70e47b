"""Reading checkpoints into Hugging Face tensor names, checked once against the config."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import BertConfig
from ..errors import CheckpointError
from .expected import expected_shapes
from .safetensors_file import read_safetensors

PREFIXES = ("model.0.auto_model.", "0.auto_model.", "bert.", "model.")  # longest first


LEGACY = {".gamma": ".weight", ".beta": ".bias"}  # LayerNorm names of the first BERT checkpoints (bert-base-uncased)


def _canonical(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Strip one known prefix (``bert.`` from BertForXxx checkpoints) so names match BertModel's; the
    head's own tensors (``classifier.*``, ``cls.predictions.*``) keep theirs. LayerNorm ``gamma`` /
    ``beta`` become ``weight`` / ``bias``, as transformers renames them on load."""
    out = {}
    for name, value in tensors.items():
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        for old, new in LEGACY.items():
            if name.endswith(old) and "LayerNorm" in name:
                name = name[: -len(old)] + new
        out[name] = value
    return out


def read_tensors(folder: Path) -> tuple[dict[str, np.ndarray], Path]:
    """Every tensor of the folder's checkpoint (model.safetensors, else pytorch_model.bin) under
    canonical names, unchecked, and the file read."""
    path, bin_path = folder / "model.safetensors", folder / "pytorch_model.bin"
    if not path.exists() and bin_path.exists():
        from .torch_bin import read_torch_bin
        return _canonical(read_torch_bin(bin_path)), bin_path
    if not path.exists():
        others = [p.name for p in folder.glob("*") if p.suffix in (".onnx", ".pt", ".h5")]
        hint = f" (found {', '.join(others)}: export it as safetensors, or load the .onnx file itself)" if others else ""
        raise CheckpointError(f"{path} is missing, and there is no pytorch_model.bin{hint}")
    return _canonical(read_safetensors(path)), path


def load_weights(folder: Path, cfg: BertConfig, extra: dict[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
    """float32 weights under BertModel names (and ``extra``: a head's names and shapes); raises
    CheckpointError naming file and tensor."""
    tensors, path = read_tensors(folder)
    return check_weights(tensors, cfg, path, extra)


def check_weights(tensors: dict[str, np.ndarray], cfg: BertConfig, path: Path,
                  extra: dict[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
    """The tensors the config needs (and ``extra``), checked for presence, shape and dtype, as float32."""
    pooler = "pooler.dense.weight" in tensors
    weights = {}
    for name, shape in (expected_shapes(cfg, pooler) | (extra or {})).items():
        if name not in tensors:
            raise CheckpointError(f"{path}: tensor {name!r} is missing (expected shape {list(shape)} from config.json)")
        value = tensors[name]
        if tuple(value.shape) != shape:
            raise CheckpointError(f"{path}: tensor {name!r} has shape {list(value.shape)} but config.json implies {list(shape)}")
        if value.dtype not in (np.float32, np.float16, np.float64):
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {value.dtype}; expected a float type (float32)")
        weights[name] = value if value.dtype == np.float32 else value.astype(np.float32)
    return weights


def read_onnx(path: Path, preset=None) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """Config and every recoverable tensor (canonical names, unchecked) of an exported BERT ``.onnx`` file."""
    from .onnx_file import infer_config, read_onnx_weights
    tensors, heads, eps = read_onnx_weights(path)
    tensors = _canonical(tensors)
    return infer_config(path, tensors, heads, eps, preset), tensors


def load_onnx(path: Path, preset=None) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """Config and weights from an exported BERT ``.onnx`` file."""
    cfg, tensors = read_onnx(path, preset)
    return cfg, check_weights(tensors, cfg, path)


__all__ = ["check_weights", "expected_shapes", "load_onnx", "load_weights", "read_onnx", "read_safetensors", "read_tensors"]
