"""Near duplicates: pairs above a cosine threshold, joined into groups by union-find.

A group is a connected component of the "score >= threshold" graph, so a chain a~b~c is one group
even when a and c are further apart; each member's score is its cosine with the group's
representative (its first occurrence, the lowest index). Memory: the vectors, one block of scores
(see minilm.search.pairs) and O(n) for the union-find, never an n x n matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .pairs import similar_pairs, unit_rows


@dataclass(frozen=True)
class Pair:
    i: int
    j: int
    score: float


@dataclass(frozen=True)
class Group:
    members: tuple[int, ...]  # ascending; members[0] is the representative
    scores: tuple[float, ...]  # cosine of each member with the representative (1.0 for itself)

    @property
    def representative(self) -> int:
        return self.members[0]


def duplicate_pairs(vectors, threshold: float = 0.9) -> Iterator[Pair]:
    """Every pair ``i < j`` with cosine >= threshold, in (i, j) order, streamed block by block."""
    for rows, cols, scores in similar_pairs(vectors, threshold):
        for i, j, score in zip(rows.tolist(), cols.tolist(), scores.tolist()):
            yield Pair(i, j, score)


def _root(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


def duplicate_groups(vectors, threshold: float = 0.9) -> list[Group]:
    """Groups of two or more texts linked by cosine >= threshold; largest first, then by representative."""
    unit = unit_rows(vectors)
    parent = np.arange(len(unit))
    for rows, cols, _ in similar_pairs(unit, threshold):
        for i, j in zip(rows.tolist(), cols.tolist()):
            a, b = _root(parent, i), _root(parent, j)
            if a != b:
                parent[max(a, b)] = min(a, b)  # the root is always the lowest index of its group
    roots = np.array([_root(parent, i) for i in range(len(unit))], dtype=np.int64)
    order = np.argsort(roots, kind="stable")
    starts = np.flatnonzero(np.r_[True, roots[order][1:] != roots[order][:-1]]) if len(order) else []
    groups = []
    for members in np.split(order, starts[1:]) if len(order) else []:
        if len(members) > 1:
            scores = np.minimum(unit[members] @ unit[members[0]], 1.0)
            groups.append(Group(tuple(members.tolist()), tuple(round(float(s), 6) for s in scores)))
    return sorted(groups, key=lambda g: (-len(g.members), g.representative))
