"""The Batcher's order and its end: a small request waits for one batch of a huge one, not for all of
it; a request's later chunks are never refused as queue-full; abort (a drain's deadline) fails what is
queued or running at once. Synchronised on the model's calls (a gate the test opens), not on time."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from minilm.server.batcher import Batcher, QueueFullError, ShuttingDownError

WAIT = 30  # seconds: only a safety net, every step waits for an observed state


class GatedModel:
    """encode_packed that records each call's first ids and returns only when the test opens the gate."""

    dim = 1

    def __init__(self):
        self.calls, self.started, self.gate = [], threading.Semaphore(0), threading.Semaphore(0)

    def encode_packed(self, ids, normalize=None, threads=None):
        self.calls.append([x[0] for x in ids])
        self.started.release()
        assert self.gate.acquire(timeout=WAIT), "the test never opened the gate"
        return np.array([[x[0]] for x in ids], np.float32)


async def started(model) -> None:
    """Until the model's next call has begun."""
    assert await asyncio.to_thread(model.started.acquire, True, WAIT), "the model was never called"


async def until(condition) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the state never came"
        await asyncio.sleep(0.001)


def run(script, **options):
    async def go():
        model = GatedModel()
        batcher = Batcher(model, **options)
        batcher.start()
        try:
            return await script(model, batcher)
        finally:
            model.gate.release(100)
            await batcher.stop()
    return asyncio.run(go())


def test_a_small_request_waits_for_one_batch_of_a_huge_one():
    async def script(model, batcher):
        huge = asyncio.ensure_future(batcher.embed([[i, 0] for i in range(10)]))  # 5 chunks of 2 texts (4 tokens)
        await started(model)  # its first chunk is in the model
        small = asyncio.ensure_future(batcher.embed([[100, 0]]))
        await until(lambda: len(batcher.queue) == 1)  # queued: the huge request's next chunk is not yet
        model.gate.release(6)
        return await huge, await small, model.calls

    huge, small, calls = run(script, max_batch_tokens=4)
    assert huge.ravel().tolist() == list(range(10)) and small.ravel().tolist() == [100]
    # the small request ran right after the chunk that was in the model (queued whole, it waited for all 5)
    assert calls == [[0, 1], [100], [2, 3], [4, 5], [6, 7], [8, 9]]


def test_later_chunks_are_never_refused_and_the_queue_limit_counts_requests():
    async def script(model, batcher):
        huge = asyncio.ensure_future(batcher.embed([[i, 0] for i in range(6)]))  # 3 chunks
        await started(model)
        other = asyncio.ensure_future(batcher.embed([[50, 0]]))
        await until(lambda: len(batcher.queue) == 1)  # the queue is full now (max_queue=1)
        with pytest.raises(QueueFullError, match="the queue is full"):
            await batcher.embed([[60, 0]])
        model.gate.release(10)
        return await huge, await other  # the huge one's chunks 2 and 3 queue although the queue was full

    huge, other = run(script, max_batch_tokens=4, max_queue=1)
    assert huge.ravel().tolist() == list(range(6)) and other.ravel().tolist() == [50]


def test_abort_fails_queued_and_running_requests_at_once_and_refuses_new_ones():
    async def script(model, batcher):
        running = asyncio.ensure_future(batcher.embed([[1, 0]]))
        await started(model)  # in the model, the gate shut
        queued = asyncio.ensure_future(batcher.embed([[2, 0]]))
        await until(lambda: len(batcher.queue) == 1)
        batcher.abort(ShuttingDownError("shutting down"))
        results = await asyncio.gather(running, queued, return_exceptions=True)  # the gate is still shut
        with pytest.raises(ShuttingDownError):
            await batcher.embed([[3, 0]])
        return results, len(batcher.queue), len(batcher.pending)

    (running, queued), queue, pending = run(script, max_batch_tokens=4)
    assert isinstance(running, ShuttingDownError) and isinstance(queued, ShuttingDownError)
    assert queue == 0 and pending == 0


def test_a_request_is_cut_into_chunks_of_at_most_request_chunk_tokens(monkeypatch):
    monkeypatch.setattr("minilm.server.batcher.REQUEST_CHUNK_TOKENS", 6)

    async def script(model, batcher):
        model.gate.release(100)
        return await batcher.embed([[i, 0] for i in range(7)]), model.calls  # 2 tokens each: 3 texts per chunk

    out, calls = run(script, max_batch_tokens=16384)
    assert out.ravel().tolist() == list(range(7)) and calls == [[0, 1, 2], [3, 4, 5], [6]]
