"""Micro-batching on asyncio: concurrent images for one model version share one ONNX Runtime run.

Batches run in worker threads, so the event loop stays free; at most `max_concurrent_batches` at a time
per model version. A batch starts when a slot is free and either the queue holds a full batch, or no
more images are on their way (announced with `expect` while they are being decoded), or the oldest
queued image has waited `max_wait`. The run function is told whether its batch runs alone (nothing else
running, queued or announced), so it may use every core for it. A lone request on an idle model therefore starts at once; waiting only ever happens for
images known to be coming, or while every slot is busy anyway."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class Batched(Generic[R]):
    value: R
    queue_s: float  # from submit to the start of the batch's run
    batch_size: int


class QueueFull(Exception):
    """More images are waiting than the batcher accepts."""


class BatcherClosed(RuntimeError):
    pass


@dataclass
class _Queued(Generic[J, R]):
    job: J
    future: asyncio.Future[Batched[R]]
    enqueued: float


class Batcher(Generic[J, R]):
    def __init__(
        self,
        run: Callable[[list[J], bool], Sequence[R | Exception]],
        *,
        executor: Executor | None,
        max_batch_size: int,
        max_wait_s: float,
        max_queue_depth: int,
        max_concurrent_batches: int = 1,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._run = run
        self._executor = executor
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait_s = max(0.0, max_wait_s)
        self.max_queue_depth = max_queue_depth
        self.max_concurrent_batches = max(1, max_concurrent_batches)
        self._on_depth = on_depth
        self._queue: deque[_Queued[J, R]] = deque()
        self._expected = 0
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._in_flight = 0
        self._running: set[asyncio.Task[None]] = set()

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> bool:
        return self._in_flight > 0

    def expect(self, n: int = 1) -> None:
        """Announce n images that will be submitted soon (being decoded). Refuses when the queue is full."""
        if self._closing:
            raise BatcherClosed("the model is being released")
        if len(self._queue) + self._expected + n > self.max_queue_depth:
            raise QueueFull(f"{len(self._queue) + self._expected} images are already waiting")
        self._expected += n

    def forget(self, n: int = 1) -> None:
        """Announced images that will not come after all (their decoding failed)."""
        self._expected = max(0, self._expected - n)
        self._wake.set()

    async def submit(self, job: J, *, expected: bool = True) -> Batched[R]:
        """Queue one job and wait for its result. `expected`: it was announced with `expect`."""
        if expected:
            self._expected = max(0, self._expected - 1)
        elif self._closing:
            raise BatcherClosed("the model is being released")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Batched[R]] = loop.create_future()
        self._queue.append(_Queued(job, future, time.perf_counter()))
        self._depth_changed()
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work(), name="batcher")
        return await future

    def close(self) -> None:
        """Stop once the queue is empty; jobs already submitted are still run."""
        self._closing = True
        self._wake.set()

    async def aclose(self) -> None:
        self.close()
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
        await asyncio.gather(*self._running, return_exceptions=True)

    def _depth_changed(self) -> None:
        if self._on_depth is not None:
            self._on_depth(len(self._queue))

    async def _wait_wake(self, timeout: float | None) -> bool:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._wait_wake(None)
                continue
            if self._in_flight >= self.max_concurrent_batches:
                await self._wait_wake(None)  # a batch finishing wakes it
                continue
            # Fill the batch with images already on their way, for at most max_wait after the oldest one.
            deadline = self._queue[0].enqueued + self.max_wait_s
            while len(self._queue) < self.max_batch_size and self._expected > 0:
                remaining = deadline - time.perf_counter()
                if remaining <= 0 or not await self._wait_wake(remaining):
                    break
            batch: list[_Queued[J, R]] = []
            while self._queue and len(batch) < self.max_batch_size:
                item = self._queue.popleft()
                if not item.future.done():  # a cancelled request is not run
                    batch.append(item)
            self._depth_changed()
            if batch:
                # Alone: nothing else running, queued or on its way; the run may take every core.
                solo = self._in_flight == 0 and not self._queue and self._expected == 0
                self._in_flight += 1
                task = loop.create_task(self._run_batch(loop, batch, solo))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _run_batch(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Queued[J, R]], solo: bool
    ) -> None:
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._run, [q.job for q in batch], solo)
        except Exception as exc:  # the run failed: every request of the batch hears why
            log.exception("batch failed", extra={"batch_size": len(batch)})
            for q in batch:
                if not q.future.done():
                    q.future.set_exception(exc)
            return
        finally:
            self._in_flight -= 1
            self._wake.set()
        for q, result in zip(batch, results, strict=True):
            if q.future.done():
                continue
            if isinstance(result, Exception):
                q.future.set_exception(result)
            else:
                q.future.set_result(Batched(result, started - q.enqueued, len(batch)))
