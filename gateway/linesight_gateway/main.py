"""Builds the gateway app: the public REST API of LineSight."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from linesight_core.app import create_app as create_service_app
from linesight_core.clients.inference import InferenceClient
from linesight_core.clients.ocr import OcrClient
from linesight_core.clients.registry import RegistryClient
from linesight_core.db import check_database, make_engine, make_session_factory, run_migrations, session_scope
from linesight_core.http import make_async_client
from linesight_core.storage import ObjectStore
from linesight_gateway import __version__
from linesight_gateway.api import (
    access,
    audit,
    auth,
    datasets,
    feedback,
    inspections,
    labels,
    models,
    promotion_gates,
    replays,
    service_status,
    shadow,
    stations,
    stats,
    training_runs,
    users,
)
from linesight_gateway.api.deps import authenticate_headers, run_limits
from linesight_gateway.api.upload_limits import upload_limits
from linesight_gateway.db.models import SCHEMA
from linesight_gateway.domain.access import ensure_bootstrap_admin
from linesight_gateway.domain.dataset_sync import DatasetSync, run_dataset_sync
from linesight_gateway.domain.face_detector import face_detector
from linesight_gateway.domain.gated_promotion import promote_if_passing
from linesight_gateway.domain.held_replays import HeldReplayConfig, run_held_replays
from linesight_gateway.domain.key_cache import KeyCache
from linesight_gateway.domain.login_throttle import LoginThrottle
from linesight_gateway.domain.queue_gauges import run_queue_gauges
from linesight_gateway.domain.reference_views import ReferenceViews
from linesight_gateway.domain.replay_runner import ReplayConfig, ReplayRunner, run_replays
from linesight_gateway.domain.reprocessor import run_reprocessor
from linesight_gateway.domain.shadow import ShadowConfig, ShadowQueue
from linesight_gateway.domain.training_baselines import TrainingBaselines
from linesight_gateway.settings import GatewaySettings

MIGRATIONS = Path(__file__).parent / "db" / "migrations"
BUCKETS = ("images",)
ROUTER_MODULES = (
    access,
    auth,
    users,
    audit,
    service_status,
    models,
    stations,
    stats,
    inspections,
    feedback,
    labels,
    datasets,
    training_runs,
    replays,
    promotion_gates,
    shadow,
)


async def _no_credential(conn: HTTPConnection) -> None:
    return None


def _background_inference(settings: GatewaySettings, timeout: float) -> InferenceClient:
    """An inference client of its own for background work (replays, shadow answers): its requests wait
    at replay priority longer than a live inspection may, and are not retried on the live client's pool."""
    return InferenceClient.create(
        settings.inference_url,
        service_token=settings.service_token.get_secret_value(),
        timeout=timeout,
        retries=0,
    )


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    store = ObjectStore.from_settings(settings)
    buckets = [settings.bucket(p) for p in BUCKETS]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(run_migrations, engine, MIGRATIONS, SCHEMA)
        await run_in_threadpool(store.ensure_buckets, *buckets)
        # the face detector's model is checked (present, the measured one) before the first photo
        await run_in_threadpool(face_detector)
        with session_scope(app.state.session_factory) as session:
            ensure_bootstrap_admin(session, settings.admin_api_key.get_secret_value())
        app.state.status_client = make_async_client(
            "",
            service_token=settings.service_token.get_secret_value(),
            timeout=settings.status_timeout_seconds,
            retries=0,
        )
        app.state.registry = RegistryClient.create(
            settings.registry_url,
            service_token=settings.service_token.get_secret_value(),
            timeout=settings.http_timeout_seconds,
            retries=settings.http_retries,
        )
        app.state.training_baselines = TrainingBaselines(app.state.registry)
        app.state.inference = InferenceClient.create(
            settings.inference_url,
            service_token=settings.service_token.get_secret_value(),
            timeout=settings.inference_timeout_seconds,
            retries=0,
        )
        app.state.ocr = OcrClient.create(
            settings.ocr_url,
            service_token=settings.service_token.get_secret_value(),
            timeout=settings.ocr_timeout_seconds,
            retries=0,
        )
        reprocessor = asyncio.create_task(
            run_reprocessor(
                app.state.session_factory,
                store,
                buckets[0],
                app.state.inference,
                interval=settings.reprocess_interval_seconds,
                batch=settings.reprocess_batch_size,
                timeout=settings.inference_timeout_seconds,
                baselines=app.state.training_baselines,
            ),
            name="inspection-reprocessor",
        )
        dataset_sync = asyncio.create_task(
            run_dataset_sync(
                DatasetSync(
                    app.state.session_factory,
                    store,
                    buckets[0],
                    app.state.registry,
                    run_limits(settings),
                ),
                interval=settings.dataset_sync_interval_seconds,
                batch=settings.dataset_sync_batch_size,
            ),
            name="feedback-dataset-sync",
        )
        queue_gauges = asyncio.create_task(
            run_queue_gauges(app.state.session_factory, interval=settings.queue_gauges_interval_seconds),
            name="queue-gauges",
        )
        # Replays get a client of their own: their requests wait behind live inspections for longer than
        # an inspection may, and a retry of theirs must not count against the live client's pool.
        app.state.replay_inference = _background_inference(settings, settings.replay_timeout_seconds)
        replay_runner = asyncio.create_task(
            run_replays(
                ReplayRunner(
                    app.state.session_factory,
                    store,
                    buckets[0],
                    app.state.replay_inference,
                    ReplayConfig(
                        timeout=settings.replay_timeout_seconds,
                        concurrency=settings.replay_concurrency,
                        stale_seconds=settings.replay_stale_seconds,
                    ),
                    after_completed=partial(
                        promote_if_passing, app.state.session_factory, app.state.registry
                    ),
                ),
                interval=settings.replay_poll_seconds,
            ),
            name="replay-runner",
        )
        held_replays = asyncio.create_task(
            run_held_replays(
                app.state.session_factory,
                app.state.registry,
                HeldReplayConfig(
                    last_n=settings.promotion_gate_replay_last_n,
                    max_inspections=settings.replay_max_inspections,
                ),
                interval=settings.promotion_gate_replay_interval_seconds,
            ),
            name="held-replays",
        )
        # Shadow answers too: they wait at replay priority, and must not take the live client's connections.
        app.state.shadow_inference = _background_inference(settings, settings.shadow_timeout_seconds)
        app.state.shadow = ShadowQueue(
            app.state.session_factory,
            app.state.shadow_inference,
            ShadowConfig(
                concurrency=settings.shadow_concurrency,
                max_items=settings.shadow_queue_size,
                max_bytes=settings.shadow_queue_max_bytes,
                timeout=settings.shadow_timeout_seconds,
            ),
        )
        app.state.shadow.start()
        try:
            yield
        finally:
            for task in (reprocessor, dataset_sync, queue_gauges, replay_runner, held_replays):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.shadow.aclose()
            await app.state.inference.aclose()
            await app.state.replay_inference.aclose()
            await app.state.shadow_inference.aclose()
            await app.state.ocr.aclose()
            await app.state.registry.aclose()
            await app.state.status_client.aclose()
            engine.dispose()

    app = create_service_app(
        settings,
        title="LineSight gateway",
        description="The public REST API of LineSight. Every endpoint but /health, /ready and /metrics "
        "needs an API key or a person's session token (POST /api/v1/auth/login) in the X-API-Key header "
        "or as Authorization: Bearer.",
        version=__version__,
        readiness={
            "database": partial(check_database, engine),
            "object_store": partial(store.check, buckets[0]),
        },
        lifespan=lifespan,
        body_limits=upload_limits(settings),
        # the sign-in route is the one /api/v1 route a caller reaches without a credential
        header_checks=[(auth.LOGIN_PATH, _no_credential), ("/api/v1/", authenticate_headers)],
    )
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
    app.state.login_throttle = LoginThrottle(
        per_user=settings.login_max_failures_per_user,
        per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_failure_window_seconds,
    )
    app.state.store = store
    app.state.reference_views = ReferenceViews(store, buckets[0])
    for module in ROUTER_MODULES:
        app.include_router(module.router)
    return app
