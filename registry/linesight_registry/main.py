"""Builds the registry app: models, versions, aliases and their artifacts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from linesight_core.app import create_app as create_service_app
from linesight_core.auth import service_token_dependency
from linesight_core.body_limit import upload_route
from linesight_core.db import check_database, make_engine, make_session_factory, run_migrations
from linesight_core.events import check_redis, make_redis
from linesight_core.storage import ObjectStore
from linesight_registry import __version__
from linesight_registry.api import (
    aliases,
    dataset_items,
    dataset_versions,
    datasets,
    model_checkpoints,
    models,
    training_photos,
    training_runs,
)
from linesight_registry.db.models import SCHEMA
from linesight_registry.domain.queue import TrainingQueue
from linesight_registry.domain.sweeper import run_sweeper
from linesight_registry.settings import RegistrySettings

MIGRATIONS = Path(__file__).parent / "db" / "migrations"
BUCKETS = ("models", "datasets")


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    store = ObjectStore.from_settings(settings)
    redis_client = make_redis(settings.redis_url)
    buckets = [settings.bucket(p) for p in BUCKETS]
    training_queue = TrainingQueue(settings.broker_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(run_migrations, engine, MIGRATIONS, SCHEMA)
        await run_in_threadpool(store.ensure_buckets, *buckets)
        sweeper = asyncio.create_task(
            run_sweeper(
                app.state.session_factory,
                interval=settings.sweeper_interval_seconds,
                heartbeat_timeout=settings.training_heartbeat_timeout_seconds,
                grace_seconds=settings.training_time_limit_grace_seconds,
            ),
            name="training-sweeper",
        )
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            training_queue.close()
            redis_client.close()
            engine.dispose()

    app = create_service_app(
        settings,
        title="LineSight registry",
        description="Internal API: models, versions, aliases, artifacts, datasets, training runs. Calls need "
        "the service token.",
        version=__version__,
        readiness={
            "database": partial(check_database, engine),
            "object_store": partial(store.check, buckets[0]),
            "redis": partial(check_redis, redis_client),
        },
        lifespan=lifespan,
        body_limits=[
            upload_route("POST", "/v1/models/{name}/versions", settings.max_artifact_bytes, "ONNX uploads"),
            upload_route("POST", "/v1/models/{name}/versions/from-pt", settings.max_pt_bytes, "checkpoints"),
            upload_route("POST", "/v1/datasets/{name}/items", settings.image_max_bytes, "dataset images"),
            upload_route(
                "POST", "/v1/datasets/{name}/imports", settings.max_archive_bytes, "dataset archives"
            ),
        ],
    )
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.store = store
    app.state.redis = redis_client
    app.state.training_queue = training_queue
    internal = [Depends(service_token_dependency(settings.service_token.get_secret_value()))]
    for module in (
        models,
        training_photos,
        model_checkpoints,
        aliases,
        training_runs,
        datasets,
        dataset_items,
        dataset_versions,
    ):
        app.include_router(module.router, dependencies=internal)
    return app
