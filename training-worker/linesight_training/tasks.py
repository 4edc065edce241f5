"""The Celery tasks the worker runs. Task names are the contract with whoever enqueues them."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from celery import Celery, Task

from linesight_core.contracts.training import CONVERT_TASK, TRAIN_TASK
from linesight_training import __version__
from linesight_training.settings import TrainingSettings

PING = "linesight.worker.ping"


def ping(task: Task) -> dict[str, Any]:
    """Answer from inside a pool process with what it would train with: proves that the broker delivers,
    a pool process runs tasks, results come back, and torch and Ultralytics import there."""
    import torch
    import ultralytics

    return {
        "hostname": task.request.hostname,
        "pid": os.getpid(),
        "versions": {
            "linesight_training": __version__,
            "celery": version("celery"),
            "torch": torch.__version__,
            "ultralytics": ultralytics.__version__,
        },
        "cuda_available": torch.cuda.is_available(),
    }


def run_task(task: Task, run_id: str) -> dict[str, Any]:
    """A training or conversion run (the registry's run row says which). Acknowledged when it ends and
    re-queued when the pool process dies, so a killed worker's run starts again elsewhere; the registry
    refuses a run that is finished or alive on another worker, so a redelivery never runs twice."""
    from linesight_training.execute_run import execute

    settings: TrainingSettings = task.app.conf.linesight_settings
    outcome = execute(settings, run_id, worker=task.request.hostname or "", task_id=task.request.id or "")
    return {
        "run_id": run_id,
        "status": outcome.status,
        "detail": outcome.detail,
        "model_version": outcome.model_version,
    }


def register_tasks(app: Celery) -> None:
    app.task(name=PING, bind=True)(ping)
    app.task(name=TRAIN_TASK, bind=True)(run_task)
    app.task(name=CONVERT_TASK, bind=True)(run_task)
