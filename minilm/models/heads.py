"""The BERT heads on top of the encoder, written against the WebNN builder like ``bert.py``.

Mirrors Hugging Face ``modeling_bert.py``: BertForSequenceClassification (``classifier`` on the pooled
output: dropout is the identity at inference) and BertForMaskedLM (BertOnlyMLMHead:
BertPredictionHeadTransform, then the decoder tied to the word embeddings plus ``cls.predictions.bias``).
The masked-LM head runs only at the positions asked for: its extra input ``positions`` (M,) holds flat
indices ``b * T + t`` into the batch, so its logits are (M, V), never (B, T, V) unless every position
is asked. B = batch, T = sequence, D = hidden, L = labels, V = vocabulary, M = positions asked.
"""

from __future__ import annotations

import numpy as np

from ..config import BertConfig
from ..graph import Graph, GraphBuilder, Operand
from .bert import B, T, activation, encoder, layer_norm, linear, pooler

M = "positions"
HEADS = ("sequence_classification", "masked_lm")
DECODER = "cls.predictions.decoder.weight"  # present only when not tied (tie_word_embeddings false)


def head_shapes(cfg: BertConfig, head: str, num_labels: int = 1, tied: bool = True) -> dict[str, tuple[int, ...]]:
    """The tensors a head adds to the encoder's, with their shapes, under Hugging Face names."""
    D = cfg.hidden_size
    if head == "sequence_classification":
        return {"pooler.dense.weight": (D, D), "pooler.dense.bias": (D,),
                "classifier.weight": (num_labels, D), "classifier.bias": (num_labels,)}
    if head == "masked_lm":
        p = "cls.predictions."
        shapes = {p + "transform.dense.weight": (D, D), p + "transform.dense.bias": (D,),
                  p + "transform.LayerNorm.weight": (D,), p + "transform.LayerNorm.bias": (D,),
                  p + "bias": (cfg.vocab_size,)}
        return shapes if tied else shapes | {DECODER: (cfg.vocab_size, D)}
    raise ValueError(f"head {head!r} is not one of {', '.join(HEADS)}")


def sequence_classification(g: GraphBuilder, x: Operand, w) -> Operand:
    # classifier(dropout(pooler_output)): (B, T, D) -> (B, L)
    return linear(g, pooler(g, x, w), w, "classifier")


def masked_lm(g: GraphBuilder, x: Operand, positions: Operand, w, cfg: BertConfig, tied: bool) -> Operand:
    """BertOnlyMLMHead at the flat positions asked: (B, T, D), (M,) -> (M, V)."""
    h = g.gather(g.reshape(x, [f"{B}*{T}", cfg.hidden_size]), positions)           # (M, D)
    # BertPredictionHeadTransform: dense, the config's activation, LayerNorm
    h = activation(g, linear(g, h, w, "cls.predictions.transform.dense"), cfg.hidden_act)
    h = layer_norm(g, h, w, "cls.predictions.transform.LayerNorm", cfg.layer_norm_eps)  # (M, D)
    # BertLMPredictionHead.decoder: the word embeddings (V, D) as an nn.Linear weight, plus its own bias
    decoder = w("embeddings.word_embeddings.weight" if tied else DECODER)
    return g.add(g.matmul(h, g.transpose(decoder)), w("cls.predictions.bias"))      # (M, V)


def build(cfg: BertConfig, weights: dict[str, np.ndarray], head: str, tied: bool = True) -> Graph:
    """The graph from token ids (and, for masked_lm, ``positions``) to ``logits``."""
    g = GraphBuilder(head)
    w = lambda key: g.constant(weights[key], name=key)
    x, _ = encoder(g, cfg, w)                                                       # (B, T, D)
    if head == "sequence_classification":
        return g.build({"logits": sequence_classification(g, x, w)})               # (B, L)
    if head == "masked_lm":
        positions = g.input("positions", "int64", [M])
        return g.build({"logits": masked_lm(g, x, positions, w, cfg, tied)})       # (M, V)
    raise ValueError(f"head {head!r} is not one of {', '.join(HEADS)}")
