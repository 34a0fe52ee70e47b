"""The BERT encoder and sentence-transformers pooling, written once against the WebNN builder.

Mirrors Hugging Face ``modeling_bert.py`` (BertEmbeddings, BertSelfAttention, BertSelfOutput,
BertIntermediate, BertOutput, BertPooler) and sentence-transformers ``models/Pooling.py`` /
``models/Normalize.py``. Weights are read under their checkpoint names. B = batch, T = sequence,
D = hidden, H = heads, Dh = head size, I = intermediate.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import BertConfig
from ..graph import Graph, GraphBuilder, Operand

B, T = "batch", "sequence"
OUTPUTS = ("sentence_embedding", "token_embeddings", "pooler_output")


def linear(g: GraphBuilder, x: Operand, w: dict, key: str) -> Operand:
    # nn.Linear: x @ W^T + b; the checkpoint stores W as (out, in)
    return g.add(g.matmul(x, g.transpose(w(key + ".weight"))), w(key + ".bias"))


def layer_norm(g: GraphBuilder, x: Operand, w, key: str, eps: float) -> Operand:
    return g.layerNormalization(x, w(key + ".weight"), w(key + ".bias"), axes=[-1], epsilon=eps)


def activation(g: GraphBuilder, x: Operand, name: str) -> Operand:
    if name == "relu":
        return g.relu(x)
    if name == "gelu":  # exact erf GELU, HF ACT2FN["gelu"]
        return g.gelu(x)
    # gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    c = lambda v: g.constant(np.float32(v))  # noqa: E731
    inner = g.mul(c(math.sqrt(2 / math.pi)), g.add(x, g.mul(c(0.044715), g.pow(x, c(3.0)))))
    return g.mul(g.mul(c(0.5), x), g.add(c(1.0), g.tanh(inner)))


def self_attention(g: GraphBuilder, x: Operand, mask: Operand, w, p: str, cfg: BertConfig, padded=None) -> Operand:
    """BertSelfAttention: x (.., D) -> context (B, T, H, Dh). ``padded`` lays a projection out as
    (B, T, D) (the packed graph gathers its tokens; here x already is)."""
    H, Dh = cfg.num_attention_heads, cfg.head_size

    def heads(t):  # (B, T, D) -> (B, H, T, Dh)
        return g.transpose(g.reshape(padded(t) if padded else t, [B, T, H, Dh]), [0, 2, 1, 3])

    q = heads(linear(g, x, w, p + "attention.self.query"))                          # (B, H, T, Dh)
    k = heads(linear(g, x, w, p + "attention.self.key"))                            # (B, H, T, Dh)
    v = heads(linear(g, x, w, p + "attention.self.value"))                          # (B, H, T, Dh)
    scores = g.matmul(q, g.transpose(k, [0, 1, 3, 2]))                              # (B, H, T, T)
    scores = g.add(g.mul(scores, g.constant(np.float32(1 / math.sqrt(Dh)))), mask)  # (B, H, T, T)
    ctx = g.matmul(g.softmax(scores, axis=3), v)                                    # (B, H, T, Dh)
    return g.transpose(ctx, [0, 2, 1, 3])                                           # (B, T, H, Dh)


def encoder_layer(g: GraphBuilder, x: Operand, mask: Operand, w, cfg: BertConfig, i: int) -> Operand:
    p = f"encoder.layer.{i}."
    ctx = g.reshape(self_attention(g, x, mask, w, p, cfg), [B, T, cfg.hidden_size])  # (B, T, D)
    return output_and_feed_forward(g, x, ctx, w, p, cfg)                            # (B, T, D)


def output_and_feed_forward(g: GraphBuilder, x: Operand, ctx: Operand, w, p: str, cfg: BertConfig) -> Operand:
    """BertSelfOutput, BertIntermediate, BertOutput: token by token, so x and ctx are (.., D)."""
    x = layer_norm(g, g.add(linear(g, ctx, w, p + "attention.output.dense"), x),    # (.., D)
                   w, p + "attention.output.LayerNorm", cfg.layer_norm_eps)
    h = activation(g, linear(g, x, w, p + "intermediate.dense"), cfg.hidden_act)    # (.., I)
    return layer_norm(g, g.add(linear(g, h, w, p + "output.dense"), x),            # (.., D)
                      w, p + "output.LayerNorm", cfg.layer_norm_eps)


def pool(g: GraphBuilder, x: Operand, maskf: Operand, mode: str, max_positions: int) -> Operand:
    """sentence-transformers Pooling: x (B, T, D), maskf (B, T, 1) float -> (B, D)."""
    if mode == "cls":
        return g.gather(x, g.constant(np.int64(0), "int64"), axis=1)               # (B, D)
    if mode == "max":  # padded tokens are set to -1e9 before the max, as Pooling.forward does
        keep = g.greater(maskf, g.constant(np.float32(0)))                          # (B, T, 1) uint8
        return g.reduceMax(g.where(keep, x, g.constant(np.float32(-1e9))), axes=[1])  # (B, D)
    def positions():  # 1..T as (1, T, 1), for the position-aware modes only
        return g.reshape(g.slice(g.constant(np.arange(1, max_positions + 1, dtype=np.float32)), [0], [T]), [1, T, 1])

    if mode == "lasttoken":  # the last real token of each (right-padded) text
        last = g.reduceSum(maskf, axes=[1], keepDimensions=True)                   # (B, 1, 1) = length
        pick = g.cast(g.equal(positions(), last), "float32")                        # (B, T, 1) one-hot
        return g.reduceSum(g.mul(x, pick), axes=[1])                               # (B, D)
    if mode == "weightedmean":  # position-weighted mean, weights 1..T
        maskf = g.mul(maskf, positions())                                          # (B, T, 1)
    summed = g.reduceSum(g.mul(x, maskf), axes=[1])                                # (B, D)
    count = g.clamp(g.reduceSum(maskf, axes=[1]), minValue=1e-9)                   # (B, 1)
    if mode == "mean_sqrt_len_tokens":
        return g.div(summed, g.sqrt(count))                                        # (B, D)
    return g.div(summed, count)                                                    # (B, D)


def l2_normalize(g: GraphBuilder, x: Operand) -> Operand:
    # torch.nn.functional.normalize(p=2, dim=1, eps=1e-12): x / max(||x||, eps)
    norm = g.sqrt(g.reduceSum(g.mul(x, x), axes=[1], keepDimensions=True))          # (B, 1)
    return g.div(x, g.clamp(norm, minValue=1e-12))


def encoder(g: GraphBuilder, cfg: BertConfig, w) -> tuple[Operand, Operand]:
    """Inputs input_ids, attention_mask, token_type_ids (B, T) -> the last hidden state (B, T, D) and the
    float attention mask (B, T). ``w(key)`` is the constant of a checkpoint tensor."""
    input_ids = g.input("input_ids", "int64", [B, T])
    attention_mask = g.input("attention_mask", "int64", [B, T])
    token_type_ids = g.input("token_type_ids", "int64", [B, T])

    # BertEmbeddings: word + position + token type, then LayerNorm                  # (B, T, D)
    positions = g.slice(w("embeddings.position_embeddings.weight"), [0, 0], [T, cfg.hidden_size])  # (T, D)
    x = g.add(g.add(g.gather(w("embeddings.word_embeddings.weight"), input_ids), positions),
              g.gather(w("embeddings.token_type_embeddings.weight"), token_type_ids))
    x = layer_norm(g, x, w, "embeddings.LayerNorm", cfg.layer_norm_eps)

    # extended attention mask: (1 - mask) * finfo(float32).min, as get_extended_attention_mask  # (B, 1, 1, T)
    maskf = g.cast(attention_mask, "float32")                                       # (B, T)
    additive = g.mul(g.sub(g.constant(np.float32(1)), maskf), g.constant(np.finfo(np.float32).min))
    additive = g.reshape(additive, [B, 1, 1, T])

    for i in range(cfg.num_hidden_layers):
        x = encoder_layer(g, x, additive, w, cfg, i)                                # (B, T, D)
    return x, maskf


def pooler(g: GraphBuilder, x: Operand, w) -> Operand:
    """BertPooler: tanh(dense(x[:, 0])), (B, T, D) -> (B, D)."""
    cls = g.gather(x, g.constant(np.int64(0), "int64"), axis=1)                    # (B, D)
    return g.tanh(linear(g, cls, w, "pooler.dense"))


def build(cfg: BertConfig, weights: dict[str, np.ndarray], pooling: str = "mean", normalize: bool = True,
          outputs: tuple[str, ...] = ("sentence_embedding",)) -> Graph:
    """The graph from token ids to the requested outputs (see OUTPUTS)."""
    g = GraphBuilder("bert")
    w = lambda key: g.constant(weights[key], name=key)  # noqa: E731
    x, maskf = encoder(g, cfg, w)                                                   # (B, T, D), (B, T)
    result = {}
    if "token_embeddings" in outputs:
        result["token_embeddings"] = x
    if "sentence_embedding" in outputs:
        pooled = pool(g, x, g.reshape(maskf, [B, T, 1]), pooling, cfg.max_position_embeddings)  # (B, D)
        result["sentence_embedding"] = l2_normalize(g, pooled) if normalize else pooled
    if "pooler_output" in outputs:
        result["pooler_output"] = pooler(g, x, w)                                  # (B, D)
    return g.build(result)
