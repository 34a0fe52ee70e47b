"""A stand-in for ``minilm.search.index`` for the playground route tests: ``Index.open(path).search(query, k)``
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


def fake_module(embedder=None, corpus=CORPUS, opened: list | None = None) -> types.ModuleType:
    """A module with ``Index``; without an embedder it loads the default model on first open."""

    class Index:
        @classmethod
        def open(cls, path):
            if opened is not None:
                opened.append(path)
            return cls()

        def __init__(self):
            import minilm
            self.embedder = embedder or minilm.load()
            self.vectors = self.embedder.encode(list(corpus))

        def search(self, query, k=10):
            scores = self.vectors @ self.embedder.encode(query)
            order = np.argsort(-scores)[:k]
            return [Result(np.int64(i), np.float32(scores[i]), corpus[i]) for i in order]

    module = types.ModuleType("minilm.search.index")
    module.Index = Index
    return module


def install(monkeypatch, embedder, corpus=CORPUS) -> list:
    """Put a fake ``minilm.search.index`` module in sys.modules; returns the list of paths opened."""
    opened = []
    monkeypatch.setitem(sys.modules, "minilm.search.index", fake_module(embedder, corpus, opened))
    return opened


if __name__ == "__main__":  # python tests/fakeindex.py serve ...: `minilm serve` with this fake index
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's minilm, as `python -m minilm` from it
    sys.modules["minilm.search.index"] = fake_module()
    from minilm.cli.main import main
    sys.exit(main(sys.argv[1:]))
