"""Builds the inference app: ONNX models served with ONNX Runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
import onnxruntime as ort
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from linesight_core.app import READY_TIMEOUT_SECONDS
from linesight_core.app import create_app as create_service_app
from linesight_core.auth import service_token_dependency
from linesight_core.events import check_redis, make_redis
from linesight_core.http import make_client
from linesight_core.storage import ObjectStore
from linesight_inference import __version__
from linesight_inference.api import runtime
from linesight_inference.domain.execution import plan_execution
from linesight_inference.metrics import record_execution_provider
from linesight_inference.settings import InferenceSettings

log = logging.getLogger(__name__)

BUCKETS = ("models",)


def check_registry(client: httpx.Client) -> None:
    """Readiness probe: the registry answers its own /ready with 200."""
    resp = client.get("/ready")
    if resp.status_code != 200:
        raise RuntimeError(f"registry /ready answered {resp.status_code}")


def create_app(settings: InferenceSettings | None = None) -> FastAPI:
    settings = settings or InferenceSettings()
    plan = plan_execution(
        settings.ort_providers, ort.get_available_providers(), settings.ort_intra_op_threads
    )
    store = ObjectStore.from_settings(settings)
    redis = make_redis(settings.redis_url)
    models_bucket = settings.bucket("models")
    # Only readiness uses this client for now: it must answer within the probe's own time limit, and the
    # probe repeats every few seconds, so no retries.
    registry = make_client(
        settings.registry_url,
        service_token=settings.service_token.get_secret_value(),
        timeout=min(settings.http_timeout_seconds, READY_TIMEOUT_SECONDS - 0.5),
        retries=0,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.model_cache_dir.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(store.ensure_buckets, *(settings.bucket(p) for p in BUCKETS))
        log.info(
            "execution providers chosen",
            extra={"providers": list(plan.providers), "available": list(plan.available)},
        )
        if plan.unavailable_requested:
            log.warning(
                "requested execution providers are not available",
                extra={"unavailable": list(plan.unavailable_requested)},
            )
        try:
            yield
        finally:
            registry.close()
            redis.close()

    app = create_service_app(
        settings,
        title="LineSight inference",
        description="Serves ONNX models with ONNX Runtime. Internal API: every /v1 endpoint needs the "
        "service token (Authorization: Bearer).",
        version=__version__,
        readiness={
            "redis": partial(check_redis, redis),
            "object_store": partial(store.check, models_bucket),
            "registry": partial(check_registry, registry),
        },
        lifespan=lifespan,
    )
    app.state.execution = plan
    app.state.store = store
    app.state.redis = redis
    record_execution_provider(plan.chosen)
    internal = [Depends(service_token_dependency(settings.service_token.get_secret_value()))]
    app.include_router(runtime.router, dependencies=internal)
    return app
