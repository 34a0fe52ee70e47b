"""Retrieve, then rerank: an index's nearest texts reordered by a cross-encoder.

Retrieval by embeddings is fast and approximate about relevance; a cross-encoder reads query and text
together and scores better, at one model call per pair. So: take the index's top ``candidates`` (100
by default), score each (query, text) pair with the cross-encoder, keep the best ``k``. A result's
``score`` is then the cross-encoder's (its default activation, as sentence-transformers' rank gives),
and ``retrieval_score`` the cosine that brought it in.
"""

from __future__ import annotations

from typing import Any, NamedTuple

CANDIDATES = 100


class Reranked(NamedTuple):
    id: Any
    score: float
    text: str
    metadata: dict | None
    retrieval_score: float


def rerank(query: str, found: list, cross_encoder, k: int, batch_size: int = 32) -> list[Reranked]:
    """``found`` (index Results, best first) reordered by ``cross_encoder.rank``, the best ``k``."""
    ranked = cross_encoder.rank(query, [r.text for r in found], top_k=k, batch_size=batch_size)
    return [Reranked(found[r["corpus_id"]].id, r["score"], found[r["corpus_id"]].text, found[r["corpus_id"]].metadata,
                     found[r["corpus_id"]].score) for r in ranked]


def search(index, queries: list[str], cross_encoder, k: int = 10, candidates: int = CANDIDATES,
           exact: bool | None = None) -> list[list[Reranked]]:
    """For each query: the index's ``max(candidates, k)`` nearest, reranked, the best ``k``."""
    retrieved = index.search(list(queries), k=max(candidates, k), exact=exact)
    return [rerank(q, found, cross_encoder, k) for q, found in zip(queries, retrieved)]
