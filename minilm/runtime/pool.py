"""Batches run on a thread pool with results in order: the executors' ``run_many`` (their runtimes release the GIL)."""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator


def in_order(pool, run: Callable, batches: Iterable, outputs, workers: int) -> Iterator[dict]:
    """``run(feeds, outputs)`` for each batch on ``pool``, at most ``workers`` + 1 submitted at once (the next
    batch's feeds are built while the current ones run); results in the batches' order."""
    pending: deque = deque()
    for feeds in batches:
        pending.append(pool.submit(run, feeds, outputs))
        if len(pending) > workers:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
