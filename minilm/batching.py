"""Cutting texts into model calls: longest first, each call bounded by a token budget.

The packed graph (models/packed.py) spends nothing on padding in its token-wise layers, so a call
may carry many short texts at once (bigger GEMMs run closer to the CPU's peak); only attention sees
the padded rectangle, ``texts x longest``, which the budget bounds. Texts are sorted by length, so
the texts of one call are alike and that rectangle is nearly full.
"""

from __future__ import annotations

# padded tokens per padded call (Embedder.encode): small enough for the CPU caches (docs/notes/performance.md)
MAX_BATCH_TOKENS = 1024
# padded tokens (texts x longest) per packed call (Embedder.encode_packed: a server's requests in
# flight). all-MiniLM-L6-v2 on ONNX Runtime, groups of 64 random one-sentence texts, CPU time of one
# thread: 768..2048 within 4% of each other, 4096 7-10% slower (attention on a padded rectangle
# 2.8x the real tokens in one call, against 1.7x in the two calls of 1024, e.g. 24 texts to 41 and
# 40 to 15); docs/server.md
TOKENS_PER_BATCH = 1024


def batches(lengths: list[int], batch_size: int | None = None, max_tokens: int = TOKENS_PER_BATCH) -> list[list[int]]:
    """Indices of ``lengths``, longest first, cut into calls of at most ``batch_size`` texts (no limit
    when None) whose padded size (texts x longest) stays within ``max_tokens`` (one text at least)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    cap = batch_size or len(order)
    out, start = [], 0
    while start < len(order):
        size = max(1, min(cap, max_tokens // max(1, lengths[order[start]])))
        out.append(order[start:start + size])
        start += size
    return out
