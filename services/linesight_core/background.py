"""Periodic background loops: one round every `interval` seconds until the task is cancelled.

A failed round is logged and counted, and the loop goes on: a database or a called service that is down
for a while must not end the loop for the life of the process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

log = logging.getLogger(__name__)

# Shared by every service, as the RED metrics are: the `loop` label names the loop, Prometheus's `job`
# label the service.
LOOP_FAILURES = Counter(
    "linesight_background_loop_failures_total",
    "Rounds of a periodic background loop that raised; the loop goes on at its next interval.",
    ["loop"],
)


async def run_every(
    loop: str,
    interval: float,
    one_round: Callable[[], Awaitable[object]],
    *,
    failed: str,
    logger: logging.Logger | None = None,
) -> None:
    """Run `one_round` now and then every `interval` seconds until cancelled. `failed` is the log message
    of a round that raised, written with the exception to `logger` (the loop's own module logger)."""
    LOOP_FAILURES.labels(loop)  # the series exists at 0 from the start, so rate() and alerts see it
    while True:
        try:
            await one_round()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - any failed round is logged with its traceback and counted
            LOOP_FAILURES.labels(loop).inc()
            (logger or log).exception(failed, extra={"loop": loop})
        await asyncio.sleep(interval)
