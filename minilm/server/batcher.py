"""Dynamic batching: requests from many clients merged by a token budget and a short wait.

Requests that arrive while a batch runs form the next one (continuous batching); ``max_wait_ms``
can hold a small batch a little longer to fill it. Inference runs on one worker thread, never on
the event loop. A request larger than the budget is
split into chunks, not refused. A failing batch fails only the requests in it.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .metrics import Metrics


class QueueFullError(Exception):
    """The queue holds max_queue items; the client should retry later."""


@dataclass
class _Item:
    ids: list[list[int]]
    normalize: bool | None
    future: asyncio.Future
    tokens: int = field(init=False)

    def __post_init__(self):
        self.tokens = sum(len(x) for x in self.ids)


class Batcher:
    def __init__(self, embedder, max_batch_tokens: int = 16384, max_wait_ms: float = 0.0, max_queue: int = 1024,
                 metrics: Metrics | None = None):
        self.embedder, self.max_batch_tokens = embedder, max_batch_tokens
        self.max_wait, self.max_queue = max_wait_ms / 1000, max_queue
        self.metrics = metrics or Metrics()
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minilm-infer")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._worker())

    async def stop(self) -> None:
        """Finish what is queued, then stop the worker."""
        while not self.queue.empty():
            await asyncio.sleep(0.01)
        if self.task:
            self.task.cancel()
        self.pool.shutdown(wait=True)

    async def embed(self, ids: list[list[int]], normalize: bool | None = None) -> np.ndarray:
        """Embeddings for token-id lists, in order; split into chunks of at most the token budget."""
        chunks, current, size = [], [], 0
        for x in ids:
            if current and size + len(x) > self.max_batch_tokens:
                chunks.append(current)
                current, size = [], 0
            current.append(x)
            size += len(x)
        if current:
            chunks.append(current)
        if self.queue.qsize() + len(chunks) > self.max_queue:
            raise QueueFullError(f"the queue is full ({self.queue.qsize()} batches waiting)")
        loop = asyncio.get_running_loop()
        items = [_Item(chunk, normalize, loop.create_future()) for chunk in chunks]
        for item in items:
            self.queue.put_nowait(item)
        self.metrics.queue_depth = self.queue.qsize()
        parts = [await item.future for item in items]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), np.float32)

    async def _worker(self) -> None:
        """Take what is queued (up to the token budget), waiting at most max_wait for more; run it."""
        loop = asyncio.get_running_loop()
        pending: _Item | None = None
        while True:
            batch = [pending or await self.queue.get()]
            pending, tokens = None, batch[0].tokens
            deadline = time.monotonic() + self.max_wait
            while tokens < self.max_batch_tokens:
                if self.queue.empty():
                    if time.monotonic() >= deadline:
                        break
                    await asyncio.sleep(min(0.0005, deadline - time.monotonic()))
                    continue
                item = self.queue.get_nowait()
                if tokens + item.tokens > self.max_batch_tokens or item.normalize != batch[0].normalize:
                    pending = item  # starts the next batch
                    break
                batch.append(item)
                tokens += item.tokens
            await self._run(loop, batch)
            self.metrics.queue_depth = self.queue.qsize()

    async def _run(self, loop, batch: list[_Item]) -> None:
        ids = [x for item in batch for x in item.ids]
        self.metrics.observe_batch(len(ids), sum(len(x) for x in ids))
        try:
            out = await loop.run_in_executor(self.pool, self._encode, ids, batch[0].normalize)
        except Exception as exc:  # noqa: BLE001  the batch's own requests get the error
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        start = 0
        for item in batch:
            if not item.future.done():
                item.future.set_result(out[start:start + len(item.ids)])
            start += len(item.ids)

    def _encode(self, ids, normalize):
        return self.embedder.encode_ids(ids, batch_size=max(1, len(ids)), normalize=normalize)
