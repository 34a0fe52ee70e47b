"""The tensors a BERT checkpoint must hold, with their shapes, under Hugging Face names."""

from __future__ import annotations

from ..config import BertConfig


def expected_shapes(cfg: BertConfig, pooler: bool) -> dict[str, tuple[int, ...]]:
    D, I = cfg.hidden_size, cfg.intermediate_size
    shapes = {
        "embeddings.word_embeddings.weight": (cfg.vocab_size, D),
        "embeddings.position_embeddings.weight": (cfg.max_position_embeddings, D),
        "embeddings.token_type_embeddings.weight": (cfg.type_vocab_size, D),
        "embeddings.LayerNorm.weight": (D,),
        "embeddings.LayerNorm.bias": (D,),
    }
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + name + ".weight"] = (D, D)
            shapes[p + name + ".bias"] = (D,)
        shapes[p + "intermediate.dense.weight"] = (I, D)
        shapes[p + "intermediate.dense.bias"] = (I,)
        shapes[p + "output.dense.weight"] = (D, I)
        shapes[p + "output.dense.bias"] = (D,)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + ln + ".weight"] = (D,)
            shapes[p + ln + ".bias"] = (D,)
    if pooler:
        shapes["pooler.dense.weight"] = (D, D)
        shapes["pooler.dense.bias"] = (D,)
    return shapes
