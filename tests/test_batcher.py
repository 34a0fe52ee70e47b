"""The Batcher's workers: several batches at once on fewer threads each, a lone batch on all of them.

No test waits for time to pass: the model's calls block until the test lets them go, and the test
acts when it sees the state it needs (a call running, the queue holding what it sent)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from minilm.server.app import batch_workers
from minilm.server.batcher import Batcher

TIMEOUT = 60  # seconds: only for a broken batcher, which would otherwise hang the test


class GatedModel:
    """encode_packed that records (texts, threads) as it starts, then blocks until released; each text
    gives its first id. ``running`` counts calls started and not yet released."""

    dim = 1

    def __init__(self):
        self.calls, self.running, self.cond, self.gates = [], 0, threading.Condition(), []

    def encode_packed(self, ids, normalize=None, threads=None):
        gate = threading.Event()
        with self.cond:
            self.calls.append((len(ids), threads))
            self.gates.append(gate)
            self.running += 1
            self.cond.notify_all()
        assert gate.wait(TIMEOUT), "the test never released this call"
        with self.cond:
            self.running -= 1
        return np.array([[x[0]] for x in ids], np.float32)

    async def until(self, predicate):
        """Wait (off the event loop) until predicate() holds; False after TIMEOUT."""
        def wait():
            with self.cond:
                return self.cond.wait_for(predicate, TIMEOUT)
        return await asyncio.to_thread(wait)

    def release_all(self):
        with self.cond:
            for gate in self.gates:
                gate.set()


async def queued(batcher, n):
    """Yield to the loop until the batcher's queue holds n items (it fills synchronously in embed)."""
    for _ in range(1000):
        if len(batcher.queue) == n:
            return True
        await asyncio.sleep(0)
    return False


def run_batcher(model, workers, threads, script):
    async def go():
        batcher = Batcher(model, workers=workers, threads=threads)
        batcher.start()
        try:
            return await script(batcher)
        finally:
            model.release_all()
            await batcher.stop()
    return asyncio.run(go())


def test_a_lone_batch_runs_on_all_threads_then_the_queue_is_split():
    model = GatedModel()

    async def script(batcher):
        first = asyncio.ensure_future(batcher.embed([[1, 2]]))
        assert await model.until(lambda: model.running == 1)  # the first batch runs alone
        rest = [asyncio.ensure_future(batcher.embed([[10 + i, 2]])) for i in range(10)]
        assert await queued(batcher, 10)  # all ten wait behind it
        assert model.calls == [(1, None)]  # nothing else started while the lone batch ran
        model.gates[0].set()
        assert await model.until(lambda: len(model.calls) == 3 and model.running == 2)  # the halves at the same time
        model.release_all()
        return await first, await asyncio.gather(*rest)

    first, rest = run_batcher(model, 2, 1, script)
    assert first.tolist() == [[1.0]] and [r.tolist() for r in rest] == [[[10.0 + i]] for i in range(10)]
    assert model.calls[0] == (1, None)  # alone: the model's own threads
    assert sorted(model.calls[1:]) == [(5, 1), (5, 1)]  # two workers, one thread each


def test_one_worker_takes_everything_queued_on_the_model_threads():
    model = GatedModel()

    async def script(batcher):
        first = asyncio.ensure_future(batcher.embed([[1, 2]]))
        assert await model.until(lambda: model.running == 1)
        rest = [asyncio.ensure_future(batcher.embed([[10 + i, 2]])) for i in range(6)]
        assert await queued(batcher, 6)
        model.gates[0].set()
        await first
        assert await model.until(lambda: len(model.calls) == 2)
        model.release_all()
        return await asyncio.gather(*rest)

    rest = run_batcher(model, 1, None, script)
    assert model.calls == [(1, None), (6, None)] and [r.tolist() for r in rest] == [[[10.0 + i]] for i in range(6)]


def test_stop_finishes_what_is_queued_with_two_workers():
    model = GatedModel()

    async def script(batcher):
        futures = [asyncio.ensure_future(batcher.embed([[i, 2]])) for i in range(7)]
        assert await model.until(lambda: model.running >= 1)  # a batch runs, the rest is queued
        stopping = asyncio.ensure_future(batcher.stop())  # stop while work is queued and running
        await asyncio.sleep(0)
        assert batcher.closing and not stopping.done()
        model.release_all()
        assert await model.until(lambda: sum(n for n, _ in model.calls) == 7)
        model.release_all()  # the calls that started after the first release
        await stopping
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
