"""The registry's side of the training queue: sends training and conversion tasks by name and revokes
queued ones (runs.queue_run records a run and sends its task). The registry never imports the worker's
code; task names are the contract."""

from __future__ import annotations

import logging
import uuid

from celery import Celery

from linesight_core.contracts.training import TRAINING_QUEUE

log = logging.getLogger(__name__)

# Past the soft limit the worker gets SoftTimeLimitExceeded and reports the run failed; this much later
# Celery kills the pool process.
HARD_LIMIT_MARGIN_SECONDS = 60


class QueueUnavailable(RuntimeError):
    """The broker did not take the message."""


class TrainingQueue:
    def __init__(self, broker_url: str, *, connect_timeout: float = 3.0) -> None:
        self.app = Celery("linesight_registry", broker=broker_url, set_as_current=False)
        self.app.conf.update(
            task_serializer="json",
            accept_content=["json"],
            enable_utc=True,
            timezone="UTC",
            broker_connection_timeout=connect_timeout,
            broker_connection_retry=False,
            # A request waits at most a few seconds for a broker that is down, then answers 503.
            task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )

    def send(self, task: str, run_id: uuid.UUID, task_id: str, time_limit_seconds: int) -> None:
        """Queue `task(run_id)` under the given Celery task id, with the run's time limits."""
        try:
            self.app.send_task(
                task,
                args=[str(run_id)],
                queue=TRAINING_QUEUE,
                task_id=task_id,
                soft_time_limit=time_limit_seconds,
                time_limit=time_limit_seconds + HARD_LIMIT_MARGIN_SECONDS,
            )
        except Exception as exc:  # kombu raises many kinds (OperationalError, socket errors, redis errors)
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc
        log.info("task queued", extra={"task": task, "run_id": str(run_id), "task_id": task_id})

    def revoke(self, task_id: str) -> None:
        """Tell the workers to drop a queued task. Best effort: a worker that missed the broadcast still
        asks the registry before it starts, and the registry answers 409 for a cancelled run."""
        try:
            self.app.control.revoke(task_id)
        except Exception as exc:  # noqa: BLE001 - the run is cancelled either way
            log.warning("revoke not broadcast", extra={"task_id": task_id, "error": str(exc)[:200]})

    def close(self) -> None:
        self.app.close()
