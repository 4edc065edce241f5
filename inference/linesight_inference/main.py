"""Builds the inference app: ONNX models served with ONNX Runtime, micro-batched, hot-reloaded."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial

import httpx
import onnxruntime as ort
from fastapi import Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from linesight_core.app import READY_TIMEOUT_SECONDS
from linesight_core.app import create_app as create_service_app
from linesight_core.auth import service_token_dependency
from linesight_core.body_limit import upload_route
from linesight_core.clients.registry import RegistryClient
from linesight_core.events import check_redis, make_redis
from linesight_core.http import make_client
from linesight_core.storage import ObjectStore
from linesight_inference import __version__
from linesight_inference.api import models, predict, runtime
from linesight_inference.domain.artifacts import ArtifactCache
from linesight_inference.domain.execution import plan_execution, plan_parallelism
from linesight_inference.domain.pool import ModelPool, PoolConfig
from linesight_inference.domain.prediction import ImageLimits, Predictor
from linesight_inference.domain.priority import PriorityGate
from linesight_inference.domain.promotions import PromotionWatcher
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
    parallelism = plan_parallelism(
        plan,
        len(os.sched_getaffinity(0)),
        settings.ort_intra_op_threads,
        settings.max_concurrent_batches,
        settings.ort_solo_session,
    )
    store = ObjectStore.from_settings(settings)
    redis = make_redis(settings.redis_url)
    models_bucket = settings.bucket("models")
    token = settings.service_token.get_secret_value()
    # Readiness must answer within the probe's own time limit, and the probe repeats every few seconds,
    # so its registry client has no retries; model resolution uses its own client (below) with retries.
    registry_probe = make_client(
        settings.registry_url,
        service_token=token,
        timeout=min(settings.http_timeout_seconds, READY_TIMEOUT_SECONDS - 0.5),
        retries=0,
    )
    config = PoolConfig(
        plan=plan,
        max_loaded_models=settings.max_loaded_models,
        max_batch_size=settings.max_batch_size,
        max_batch_wait_s=settings.max_batch_wait_ms / 1000,
        max_queue_depth=settings.max_queue_depth,
        max_concurrent_batches=parallelism.concurrent_batches,
        threads_per_run=parallelism.threads_per_run,
        solo_threads=parallelism.solo_threads,
        allow_spinning=settings.ort_allow_spinning,
        rect_letterbox=settings.rect_letterbox,
        max_imgsz=settings.max_model_imgsz,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.model_cache_dir.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(store.ensure_buckets, *(settings.bucket(p) for p in BUCKETS))
        log.info(
            "execution providers chosen",
            extra={
                "providers": list(plan.providers),
                "available": list(plan.available),
                "threads_per_run": parallelism.threads_per_run,
                "concurrent_batches": parallelism.concurrent_batches,
                "solo_threads": parallelism.solo_threads,
            },
        )
        if plan.unavailable_requested:
            log.warning(
                "requested execution providers are not available",
                extra={"unavailable": list(plan.unavailable_requested)},
            )
        preprocess = ThreadPoolExecutor(
            settings.preprocess_threads or os.cpu_count() or 1, thread_name_prefix="preprocess"
        )
        inference = ThreadPoolExecutor(
            (settings.max_loaded_models + 1) * parallelism.concurrent_batches, thread_name_prefix="inference"
        )
        loading = ThreadPoolExecutor(2, thread_name_prefix="model-load")
        registry = RegistryClient.create(
            settings.registry_url,
            service_token=token,
            timeout=settings.http_timeout_seconds,
            retries=settings.http_retries,
        )
        pool = ModelPool(
            registry,
            ArtifactCache(settings.model_cache_dir, store),
            config,
            inference_executor=inference,
            load_executor=loading,
        )
        limits = ImageLimits(settings.image_max_bytes, settings.image_max_pixels, settings.image_min_side)
        app.state.pool = pool
        gate = PriorityGate(
            slots=settings.replay_slots,
            max_defer_s=settings.replay_max_defer_ms / 1000,
            max_waiting=settings.replay_max_waiting,
            max_share=settings.replay_max_share,
        )
        app.state.predictor = Predictor(pool, limits, preprocess, gate)
        watcher = PromotionWatcher(pool, settings.redis_url, check_seconds=settings.reload_check_seconds)
        app.state.promotions = watcher
        watcher.start()
        try:
            yield
        finally:
            await watcher.stop()
            await pool.aclose()
            await registry.aclose()
            for executor in (preprocess, inference, loading):
                executor.shutdown(wait=False, cancel_futures=True)
            registry_probe.close()
            redis.close()

    app = create_service_app(
        settings,
        title="LineSight inference",
        description="Serves ONNX models with ONNX Runtime: micro-batching, hot reload on promotion. "
        "Internal API: every /v1 endpoint needs the service token (Authorization: Bearer).",
        version=__version__,
        readiness={
            "redis": partial(check_redis, redis),
            "object_store": partial(store.check, models_bucket),
            "registry": partial(check_registry, registry_probe),
        },
        lifespan=lifespan,
        body_limits=[
            upload_route("POST", "/v1/predict", settings.image_max_bytes, "predictions"),
            upload_route(
                "POST",
                "/v1/predict/batch",
                settings.image_max_bytes,
                "batch predictions",
                files=settings.max_images_per_request,
            ),
        ],
    )
    app.state.execution = plan
    app.state.parallelism = parallelism
    app.state.store = store
    app.state.redis = redis
    record_execution_provider(plan.chosen)
    check_token = service_token_dependency(token)

    async def require_service_token(request: Request) -> None:
        # A plain function dependency would be run in a worker thread on every request; the check is a
        # constant-time comparison, cheaper than that hop, so it runs on the event loop.
        check_token(request)

    internal = [Depends(require_service_token)]
    for module in (predict, models, runtime):
        app.include_router(module.router, dependencies=internal)
    return app
