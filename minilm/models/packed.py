"""BERT on packed tokens: the same network as ``bert.py`` with no compute spent on padding.

The texts of a batch are concatenated into one row of N real tokens. Everything that works token by
token (embeddings, the Q/K/V and output projections, LayerNorm, the feed-forward block: ~95% of the
FLOPs) runs on (N, D); only attention, which mixes tokens of one text, sees a padded (B, T) layout,
gathered through ``pad_index`` and scattered back through ``unpad_index``. For a batch of texts of
uneven length this removes the padding cost that length-sorting alone cannot (a server's batch is
whatever requests are in flight), and lets one call carry many texts. The results equal the padded
graph's: padded slots are masked out of attention and never gathered back.

Inputs, from ``feeds``: ``input_ids``, ``token_type_ids``, ``position_ids`` (N,); ``attention_mask``
(B, T); ``pad_index`` (B, T): the packed row of each slot (0 for padding); ``unpad_index`` (N,): the
flat slot b * T + t of each packed token.
"""

from __future__ import annotations

import numpy as np

from ..config import BertConfig
from ..graph import Graph, GraphBuilder, Operand
from .bert import B, T, l2_normalize, layer_norm, output_and_feed_forward, pool, self_attention

N, BT = "tokens", f"{B}*{T}"


def encoder_layer(g: GraphBuilder, x: Operand, mask: Operand, pad_index: Operand, unpad_index: Operand,
                  w, cfg: BertConfig, i: int) -> Operand:
    p = f"encoder.layer.{i}."
    ctx = self_attention(g, x, mask, w, p, cfg, padded=lambda t: g.gather(t, pad_index))  # (B, T, H, Dh)
    ctx = g.gather(g.reshape(ctx, [BT, cfg.hidden_size]), unpad_index)              # (B*T, D) -> (N, D)
    return output_and_feed_forward(g, x, ctx, w, p, cfg)                            # (N, D)


def build(cfg: BertConfig, weights: dict[str, np.ndarray], pooling: str = "mean", normalize: bool = True) -> Graph:
    """The packed graph from token ids to ``sentence_embedding`` (B, D)."""
    g = GraphBuilder("bert_packed")
    w = lambda key: g.constant(weights[key], name=key)  # noqa: E731
    input_ids = g.input("input_ids", "int64", [N])
    token_type_ids = g.input("token_type_ids", "int64", [N])
    position_ids = g.input("position_ids", "int64", [N])
    attention_mask = g.input("attention_mask", "int64", [B, T])
    pad_index = g.input("pad_index", "int64", [B, T])
    unpad_index = g.input("unpad_index", "int64", [N])

    # BertEmbeddings: word + position + token type, then LayerNorm                  # (N, D)
    x = g.add(g.add(g.gather(w("embeddings.word_embeddings.weight"), input_ids),
                    g.gather(w("embeddings.position_embeddings.weight"), position_ids)),
              g.gather(w("embeddings.token_type_embeddings.weight"), token_type_ids))
    x = layer_norm(g, x, w, "embeddings.LayerNorm", cfg.layer_norm_eps)

    maskf = g.cast(attention_mask, "float32")                                       # (B, T)
    additive = g.mul(g.sub(g.constant(np.float32(1)), maskf), g.constant(np.finfo(np.float32).min))
    additive = g.reshape(additive, [B, 1, 1, T])                                    # (B, 1, 1, T)

    for i in range(cfg.num_hidden_layers):
        x = encoder_layer(g, x, additive, pad_index, unpad_index, w, cfg, i)        # (N, D)

    padded = g.gather(x, pad_index)                                                 # (B, T, D)
    pooled = pool(g, padded, g.reshape(maskf, [B, T, 1]), pooling, cfg.max_position_embeddings)  # (B, D)
    return g.build({"sentence_embedding": l2_normalize(g, pooled) if normalize else pooled})


def feeds(batch: list[list[int]], pad_token_id: int = 0) -> dict[str, np.ndarray]:
    """The packed graph's inputs for token-id lists (each with [CLS] ... [SEP])."""
    lengths = np.array([len(x) for x in batch], np.int64)
    width = int(lengths.max())
    slot = np.arange(width)
    attention_mask = (slot[None, :] < lengths[:, None]).astype(np.int64)          # (B, T)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pad_index = np.where(attention_mask == 1, starts[:, None] + slot[None, :], 0)  # (B, T)
    rows = np.repeat(np.arange(len(batch)), lengths)
    position_ids = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)      # (N,)
    input_ids = np.fromiter((t for x in batch for t in x), np.int64, int(lengths.sum()))
    return {"input_ids": input_ids, "token_type_ids": np.zeros_like(input_ids), "position_ids": position_ids,
            "attention_mask": attention_mask, "pad_index": pad_index.astype(np.int64),
            "unpad_index": rows * width + position_ids}
