"""A stand-in for ``minilm.index`` (built on another branch): ``Index.open(path).search(query, k)``
returning results with ``.id``, ``.score``, ``.text``, scored by the real embedder over a few texts."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import numpy as np

CORPUS = ["The cat sits on the mat", "A dog sleeps in the garden", "Stock markets fell sharply today",
          "Python is a programming language", "It is raining in London", "Kittens like to play with yarn"]


@dataclass
class Result:
    id: int
    score: float
    text: str


def install(monkeypatch, embedder, corpus=CORPUS) -> list:
    """Put a fake ``minilm.index`` module in sys.modules; returns the list of paths opened."""
    opened = []
    vectors = embedder.encode(list(corpus))

    class Index:
        @classmethod
        def open(cls, path):
            opened.append(path)
            return cls()

        def search(self, query, k=10):
            scores = vectors @ embedder.encode(query)
            order = np.argsort(-scores)[:k]
            return [Result(np.int64(i), np.float32(scores[i]), corpus[i]) for i in order]

    module = types.ModuleType("minilm.index")
    module.Index = Index
    monkeypatch.setitem(sys.modules, "minilm.index", module)
    return opened
