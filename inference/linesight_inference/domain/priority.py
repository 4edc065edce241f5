"""Request priority: `live` images (inspections) go first; `replay` images (a gateway replaying verified
history through a model version) are admitted one slot at a time, when no live image is in the service.

A replay image waits at the gate while live images are on their way, queued or running (for any model
version: a candidate version has its own batcher, but shares the CPU or GPU). Once admitted it holds one
of `slots` for its whole way through the service (decode, queue, run), so a live image that arrives
meanwhile competes with at most `slots` replay images. So that a replay still moves on a line that is
never idle, a replay image that has waited `max_defer_s` is admitted anyway (still within `slots`).
`max_share` bounds the time replays keep a slot busy: after an image that took t seconds its slot stays
closed for t * (1 / max_share - 1), so a live image that arrives finds a replay in its way less often
(0.5: a slot works on replays at most half the time). More than `max_waiting` replay images at the gate:
refused (503, the caller retries later)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from linesight_inference import metrics

LIVE, REPLAY = "live", "replay"


class GateFull(Exception):
    """More replay images wait than the gate accepts."""


class PriorityGate:
    def __init__(self, *, slots: int, max_defer_s: float, max_waiting: int, max_share: float = 1.0) -> None:
        self.slots = max(1, slots)
        self.max_share = min(1.0, max(0.01, max_share))
        self.max_defer_s = max(0.0, max_defer_s)
        self.max_waiting = max(1, max_waiting)
        self.live = 0  # live images from arrival to answer
        self.replay_running = 0
        self.replay_waiting = 0
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()

    def live_started(self, n: int) -> None:
        self.live += n

    def live_finished(self, n: int) -> None:
        self.live = max(0, self.live - n)
        if self.live == 0:
            self._notify()

    def _may_start(self, deferred_s: float) -> bool:
        if self.replay_running >= self.slots:
            return False
        return self.live == 0 or deferred_s >= self.max_defer_s

    @asynccontextmanager
    async def replay(self) -> AsyncIterator[None]:
        """Hold one replay slot for the body; waits for its turn first."""
        if self.replay_waiting >= self.max_waiting:
            raise GateFull(f"{self.replay_waiting} replay images are already waiting")
        start = time.perf_counter()
        self.replay_waiting += 1
        metrics.REPLAY_WAITING.set(self.replay_waiting)
        try:
            while not self._may_start(time.perf_counter() - start):
                self._changed.clear()
                left = self.max_defer_s - (time.perf_counter() - start)
                # Woken when live work drains or a replay slot frees; past the deferral limit only a free
                # slot matters, so a bounded poll is enough.
                timeout = left if left > 0 else 0.05
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            self.replay_waiting -= 1
            metrics.REPLAY_WAITING.set(self.replay_waiting)
        metrics.REPLAY_WAIT_SECONDS.observe(time.perf_counter() - start)
        self.replay_running += 1
        began = time.perf_counter()
        try:
            yield
        finally:
            rest = (time.perf_counter() - began) * (1 / self.max_share - 1)
            if rest > 0:  # the answer goes out now; the slot reopens later
                asyncio.get_running_loop().call_later(rest, self._release)
            else:
                self._release()

    def _release(self) -> None:
        self.replay_running -= 1
        self._notify()
