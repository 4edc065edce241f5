"""The worker's Prometheus metrics, fed by Celery signals in whichever process runs the task, and the
health server that serves them added up over the worker and its pool processes.

Import only after `multiprocess.enable_multiprocess_metrics`."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from celery import signals
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from linesight_core.app import ReadinessCheck
from linesight_core.ops_server import start_ops_server

TASKS = Counter(
    "linesight_training_tasks_total",
    "Tasks by name and what happened to them: started, success, failure, retry.",
    ["task", "state"],
)
TASK_DURATION = Histogram(
    "linesight_training_task_duration_seconds",
    "Time a pool process spent running a task, whatever its outcome.",
    ["task"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200),
)
# The worker's main process sets it; "livemax" drops it with that process instead of keeping a stale 1.
WORKER_UP = Gauge(
    "linesight_training_worker_up",
    "1 while the worker consumes the training queue.",
    multiprocess_mode="livemax",
)

# A running run's progress, per model (bounded: one per station or product). The pool process running the
# run sets them; "livemax" drops them with that process, and a finished run sets them back to 0.
EPOCH_DURATION = Histogram(
    "linesight_training_epoch_duration_seconds",
    "Time one training epoch took, validation included, per model.",
    ["model"],
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
RUN_EPOCH = Gauge(
    "linesight_training_run_epoch",
    "The last epoch the running run of a model finished (0 when none runs).",
    ["model"],
    multiprocess_mode="livemax",
)
RUN_EPOCHS = Gauge(
    "linesight_training_run_epochs",
    "Epochs the running run of a model was asked for (0 when none runs).",
    ["model"],
    multiprocess_mode="livemax",
)
RUN_ETA = Gauge(
    "linesight_training_run_eta_seconds",
    "Estimated time left for the running run of a model, at its mean pace so far (0 when none runs).",
    ["model"],
    multiprocess_mode="livemax",
)

_started: dict[str, float] = {}  # task id → start time, in the pool process running the task


def _on_prerun(task_id: str, task: Any, **_: Any) -> None:
    _started[task_id] = time.perf_counter()
    TASKS.labels(task.name, "started").inc()


def _on_postrun(task_id: str, task: Any, **_: Any) -> None:
    start = _started.pop(task_id, None)
    if start is not None:
        TASK_DURATION.labels(task.name).observe(time.perf_counter() - start)


def _on_success(sender: Any, **_: Any) -> None:
    TASKS.labels(sender.name, "success").inc()


def _on_failure(sender: Any, **_: Any) -> None:
    TASKS.labels(sender.name, "failure").inc()


def _on_retry(sender: Any, **_: Any) -> None:
    TASKS.labels(sender.name, "retry").inc()


def _on_worker_ready(**_: Any) -> None:
    WORKER_UP.set(1)


def _on_worker_shutdown(**_: Any) -> None:
    WORKER_UP.set(0)


def _on_process_shutdown(pid: int | None = None, **_: Any) -> None:
    mark_process_dead(pid or os.getpid())


def record_epoch(model: str, epoch: int, epochs: int, duration_s: float, eta_s: float) -> None:
    """One finished epoch of a running run."""
    EPOCH_DURATION.labels(model).observe(duration_s)
    RUN_EPOCH.labels(model).set(epoch)
    RUN_EPOCHS.labels(model).set(epochs)
    RUN_ETA.labels(model).set(eta_s)


def record_run_ended(model: str) -> None:
    RUN_EPOCH.labels(model).set(0)
    RUN_EPOCHS.labels(model).set(0)
    RUN_ETA.labels(model).set(0)


def connect_worker_metrics(inherited_listener: socket.socket | None = None) -> None:
    """Count tasks from Celery's signals. `inherited_listener` (the health server's socket) is closed in
    each pool process, which would otherwise keep the port open after the main process exits."""
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)
    signals.task_success.connect(_on_success, weak=False)
    signals.task_failure.connect(_on_failure, weak=False)
    signals.task_retry.connect(_on_retry, weak=False)
    signals.worker_ready.connect(_on_worker_ready, weak=False)
    signals.worker_shutdown.connect(_on_worker_shutdown, weak=False)
    signals.worker_process_shutdown.connect(_on_process_shutdown, weak=False)
    if inherited_listener is not None:

        def _close_listener(**_: Any) -> None:
            inherited_listener.close()

        signals.worker_process_init.connect(_close_listener, weak=False)


def multiprocess_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def start_health_server(
    host: str, port: int, *, service: str, version: str, checks: Mapping[str, ReadinessCheck]
) -> ThreadingHTTPServer:
    """linesight_core's ops server (/health, /ready, /metrics), with /metrics adding up the samples of
    every process of the worker instead of showing the main process's alone."""
    return start_ops_server(
        host, port, service=service, version=version, checks=checks, registry=multiprocess_registry()
    )
