"""What each model version's training photos look like, as an unusual-photo baseline: fetched from the
registry in the background the first time a version answers, then kept in memory. An inspection never
waits for it: until it is known, photos are compared with the station's recent photos only."""

from __future__ import annotations

import asyncio
import logging
import time

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.registry import RegistryClient
from linesight_gateway.domain import unusual

log = logging.getLogger(__name__)

Key = tuple[str, int]


class TrainingBaselines:
    def __init__(self, registry: RegistryClient, *, retry_seconds: float = 300.0) -> None:
        self.registry = registry
        self.retry_seconds = retry_seconds
        self._known: dict[Key, unusual.Baseline | None] = {}
        self._failed_at: dict[Key, float] = {}
        self._fetching: dict[Key, asyncio.Task[None]] = {}

    def get(self, model: str, version: int) -> unusual.Baseline | None:
        """The baseline if it is known (None also for a version without training photos); else None, and
        a fetch starts unless one runs or failed less than `retry_seconds` ago."""
        key = (model, version)
        if key in self._known:
            return self._known[key]
        failed = self._failed_at.get(key)
        if key not in self._fetching and (failed is None or time.monotonic() - failed > self.retry_seconds):
            task = asyncio.get_running_loop().create_task(self._fetch(key), name=f"training photos {key}")
            self._fetching[key] = task
            task.add_done_callback(lambda _t: self._fetching.pop(key, None))
        return None

    async def wait(self, model: str, version: int) -> unusual.Baseline | None:
        """The baseline once the fetch that `get` starts has ended (for readiness checks and tests)."""
        self.get(model, version)
        task = self._fetching.get((model, version))
        if task is not None:
            await asyncio.shield(task)
        return self._known.get((model, version))

    async def _fetch(self, key: Key) -> None:
        try:
            answer = await self.registry.training_photos(*key)
        except UpstreamError as exc:
            if exc.status == 404:  # no such version, or no dataset lineage: nothing to compare with
                self._known[key] = None
            else:
                self._failed_at[key] = time.monotonic()
                log.warning(
                    "training photos not fetched",
                    extra={"model": key[0], "version": key[1], "error": exc.detail[:200]},
                )
            return
        except Exception:  # a bad answer must not break the next inspections
            self._failed_at[key] = time.monotonic()
            log.exception("training photos not fetched", extra={"model": key[0], "version": key[1]})
            return
        self._known[key] = unusual.baseline([unusual.signals(p, []) for p in answer.photos])
        log.info(
            "training photo baseline known",
            extra={"model": key[0], "version": key[1], "photos": len(answer.photos)},
        )
