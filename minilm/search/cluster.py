"""Clusters by community detection over cosine similarity, in bounded memory.

The algorithm of sentence-transformers' ``util.community_detection`` (same inputs, same
communities), in two passes over row blocks so no ``n x n`` matrix nor every row's neighbour list is
ever held:

1. For each text, count its neighbours with cosine >= threshold (itself included).
2. Texts with at least ``min_size`` neighbours are seeds, taken by count, largest first (ties: lower
   index first). A seed already in a community is skipped; otherwise its neighbours not yet in a
   community form a new one when there are still ``min_size`` of them.

Communities come out largest first; each lists its seed, then the others by cosine with the seed.
Differences from sentence-transformers: scores within ``minilm.search.pairs.TOLERANCE`` (1e-6) below the
threshold count, so threshold 1.0 groups identical texts; ties in cosine are ordered by index.
``Cluster.central`` is the member with the highest mean cosine to the whole cluster (not the seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pairs import TOLERANCE, block_rows, check_threshold, row_blocks, unit_rows


@dataclass(frozen=True)
class Cluster:
    members: tuple[int, ...]  # the seed first, then by cosine with the seed, best first
    central: int  # the member with the highest mean cosine to the cluster
    centrality: float  # that mean cosine

    @property
    def seed(self) -> int:
        return self.members[0]


def _check_min_size(min_size) -> int:
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ValueError(f"min_size must be a positive integer, got {min_size!r}")
    return min_size


def communities(vectors, threshold: float = 0.75, min_size: int = 10) -> list[list[int]]:
    """Lists of indices, largest first; each starts with its seed (as sentence-transformers' does)."""
    limit = check_threshold(threshold) - TOLERANCE
    min_size = _check_min_size(min_size)
    unit = unit_rows(vectors)
    n = len(unit)
    if n < min_size:
        return []
    counts = np.zeros(n, np.int64)
    for rows, scores in row_blocks(unit):  # pass 1: neighbour counts
        counts[rows] = (scores >= limit).sum(1)
    seeds = np.flatnonzero(counts >= min_size)
    seeds = seeds[np.lexsort((seeds, -counts[seeds]))]
    used = np.zeros(n, bool)
    found: list[list[int]] = []
    step, at = block_rows(n), 0
    while at < len(seeds):  # pass 2: the next block of seeds not yet taken, greedy in seed order
        block = []
        while at < len(seeds) and len(block) < step:
            if not used[seeds[at]]:
                block.append(seeds[at])
            at += 1
        for seed, row in zip(block, unit[block] @ unit.T):
            if used[seed]:
                continue
            members = np.flatnonzero((row >= limit) & ~used)
            if len(members) < min_size:
                continue
            members = members[members != seed]
            members = members[np.lexsort((members, -row[members]))]
            community = [int(seed)] + members.tolist()
            used[community] = True
            found.append(community)
    return sorted(found, key=len, reverse=True)


def clusters(vectors, threshold: float = 0.75, min_size: int = 10) -> list[Cluster]:
    """communities() with each cluster's most central member (highest mean cosine to its cluster)."""
    unit = unit_rows(vectors)
    result = []
    for members in communities(unit, threshold, min_size):
        block = unit[members]
        mean = block @ block.sum(0) / len(members)  # mean cosine of each member to all members, O(size * dim)
        best = int(np.argmax(mean))
        result.append(Cluster(tuple(members), members[best], round(float(mean[best]), 6)))
    return result
