"""Dynamic batching: requests from many clients merged by a token budget and a short wait.

Inference runs on worker threads, never on the event loop. A free worker takes what is queued (up
to ``max_batch_tokens``) at once, so a lone request runs at once and requests that arrive while a
batch runs form the next one (continuous batching); ``max_wait_ms`` can hold a small batch a little
longer to fill it. A large request is split into chunks of at most ``REQUEST_CHUNK_TOKENS`` (or the
budget, if smaller), not refused, and has one chunk queued at a time: its next chunk joins the queue
behind whatever arrived meanwhile, so a small request waits for at most one chunk of a huge one, not
for all of it. (The packed calls are cut at 1024 tokens anyway, so small chunks cost no throughput:
2048 against 16384 tokens per chunk, 86k tokens of mixed lengths, 48-87 s against 78-104 s, three
interleaved rounds on a loaded 2-core AMD EPYC.) A failing batch fails only the
requests in it. ``abort`` (the end of a shutdown's drain) fails everything queued or running at once. One thread hop each way per batch: the event loop appends to a
deque and notifies; the worker hands all results back in one ``call_soon_threadsafe``.

With ``workers`` > 1 several batches run at once, each on ``threads`` cores: free workers split what
is queued, so under load one group of clients gets its answers and sends again while another
group's batch runs, and no run's parallel sections wait for a core the event loop holds. A batch
that is alone (no other batch running, nothing left queued) runs on all of the model's threads
instead, with the other workers held until it ends: a lone request is as fast as with one worker.
(2-core machine, docs/server.md: at concurrency 64, 1.1x the throughput of one 2-thread worker.)

The embedder runs a batch as packed calls (no compute on padding in the token-wise layers, see
``minilm/models/packed.py``), so the requests of a batch, whatever their lengths, go in one
``encode_packed``; it sorts them by length and cuts calls by its token budget.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .metrics import Metrics

GATHER_QUIET, GATHER_MAX, GATHER_POLL = 0.001, 0.02, 0.0005  # seconds; see Batcher._take
REQUEST_CHUNK_TOKENS = 2048  # one request's share of a batch: what a small request may wait behind


class QueueFullError(Exception):
    """The queue holds max_queue items; the client should retry later."""


class ShuttingDownError(Exception):
    """The server is stopping and this request did not fit in its drain time; retry elsewhere or later."""


@dataclass(eq=False)  # hashed by identity (Batcher.pending)
class _Item:
    ids: list[list[int]]
    normalize: bool | None
    future: asyncio.Future
    tokens: int = field(init=False)

    def __post_init__(self):
        self.tokens = sum(len(x) for x in self.ids)


class Batcher:
    def __init__(self, embedder, max_batch_tokens: int = 16384, max_wait_ms: float = 0.0, max_queue: int = 1024,
                 metrics: Metrics | None = None, workers: int = 1, threads: int | None = None):
        self.embedder, self.max_batch_tokens = embedder, max_batch_tokens
        self.max_wait, self.max_queue = max_wait_ms / 1000, max_queue
        self.metrics = metrics or Metrics()
        self.queue: deque[_Item] = deque()
        self.wake = threading.Condition()
        self.closing = False
        self.refusing: Exception | None = None  # set by abort: every new request fails with it
        self.pending: set[_Item] = set()  # queued or in a running batch (the event loop's view)
        self.last_size, self.last_seconds = 0, 0.0  # requests in, and duration of, the last batch
        self.loop: asyncio.AbstractEventLoop | None = None
        # workers: batches at once, each on `threads` (None: the model's); busy: how many run now;
        # alone: a batch runs on all of the model's threads and the other workers wait
        self.workers, self.threads, self.busy, self.alone = workers, threads, 0, False
        self._threads = [threading.Thread(target=self._worker, name=f"minilm-infer-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for thread in self._threads:
            thread.start()

    async def stop(self) -> None:
        """Finish what is queued, then stop the workers."""
        with self.wake:
            self.closing = True
            self.wake.notify_all()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)

    async def embed(self, ids: list[list[int]], normalize: bool | None = None) -> np.ndarray:
        """Embeddings for token-id lists, in order; split into chunks of at most REQUEST_CHUNK_TOKENS,
        queued one after the other (each behind what arrived while the one before it ran)."""
        chunks, current, size, limit = [], [], 0, min(self.max_batch_tokens, REQUEST_CHUNK_TOKENS)
        for x in ids:
            if current and size + len(x) > limit:
                chunks.append(current)
                current, size = [], 0
            current.append(x)
            size += len(x)
        if current:
            chunks.append(current)
        if not chunks:
            return np.zeros((0, self.embedder.dim), np.float32)
        parts = [await self._run(chunk, normalize, first=i == 0) for i, chunk in enumerate(chunks)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    async def _run(self, ids: list[list[int]], normalize: bool | None, first: bool) -> np.ndarray:
        if self.refusing is not None:
            raise self.refusing
        item = _Item(ids, normalize, self.loop.create_future())
        with self.wake:
            if first and len(self.queue) >= self.max_queue:  # a request's later chunks are never refused
                raise QueueFullError(f"the queue is full ({len(self.queue)} batches waiting)")
            self.queue.append(item)
            self.metrics.queue_depth = len(self.queue)
            self.wake.notify()
        self.pending.add(item)
        try:
            return await item.future
        finally:
            self.pending.discard(item)

    def abort(self, error: Exception) -> None:
        """Fail every request queued or running with ``error``, and every later one (on the event loop).
        A batch already in the model still runs to its end; its answers are dropped."""
        self.refusing = error
        with self.wake:
            self.queue.clear()
            self.metrics.queue_depth = 0
        for item in list(self.pending):
            if not item.future.done():
                item.future.set_exception(error)

    def _take(self) -> tuple[list[_Item], bool] | None:
        """Wait for work; take what is queued up to the token budget (one normalize setting), and
        whether the batch runs alone (on all of the model's threads).

        A lone request runs at once. Under load (the last batch held several requests) the clients
        just answered are about to send again: gather until arrivals pause for ``GATHER_QUIET``
        seconds, at most a quarter of the last batch's time, so that those requests join this
        batch instead of forming a half-size one after it. ``max_wait_ms`` > 0 replaces this with a
        fixed wait.
        """
        while True:
            with self.wake:
                while not self.queue or self.alone:
                    if self.closing and not self.queue:
                        return None
                    self.wake.wait()
            if self.max_wait:
                self._gather(self.max_wait, None)
            elif self.last_size > 1:
                self._gather(min(self.last_seconds / 4, GATHER_MAX), GATHER_QUIET)
            with self.wake:
                if self.queue and not self.alone:  # another worker may have taken it meanwhile
                    batch = self._pop()
                    self.alone = self.workers > 1 and self.busy == 0 and not self.queue
                    self.busy += 1
                    self.metrics.batches_running = self.busy
                    if self.queue:
                        self.wake.notify()  # a free worker takes the rest
                    return batch, self.alone

    def _pop(self) -> list[_Item]:
        """The batch at the head of the queue, its share of it if other workers are free (the caller
        holds ``wake``)."""
        share = -(-len(self.queue) // (self.workers - self.busy))
        batch = [self.queue.popleft()]
        tokens = batch[0].tokens
        while self.queue and tokens < self.max_batch_tokens and len(batch) < share:
            item = self.queue[0]
            if tokens + item.tokens > self.max_batch_tokens or item.normalize != batch[0].normalize:
                break  # it starts the next batch
            batch.append(self.queue.popleft())
            tokens += item.tokens
        self.metrics.queue_depth = len(self.queue)
        return batch

    def _gather(self, wait: float, quiet: float | None) -> None:
        """Let the queue grow for ``wait`` seconds, or until it stops growing for ``quiet`` seconds;
        polled, so that arrivals do not wake this thread one by one (each would take the GIL)."""
        deadline, seen = time.monotonic() + wait, len(self.queue)
        while not self.closing and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, quiet or GATHER_POLL))
            if quiet and len(self.queue) == seen:
                return
            seen = len(self.queue)

    def _worker(self) -> None:
        while (taken := self._take()) is not None:
            batch, alone = taken
            start = time.perf_counter()
            try:
                threads = None if alone else self.threads
                out, error = self._encode([x for item in batch for x in item.ids], batch[0].normalize, threads), None
            except Exception as exc:  # noqa: BLE001  the batch's own requests get the error
                out, error = None, exc
            self.last_size, self.last_seconds = len(batch), time.perf_counter() - start
            with self.wake:
                self.busy -= 1
                self.metrics.batches_running = self.busy
                if alone:
                    self.alone = False
                    self.wake.notify_all()
            self.loop.call_soon_threadsafe(self._deliver, batch, out, error)

    def _encode(self, ids: list[list[int]], normalize: bool | None, threads: int | None = None) -> np.ndarray:
        start = time.perf_counter()
        packed = getattr(self.embedder, "encode_packed", None)  # a .webnn model has fixed shapes: padded calls
        if packed is None:
            out = self.embedder.encode_ids(ids, normalize=normalize)
        else:
            out = packed(ids, normalize=normalize, threads=threads)
        self.metrics.observe_batch(len(ids), sum(len(x) for x in ids), time.perf_counter() - start)
        return out

    @staticmethod
    def _deliver(batch: list[_Item], out: np.ndarray | None, error: Exception | None) -> None:
        start = 0
        for item in batch:
            if not item.future.done():  # the client may have gone
                if error is not None:
                    item.future.set_exception(error)
                else:
                    item.future.set_result(out[start:start + len(item.ids)])
            start += len(item.ids)
