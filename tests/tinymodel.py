"""Writes a small random BERT folder (config, safetensors, vocab.txt) for error tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from minilm.checkpoints import expected_shapes
from minilm.config import BertConfig

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz") + ["hello", "world"]
CONFIG = dict(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=24, max_position_embeddings=32, type_vocab_size=2, model_type="bert")


L12_CONFIG = dict(CONFIG, hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536, max_position_embeddings=64)
L12_IDS = [[2, 31, 32, 3], [2] + [5 + (i * 7) % 27 for i in range(40)] + [3], [2, 3]]


def random_weights(config: dict = CONFIG, seed: int = 0, scale: float = 0.3) -> dict[str, np.ndarray]:
    cfg = BertConfig(**{k: v for k, v in config.items() if k != "model_type"})
    rng = np.random.default_rng(seed)
    return {k: rng.normal(scale=scale, size=s).astype(np.float32) for k, s in expected_shapes(cfg, pooler=True).items()}


def write_tiny_model(folder: Path, weights: dict | None = None, config: dict = CONFIG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    save_file(random_weights(config) if weights is None else weights, str(folder / "model.safetensors"))
    return folder
