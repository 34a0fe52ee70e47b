"""Writes a small random BERT folder (config, safetensors, vocab.txt) for error tests, and the random
weights of the L12-shaped parity check (tools/make_fixtures.py runs the same weights in transformers).

The weights are sharp: LayerNorm weights near 1 (and biases near 0) keep each layer's signal, so the
outputs vary across tokens and texts far more than any test's tolerance. With LayerNorm weights drawn
around 0 like the other tensors, every token's state was the same to 1e-7 and a model that ignored
its input ids, or had no attention, still passed.
"""

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
L12_IDS = [[2, 31, 32, 3], [2] + [5 + (i * 7) % 27 for i in range(40)] + [3], [2, 3], [2] + [5 + (i * 7) % 27 for i in range(40)] + [3]]
L12_TYPES = [[0] * 4, [0] * 42, [0] * 2, [0] * 21 + [1] * 21]  # the last: the ids of the second as a pair, segment B typed 1
L12_SCALE = 0.05  # about 1 / sqrt(hidden_size): q . k / sqrt(head_size) stays of order 1


def random_weights(config: dict = CONFIG, seed: int = 0, scale: float = 0.3) -> dict[str, np.ndarray]:
    """N(0, scale) tensors of ``config``'s shapes (pooler included); LayerNorm weights N(1, 0.1), biases N(0, 0.1)."""
    cfg = BertConfig(**{k: v for k, v in config.items() if k != "model_type"})
    rng = np.random.default_rng(seed)
    weights = {}
    for key, shape in expected_shapes(cfg, pooler=True).items():
        mean, std = (1.0, 0.1) if key.endswith("LayerNorm.weight") else (0.0, 0.1) if key.endswith("LayerNorm.bias") else (0.0, scale)
        weights[key] = rng.normal(mean, std, size=shape).astype(np.float32)
    return weights


def write_tiny_model(folder: Path, weights: dict | None = None, config: dict = CONFIG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    save_file(random_weights(config) if weights is None else weights, str(folder / "model.safetensors"))
    return folder
