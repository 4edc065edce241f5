"""The Celery tasks the worker runs. Task names are the contract with whoever enqueues them."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from celery import Celery, Task

from linesight_training import __version__

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


def register_tasks(app: Celery) -> None:
    app.task(name=PING, bind=True)(ping)
