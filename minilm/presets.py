"""Known MiniLM checkpoints: their shapes and sentence-transformers settings.

Used to validate what is loaded (a folder whose name is a preset must have that shape) and to fill
in what a bare ONNX file does not say (heads, max length, pooling, normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    num_hidden_layers: int
    hidden_size: int = 384
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_seq_length: int = 128
    pooling: str = "mean"
    normalize: bool = False


PRESETS = {
    "paraphrase-MiniLM-L3-v2": Preset(3),
    "paraphrase-MiniLM-L6-v2": Preset(6),
    "all-MiniLM-L6-v2": Preset(6, max_seq_length=256, normalize=True),
    "all-MiniLM-L12-v2": Preset(12, max_seq_length=256, normalize=True),
}


def find_preset(name: str) -> tuple[str, Preset] | None:
    """The preset whose name ends ``name`` (a hub id, folder or file stem), case-insensitive."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    for key, preset in PRESETS.items():
        if base == key.lower() or base.startswith(key.lower() + "."):
            return key, preset
    return None


def preset_pipeline(preset: Preset, config):
    from .config import PipelineConfig
    return PipelineConfig(max_seq_length=min(preset.max_seq_length, config.max_position_embeddings),
                          pooling=preset.pooling, normalize=preset.normalize)


def check_preset(found: tuple[str, Preset], config, path) -> None:
    """A model named after a preset must have its shape."""
    from .errors import ConfigError
    name, preset = found
    for field in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"):
        if getattr(config, field) != getattr(preset, field):
            raise ConfigError(f"{path}: named like {name} but has {field}={getattr(config, field)} "
                              f"(a {name} has {getattr(preset, field)}); rename it or fix its config.json")
