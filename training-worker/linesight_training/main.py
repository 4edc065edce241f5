"""Builds the Celery app of the training worker from its settings."""

from __future__ import annotations

from celery import Celery

from linesight_core.contracts.training import TRAINING_QUEUE
from linesight_training.settings import TrainingSettings
from linesight_training.tasks import register_tasks


def create_celery_app(settings: TrainingSettings) -> Celery:
    app = Celery("linesight_training", broker=settings.broker_url, backend=settings.redis_url)
    app.conf.update(
        task_default_queue=TRAINING_QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # A task is acknowledged when it ends, and re-queued if its pool process dies: a training run
        # lost with a crashed or killed worker runs again on another one.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Training tasks are long: a worker takes one at a time, so idle workers get the next ones.
        worker_prefetch_multiplier=1,
        # A pool process imports torch and Ultralytics as it starts (worker.py): seconds, not Celery's 4 s.
        worker_proc_alive_timeout=settings.worker_start_timeout_seconds,
        task_track_started=True,
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout_seconds},
        result_expires=settings.celery_result_expires_seconds,
        broker_connection_retry_on_startup=True,
        enable_utc=True,
        timezone="UTC",
        # Logging is linesight_core's: JSON lines with the service name, like every other service.
        worker_hijack_root_logger=False,
    )
    app.conf.linesight_settings = settings
    register_tasks(app)
    return app
