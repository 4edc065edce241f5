"""The model versions this replica holds: resolved through the registry, loaded once, kept in a bounded LRU,
and swapped atomically when an alias moves (hot reload).

An alias that has served a request here is *bound*: (model, alias) → loaded version. Requests read the
binding without calling the registry; bindings move only through `refresh` (promotion events and the
periodic check), which loads and warms the new version first and then swaps the binding in one step.
Requests that hold the old version finish on it; the old version is released once the last one is done."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.registry import RegistryClient
from linesight_core.contracts.inference import LoadedModel
from linesight_core.contracts.registry import ModelVersionOut
from linesight_core.errors import Problem
from linesight_core.model_input import DEFAULT_MAX_IMGSZ, ImageSizeError, check_imgsz
from linesight_inference import metrics
from linesight_inference.domain.artifacts import ArtifactCache
from linesight_inference.domain.batching import Batcher
from linesight_inference.domain.execution import ExecutionPlan
from linesight_inference.domain.model_runner import Job, ModelRunner, Output

log = logging.getLogger(__name__)

VersionKey = tuple[str, int]  # (model name, version number)
AliasKey = tuple[str, str]  # (model name, alias)


@dataclass(frozen=True)
class PoolConfig:
    plan: ExecutionPlan
    max_loaded_models: int = 4
    max_batch_size: int = 16
    max_batch_wait_s: float = 0.005
    max_queue_depth: int = 512
    max_concurrent_batches: int = 1
    threads_per_run: int = 0
    solo_threads: int = 0
    allow_spinning: bool = False
    rect_letterbox: bool = True
    max_imgsz: int = DEFAULT_MAX_IMGSZ


class ModelLoadFailed(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(502, detail, title="Model cannot be loaded")


class LoadedVersion:
    """A model version with its session and batcher. Requests `acquire` it and `release` it when done."""

    def __init__(
        self, meta: ModelVersionOut, runner: ModelRunner, batcher: Batcher[Job, Output], load_seconds: float
    ) -> None:
        self.meta = meta
        self.key: VersionKey = (meta.model_name, meta.version)
        self.runner = runner
        self.batcher = batcher
        self.loaded_at = datetime.now(UTC)
        self.load_seconds = load_seconds
        self.class_names = meta.class_names
        self.users = 0
        self.served = 0
        self.explicit = False  # asked for by version number: kept until evicted, not retired on a swap
        self.retiring = False
        self.closed = False

    def acquire(self) -> None:
        self.users += 1

    def release(self) -> None:
        self.users -= 1
        if self.retiring and self.users == 0:
            self._close()

    def retire(self) -> None:
        """No new request gets this version; it closes once the requests holding it are answered."""
        self.retiring = True
        if self.users == 0:
            self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.batcher.close()
        self.runner.close()
        log.info("model version released", extra={"model": self.key[0], "version": self.key[1]})


class ModelPool:
    def __init__(
        self,
        registry: RegistryClient,
        artifacts: ArtifactCache,
        config: PoolConfig,
        *,
        inference_executor: Executor,
        load_executor: Executor,
    ) -> None:
        self.registry = registry
        self.artifacts = artifacts
        self.config = config
        self._inference_executor = inference_executor
        self._load_executor = load_executor
        self._live: OrderedDict[VersionKey, LoadedVersion] = OrderedDict()
        self._loading: dict[VersionKey, asyncio.Task[LoadedVersion]] = {}
        self._bindings: dict[AliasKey, VersionKey] = {}
        self._alias_locks: dict[AliasKey, asyncio.Lock] = {}
        self._events_seen: dict[AliasKey, int] = {}
        self._background: set[asyncio.Task[None]] = set()

    # --- requests -------------------------------------------------------------------------------------

    async def acquire(
        self, name: str, *, alias: str | None = None, version: int | None = None
    ) -> LoadedVersion:
        """The version to serve, held for the caller (call `release` when done). Loads it when needed."""
        while True:
            lv = await self._lookup(name, alias or "production", version)
            if not lv.closed:  # it may have been released while this request waited for it
                lv.acquire()
                if lv.key in self._live:
                    self._live.move_to_end(lv.key)  # most recently used
                return lv

    async def _lookup(self, name: str, alias: str, version: int | None) -> LoadedVersion:
        if version is not None:
            lv = self._live.get((name, version))
            if lv is None:
                lv = await self._ensure_loaded(await self._resolve(name, version=version))
                self._enforce_capacity()
            lv.explicit = True
            return lv
        key = self._bindings.get((name, alias))
        if key is not None and (lv := self._live.get(key)) is not None:
            return lv
        return await self._bind((name, alias))

    async def _bind(self, akey: AliasKey) -> LoadedVersion:
        """First request for an alias here: resolve it once, however many requests ask at the same time."""
        async with self._lock(akey):
            key = self._bindings.get(akey)
            if key is not None and (lv := self._live.get(key)) is not None:
                return lv
            seen = self._events_seen.get(akey, 0)
            lv = await self._ensure_loaded(await self._resolve(akey[0], alias=akey[1]))
            self._bindings[akey] = lv.key
            self._enforce_capacity()
            self._publish_state()
        if self._events_seen.get(akey, 0) != seen:
            # The alias moved while it was being resolved: the answer may already be stale.
            self._spawn(self.refresh(akey))
        return lv

    async def _resolve(
        self, name: str, *, alias: str | None = None, version: int | None = None
    ) -> ModelVersionOut:
        try:
            return await self.registry.resolve(name, alias=alias, version=version)
        except UpstreamError as exc:
            if exc.status >= 500:
                raise Problem(
                    503, f"The model registry is not available: {exc.detail}", upstream_service="registry"
                ) from None
            raise

    # --- loading --------------------------------------------------------------------------------------

    async def _ensure_loaded(self, meta: ModelVersionOut) -> LoadedVersion:
        key: VersionKey = (meta.model_name, meta.version)
        lv = self._live.get(key)
        if lv is not None:
            return lv
        task = self._loading.get(key)
        if task is None:
            # A task of its own: a request that gives up does not abort a load others wait for.
            task = asyncio.get_running_loop().create_task(self._load(meta), name=f"load {key}")
            self._loading[key] = task
            task.add_done_callback(lambda _t: self._loading.pop(key, None))
        return await asyncio.shield(task)

    async def _load(self, meta: ModelVersionOut) -> LoadedVersion:
        start = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            self._check_imgsz(meta, [])  # the bound first: a lying version is not even downloaded
            path = await self.artifacts.fetch(meta, self._load_executor)
            runner = await loop.run_in_executor(self._load_executor, self._open, path, meta)
        except Exception as exc:
            metrics.MODEL_LOADS.labels(meta.model_name, "failed").inc()
            if isinstance(exc, Problem):
                raise
            log.exception("model load failed", extra={"model": meta.model_name, "version": meta.version})
            raise ModelLoadFailed(
                f"{meta.model_name} v{meta.version} cannot be loaded by ONNX Runtime: {str(exc)[:300]}"
            ) from None
        cfg = self.config
        depth = metrics.QUEUE_DEPTH.labels(meta.model_name)
        batcher: Batcher[Job, Output] = Batcher(
            runner.run,
            executor=self._inference_executor,
            max_batch_size=cfg.max_batch_size if runner.dynamic_batch else 1,
            max_wait_s=cfg.max_batch_wait_s,
            max_queue_depth=cfg.max_queue_depth,
            max_concurrent_batches=cfg.max_concurrent_batches,
            on_depth=depth.set,
        )
        seconds = time.perf_counter() - start
        lv = LoadedVersion(meta, runner, batcher, seconds)
        self._live[lv.key] = lv
        metrics.MODEL_LOADS.labels(meta.model_name, "loaded").inc()
        metrics.MODEL_LOAD_SECONDS.observe(seconds)
        metrics.start_at_zero(meta.model_name, (meta.class_names or {}).values())
        self._publish_state()
        log.info(
            "model version loaded",
            extra={
                "model": meta.model_name,
                "version": meta.version,
                "sha256": meta.sha256,
                "providers": runner.providers,
                "seconds": round(seconds, 3),
            },
        )
        return lv

    def _check_imgsz(self, meta: ModelVersionOut, input_shape: list[object]) -> None:
        """The stored imgsz is the uploader's word: warm-up allocates a batch of that size, so a version
        claiming more than the limit, or a size its fixed input does not have, is refused, not loaded."""
        try:
            check_imgsz(
                meta.imgsz, input_shape, task=meta.task, max_side=self.config.max_imgsz, stride=meta.stride
            )
        except ImageSizeError as exc:
            raise ModelLoadFailed(f"{meta.model_name} v{meta.version} is not served: {exc}") from None

    def _open(self, path: Path, meta: ModelVersionOut) -> ModelRunner:
        runner = ModelRunner(
            path,
            task=meta.task,
            imgsz=(meta.imgsz[0], meta.imgsz[1]),
            plan=self.config.plan,
            threads=self.config.threads_per_run,
            solo_threads=self.config.solo_threads,
            stride=meta.stride if self.config.rect_letterbox else None,
            on_run=metrics.BATCH_SIZE.observe,
            allow_spinning=self.config.allow_spinning,
        )
        try:
            self._check_imgsz(meta, runner.input_shape)
        except ModelLoadFailed:
            runner.close()
            raise
        runner.warm_up((1, self.config.max_batch_size))
        return runner

    def _enforce_capacity(self) -> None:
        while len(self._live) > self.config.max_loaded_models:
            key = next(iter(self._live))  # least recently used
            log.info("model version evicted", extra={"model": key[0], "version": key[1]})
            self._drop(key)

    def _drop(self, key: VersionKey) -> None:
        lv = self._live.pop(key, None)
        for akey in [a for a, k in self._bindings.items() if k == key]:
            del self._bindings[akey]
        if lv is not None:
            lv.retire()
        self._publish_state()

    # --- hot reload -----------------------------------------------------------------------------------

    def bound_aliases(self) -> list[AliasKey]:
        return list(self._bindings)

    def note_promotion(self, name: str, alias: str) -> bool:
        """A promotion event arrived. Returns True when this replica serves the alias (a refresh starts)."""
        akey = (name, alias)
        self._events_seen[akey] = self._events_seen.get(akey, 0) + 1
        if akey not in self._bindings:
            return False
        self._spawn(self.refresh(akey))
        return True

    async def refresh(self, akey: AliasKey) -> None:
        """Re-resolve a served alias; when it moved, load and warm the new version, then swap atomically."""
        async with self._lock(akey):
            current = self._bindings.get(akey)
            if current is None:
                return
            try:
                meta = await self._resolve(akey[0], alias=akey[1])
            except UpstreamError as exc:
                if exc.status == 404:  # the alias or the model is gone: stop serving it
                    log.info("served alias removed", extra={"model": akey[0], "alias": akey[1]})
                    del self._bindings[akey]
                    self._retire_if_unused(current)
                    self._publish_state()
                    return
                raise
            live = self._live.get(current)
            if (meta.model_name, meta.version) == current and live is not None:
                return
            new = await self._ensure_loaded(meta)
            self._bindings[akey] = new.key  # the swap: every request from here on gets the new version
            metrics.ALIAS_SWAPS.labels(akey[0]).inc()
            log.info(
                "alias swapped",
                extra={"model": akey[0], "alias": akey[1], "from": current[1], "to": new.key[1]},
            )
            self._retire_if_unused(current)
            self._enforce_capacity()
            self._publish_state()

    async def check_all(self) -> None:
        """The periodic fallback: refresh every served alias (a missed event is caught here)."""
        for akey in self.bound_aliases():
            try:
                await self.refresh(akey)
            except Exception as exc:  # noqa: BLE001 - keep serving what is loaded; try again next time
                log.warning(
                    "alias check failed",
                    extra={"model": akey[0], "alias": akey[1], "error": f"{type(exc).__name__}: {exc}"},
                )

    def _retire_if_unused(self, key: VersionKey) -> None:
        lv = self._live.get(key)
        if lv is None or lv.explicit or key in self._bindings.values():
            return
        self._drop(key)

    def _lock(self, akey: AliasKey) -> asyncio.Lock:
        lock = self._alias_locks.get(akey)
        if lock is None:
            lock = self._alias_locks[akey] = asyncio.Lock()
        return lock

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # noqa: BLE001 - a failed background refresh is retried by the check
                log.warning("alias refresh failed", extra={"error": f"{type(exc).__name__}: {exc}"})

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- state ----------------------------------------------------------------------------------------

    def aliases_of(self, key: VersionKey) -> list[str]:
        return sorted(a for (name, a), k in self._bindings.items() if k == key)

    def loaded(self) -> list[LoadedModel]:
        out = []
        for key, lv in self._live.items():
            m = lv.meta
            out.append(
                LoadedModel(
                    model_name=m.model_name,
                    version=m.version,
                    sha256=m.sha256,
                    task=m.task,
                    aliases=self.aliases_of(key),
                    imgsz=m.imgsz,
                    class_names=m.class_names,
                    dynamic_batch=lv.runner.dynamic_batch,
                    max_batch_size=lv.batcher.max_batch_size,
                    providers=lv.runner.providers,
                    loaded_at=lv.loaded_at,
                    load_seconds=round(lv.load_seconds, 3),
                    requests_served=lv.served,
                    queue_depth=lv.batcher.depth,
                )
            )
        return sorted(out, key=lambda m: (m.model_name, m.version))

    def _publish_state(self) -> None:
        metrics.LOADED_VERSION.clear()
        for key, lv in self._live.items():
            for alias in self.aliases_of(key) or [""]:
                metrics.LOADED_VERSION.labels(key[0], alias, str(key[1]), lv.meta.sha256[:12]).set(1)

    async def aclose(self) -> None:
        for task in list(self._background) + list(self._loading.values()):
            task.cancel()
        await asyncio.gather(*self._background, *self._loading.values(), return_exceptions=True)
        for lv in list(self._live.values()):
            await lv.batcher.aclose()
            lv.retire()
        self._live.clear()
        self._bindings.clear()
        self._publish_state()
