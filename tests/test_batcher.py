"""The Batcher's workers: several batches at once on fewer threads each, a lone batch on all of them."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from minilm.server.app import batch_workers
from minilm.server.batcher import Batcher


class SlowModel:
    """encode_packed that records (texts, threads, start, end) and returns each text's first id."""

    dim = 1

    def __init__(self, seconds: float):
        self.seconds, self.calls, self.lock = seconds, [], threading.Lock()

    def encode_packed(self, ids, normalize=None, threads=None):
        start = time.perf_counter()
        time.sleep(self.seconds)
        with self.lock:
            self.calls.append((len(ids), threads, start, time.perf_counter()))
        return np.array([[x[0]] for x in ids], np.float32)


def run_batcher(model, workers, threads, script):
    async def go():
        batcher = Batcher(model, workers=workers, threads=threads)
        batcher.start()
        try:
            return await script(batcher)
        finally:
            await batcher.stop()
    return asyncio.run(go())


def test_a_lone_batch_runs_on_all_threads_then_the_queue_is_split():
    model = SlowModel(0.2)

    async def script(batcher):
        first = asyncio.ensure_future(batcher.embed([[1, 2]]))
        await asyncio.sleep(0.05)  # the first batch runs alone; these ten queue behind it
        rest = [asyncio.ensure_future(batcher.embed([[10 + i, 2]])) for i in range(10)]
        return await first, await asyncio.gather(*rest)

    first, rest = run_batcher(model, 2, 1, script)
    assert first.tolist() == [[1.0]] and [r.tolist() for r in rest] == [[[10.0 + i]] for i in range(10)]
    (n0, t0, s0, e0), *split = sorted(model.calls, key=lambda c: c[2])
    assert (n0, t0) == (1, None)  # alone: the model's own threads
    assert sorted((n, t) for n, t, _, _ in split) == [(5, 1), (5, 1)]  # two workers, one thread each
    assert all(s >= e0 for _, _, s, _ in split)  # nothing started while the lone batch ran
    (_, _, s1, e1), (_, _, s2, _) = sorted(split, key=lambda c: c[2])
    assert s2 < e1  # the two halves ran at the same time


def test_one_worker_takes_everything_queued_on_the_model_threads():
    model = SlowModel(0.1)

    async def script(batcher):
        first = asyncio.ensure_future(batcher.embed([[1, 2]]))
        await asyncio.sleep(0.03)
        rest = [asyncio.ensure_future(batcher.embed([[10 + i, 2]])) for i in range(6)]
        await first
        return await asyncio.gather(*rest)

    run_batcher(model, 1, None, script)
    assert [(n, t) for n, t, _, _ in sorted(model.calls, key=lambda c: c[2])] == [(1, None), (6, None)]


def test_stop_finishes_what_is_queued_with_two_workers():
    model = SlowModel(0.05)

    async def script(batcher):
        futures = [asyncio.ensure_future(batcher.embed([[i, 2]])) for i in range(7)]
        await asyncio.sleep(0)
        return futures

    futures = run_batcher(model, 2, 1, script)
    assert [f.result().tolist() for f in futures] == [[[float(i)]] for i in range(7)]


@pytest.mark.parametrize("threads, workers, expected", [(2, None, (2, 1)), (1, None, (1, None)), (2, 1, (1, None)),
                                                        (4, None, (2, 2)), (2, 3, (3, 1))])
def test_batch_workers_default_and_explicit(ort_embedder, monkeypatch, threads, workers, expected):
    executor = ort_embedder.executor("sentence_embedding", ort_embedder.pipeline.normalize)
    monkeypatch.setattr(executor, "threads", threads)
    assert batch_workers(ort_embedder, workers) == expected


def test_batch_workers_is_one_without_packed_batches(ort_embedder, monkeypatch):
    monkeypatch.setattr(ort_embedder, "encode_packed", None)
    assert batch_workers(ort_embedder, None) == (1, None)


def test_serve_workers_option_reaches_the_settings(monkeypatch, capsys):
    from minilm.cli import main as cli
    seen = {}
    monkeypatch.setattr("minilm.server.serve", lambda model, host, port, **settings: seen.update(settings))
    assert cli.main(["serve", "--workers", "3"]) == 0 and seen["workers"] == 3
    assert cli.main(["serve"]) == 0 and seen["workers"] is None  # the default: batch_workers decides
    assert cli.main(["serve", "--workers", "0"]) == 2
    assert "expected a positive integer" in capsys.readouterr().err
