"""Runs the training worker process: the health server beside the Celery worker and its pool."""

from __future__ import annotations

import logging
import os
from functools import partial

from celery import signals
from prometheus_client.multiprocess import mark_process_dead

from linesight_core.contracts.training import TRAINING_QUEUE
from linesight_core.events import check_redis, make_redis
from linesight_core.logs import configure_logging
from linesight_core.storage import ObjectStore
from linesight_core.telemetry import set_build_info
from linesight_training import __version__
from linesight_training.main import create_celery_app
from linesight_training.metrics import connect_worker_metrics, start_health_server
from linesight_training.offline import configure_ultralytics
from linesight_training.settings import TrainingSettings

log = logging.getLogger("linesight_training")


def _preload_training_libraries(**_: object) -> None:
    """Import torch and Ultralytics in each pool process as it starts, not in the first run: a run's
    time is its training. (Not in the main process before the fork: torch's thread pools do not survive
    a fork.)"""
    import torch  # noqa: F401
    from ultralytics import YOLO  # noqa: F401


def run_worker(settings: TrainingSettings) -> int:
    """Serve /health, /ready and /metrics, then consume the training queue until SIGTERM; return the
    exit status."""
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    set_build_info(settings.service_name, __version__)
    ultralytics_settings = configure_ultralytics(settings.yolo_config_dir, settings.training_work_dir)
    # Ultralytics' progress bars and per-epoch tables go through Celery's stdout redirection into the log,
    # several lines per batch: they cost training time and bury the log. Progress is reported to the
    # registry instead; warnings still come through.
    logging.getLogger("ultralytics").setLevel(settings.ultralytics_log_level.upper())
    log.info("ultralytics offline", extra={"runs_dir": ultralytics_settings["runs_dir"]})

    store = ObjectStore.from_settings(settings)
    models_bucket = settings.bucket("models")
    try:
        store.ensure_buckets(models_bucket)
    except Exception:
        log.exception("the object store does not answer; stopping", extra={"bucket": models_bucket})
        return 1
    broker = make_redis(settings.broker_url, timeout=2.0)

    health = start_health_server(
        settings.host,
        settings.port,
        service=settings.service_name,
        version=__version__,
        checks={"broker": partial(check_redis, broker), "object_store": partial(store.check, models_bucket)},
    )
    log.info("health server listening", extra={"host": settings.host, "port": settings.port})
    connect_worker_metrics(inherited_listener=health.socket)
    signals.worker_process_init.connect(_preload_training_libraries, weak=False)
    app = create_celery_app(settings)
    try:
        status = app.start(
            [
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(settings.worker_concurrency),
                "-Q",
                TRAINING_QUEUE,
                "--hostname",
                settings.worker_hostname,
                "--loglevel",
                settings.log_level,
            ]
        )
    finally:
        health.shutdown()
        health.server_close()
        broker.close()
        mark_process_dead(os.getpid())
    log.info("stopped", extra={"exit_status": status or 0})
    return int(status or 0)
